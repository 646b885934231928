# Runs in the case's working copy of the built fixture site.
cp figures/pair.lua "figures/bad$(printf '\033')[31mid.lua"
