# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
truncate -s 2000 m/fmnist-cnn.bin
