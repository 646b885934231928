# Runs in the case's working copy of the built fixture site.
# A pattern that backtracks for hours inside string.find (C code, where no Lua hook runs).
sed -i "1i local hang = string.find(string.rep('a', 40) .. 'b', ('a*'):rep(20) .. 'c')" figures/pair.lua
