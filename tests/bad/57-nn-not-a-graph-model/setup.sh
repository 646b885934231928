# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
echo '{"format": "layers-model", "modelTopology": {}}' >m/fmnist-cnn.json
