# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
sed -i '0,/"dtype": "float32"/s//"dtype": "float64"/' m/fmnist-cnn.json
