# Runs in the case's working copy of the built fixture site.
echo 'return 42' >figures/pair.lua
