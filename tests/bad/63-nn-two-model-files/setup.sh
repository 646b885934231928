# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
cp m/fmnist-cnn.json m/copy.json
