# Runs in the case's working copy of the built fixture site.
head -c 2097152 /dev/zero | tr '\0' ' ' >> figures/pair.lua
