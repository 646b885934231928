# Runs in the case's working copy of the built fixture site.
printf '\n@misc{broken,\n  title = {Never closed\n' >>content/references.bib
