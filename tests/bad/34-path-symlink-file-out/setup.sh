# Runs in the case's working copy of the built fixture site.
ln -s /etc/hostname content/images/host.png && sed -i 's#images/gradient.png#images/host.png#' figures/pair.lua
