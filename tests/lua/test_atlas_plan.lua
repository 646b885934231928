-- test_atlas_plan: pipeline/atlas/plan.lua, the atlas's jobs: a classifier layer's `tv` and `sd`
-- (atlas/atlas.lua) reach its renders' recipes and leave other layers' alone.
local t = require 'lib'
local plan = require 'pipeline.atlas.plan'

local recipe = { size = 28, steps = 256, seed = 1, param = { grey = true }, objectives = { { kind = 'tv', weight = 5 } } }
local m = { classifier = { recipe = recipe, k = 6 } }
local env = { bin = '/nonexistent/bin', model_dir = '/nonexistent/model', root = '.', quick = false }
local function layer(name, tv, sd)
  return { net = 'classifier', name = name, node = name, tv = tv, sd = sd, channels = 10, shown = 10 }
end
local conv, fc, notv = layer('conv1', 0.01, 1), layer('fc1'), layer('conv2', 0.5)
local saved = recipe.objectives
recipe.objectives = {}
local jobs_notv = plan.jobs(m, { notv }, env)
recipe.objectives = saved
local jobs = plan.jobs(m, { conv, fc }, env)

-- The renders of a layer, by id prefix.
local function renders(list, name)
  local out = {}
  for _, j in ipairs(list) do
    if j.kind == 'render' and j.id:find('classifier%-' .. name .. ':') then out[#out + 1] = j.recipe_used end
  end
  return out
end
local function tv_weights(r)
  local w = {}
  for _, o in ipairs(r.objectives) do if o.kind == 'tv' then w[#w + 1] = o.weight end end
  return w
end

local c, f = renders(jobs, 'conv1'), renders(jobs, 'fc1')
t.eq('10 units at batch 8: two renders a layer', '2 2', #c .. ' ' .. #f)
t.eq('conv1: its tv replaces the recipe\'s weight, once', '0.01', table.concat(tv_weights(c[1]), ','))
t.eq('conv1: its sd is the param\'s spread, the rest of param kept', '1 true', tostring(c[1].param.sd) .. ' ' .. tostring(c[1].param.grey))
t.eq('fc1: the recipe\'s tv weight and param as they are', '5 nil true',
  table.concat(tv_weights(f[1]), ',') .. ' ' .. tostring(f[1].param.sd) .. ' ' .. tostring(f[1].param.grey))
t.eq('the recipe itself is not changed', '5 nil', recipe.objectives[1].weight .. ' ' .. tostring(recipe.param.sd))
t.eq('a recipe without a tv objective: the layer\'s tv adds one', '0.5', table.concat(tv_weights(renders(jobs_notv, 'conv2')[1]), ','))
t.finish()
