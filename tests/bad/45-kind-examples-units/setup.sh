# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/x.lua" figures/x.lua
sed -i 's/units = { 3 }/units = { "3" }/' figures/x.lua
