-- Do two trainings learn the same units? The article's classifier and a second one trained by
-- the same recipe from seed 2, their penultimate units matched one to one by correlation.
return {
  kind = "match",
  caption = "The article's classifier (network 1) and a second one trained by the same recipe from another "
    .. "seed (network 2). Each of the 256 penultimate units (before the ReLU) of network 1 is paired with one "
    .. "unit of network 2, the pairs chosen together to maximize the summed correlation r of their activations "
    .. "on the 10,000 test images [@li2016convergent]. The three best, three middle and three worst pairs: "
    .. "each unit's optimized image (the dataset-examples figure's recipe), network 1 left, network 2 right. "
    .. "Below, the histogram of all 256 pairs' correlations; the dots mark the pairs shown.",
  alt = "Nine pairs of small grey images. The best pair shows the same tall light shape split down the middle "
    .. "in both networks; the other best and middle pairs show dark patches crossed by short light diagonal strokes, "
    .. "alike in layout but not in detail; among the worst pairs, one unit's image is an almost featureless dark "
    .. "blur beside a pale one, and another pair looks as alike as the middle ones.",
  width = "wide",
  layer = "fc1:preact",
  seed = 2,
  show = 3,
  -- The examples figure's recipe.
  recipe = {
    steps = 256, seed = 1, param = { grey = true },
    transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
    objectives = { { kind = "tv", weight = 5 } },
  },
}
