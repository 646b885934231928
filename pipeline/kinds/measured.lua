-- Figure kind "measured": a grid (pipeline/kinds/grid.lua, same fields) of diversity batches whose
-- labels also say what each render measured on its final images, read from its render.json at
-- page time: the mean cosine similarity of the batch's Gram matrices (minus the final value of
-- its diversity objective, pipeline/fv/RECIPE.md) and the mean activation of its channel
-- objective over the batch. So a caption can compare diversity weights by numbers that come
-- from the renders themselves, never typed in.
--
--   return { kind = "measured", caption = "…", columns = 1,
--            recipe = { batch = 4, layer = L, … },
--            cells = { { label = "weight 0.01", alt = "…", recipe = { objectives = {
--              { kind = "channel", channel = 165 }, { kind = "diversity", layer = L, weight = 0.01 } } } } } }
--
-- Every cell needs one channel and one diversity objective (in its recipe or the figure's).
local grid = require 'pipeline.kinds.grid'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = grid.fields

-- The index (1-based) of the one objective of `kind` in r, or nil and how many there are.
local function only(r, kind)
  local at, n = nil, 0
  for i, o in ipairs(r.objectives or {}) do
    if type(o) == 'table' and o.kind == kind then at, n = i, n + 1 end
  end
  if n == 1 then return at end
  return nil, n
end

function M.validate(m, ctx)
  grid.validate(m, ctx)
  for i, c in ipairs(m.cells) do
    local r = render.merge(m.recipe, c.recipe)
    for _, kind in ipairs({ 'channel', 'diversity' }) do
      local at, n = only(r, kind)
      if not at then
        ctx:fail('cells[' .. i .. '].recipe.objectives', string.format(
          '%d objectives of kind %s (expected exactly one: the label reports its measurement)', n, kind))
      end
    end
  end
end

M.jobs = grid.jobs
M.frames = grid.frames

-- "Gram similarity 0.97, activation 5.1" from a render's render.json (final.objectives[] follow
-- the recipe's objectives in order).
local function measurement(env, c, r)
  local info = env.read_json(env.job_dir(c.job) .. '/render.json')
  local finals = info.final.objectives
  local div, ch = finals[only(r, 'diversity')], finals[only(r, 'channel')]
  local sum = 0
  for _, v in ipairs(ch.values) do sum = sum + v end
  return string.format('Gram similarity %.2f, activation %.2f', -div.values[1], sum / #ch.values)
end

function M.html(m, env, frame)
  local cells = {}
  for i, c in ipairs(m.cells) do
    local measured = measurement(env, c, render.merge(m.recipe, c.recipe))
    cells[i] = render.merge(c, { label = (c.label and (c.label .. ': ') or '') .. measured })
  end
  -- Inside a "fig-grid" box, so that the stylesheet's grid rules lay it out as a grid figure.
  local body, files = grid.html(render.merge(m, { cells = cells }), env, frame)
  return '<div class="fig-grid">' .. body .. '</div>', files
end

return M
