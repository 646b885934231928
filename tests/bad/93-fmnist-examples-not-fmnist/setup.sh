# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
sed -i 's/"size": "28"/"size": "32"/g' m/fmnist-cnn.json
