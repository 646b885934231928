# Runs in the case's working copy of the built fixture site.
sed -i '1i local f = io.open("/etc/passwd")' figures/pair.lua
