# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
sed -i 's/"op": "MaxPool"/"op": "FancyPool"/' m/fmnist-cnn.json
