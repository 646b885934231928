# Runs in the case's empty working directory.
zcat /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz | head -c 15696 >img.idx
printf '\000\000\000\024' | dd of=img.idx bs=1 seek=4 conv=notrunc 2>/dev/null
printf '\001' | dd of=img.idx bs=1 seek=0 conv=notrunc 2>/dev/null
