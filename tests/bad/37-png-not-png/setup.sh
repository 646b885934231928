# Runs in the case's working copy of the built fixture site.
printf 'GIF89a\001\000\001\000' >content/images/gradient.png
