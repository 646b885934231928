# Runs in the case's working copy of the built fixture site.
sed -i '1i local deep = {} for i = 1, 100000 do deep = { deep } end' figures/pair.lua
sed -i 's/columns = 2,/columns = 2, extra = deep,/' figures/pair.lua
