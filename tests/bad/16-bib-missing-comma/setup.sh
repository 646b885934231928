# Runs in the case's working copy of the built fixture site.
sed -i 's/year = 2017,/year = 2017/' content/references.bib
