return {
  kind = "interpolation",
  caption = "Interpolation.",
  frames = 3,
  recipe = { layer = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact", size = 64, steps = 8 },
  pairs = { { a = 1, b = 2, alt = "from channel 1 to 2" } },
}
