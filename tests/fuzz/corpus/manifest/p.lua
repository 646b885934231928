return {
  kind = "progress",
  caption = "Progress.",
  alt = "channel 4 emerging",
  recipe = { layer = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact", size = 64, steps = 8,
             objectives = { { kind = "channel", channel = 4 } }, snapshots = { 0, 4, 8 }, log_every = 2 },
}
