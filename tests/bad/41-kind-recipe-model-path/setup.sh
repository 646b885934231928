# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/g.lua" figures/g.lua
sed -i 's#size = 64, steps = 8, seed = 3#size = 64, model = "../../etc/passwd"#' figures/g.lua
