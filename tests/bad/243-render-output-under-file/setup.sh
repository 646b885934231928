# Runs in the case's empty working directory.
cp "$SHARED"/tiny/* .
# the output directory's parent is a file
: >afile
