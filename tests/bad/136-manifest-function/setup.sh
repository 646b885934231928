# Runs in the case's working copy of the built fixture site.
sed -i 's/width = "wide"/width = tostring/' figures/pair.lua
