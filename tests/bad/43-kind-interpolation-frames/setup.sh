# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/i.lua" figures/i.lua
sed -i 's/frames = 3/frames = 30/' figures/i.lua
