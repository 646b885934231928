-- Stage "atlas" (`lua5.4 build.lua --atlas`, `make atlas`): every channel of every layer of
-- atlas/atlas.lua, through the article's driver, cache, sprite packing and publishing
-- (pipeline/atlas/ plans the jobs and writes the pages), into build/atlas/ by one atomic swap.
-- Resumes where it stopped: every finished job is a cache entry.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'
local manifest = require 'pipeline.driver.manifest'
local plan = require 'pipeline.atlas.plan'
local sheets = require 'pipeline.atlas.sheets'
local pages = require 'pipeline.atlas.pages'
local estimate = require 'pipeline.atlas.estimate'
local site = require 'pipeline.stages.site'

local M = {}

M.manifest = 'atlas/atlas.lua'

-- The manifest and the selected layers. Returns a = { m, layers, env, train }, or nil and one line.
-- run(jobs, label): the build's runner (only the classifier's training runs here, when a
-- classifier layer is selected, since its channel counts come from the trained model).
function M.load(env, opts, run)
  manifest.kinds.atlas = plan
  local m, err = manifest.load(M.manifest, 'atlas')
  if not m then return nil, err end
  local counts, train = {}, nil
  local function count(net)
    if counts[net] then return counts[net] end
    local c, cerr
    if net == 'detector' then
      c, cerr = plan.channels(env.bin, env.model_dir, m.detector.recipe.size or 128)
    else
      train = train or require('pipeline.driver.fmnist').train_job(env)
      if opts.dry_run then
        local key = cache.key(train, {})
        local meta = key and cache.lookup(key, train.outputs)
        if meta then c, cerr = plan.channels(env.bin, cache.entry(meta.key), 28) end
      else
        local ok, rerr = run({ train }, 'atlas: classifier')
        if not ok then error(rerr, 0) end
        c, cerr = plan.channels(env.bin, train.dir, 28)
      end
      -- Not trained yet (a dry run): fv-train's default architecture, as its --help states it.
      if not c and not cerr then c = M.default_arch(env) end
    end
    if not c then error(cerr, 0) end
    counts[net] = c
    return c
  end
  local ok, layers, lerr = pcall(plan.layers, m, opts.layers, count, opts.quick)
  if not ok then return nil, layers end
  if not layers then return nil, lerr end
  return { m = m, layers = layers, env = env }
end

-- { node = channels } of the classifier fv-train makes by default (from `fv-train --help`).
function M.default_arch(env)
  local _, _, out = require('pipeline.driver.proc').run({ env.bin .. '/fv-train', '--help' }, cache.tmp())
  local a = { (out or ''):match('%-%-arch LIST.-default (%d+),(%d+),(%d+),(%d+),(%d+)') }
  if #a ~= 5 then return nil end
  return { conv1 = tonumber(a[1]), conv2 = tonumber(a[2]), conv3 = tonumber(a[3]), conv4 = tonumber(a[4]),
           fc1 = tonumber(a[5]), logits = 10 }
end

-- Fallback seconds per kind when nothing similar is recorded: measured by hand on this project's
-- 2-core EPYC (a 128 px, 512-step render of batch 1 takes about 2 s to the middle layer).
local FALLBACK = { render_per_image_step_px = 2.0 / (512 * 128 * 128), sprite = 0.6, profile = 10, tsne = 3,
                   gridsnap = 1, examples = 10, train = 240 }

-- The render jobs' CPU seconds, from the renders the cache recorded (pipeline/atlas/estimate.lua),
-- set as each job's cost, with its class (runner.lua): the time left that a run shows and the
-- dry run's total are one figure (a render job runs on one thread beside others: its CPU
-- seconds are its wall time).
-- Returns the rates, and { [source] = renders priced from it } ('fallback': the guess above).
function M.price_renders(a, jobs)
  local rates = estimate.recorded(cache.objects(), cache.tool_hash(a.env.bin .. '/fv-render'))
  local src = { fallback = 0 }
  for _, j in ipairs(jobs) do
    if j.kind == 'render' then
      local r = j.recipe_used
      local rate, from = estimate.rate(rates, r)
      src[from or 'fallback'] = (src[from or 'fallback'] or 0) + 1
      j.cost, j.class = estimate.work(r) * (rate or FALLBACK.render_per_image_step_px), estimate.class(r)
    end
  end
  return rates, src
end

-- --dry-run: jobs not in the cache and their estimated CPU time. Prints, runs nothing.
function M.dry_run(a, jobs, times)
  local keys, todo = {}, {}
  local done, spent, unknown = 0, 0, 0
  -- Whether job j is in the cache (its key from its deps' keys); a cached one's recorded CPU
  -- time is added up, and its dir set (what the sheets read, when every render is cached).
  local function cached(j)
    local dk = {}
    for _, d in ipairs(j.deps or {}) do dk[#dk + 1] = keys[d] end
    keys[j.id] = cache.key(j, dk)
    local meta = cache.lookup(keys[j.id], j.outputs)
    if not meta then return false end
    j.dir = cache.entry(keys[j.id])
    local s = estimate.entry_spent(j.dir, meta)
    done, spent, unknown = done + 1, spent + (s or 0), unknown + (s and 0 or 1)
    return true
  end
  for _, j in ipairs(jobs) do
    if not cached(j) then todo[#todo + 1] = j end
  end
  -- The sprite jobs come after the renders: one per layer (thumbnails), one per channel and the
  -- landing page's. Their keys need the renders' outputs: with every render cached, those not in
  -- the cache are counted; else all of them.
  local nsprite, channels = 1, 0
  for _, l in ipairs(a.layers) do nsprite, channels = nsprite + 1 + l.shown, channels + l.shown end
  local sheets_known = false
  if #todo == 0 then
    local ok, sjobs = pcall(M.sheet_jobs, a)
    if ok then
      nsprite, sheets_known = 0, true
      for _, j in ipairs(sjobs) do
        if not cached(j) then nsprite = nsprite + 1 end
      end
    end
  end
  local rates, src = M.price_renders(a, todo)
  local secs, by = 0, {}
  for _, j in ipairs(todo) do
    local s = j.cost or times[j.id] or FALLBACK[j.kind] or j.estimate or 1
    by[j.kind or 'other'] = (by[j.kind or 'other'] or 0) + 1
    secs = secs + s
  end
  secs = secs + nsprite * FALLBACK.sprite
  local kinds, froms = {}, {}
  for k, v in pairs(by) do kinds[#kinds + 1] = string.format('%d %s', v, k) end
  table.sort(kinds)
  for _, k in ipairs({ 'fresh', 'older', 'fresh, the layer\'s other kind', 'older, the layer\'s other kind',
                         'fresh, other layers', 'older, other layers' }) do
    if src[k] then froms[#froms + 1] = string.format('%d from %s', src[k], k) end
  end
  if src.fallback > 0 then froms[#froms + 1] = string.format('%d by the per-kind guess', src.fallback) end
  io.stdout:write(string.format('atlas: %d layers, %d channels: %d jobs to run (%s) of %d, plus %d sprite jobs %s\n',
    #a.layers, channels, #todo, #kinds > 0 and table.concat(kinds, ', ') or 'none', #jobs, nsprite,
    sheets_known and 'not in the cache' or 'after the renders'))
  io.stdout:write(string.format('atlas: estimated %.1f CPU-hours on this machine (%.1f hours on its %d cores); render times %s\n',
    secs / 3600, secs / 3600 / sys.ncpu(), sys.ncpu(),
    rates.n > 0 and string.format('scaled from the %d renders the cache recorded, %d of them by this fv-render '
      .. '(CPU-seconds per image x step x pixel of the same layer and kind, with or without a diversity term; '
      .. 'fresh ones first, else older, else the layer\'s other kind, else other layers\'): %s; other jobs: their recorded time, else a per-kind guess',
      rates.n, rates.n_fresh, #froms > 0 and table.concat(froms, ', ') or 'no render to run')
      or 'by the per-kind guess (no render of 64 steps or more in the cache)'))
  if done > 0 then
    io.stdout:write(string.format('atlas: the %d jobs in the cache took %.1f CPU-hours as they recorded (CPU seconds, '
      .. 'else wall time x threads, which other work on the machine stretches)%s\n', done, spent / 3600,
      unknown > 0 and string.format('; %d recorded no time', unknown) or ''))
  end
end

-- After the renders and examples: the sprite jobs. Returns them.
function M.sheet_jobs(a)
  local env = a.env
  a.examples = {}
  local function examples_of(l)
    if l.net ~= 'classifier' then return nil end
    local by = {}
    for _, c in ipairs(env.read_json(env.job_dir(l.jobs.examples) .. '/examples.json').channels) do by[c.channel] = c end
    a.examples[l] = by
    return by
  end
  local jobs = sheets.jobs(a.layers, env, examples_of)
  -- The landing page's thumbnails: each layer's channel 0, one sheet for all.
  local fr = {}
  for _, l in ipairs(a.layers) do
    fr[#fr + 1] = { id = l.net .. '/' .. l.name, path = string.format('%s/image_%d.png', env.job_dir(l.of[0].vis[1]), l.of[0].vis[2]) }
  end
  local lines = {}
  for _, f in ipairs(fr) do lines[#lines + 1] = f.id .. '\t' .. (f.path:sub(1, 1) == '/' and f.path or fs.root .. '/' .. f.path) end
  local list = '.cache/gen/atlas/sheets/landing.tsv'
  local text = table.concat(lines, '\n') .. '\n'
  assert(fs.write_if_changed(list, text))
  local inputs = { list }
  for _, f in ipairs(fr) do inputs[#inputs + 1] = f.path end
  a.landing_job = 'atlas:landing'
  jobs[#jobs + 1] = { id = a.landing_job, argv = { env.bin .. '/fv-sprite', 'build', list, '{out}', table.unpack(sheets.THUMBS) },
    tools = { env.bin .. '/fv-sprite' }, inputs = inputs, estimate = 1, kind = 'sprite' }
  return jobs
end

-- The pages and the files to publish. Returns files.
function M.site(a, root)
  local env, files = a.env, {}
  a.thumbs, a.sheets, a.grid, a.tsne = {}, {}, {}, {}
  a.landing = sheets.read(env, a.landing_job, 'landing', files)
  for _, l in ipairs(a.layers) do
    local dir = l.net .. '/' .. l.name
    a.thumbs[l] = sheets.read(env, l.jobs.thumbs, dir .. '/thumbs', files)
    a.sheets[l] = {}
    for c = 0, l.shown - 1 do a.sheets[l][c] = sheets.read(env, l.sheet_job[c], string.format('%s/c/%d', dir, c), files) end
    local cells = {}
    for line in (fs.read(env.job_dir(l.jobs.grid) .. '/cells.tsv') or ''):gmatch('[^\n]+') do
      local r, c = line:match('^(%d+)\t(%d+)$')
      if r then cells[#cells + 1] = { tonumber(r), tonumber(c) } end
    end
    a.grid[l] = cells
    a.tsne[l] = env.read_json(env.job_dir(l.jobs.embed) .. '/tsne.json')
  end
  a.tpl = assert(fs.read('templates/atlas/page.html'))
  local built = pages.build(a)
  for _, p in ipairs(pages.write(built, cache.gen() .. '/atlas/pages')) do files[#files + 1] = p end
  for _, n in ipairs({ 'atlas.css', 'atlas.js' }) do files[#files + 1] = { dest = 'assets/' .. n, src = 'templates/atlas/' .. n } end
  a.heaviest = M.heaviest_layer_page(a, built)
  return files
end

-- The layer page that weighs most on first load: its HTML, the stylesheet and script, and the
-- sheets of its thumbnails (every image it shows). Returns { dest, bytes, html, sheets } or nil.
M.BUDGET = 1.5 * 1024 * 1024 -- the issue's: a layer page under 1.5 MB on first load
function M.heaviest_layer_page(a, built)
  local assets = 0
  for _, n in ipairs({ 'atlas.css', 'atlas.js' }) do assets = assets + ((sys.stat('templates/atlas/' .. n) or {}).size or 0) end
  local by_dest = {}
  for _, p in ipairs(built) do by_dest[p.dest] = p end
  local worst
  for _, l in ipairs(a.layers) do
    local p = by_dest[l.net .. '/' .. l.name .. '/index.html']
    if p then
      local seen, sheets = {}, 0
      for _, f in pairs(a.thumbs[l]) do
        if not seen[f.sheet] then seen[f.sheet], sheets = true, sheets + f.bytes end
      end
      local bytes = #p.text + assets + sheets
      if not worst or bytes > worst.bytes then worst = { dest = p.dest, bytes = bytes, html = #p.text, sheets = sheets } end
    end
  end
  return worst
end

-- Publishes the site to build/atlas/ (atomically) and prints its size and file count, and the
-- heaviest layer page's first load (heaviest_layer_page), saying when it is over the budget.
function M.publish(files, out, heaviest)
  local res, err = site.publish(files, out)
  if not res then return nil, err end
  io.stderr:write(string.format('atlas: %s/ %s: %d files, %s\n', out, res.changed and 'published' or 'unchanged',
    res.count, fs.human_size(res.bytes)))
  local h = heaviest
  if h then
    io.stderr:write(string.format('atlas: heaviest layer page %s: %s on first load (HTML %s, thumbnails %s, CSS and script)%s\n',
      h.dest, fs.human_size(h.bytes), fs.human_size(h.html), fs.human_size(h.sheets),
      h.bytes > M.BUDGET and string.format(', over the %s budget', fs.human_size(M.BUDGET)) or ''))
  end
  return res
end

-- The atlas's stages, added to build.lua's walk after the shared ones (project, farm, cache,
-- model). stage and run are build.lua's.
function M.stages(stage, run, root, variant)
  stage('atlas plan', { 'opts' }, { 'atlas', 'atlas_jobs' }, function(b)
    local env = { bin = root .. '/build/' .. variant .. '/bin', root = root, model_dir = require('pipeline.stages.model').dir,
                  quick = b.opts.quick or false }
    local by_id = {}
    function env.job_dir(id) return by_id[id].dir end
    function env.read_json(path)
      local v, err = require('pipeline.driver.json').decode(fs.read(path) or '')
      if not v then error(path .. ': ' .. err, 0) end
      return v
    end
    local a, err = M.load(env, b.opts, function(jobs, label)
      for _, j in ipairs(jobs) do by_id[j.id] = j end
      return run(b, jobs, label)
    end)
    if not a then
      io.stderr:write(err .. '\n')
      return (err:find('^atlas: %-%-layers') and 2 or 1)
    end
    local jobs = plan.jobs(a.m, a.layers, env)
    for _, j in ipairs(jobs) do by_id[j.id] = j end
    a.by_id = by_id
    b.atlas, b.atlas_jobs = a, jobs
    if b.opts.dry_run then M.dry_run(a, jobs, b.times); return 0 end
    M.price_renders(a, jobs)
  end)
  stage('atlas renders', { 'atlas', 'atlas_jobs' }, {}, function(b) return run(b, b.atlas_jobs, 'atlas') end)
  stage('atlas sheets', { 'atlas' }, {}, function(b)
    local ok, jobs = pcall(M.sheet_jobs, b.atlas)
    if not ok then return nil, jobs end
    for _, j in ipairs(jobs) do b.atlas.by_id[j.id] = j end
    return run(b, jobs, 'atlas sheets')
  end)
  stage('atlas site', { 'atlas' }, { 'published' }, function(b)
    local ok, files = pcall(M.site, b.atlas, root)
    if not ok then return nil, files end
    local res, err = M.publish(files, 'build/atlas', b.atlas.heaviest)
    if not res then return nil, err end
    b.published = res
    if b.ran > 0 then
      io.stderr:write(string.format('atlas: %d jobs (%d cached, %d run) in %.1fs\n', b.ran + b.cached, b.cached, b.ran, sys.clock() - b.t0))
    end
  end)
end

return M
