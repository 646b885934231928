-- Figure 6: blending one channel into another.
return {
  kind = "interpolation",
  caption = "Interpolating between channels of the middle layer. Each row is five images optimized "
    .. "together for $(1-t)\\,h_a + t\\,h_b$, sharing a low-resolution part of their parameterization. "
    .. "Move the slider to walk from one channel to the other.",
  frames = 5,
  recipe = { layer = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm",
             size = 128, steps = 512, seed = 3, transforms = "default" },
  pairs = {
    { a = 99, b = 363, alt = "Folds of channel 99 turning into the ridges of channel 363" },
    { a = 231, b = 495, alt = "A honeycomb turning into points of light" },
    { a = 165, b = 429, alt = "Chevrons turning into overlapping scales" },
  },
}
