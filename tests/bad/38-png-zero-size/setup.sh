# Runs in the case's working copy of the built fixture site.
cp "$FIX/sprite/zero.png" content/images/gradient.png
