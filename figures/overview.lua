-- The conclusion's overview: the article's techniques side by side, each with a small example
-- (cells of other figures, reused: nothing renders twice).
return {
  kind = "overview",
  caption = "The techniques of this article side by side, each with an example from an earlier figure: "
    .. "an **objective** says what to maximize, the **parameterization** what to optimize, the random "
    .. "**transforms** what must survive, **regularizers** what to penalize, and **diversity** how many "
    .. "answers to show at once.",
  width = "wide",
  columns = {
    { title = "Objective", figure = "objectives", cell = 4,
      text = "What to maximize: here the detector's “dog” class; a neuron, channel, layer or direction asks another question.",
      alt = "Image optimized for the detector's dog heatmap." },
    { title = "Parameterization", figure = "regularization", cell = 8,
      text = "What to optimize: a decorrelated, 1/f-scaled Fourier spectrum instead of pixels: the same optimum, an easier path.",
      alt = "Channel 231 with the full recipe, decorrelated Fourier parameterization and random transforms: a clear honeycomb." },
    { title = "Transforms", figure = "regularization", cell = 5,
      text = "What must survive: random jitter, scale and rotation at every step clear much of the pixel noise.",
      alt = "Channel 231 optimized on pixels with random jitter, scaling and rotation." },
    { title = "Regularizers", figure = "regularization", cell = 3,
      text = "What to penalize: total variation, L1 or blur; at weights that keep the pattern they barely help.",
      alt = "Channel 231 optimized on pixels with a total-variation penalty: a honeycomb under coloured pixel noise." },
    { title = "Diversity", figure = "diversity", cell = 1,
      text = "How many answers: a batch pushed apart by the similarity of its Gram matrices.",
      alt = "Four images optimized together for channel 165, each a different pattern." },
  },
}
