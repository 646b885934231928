# Runs in the case's working copy of the built fixture site.
ln -s /usr/share content/images/out && sed -i 's#images/gradient.png#images/out/x.png#' figures/pair.lua
