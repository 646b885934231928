# Runs in the case's working copy of the built fixture site.
sed -i '1i local t = {} t["a\\27[31m"].x = 1' figures/pair.lua
