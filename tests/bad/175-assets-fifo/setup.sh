# Runs in the case's working copy of the built fixture site.
mkfifo templates/assets/pipe.css
