# Runs in the case's working copy of the built fixture site.
truncate -s 60 content/images/gradient.png
