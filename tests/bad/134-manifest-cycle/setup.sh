# Runs in the case's working copy of the built fixture site.
sed -i '1i local first = { src = "images/gradient.png", alt = "A colour gradient" } first.again = first' figures/pair.lua
sed -i 's/^    { src = "images\/gradient.png".*/    first,/' figures/pair.lua
