# Runs in the case's empty working directory.
cp "$FIX/sprite/rgb.png" .
