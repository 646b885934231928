# Runs in the case's working copy of the built fixture site.
# A layer name with a terminal escape (in one cell, so that one job fails): fv-render echoes it,
# and the driver relays that line escaped.
cp "$FIX/kinds/figures/g.lua" figures/g.lua
sed -i 's#{ kind = "channel", channel = 1 }#{ kind = "channel", channel = 1, layer = "nope\\27[2J" }#' figures/g.lua
grep -q nope figures/g.lua
printf '\n{{figure g}}\n' >> content/article.md # placed, so that it is rendered
