-- How units of the classifier develop while it learns: the units of Figure "examples", optimized
-- on checkpoints of the shared training (pipeline/driver/fmnist.lua).
return {
  kind = "evolution",
  caption = "TODO",
  alt = "TODO",
  width = "wide",
  layer = "fc1:preact",
  units = { 5, 42, 77, 130 },
  -- The examples figure's recipe, so that the last column is comparable with it.
  recipe = {
    steps = 256, seed = 1, param = { grey = true },
    transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
    objectives = { { kind = "tv", weight = 5 } },
  },
}
