-- Figure kind "grid": images rendered by feature visualization (fv-render), one cell per
-- recipe, laid out in a grid with labels.
--
--   return {
--     kind = "grid",
--     caption = "Markdown caption.",
--     width = "wide",
--     columns = 3,
--     recipe = {                      -- defaults for every cell: any field of pipeline/fv/RECIPE.md
--       layer = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm",
--       size = 128, steps = 512, transforms = "default",
--     },
--     cells = {
--       { label = "channel 12", alt = "What the image shows",
--         recipe = { objectives = { { kind = "channel", channel = 12 } } } },
--     },
--   }
--
-- A cell's recipe is laid over the figure's (field by field). The model is always mbv3-coco,
-- verified by the model stage. With --quick (the test article) every render is cut to a few
-- steps at a small size. A cell whose recipe has batch > 1 shows its images side by side.
local json = require 'pipeline.driver.json'
local fs = require 'pipeline.driver.fs'
local html = require 'pipeline.driver.html'

local M = {}

M.fields = { recipe = true, cells = true, columns = true }

-- Fields of a recipe and their Lua types (the tool checks ranges and values).
local recipe_types = {
  layer = 'string', size = 'number', steps = 'number', batch = 'number', seed = 'number', lr = 'number',
  betas = 'table', param = 'table', transforms = { string = true, table = true }, objectives = 'table',
  snapshots = 'table', log_every = 'number',
}

local function check_recipe(r, ctx, path)
  for k, v in pairs(r) do
    local want = recipe_types[k]
    if not want then
      local names = {}
      for n in pairs(recipe_types) do names[#names + 1] = n end
      table.sort(names)
      ctx:fail(path .. '.' .. tostring(k), 'unknown recipe field (expected one of: ' .. table.concat(names, ', ') .. ')')
    end
    local ok = type(want) == 'table' and want[type(v)] or type(v) == want
    if not ok then
      ctx:fail(path .. '.' .. k, string.format('expected a %s (got %s)', type(want) == 'table' and 'string or table' or want, type(v)))
    end
  end
end

local function merged(m, cell)
  local r = {}
  for k, v in pairs(m.recipe or {}) do r[k] = v end
  for k, v in pairs(cell.recipe or {}) do r[k] = v end
  return r
end

function M.validate(m, ctx)
  if m.recipe ~= nil then
    ctx:field(m, 'recipe', 'table', false)
    check_recipe(m.recipe, ctx, 'recipe')
  end
  local cells = ctx:field(m, 'cells', 'table', true)
  if #cells == 0 then ctx:fail('cells', 'empty (expected at least one { label = ..., recipe = ... })') end
  for i, c in ipairs(cells) do
    local p = 'cells[' .. i .. ']'
    if type(c) ~= 'table' then ctx:fail(p, 'expected a table') end
    ctx:field(c, 'label', 'string', false, p .. '.label')
    ctx:field(c, 'alt', 'string', true, p .. '.alt')
    ctx:field(c, 'recipe', 'table', false, p .. '.recipe')
    check_recipe(c.recipe or {}, ctx, p .. '.recipe')
    local r = merged(m, c)
    if type(r.objectives) ~= 'table' or #r.objectives == 0 then
      ctx:fail(p .. '.recipe', 'no objectives (expected objectives = { { kind = ..., ... } } here or in the figure recipe)')
    end
  end
  local cols = ctx:field(m, 'columns', 'number', false)
  if cols and (math.type(cols) ~= 'integer' or cols < 1 or cols > 12) then
    ctx:fail('columns', 'expected a whole number from 1 to 12')
  end
end

-- The test article renders the same recipes, briefly and small.
local function quicken(r)
  r.steps = math.min(r.steps or 512, 24)
  r.size = math.min(r.size or 128, 64)
  if r.snapshots then
    local s = {}
    for _, v in ipairs(r.snapshots) do if v <= r.steps then s[#s + 1] = v end end
    r.snapshots = s
  end
  r.log_every = math.min(r.log_every or 16, 8)
end

function M.jobs(m, env)
  local jobs = {}
  local dir = '.cache/gen/recipes/' .. m.id
  assert(require('fvsys').mkdir_p(dir))
  for i, c in ipairs(m.cells) do
    local r = merged(m, c)
    r.model = { json = env.model_dir .. '/centernet.json', bin = env.model_dir .. '/centernet.bin' }
    if env.quick then quicken(r) end
    c.batch = r.batch or 1
    local path = string.format('%s/cell%d%s.json', dir, i, env.quick and '-quick' or '')
    local text = json.encode(r) .. '\n'
    if fs.read(path) ~= text then assert(fs.write_atomic(path, text)) end
    c.job = string.format('render:%s:%d', m.id, i)
    local outputs = { 'render.json' }
    for b = 0, c.batch - 1 do outputs[#outputs + 1] = string.format('image_%d.png', b) end
    jobs[#jobs + 1] = {
      id = c.job,
      argv = { env.bin .. '/fv-render', '--progress', path, '{out}' },
      tools = { env.bin .. '/fv-render' },
      inputs = { path, r.model.json, r.model.bin },
      outputs = outputs,
      estimate = env.quick and 2 or 60,
    }
  end
  return jobs
end

function M.html(m, env)
  local cols = m.columns or math.min(#m.cells, 4)
  local out = { string.format('<div class="grid" style="--cols: %d">', cols) }
  local files = {}
  for i, c in ipairs(m.cells) do
    local dir = env.job_dir(c.job)
    local info = env.read_json(dir .. '/render.json')
    local size = info.recipe and info.recipe.size or 128
    local imgs = {}
    for b = 0, c.batch - 1 do
      local dest = string.format('figures/%s/%d_%d.png', m.id, i, b)
      files[#files + 1] = { dest = dest, src = string.format('%s/image_%d.png', dir, b) }
      imgs[#imgs + 1] = string.format('<img src="%s" alt="%s" width="%d" height="%d" loading="lazy" decoding="async">',
        html.attr(dest), html.attr(c.alt .. (c.batch > 1 and string.format(' (%d of %d)', b + 1, c.batch) or '')), size, size)
    end
    out[#out + 1] = string.format('<div class="cell">%s%s</div>', table.concat(imgs),
      c.label and ('<span class="label">' .. html.text(c.label) .. '</span>') or '')
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), files
end

return M
