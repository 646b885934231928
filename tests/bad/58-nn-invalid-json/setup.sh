# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
head -c 3000 "$SHARED"/tiny/fmnist-cnn.json >m/fmnist-cnn.json
