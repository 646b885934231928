# Runs in the case's working copy of the built fixture site.
sed -i 's#images/gradient.png#images/\\27[2Jgradient.png#' figures/pair.lua
