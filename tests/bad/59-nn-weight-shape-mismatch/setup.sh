# Runs in the case's empty working directory.
mkdir m && cp "$SHARED"/tiny/* m
# conv1/weights is [3,3,3,2] in the weights manifest: claim [3,3,3,3].
perl -0pi -e 's/("name": "conv1\/weights",\s*"shape": \[\s*3,\s*3,\s*3,\s*)2/${1}3/' m/fmnist-cnn.json
grep -q '"dtype"' m/fmnist-cnn.json
