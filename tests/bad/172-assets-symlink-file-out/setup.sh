# Runs in the case's working copy of the built fixture site.
ln -s /etc/passwd templates/assets/passwd.css
