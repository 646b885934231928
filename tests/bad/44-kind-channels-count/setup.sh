# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/c.lua" figures/c.lua
sed -i 's/count = 5/count = 0/' figures/c.lua
