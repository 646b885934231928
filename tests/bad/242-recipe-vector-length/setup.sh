# Runs in the case's empty working directory.
cp "$SHARED"/tiny/* .
