# Runs in the case's working copy of the built fixture site.
sed -i 's/journal = distill,/journal = distil,/' content/references.bib
