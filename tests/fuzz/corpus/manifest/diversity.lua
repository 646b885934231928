-- Figure 5: several images per channel, kept apart by the Gram-matrix diversity term.
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local function row(ch, what)
  return {
    label = string.format("channel %d", ch),
    alt = string.format("Four images optimized together for channel %d of the middle layer, pushed apart by the diversity term: %s.", ch, what),
    recipe = { batch = 4, objectives = { { kind = "channel", channel = ch }, { kind = "diversity", layer = mid, weight = 3 } } },
  }
end
return {
  kind = "grid",
  caption = "Diversity: each row is a batch of four images optimized together for one channel, with "
    .. "the penalty $D$ on the similarity of their Gram matrices (weight 3). The channel's different "
    .. "facets appear side by side.",
  width = "wide",
  columns = 1,
  recipe = { size = 128, steps = 512, seed = 2, transforms = "default", layer = mid },
  cells = {
    row(165, "wavy stripes, S-shaped bands, spots of light and chevrons"),
    row(363, "rounded green and white folds, like leaves or draped cloth, arranged differently in each"),
    row(495, "grids of bright points on vertical stripes, and one of wavy horizontal bands"),
  },
}
