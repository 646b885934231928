# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/g.lua" figures/g.lua
sed -i 's/steps = 8/stpes = 8/' figures/g.lua
