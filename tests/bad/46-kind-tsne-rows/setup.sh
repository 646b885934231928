# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/m.lua" figures/m.lua
sed -i 's/rows = 8/rows = 800/' figures/m.lua
