# Runs in the case's working copy of the built fixture site.
sed -i '/caption =/d' figures/pair.lua
