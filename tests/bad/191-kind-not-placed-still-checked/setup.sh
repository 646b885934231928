# Runs in the case's working copy of the built fixture site. A channel map the article does not
# place still has its kind's checks across figures: the channels figure it names must exist.
cp "$FIX/kinds/figures/n.lua" figures/n.lua
