-- The conclusion's overview: the article's techniques side by side, each with a small example
-- (cells of other figures, reused: nothing renders twice).
local function col(title, figure, cell, text, alt)
  return { title = title, figure = figure, cell = cell, text = text, alt = alt }
end
return {
  kind = "overview",
  caption = "The techniques of this article side by side, each with an example from an earlier figure: "
    .. "an **objective** says what to maximize, the **parameterization** what to optimize, the random "
    .. "**transforms** what must survive, **regularizers** what to penalize, and **diversity** how many "
    .. "answers to show at once.",
  width = "wide",
  columns = {
    col("Objective", "objectives", 4,
      "What to maximize: here the detector's “dog” class; a neuron, channel, layer or direction asks another question.",
      "Image optimized for the detector's dog heatmap."),
    col("Parameterization", "regularization", 8,
      "What to optimize: a decorrelated, 1/f-scaled Fourier spectrum instead of pixels: the same optimum, an easier path.",
      "Channel 231 with the full recipe, decorrelated Fourier parameterization and random transforms: a clear honeycomb."),
    col("Transforms", "regularization", 5,
      "What must survive: random jitter, scale and rotation at every step clear much of the pixel noise.",
      "Channel 231 optimized on pixels with random jitter, scaling and rotation."),
    col("Regularizers", "regularization", 3,
      "What to penalize: total variation, L1 or blur; at weights that keep the pattern they barely help.",
      "Channel 231 optimized on pixels with a total-variation penalty: a honeycomb under coloured pixel noise."),
    col("Diversity", "diversity", 1,
      "How many answers: a batch pushed apart by the similarity of its Gram matrices.",
      "Four images optimized together for channel 165, each a different pattern."),
  },
}
