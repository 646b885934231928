# Runs in the case's working copy of the built fixture site.
printf '\n@misc{olah2017,\n  title = {Again},\n  year = {2020}\n}\n' >>content/references.bib
