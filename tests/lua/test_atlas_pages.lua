-- test_atlas_pages: pipeline/atlas/pages.lua's reading of a render: a dead channel (the same
-- value of its objective for every image of the render) is recognised, a live one is not.
local t = require 'lib'
local pages = require 'pipeline.atlas.pages'

-- A render of 4 images as render.json records it: channels 5 and 6 at elements 0 and 1, their
-- neuron objectives at 2 and 3 (weights per element), and the final values per image.
local function render(v5, v6)
  return { recipe = { objectives = {
    { kind = 'channel', channel = 5, weight = { 1, 0, 0, 0 } },
    { kind = 'channel', channel = 6, weight = { 0, 1, 0, 0 } },
    { kind = 'neuron', channel = 5, weight = { 0, 0, 1, 0 } },
    { kind = 'tv', weight = { 1, 1, 1, 1 } } } },
    final = { objectives = {
      { index = 0, kind = 'channel', values = v5 },
      { index = 1, kind = 'channel', values = v6 },
      { index = 2, kind = 'neuron', values = { 1, 2, 3, 4 } },
      { index = 3, kind = 'tv', values = { 0, 0, 0, 0 } } } } }
end

local rj = render({ -13.65625, -13.65625, -13.65625, -13.65625 }, { 0.5, 9.25, 1, 2 })
t.eq('a channel with one value for every image: dead, with its value', -13.65625, pages.constant(rj, 0))
t.eq('a channel whose value follows the image: not dead', nil, pages.constant(rj, 1))
t.eq('an element with no channel objective (a neuron\'s): not judged', nil, pages.constant(rj, 2))
t.eq('values that differ in the last places still differ', nil, pages.constant(render({ 1, 1, 1, 1.000001 }, { 1, 2, 3, 4 }), 0))
t.eq('a ReLU shut for every image (0): dead', 0, pages.constant(render({ 0, 0, 0, 0 }, { 1, 2, 3, 4 }), 0))
t.eq('a render of one image says nothing', nil, pages.constant({ recipe = { objectives = { { kind = 'channel', channel = 0 } } },
  final = { objectives = { { index = 0, kind = 'channel', values = { 3 } } } } }, 0))
t.eq('a render.json without final values: not dead', nil, pages.constant({ recipe = { objectives = {} } }, 0))
t.finish()
