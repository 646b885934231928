# Runs in the case's working copy of the built fixture site.
# A string of 2^30 bytes.
sed -i "1i local big = string.rep('x', 1 << 30)" figures/pair.lua
