-- Figure 8: the enemy of feature visualization, and what fixes it.
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local ch = { kind = "channel", channel = 231 }
local pixel = { kind = "pixel", decorrelate = false }
local function cell(label, alt, recipe) return { label = label, alt = alt, recipe = recipe } end
return {
  kind = "grid",
  caption = "One channel (231, a honeycomb) under different remedies. Optimizing **pixels** with no "
    .. "regularization gives high-frequency noise; **L1**, **total variation** and **blur** penalties "
    .. "damp it but wash out the pattern; **transformation robustness** (jitter, scale, rotation) "
    .. "keeps only patterns that survive moving. Changing the parameterization to a **Fourier** basis, "
    .. "then **decorrelating colours**, lets the honeycomb appear — with the same objective.",
  width = "wide",
  columns = 4,
  recipe = { layer = mid, size = 128, steps = 512, seed = 1, transforms = "none", objectives = { ch } },
  cells = {
    cell("pixels, nothing else", "Pixel optimization without regularization: colourful high-frequency noise.",
      { param = pixel }),
    cell("pixels + L1", "Pixel optimization with an L1 penalty.",
      { param = pixel, objectives = { ch, { kind = "l1", weight = 1 } } }),
    cell("pixels + total variation", "Pixel optimization with a total-variation penalty.",
      { param = pixel, objectives = { ch, { kind = "tv", weight = 5 } } }),
    cell("pixels + blur", "Pixel optimization with a blur penalty.",
      { param = pixel, objectives = { ch, { kind = "blur", weight = 50 } } }),
    cell("pixels + transforms", "Pixel optimization with random jitter, scaling and rotation.",
      { param = pixel, transforms = "default" }),
    cell("Fourier", "Fourier parameterization without colour decorrelation or transforms.",
      { param = { kind = "fourier", decorrelate = false } }),
    cell("Fourier + transforms", "Fourier parameterization with random transforms.",
      { param = { kind = "fourier", decorrelate = false }, transforms = "default" }),
    cell("Fourier, decorrelated + transforms", "The full recipe: decorrelated Fourier parameterization and random transforms: a clear honeycomb.",
      { param = { kind = "fourier", decorrelate = true }, transforms = "default" }),
  },
}
