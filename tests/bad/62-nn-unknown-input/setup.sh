# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
sed -i '0,/"conv1",/s//"nosuch",/' m/fmnist-cnn.json
