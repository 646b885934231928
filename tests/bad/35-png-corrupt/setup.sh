# Runs in the case's working copy of the built fixture site.
printf 'garbage' | dd of=content/images/gradient.png bs=1 seek=40 conv=notrunc 2>/dev/null
