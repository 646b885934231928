-- Figure 4: dataset examples next to optimization, on the pipeline's own classifier.
return {
  kind = "examples",
  caption = "Four units of the Fashion-MNIST classifier's penultimate layer (before its ReLU), picked "
    .. "without looking. For each: the grey image optimized to excite it (256 steps at 28 pixels, with jitter, rotation and a total-variation penalty), the test "
    .. "images that excite it most, and its spectrum: the test images nearest its minimum, half its "
    .. "minimum, zero, half its maximum and its maximum, with their activations. The top examples say "
    .. "which garments a unit likes; the optimized image says which strokes of them it responds to.",
  width = "wide",
  layer = "fc1:preact",
  units = { 5, 42, 77, 130 },
  k = 6,
  -- Small networks need help to give legible images: jitter and rotation (the padding and jitter
  -- keep the network's input at 28 pixels, which its dense layers require) and a total-variation
  -- penalty.
  -- The classifier sees grey images (it averages R, G and B), so the image is optimized as one grey
  -- channel: colours would be free for the optimizer and say nothing about the unit.
  recipe = {
    steps = 256, seed = 1, param = { grey = true },
    transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
    objectives = { { kind = "tv", weight = 5 } },
  },
}
