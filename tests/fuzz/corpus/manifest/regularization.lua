-- Figure 8: the enemy of feature visualization, and what fixes it.
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local ch = { kind = "channel", channel = 231 }
local pixel = { kind = "pixel", decorrelate = false }
local function cell(label, alt, recipe) return { label = label, alt = alt, recipe = recipe } end
return {
  kind = "grid",
  caption = "One channel (231, a honeycomb) under different remedies, 512 steps each. Optimizing "
    .. "**pixels** finds the honeycomb but buries it in coloured pixel noise; at these weights the **L1**, "
    .. "**total variation** and **blur** penalties barely change that, and larger weights wash out the "
    .. "pattern with the noise. **Transformation robustness** (jitter, scale, rotation) clears much of the "
    .. "noise. A **Fourier** parameterization without transforms is the noisiest of all — high frequencies "
    .. "are cheap there — but with transforms it gives the cleanest cells, and **decorrelating colours** "
    .. "tones down the false colours.",
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
