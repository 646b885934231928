-- Figure 7: random directions in the middle layer's activation space, and their opposites.
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local cells = {}
for _, seed in ipairs({ 11, 12, 13 }) do
  for _, sign in ipairs({ 1, -1 }) do
    cells[#cells + 1] = {
      label = string.format("direction %d, %s", seed - 10, sign > 0 and "+v" or "−v"),
      alt = string.format("Image optimized for %s random direction number %d of the middle layer.",
        sign > 0 and "" or "the opposite of", seed - 10),
      recipe = { objectives = { { kind = "direction", seed = seed, weight = sign } } },
    }
  end
end
return {
  kind = "grid",
  caption = "Three random directions $v$ in the middle layer's activation space (left of each pair) "
    .. "and their opposites $-v$ (right). A mixture of channels is as legible as a single channel, "
    .. "and the opposite direction is usually a different pattern, not a negative image.",
  width = "wide",
  columns = 6,
  recipe = { size = 128, steps = 512, seed = 1, transforms = "default", layer = mid },
  cells = cells,
}
