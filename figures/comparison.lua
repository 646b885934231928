-- Do two trainings learn the same units? The article's classifier and a second one trained by
-- the same recipe from seed 2, their penultimate units matched one to one by correlation.
return {
  kind = "match",
  caption = "TODO",
  width = "wide",
  layer = "fc1:preact",
  seed = 2,
  show = 3,
  -- The examples figure's recipe.
  recipe = {
    steps = 256, seed = 1, param = { grey = true },
    transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
    objectives = { { kind = "tv", weight = 5 } },
  },
}
