-- Figure 1: channels at three depths of the detector's backbone, from textures to objects.
local early = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact"
local mid = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm"
local late = "tower_0/extern1/BatchNorm/FusedBatchNorm"

local function cell(layer, depth, ch, what, transforms)
  return {
    label = string.format("%s · channel %d", depth, ch),
    alt = string.format("Image optimized to excite channel %d of the %s layer: %s.", ch, depth, what),
    recipe = { layer = layer, transforms = transforms, objectives = { { kind = "channel", channel = ch } } },
  }
end

return {
  kind = "grid",
  caption = "Twelve channels of the detector, each visualized by optimizing an image to excite it. "
    .. "Early channels (top) respond to gratings, zigzags and braids; channels in the middle of the "
    .. "network to honeycombs, chevrons, scales and lace; the last layer of the backbone (bottom) to "
    .. "objects and scenes: a speckled bowl, animals with heads and legs, a cluttered scene of lights, "
    .. "stacked boxes.",
  width = "wide",
  columns = 4,
  recipe = { size = 128, steps = 512, seed = 1, transforms = "default" },
  cells = {
    cell(early, "early", 11, "a braid of zigzag lines"),
    cell(early, "early", 17, "rounded orange cells"),
    cell(early, "early", 52, "diagonal woven stripes"),
    cell(early, "early", 81, "a glinting woven mesh"),
    cell(mid, "middle", 231, "a honeycomb"),
    cell(mid, "middle", 165, "chevrons"),
    cell(mid, "middle", 429, "overlapping scales"),
    cell(mid, "middle", 495, "rows of lace-like arches"),
    cell(late, "late", 150, "a rounded, speckled object like a bowl or a cake", "robust"),
    cell(late, "late", 330, "animals, birds or horses, with heads and legs", "robust"),
    cell(late, "late", 390, "a cluttered scene with lights and round shapes", "robust"),
    cell(late, "late", 90, "stacked boxes and packages", "robust"),
  },
}
