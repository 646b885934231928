-- plan: the atlas manifest (atlas/atlas.lua, manifest kind "atlas") checked, its layers resolved
-- against the models (channel counts from `fv-nn info`, never from the manifest), filtered by
-- --layers, and turned into jobs: the renders, the classifier's dataset examples and each
-- layer's t-SNE map (profile -> fv-tsne -> fv-gridsnap). The sprite jobs come later
-- (pipeline/atlas/sheets.lua): they list the renders' output files.
--
-- Batching: every detector render job is one fv-render plan at batch 8 (pipeline/fv/RECIPE.md
-- `batch`): 4 channels x (channel objective, neuron objective) in one job, or 2 channels x a
-- diversity set of 4 in another. The renderer's speed at batch 8 is thus the atlas's speed.
local render = require 'pipeline.driver.render'
local fmnist = require 'pipeline.driver.fmnist'
local proc = require 'pipeline.driver.proc'
local quote = require 'pipeline.driver.quote'

local M = {}

-- The quick atlas (tests) renders tinier than the quick article: pictures that are not blank and
-- go through every stage, in seconds.
local QUICK = { size = 32, steps = 8 }

M.fields = { detector = true, classifier = true, quick_channels = true }

local function check_layers(ctx, net, path, net_fields)
  ctx:field(net, 'title', 'string', true, path .. '.title')
  local layers = ctx:field(net, 'layers', 'table', true, path .. '.layers')
  if #layers == 0 then ctx:fail(path .. '.layers', 'empty (expected { name = ..., node = ... } per layer)') end
  local seen = {}
  for i, l in ipairs(layers) do
    local p = string.format('%s.layers[%d]', path, i)
    if type(l) ~= 'table' then ctx:fail(p, 'expected a table { name = ..., node = ... }') end
    local name = ctx:field(l, 'name', 'string', true, p .. '.name')
    if not name:match('^[%w_-]+$') then ctx:fail(p .. '.name', "'" .. name .. "' (expected letters, digits, '-' and '_')") end
    if seen[name] then ctx:fail(p .. '.name', "'" .. name .. "' listed twice (expected each layer once)") end
    seen[name] = true
    ctx:field(l, 'node', 'string', true, p .. '.node')
    local t = l.transforms
    if t ~= nil and type(t) ~= 'string' and type(t) ~= 'table' then ctx:fail(p .. '.transforms', 'expected a preset name or a list') end
    for _, f in ipairs({ 'tv', 'sd' }) do
      local v = l[f]
      if v ~= nil and not net_fields then ctx:fail(p .. '.' .. f, "is for the classifier's layers (expected none here)") end
      if v ~= nil and (type(v) ~= 'number' or v ~= v or v < 0 or (f == 'sd' and v == 0)) then
        ctx:fail(p .. '.' .. f, f == 'tv' and 'expected a number, 0 or more (the layer\'s total-variation weight)'
          or 'expected a number above 0 (the spread of the layer\'s starting images)')
      end
    end
  end
  local r = ctx:field(net, 'recipe', 'table', true, path .. '.recipe')
  render.check(r, ctx, path .. '.recipe')
  if r.batch or r.layer or r.snapshots then
    ctx:fail(path .. '.recipe', 'batch, layer and snapshots come from the atlas (expected none of them here)')
  end
end

function M.validate(m, ctx)
  check_layers(ctx, ctx:field(m, 'detector', 'table', true), 'detector')
  check_layers(ctx, ctx:field(m, 'classifier', 'table', true), 'classifier', true)
  local d = m.detector.diversity
  if d ~= nil and (type(d) ~= 'table' or type(d.weight) ~= 'number' or d.weight <= 0) then
    ctx:fail('detector.diversity', 'expected { weight = a positive number }')
  end
  local k = m.classifier.k
  if k ~= nil and (math.type(k) ~= 'integer' or k < 1 or k > 16) then ctx:fail('classifier.k', 'expected a whole number from 1 to 16') end
  local q = ctx:field(m, 'quick_channels', 'number', false)
  if q and (math.type(q) ~= 'integer' or q < 4 or q > 64) then ctx:fail('quick_channels', 'expected a whole number from 4 to 64') end
end

-- Channel count of every node `fv-nn info` lists for the model in dir (the last number of its
-- shape). Returns { [node] = channels }, or nil and one line.
function M.channels(bin, dir, size)
  local ok, _, out, err = proc.run({ bin .. '/fv-nn', 'info', dir, '--size', tostring(size) }, require('pipeline.driver.cache').tmp())
  if not ok then return nil, 'atlas: fv-nn info ' .. dir .. ': ' .. quote.text((err or ''):match('^[^\n]*') or '') end
  local t = {}
  for line in out:gmatch('[^\n]+') do
    local node, c = line:match('^%S+%s+(%S+)%s+%[[%d,]-(%d+)%]%s*$')
    if node then t[node] = tonumber(c) end
  end
  return t
end

-- Whether layer l (of network `net`) is selected by --layers: a comma-separated list of names,
-- `net/name`, or Lua patterns matched against both ("expanded_conv_1[0-4]").
local function selected(spec, net, l)
  if not spec then return true end
  for item in spec:gmatch('[^,]+') do
    item = item:match('^%s*(.-)%s*$')
    for _, s in ipairs({ l.name, net .. '/' .. l.name }) do
      if s == item then return true end
      local okp, hit = pcall(string.match, s, '^' .. item .. '$')
      if okp and hit then return true end
    end
  end
  return false
end

-- The atlas's layers: { net = 'detector'|'classifier', name, node, channels = C, shown = n, ... }
-- in manifest order, filtered by --layers. counts(net): the { node = channels } table of that
-- network. Returns the list, or nil and one line (a --layers that selects nothing, a node the
-- model does not have).
function M.layers(m, spec, counts, quick)
  local list = {}
  for _, net in ipairs({ 'detector', 'classifier' }) do
    for i, l in ipairs(m[net].layers) do
      if selected(spec, net, l) then
        local c = counts(net)[l.node:gsub(':preact$', '')]
        if not c then
          return nil, string.format("%s: field '%s.layers[%d].node': '%s' is not a node of the %s's model (expected a name `fv-nn info` lists)",
            m.file, net, i, quote.text(l.node), net)
        end
        list[#list + 1] = { net = net, name = l.name, node = l.node, transforms = l.transforms, tv = l.tv, sd = l.sd, channels = c,
                            shown = quick and math.min(c, m.quick_channels or 4) or c, index = i }
      end
    end
  end
  if #list == 0 then
    return nil, string.format("atlas: --layers '%s' selects no layer of %s (expected names such as expanded_conv_5, extern1, fc1, or patterns)",
      quote.text(spec or '', 80), m.file)
  end
  return list
end

-- A pseudo-figure for render.job (recipes are written under .cache/gen/recipes/<id>/).
local function fig(l) return { id = 'atlas-' .. l.net .. '-' .. l.name } end

-- The t-SNE map of a layer's channels from its visualizations (as the channelmap kind).
local function map_jobs(l, env, model_dir, model_dep, model_inputs)
  local n = l.shown
  local base = string.format('atlas:%s/%s', l.net, l.name)
  l.jobs.profile, l.jobs.embed, l.jobs.grid = base .. ':profile', base .. ':embed', base .. ':grid'
  local argv = { env.bin .. '/fv-nn', 'profile', model_dir, '--output', l.node, '--self', '0', '-o', '{out}/profile.fvf' }
  local deps = { model_dep } -- none for the detector (nil): its model is an input file
  for _, part in ipairs(l.vis) do
    deps[#deps + 1] = part.job
    for b = 0, part.n - 1 do argv[#argv + 1] = string.format('{dep:%s}/image_%d.png', part.job, b) end
  end
  -- fv-tsne needs 3 x perplexity <= n - 1; a square-ish grid with some room to snap into.
  local perp = math.max(1, math.min(30, (n - 1) // 3))
  local cols = math.max(2, math.ceil(math.sqrt(n * 1.25)))
  local rows = math.max(2, math.ceil(n * 1.25 / cols))
  l.rows, l.cols, l.perplexity = rows, cols, perp
  return {
    { id = l.jobs.profile, deps = deps, argv = argv, tools = { env.bin .. '/fv-nn' }, inputs = model_inputs,
      outputs = { 'profile.fvf' }, estimate = 1 + n * 0.02, kind = 'profile' },
    { id = l.jobs.embed, deps = { l.jobs.profile },
      argv = { env.bin .. '/fv-tsne', '--method', 'exact', '--perplexity', tostring(perp), '--seed', '1',
               '{dep:' .. l.jobs.profile .. '}/profile.fvf', '-o', '{out}/embedding.fvf', '--json', '{out}/tsne.json' },
      tools = { env.bin .. '/fv-tsne' }, outputs = { 'embedding.fvf', 'tsne.json' }, estimate = 1 + n * 0.01, kind = 'tsne' },
    { id = l.jobs.grid, deps = { l.jobs.embed },
      argv = { env.bin .. '/fv-gridsnap', '{dep:' .. l.jobs.embed .. '}/embedding.fvf', '--rows', tostring(rows),
               '--cols', tostring(cols), '-o', '{out}/cells.tsv' },
      tools = { env.bin .. '/fv-gridsnap' }, outputs = { 'cells.tsv' }, estimate = 1, kind = 'gridsnap' },
  }
end

-- Detector layer: vis jobs (4 channels x {channel, neuron} = batch 8), diversity jobs (2 channels
-- x 4 = batch 8) and the map. Each channel c gets l.of[c] = { vis = {job, b}, neuron = {job, b},
-- div = {job, first b} }.
local function detector_jobs(m, l, env)
  local jobs, n = {}, l.shown
  local base = render.merge(m.detector.recipe, { layer = l.node, transforms = l.transforms or m.detector.recipe.transforms },
    env.quick and QUICK or nil)
  for start = 0, n - 1, 4 do
    local k = math.min(4, n - start)
    local objs = {}
    for b = 0, k - 1 do
      objs[#objs + 1] = { kind = 'channel', channel = start + b, batch = b }
      objs[#objs + 1] = { kind = 'neuron', channel = start + b, batch = k + b }
    end
    local j = render.job(fig(l), env, string.format('vis%04d', start), render.merge(base, { batch = 2 * k, objectives = objs }))
    j.kind = 'render'
    jobs[#jobs + 1] = j
    l.vis[#l.vis + 1] = { job = j.id, n = k }
    for b = 0, k - 1 do l.of[start + b] = { vis = { j.id, b }, neuron = { j.id, k + b } } end
  end
  -- The diversity term is one value for the whole batch: with 2 channels in it, 24 of its 56
  -- ordered pairs are within a channel's set, so its weight is scaled by 56/24 to push each set
  -- apart as hard as a batch of 4 alone would (the pairs across channels differ anyway).
  local w = (m.detector.diversity or {}).weight or 1
  for start = 0, n - 1, 2 do
    local k = math.min(2, n - start)
    local objs = {}
    for c = 0, k - 1 do
      objs[#objs + 1] = { kind = 'channel', channel = start + c, batch = { 4 * c, 4 * c + 1, 4 * c + 2, 4 * c + 3 } }
    end
    objs[#objs + 1] = { kind = 'diversity', layer = l.node, weight = k == 2 and w * 56 / 24 or w }
    local j = render.job(fig(l), env, string.format('div%04d', start),
      render.merge(base, { batch = 4 * k, seed = (base.seed or 1) + 1, objectives = objs }))
    j.kind = 'render'
    jobs[#jobs + 1] = j
    for c = 0, k - 1 do l.of[start + c].div = { j.id, 4 * c } end
  end
  local mj = { env.model_dir .. '/centernet.json', env.model_dir .. '/centernet.bin' }
  for _, j in ipairs(map_jobs(l, env, env.model_dir, nil, mj)) do jobs[#jobs + 1] = j end
  return jobs
end

-- Classifier layer: renders of 8 units per job (batch 8), the dataset examples, the map.
local function classifier_jobs(m, l, env, train)
  local jobs, n = {}, l.shown
  local model = { job = train.id, json = 'fmnist-cnn.json', bin = 'fmnist-cnn.bin', size = true }
  for start = 0, n - 1, 8 do
    local k = math.min(8, n - start)
    local objs = {}
    for b = 0, k - 1 do objs[#objs + 1] = { kind = 'channel', channel = start + b, batch = b } end
    local tv = l.tv == nil
    for _, o in ipairs(m.classifier.recipe.objectives or {}) do
      if o.kind == 'tv' and l.tv ~= nil then
        o, tv = render.merge(o, { weight = l.tv }), true
      end
      objs[#objs + 1] = o
    end
    if not tv then objs[#objs + 1] = { kind = 'tv', weight = l.tv } end
    local param = l.sd and { param = render.merge(m.classifier.recipe.param, { sd = l.sd }) } or nil
    local j = render.job(fig(l), env, string.format('vis%04d', start),
      render.merge(m.classifier.recipe, { layer = l.node, transforms = l.transforms or m.classifier.recipe.transforms,
                                          batch = k, objectives = objs }, param, env.quick and { steps = QUICK.steps } or nil), model)
    j.kind = 'render'
    jobs[#jobs + 1] = j
    l.vis[#l.vis + 1] = { job = j.id, n = k }
    for b = 0, k - 1 do l.of[start + b] = { vis = { j.id, b } } end
  end
  local chans = {}
  for c = 0, n - 1 do chans[#chans + 1] = tostring(c) end
  l.jobs.examples = string.format('atlas:%s/%s:examples', l.net, l.name)
  jobs[#jobs + 1] = { id = l.jobs.examples, deps = { train.id },
    argv = { env.bin .. '/fv-examples', '--layer', l.node, '--k', tostring(m.classifier.k or 6),
             '--channels', table.concat(chans, ','), '--limit', env.quick and '1000' or '10000',
             '{dep:' .. train.id .. '}', '{out}' },
    tools = { env.bin .. '/fv-examples' }, inputs = { fmnist.data .. '/t10k-images-idx3-ubyte.gz' },
    outputs = nil, estimate = env.quick and 3 or 10, kind = 'examples' }
  for _, j in ipairs(map_jobs(l, env, '{dep:' .. train.id .. '}', train.id, {})) do jobs[#jobs + 1] = j end
  return jobs
end

-- Every job of the selected layers (dependencies first). Fills each layer's l.vis, l.of, l.jobs.
function M.jobs(m, layers, env)
  local jobs, train = {}, nil
  for _, l in ipairs(layers) do
    l.vis, l.of, l.jobs = {}, {}, {}
    if l.net == 'detector' then
      for _, j in ipairs(detector_jobs(m, l, env)) do jobs[#jobs + 1] = j end
    else
      if not train then
        train = fmnist.train_job(env)
        train.kind = 'train'
        table.insert(jobs, 1, train)
      end
      for _, j in ipairs(classifier_jobs(m, l, env, train)) do jobs[#jobs + 1] = j end
    end
  end
  return jobs, train
end

return M
