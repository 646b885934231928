# Runs in the case's working copy of the built fixture site.
sed -i 's/columns = 2,/columns = 2, id = 42,/' figures/pair.lua
