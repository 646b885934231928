# Runs in the case's working copy of the built fixture site.
cp "$FIX/kinds/figures/p.lua" figures/p.lua
sed -i 's/channel = 4/channel = 9999/' figures/p.lua
printf '\n{{figure p}}\n' >>content/article.md
