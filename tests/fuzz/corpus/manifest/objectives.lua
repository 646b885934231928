-- Figure 3: the same machinery asked different questions.
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
return {
  kind = "grid",
  caption = "Five objectives, one optimizer. A **neuron** (channel 231 at the centre of the middle "
    .. "layer's grid) shapes only the middle of the image; the **channel** (its mean over positions) "
    .. "repeats the pattern everywhere; the **layer** objective, DeepDream, amplifies whatever the "
    .. "whole layer responds to; a **class** of the detector head (\"dog\") asks what the full network reads "
    .. "as a dog; a **random direction** in the layer's 528-dimensional activation space mixes many channels.",
  width = "wide",
  columns = 5,
  recipe = { size = 128, steps = 512, seed = 1, transforms = "default", layer = mid },
  cells = {
    { label = "neuron", alt = "Image optimized for one neuron of channel 231: a honeycomb patch in the centre.",
      recipe = { objectives = { { kind = "neuron", channel = 231 } } } },
    { label = "channel", alt = "Image optimized for channel 231: a honeycomb everywhere.",
      recipe = { objectives = { { kind = "channel", channel = 231 } } } },
    { label = "layer (DeepDream)", alt = "Image optimized for the whole middle layer.",
      recipe = { objectives = { { kind = "layer" } } } },
    { label = "class “dog”", alt = "Image optimized for the detector's dog heatmap.",
      recipe = { transforms = "robust", objectives = { { kind = "class", class = "dog" } } } },
    { label = "random direction", alt = "Image optimized for a random direction in the middle layer.",
      recipe = { objectives = { { kind = "direction", seed = 7 } } } },
  },
}
