-- The atlas (`make atlas`): every channel of every layer listed here, for both networks. An
-- author's input like figures/*.lua: what to render and how; pipeline/atlas/ does the rest.
-- Channel counts come from the models themselves (fv-nn info), never from this file.
--
-- Per detector channel: the channel objective (its mean), the neuron objective (the centre
-- position), and a diversity set of 4; per classifier unit: the optimized image, the top test
-- images and the activation spectrum (fv-examples). Each layer: a grid and a t-SNE map.
local bb = "tower_0/MobilenetV3/"

-- Early expand layers end in a ReLU: optimized before it (a dead ReLU at the grey start gives
-- no gradient). From expanded_conv_6 on they end in hard-swish, whose input is the BatchNorm.
-- The late layers need Lucid's stronger transforms to give objects rather than texture soup.
local function expand(i)
  local relu = i <= 5
  return {
    name = "expanded_conv_" .. i,
    node = bb .. "expanded_conv_" .. i .. (relu and "/expand/Relu:preact" or "/expand/BatchNorm/FusedBatchNorm"),
    transforms = i >= 12 and "robust" or "default",
  }
end

local detector = {}
for i = 1, 14 do detector[#detector + 1] = expand(i) end
detector[#detector + 1] = { name = "extern1", node = "tower_0/extern1/BatchNorm/FusedBatchNorm", transforms = "robust" }

return {
  kind = "atlas",
  caption = "Every channel of every layer of the two networks of the article, each visualized by "
    .. "optimizing an image to excite it, as the article's figures are.",
  detector = {
    title = "The detector: MobileNetV3 backbone of CenterNet, trained on COCO",
    layers = detector,
    -- The article's recipe (pipeline/fv/RECIPE.md); transforms per layer above.
    recipe = { size = 128, steps = 512, seed = 1 },
    -- The article's weight (figures/diversity.lua). Checked on expanded_conv_11, channels 164 and
    -- 165 at batch 8 (each set's weight scaled by 56/24, pipeline/atlas/plan.lua): at 1, channel
    -- 165's set came out as three copies of one zigzag and the batch's Gram similarity was 0.42;
    -- at 3, four different patterns (blocks, zigzags, waves, bands), 0.32, as the article's batch
    -- of 4 shows them, and its activation held (0.8-1.3). A channel as strong as 164 (8.2) keeps
    -- one texture either way.
    diversity = { weight = 3 },
  },
  classifier = {
    title = "The classifier: a small CNN trained on Fashion-MNIST by the pipeline",
    -- The convolutions' units are a ReLU's mean over positions, a few hundredths at the grey
    -- start where fc1's are tens: the recipe's TV weight of 5 held every one of their images
    -- flat grey (0.5 still all of conv1's). `tv` scales it to them. And a unit whose ReLU is
    -- shut for a near-uniform grey gets no gradient: three of the 192 stayed flat from the
    -- recipe's start (a spread `sd` of 0.01); from a spread of 1 every one moves, and conv1's
    -- units tile the image with their stripes and edges. Before the ReLU (`:preact`) conv1 and
    -- conv2 are nearly linear in the image: their optimum is a plain bright or dark field.
    layers = {
      { name = "conv1", node = "conv1", tv = 0.01, sd = 1 }, { name = "conv2", node = "conv2", tv = 0.01, sd = 1 },
      { name = "conv3", node = "conv3", tv = 0.01, sd = 1 }, { name = "conv4", node = "conv4", tv = 0.01, sd = 1 },
      { name = "fc1", node = "fc1:preact" }, { name = "logits", node = "logits" },
    },
    -- As the article's examples figure: grey, 28 px, jitter and rotation, a TV penalty.
    recipe = {
      size = 28, steps = 256, seed = 1, lr = 0.05, param = { grey = true },
      transforms = { { kind = "pad", amount = 4 }, { kind = "jitter", amount = 8 }, { kind = "rotate", degrees = { -8, 8 } } },
      objectives = { { kind = "tv", weight = 5 } },
    },
    k = 6,
  },
  -- `--quick` (the tests): this many channels of each layer, rendered tiny.
  quick_channels = 4,
}
