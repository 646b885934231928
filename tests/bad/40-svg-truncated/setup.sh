# Runs in the case's working copy of the built fixture site.
head -c 60 content/images/mark.svg >content/images/m.svg && mv content/images/m.svg content/images/mark.svg
