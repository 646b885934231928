-- Figure 6: the diversity weight too small, ours, and too large, on one channel; each label adds
-- what the render measured (kind "measured": read from its render.json, never typed in).
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local function row(weight, label, what)
  return {
    label = label,
    alt = string.format("Four images optimized together for channel 165 with diversity weight %s: %s.", weight, what),
    recipe = { objectives = { { kind = "channel", channel = 165 }, { kind = "diversity", layer = mid, weight = weight } } },
  }
end
return {
  kind = "measured",
  caption = "One channel (165), one batch of four, three diversity weights. Each label gives the weight, "
    .. "then what the renderer measured on the final images: the mean cosine similarity of the four "
    .. "images' Gram matrices (1 for copies) and the channel's mean activation. Too small a weight leaves "
    .. "near-copies; ours separates the images while they still excite the channel; at Lucid's 100 the "
    .. "penalty wins: the images differ, but the channel hardly responds to them.",
  width = "wide",
  columns = 1,
  recipe = { size = 128, steps = 512, seed = 2, transforms = "default", layer = mid, batch = 4 },
  cells = {
    row(0.01, "weight 0.01, too small", "nearly the same pattern of white, green and violet chevrons four times"),
    row(3, "weight 3, ours", "four different patterns: blue arcs, green and pink S-shaped bands, rows of dark spots, white chevrons"),
    row(100, "weight 100, too large", "four pale, low-contrast textures (pink leaves, grey arcs and scales, blurred spots), different from each other and unlike the channel's patterns above"),
  },
}
