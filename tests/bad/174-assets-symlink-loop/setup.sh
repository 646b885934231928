# Runs in the case's working copy of the built fixture site.
mkdir templates/assets/fonts && ln -s ../.. templates/assets/fonts/up
