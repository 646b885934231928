-- How units of the classifier develop while it learns: the units of Figure "examples", optimized
-- on checkpoints of the shared training (pipeline/driver/fmnist.lua).
return {
  kind = "evolution",
  caption = "The four units of the dataset-examples figure (the penultimate layer, before its ReLU), each "
    .. "optimized on six copies of the classifier saved while it trained: untrained, after 10, 50 and 200 "
    .. "minibatches of 64 images, and after its first and second epochs. Every column uses the same recipe and the "
    .. "same random start (256 steps at 28 pixels, jitter, rotation, total variation); under each column, the "
    .. "test accuracy of that copy.",
  alt = "A grid of small grey images, four units in rows by six checkpoints in columns. Untrained, each image is "
    .. "a soft blur of light and dark; after 10 and 50 steps, hard-edged black and white shapes; from step 200, thin "
    .. "diagonal and vertical strokes; after the first and second epochs, dense patterns of strokes and edges that "
    .. "look much alike from one epoch to the next.",
  width = "wide",
  layer = "fc1:preact",
  units = { 5, 42, 77, 130 },
  -- The examples figure's recipe, so that the last column is comparable with it.
  recipe = {
    steps = 256, seed = 1, param = { grey = true },
    transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
    objectives = { { kind = "tv", weight = 5 } },
  },
}
