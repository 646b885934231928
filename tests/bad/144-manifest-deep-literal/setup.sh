# Runs in the case's working copy of the built fixture site.
# A table literal nested 100,000 deep: Lua's parser runs out of C stack reading it.
{ printf 'local deep = '; printf '{%.0s' $(seq 100000); printf '}%.0s' $(seq 100000); echo; cat figures/pair.lua; } >figures/new.lua
mv figures/new.lua figures/pair.lua
