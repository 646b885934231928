-- Figure 2: one optimization, from grey to honeycomb, with its objective.
return {
  kind = "progress",
  caption = "Optimizing an image for channel 231 of the middle layer. The image starts as nearly "
    .. "uniform grey; a faint pattern appears within a few dozen steps and sharpens into a honeycomb. "
    .. "Below, the channel's mean activation at every 16th step, measured under that step's random transforms.",
  alt = "Image optimized for a honeycomb channel",
  width = "wide",
  recipe = {
    layer = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm",
    size = 128, steps = 512, seed = 1, transforms = "default",
    objectives = { { kind = "channel", channel = 231 } },
    snapshots = { 0, 16, 32, 64, 128, 256, 512 },
    log_every = 16,
  },
}
