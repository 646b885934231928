-- Figure 9b: the 96 channels of the early layer, placed by t-SNE of how each responds to the
-- other channels' visualizations, and shown by their own visualizations (the renders of the
-- channels appendix, reused).
return {
  kind = "channelmap",
  caption = "The 96 channels of `expanded_conv_5/expand`, placed by t-SNE [@vandermaaten2008] of their "
    .. "activation profiles: how strongly each channel responds, on average, to every other channel's "
    .. "visualization. Channels that respond to the same images land near each other.",
  alt = "A map of 96 small feature visualizations arranged on a grid by similarity.",
  width = "wide",
  channels = "channels",
  rows = 10, cols = 10, perplexity = 8, seed = 1,
}
