# Runs in the case's working copy of the built fixture site. A draft figure the article does not
# place is neither rendered nor published, but its manifest is still checked.
printf 'return {\n  kind = "images",\n  caption = "A draft.",\n  columns = "2",\n  images = { { src = "images/gradient.png", alt = "Draft" } },\n}\n' >figures/draft.lua
