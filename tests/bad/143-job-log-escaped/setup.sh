# Runs in the case's working copy of the built fixture site.
# A layer name with a terminal escape: fv-render echoes it, and the driver relays that line escaped.
cp "$FIX/kinds/figures/g.lua" figures/g.lua
sed -i 's#^local L = .*#local L = "nope\\27[2J"#' figures/g.lua
