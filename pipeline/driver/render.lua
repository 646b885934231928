-- render: what every figure kind that renders with fv-render shares — checking a manifest's
-- recipe tables, laying a cell's recipe over the figure's, the --quick cut, and the job itself.
-- Recipe fields are those of pipeline/fv/RECIPE.md; fv-render checks ranges and values.
local json = require 'pipeline.driver.json'
local fs = require 'pipeline.driver.fs'

local M = {}

-- Fields of a recipe and their Lua types.
local types = {
  layer = 'string', size = 'number', steps = 'number', batch = 'number', seed = 'number', lr = 'number',
  betas = 'table', param = 'table', transforms = { string = true, table = true }, objectives = 'table',
  snapshots = 'table', log_every = 'number',
}

-- Checks the fields of recipe table r found at manifest path `path` (for ctx:fail).
function M.check(r, ctx, path)
  for k, v in pairs(r) do
    local want = types[k]
    if not want then
      local names = {}
      for n in pairs(types) do names[#names + 1] = n end
      table.sort(names)
      ctx:fail(path .. '.' .. tostring(k), 'unknown recipe field (expected one of: ' .. table.concat(names, ', ') .. ')')
    end
    local ok = type(want) == 'table' and want[type(v)] or type(v) == want
    if not ok then
      ctx:fail(path .. '.' .. k, string.format('expected a %s (got %s)',
        type(want) == 'table' and 'string or table' or want, type(v)))
    end
    -- batch and snapshots decide how many outputs a job lists (one per image and snapshot):
    -- their ranges (pipeline/fv/RECIPE.md) are checked before any job is made.
    if k == 'batch' and (math.type(v) ~= 'integer' or v < 1 or v > 64) then
      ctx:fail(path .. '.batch', 'expected a whole number from 1 to 64')
    end
    if k == 'snapshots' then
      if #v > 1024 then ctx:fail(path .. '.snapshots', #v .. ' steps (expected at most 1024)') end
      for i, s in pairs(v) do
        if math.type(i) ~= 'integer' or i < 1 or i > #v or math.type(s) ~= 'integer' or s < 0 or s > 1000000 then
          ctx:fail(path .. '.snapshots', 'expected a list of whole numbers from 0 to 1000000')
        end
      end
    end
  end
end

-- Checks manifest m's optional `recipe` field; fixed (optional): names of the fields the figure
-- sets itself, refused in the recipe (e.g. { 'layer', 'batch' }).
function M.check_manifest(m, ctx, fixed)
  if m.recipe == nil then return end
  ctx:field(m, 'recipe', 'table', false)
  M.check(m.recipe, ctx, 'recipe')
  for _, k in ipairs(fixed or {}) do
    if m.recipe[k] ~= nil then
      ctx:fail('recipe', table.concat(fixed, ' and ') .. ' come from the figure (expected neither here)')
    end
  end
end

-- The names of a recipe's transforms as render.json records them (a preset's name, or the list
-- of transforms), as the recipes appendix and the atlas's pages print them.
function M.transforms_text(t)
  if type(t) == 'string' then return t end
  local parts = {}
  for _, x in ipairs(t or {}) do parts[#parts + 1] = x.kind end
  return #parts > 0 and table.concat(parts, ', ') or 'none'
end

-- A new recipe: the fields of each argument in turn, later ones winning (shallow).
function M.merge(...)
  local r = {}
  for i = 1, select('#', ...) do -- not ipairs: an absent (nil) table may sit between others
    for k, v in pairs(select(i, ...) or {}) do r[k] = v end
  end
  return r
end

-- The test article renders the same recipes, briefly and small.
local function quicken(r, keep_size)
  r.steps = math.min(r.steps or 512, 24)
  if not keep_size then r.size = math.min(r.size or 128, 64) end
  if r.snapshots then
    local s = {}
    for _, v in ipairs(r.snapshots) do
      local q = math.min(v, r.steps)
      if s[#s] ~= q then s[#s + 1] = q end
    end
    r.snapshots = s
  end
  r.log_every = math.min(r.log_every or 16, 4)
end

-- The paths of the images that render jobs wrote, after they ran (a kind's frames()): parts is
-- a list of { job = ID, n = batch size }; their images 0..n-1 in turn.
function M.images(env, parts)
  local list = {}
  for _, p in ipairs(parts) do
    for b = 0, p.n - 1 do list[#list + 1] = string.format('%s/image_%d.png', env.job_dir(p.job), b) end
  end
  return list
end

-- Writes the recipe file of recipe r as `name` of figure m (only when its text changed, so its
-- hash memo stays warm). Returns its path and the final recipe table (after --quick). model: as
-- for M.job.
function M.recipe_file(m, env, name, r, model)
  local dir = '.cache/gen/recipes/' .. m.id
  assert(require('fvsys').mkdir_p(dir))
  r = M.merge(r)
  if model then
    r.model = { json = model.json, bin = model.bin }
  else
    r.model = { json = env.model_dir .. '/centernet.json', bin = env.model_dir .. '/centernet.bin' }
  end
  if env.quick then quicken(r, model and model.size) end
  local path = string.format('%s/%s%s.json', dir, name, env.quick and '-quick' or '')
  local text = json.encode(r) .. '\n'
  assert(fs.write_if_changed(path, text))
  return path, r
end

-- The job that renders recipe r as `name` of figure m (its file from M.recipe_file). Returns
-- the job; job.recipe_used is the final recipe table (after --quick). model (optional):
-- { job = ID, json = NAME, bin = NAME, dir = SUBFOLDER (optional) } for a model made by another
-- job (read from that job's output, or its folder dir, through --model-dir).
function M.job(m, env, name, r, model)
  local path
  path, r = M.recipe_file(m, env, name, r, model)
  local batch = r.batch or 1
  local outputs = { 'render.json' }
  for b = 0, batch - 1 do
    outputs[#outputs + 1] = string.format('image_%d.png', b)
    for _, s in ipairs(r.snapshots or {}) do outputs[#outputs + 1] = string.format('step%04d_%d.png', s, b) end
  end
  local argv = { env.bin .. '/fv-render', '--progress', path, '{out}' }
  local inputs = { path, r.model.json, r.model.bin }
  if model then
    argv = { env.bin .. '/fv-render', '--progress', '--model-dir',
             '{dep:' .. model.job .. '}' .. (model.dir and '/' .. model.dir or ''), path, '{out}' }
    inputs = { path }
  end
  return {
    id = string.format('render:%s:%s', m.id, name),
    argv = argv,
    deps = model and { model.job } or nil,
    tools = { env.bin .. '/fv-render' },
    inputs = inputs,
    outputs = outputs,
    estimate = env.quick and 2 or 60,
    threads_file = true, -- fv-render follows FV_THREADS_FILE between steps
    recipe_used = r,
  }
end

return M
