# Runs in the case's working copy of the built fixture site.
sed -i 's/kind = "images"/kind = "imgs"/' figures/pair.lua
