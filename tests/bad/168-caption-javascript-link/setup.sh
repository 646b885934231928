# Runs in the case's working copy of the built fixture site.
sed -i 's#raw <b>HTML</b>#[raw](javascript:alert(1)) <b>HTML</b>#' figures/pair.lua
