-- Appendix: every channel of the early layer, to browse.
return {
  kind = "channels",
  caption = "All 96 channels of `expanded_conv_5/expand` (before its ReLU), each optimized for 192 steps at 96 pixels.",
  width = "wide",
  layer = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact",
  first = 0, count = 96, per_job = 8,
  columns = 12,
  recipe = { size = 96, steps = 192, seed = 1, transforms = "default" },
}
