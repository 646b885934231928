# Runs in the case's working copy of the built fixture site.
# A key with a new line and a terminal escape: echoed escaped, never raw.
sed -i 's/columns = 2,/columns = 2, ["bad\\27[31m\\nkey"] = 1,/' figures/pair.lua
