return {
  kind = "channels",
  caption = "Channels 5 to 9, three per job.",
  layer = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact",
  first = 5, count = 5, per_job = 3,
  recipe = { size = 64, steps = 8 },
}
