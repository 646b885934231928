# Runs in the case's working copy of the built fixture site.
ln -s /usr/share/doc templates/assets/doc
