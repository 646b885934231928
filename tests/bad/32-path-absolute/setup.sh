# Runs in the case's working copy of the built fixture site.
sed -i 's#images/gradient.png#/etc/x.png#' figures/pair.lua
