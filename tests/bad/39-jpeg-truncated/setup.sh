# Runs in the case's working copy of the built fixture site.
# A real JPEG (fv-sprite's encoder at a low target), cut after 300 bytes.
"$BIN/fv-sprite" encode jpg "$FIX/sprite/ssim_a.png" --formats jpeg --target 0.5 >/dev/null
head -c 300 jpg/ssim_a.jpg >content/images/photo.jpg && rm -r jpg
sed -i 's#images/gradient.png#images/photo.jpg#' figures/pair.lua
