# Runs in the case's working copy of the built fixture site.
sed -i 's#  doi = {10.23915/distill.00007}#  doi = {javascript:alert(1)}#' content/references.bib
