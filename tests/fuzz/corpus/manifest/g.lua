local L = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact"
return {
  kind = "grid",
  caption = "A grid of two cells, the second with a batch of two.",
  columns = 2,
  recipe = { layer = L, size = 64, steps = 8, seed = 3 },
  cells = {
    { label = "channel 1", alt = "channel 1", recipe = { objectives = { { kind = "channel", channel = 1 } } } },
    { label = "diverse", alt = "channel 2, diverse",
      recipe = { batch = 2, objectives = { { kind = "channel", channel = 2 }, { kind = "diversity", weight = 1 } } } },
  },
}
