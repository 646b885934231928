-- build.lua — builds the article: reads the figure manifests, runs every job that is not
-- already in the content-addressed cache (in parallel, with progress), then publishes
-- build/article/. Run by `make article`; usable by hand:
--
--   lua5.4 build.lua [--jobs N] [--force] [--only ID] [--verbose] [--fetch-model]
--                    [--farm slurm [--partition P] [--account A] [--time-limit T] ...]
--
-- The project is the current directory (content/, figures/, templates/); tools come from the
-- directory of this file. The cache's entries live in FV_CACHE (default: the project's .cache/),
-- which any number of checkouts, builds and cluster nodes may share.
--
-- Exit codes: 0 built (or nothing to do), 1 bad input or a failed job, 2 usage, 130 interrupted.
local usage = [[
usage: lua5.4 build.lua [options]
  --jobs N, -j N   run up to N jobs at once (default: number of cores)
  --force          run every job again, ignoring the cache
  --only ID        run only job ID (or every job of figure ID) and what it needs; no publishing
  --verbose        print each command as it starts
  --times          after building, print each figure's render time (from the cache records)
  --quick          the test article: every render with few steps at a small size (its own
                   cache entries; published to build/article/ like the full one)
  --fetch-model    only fetch and verify the model, then exit
  --atlas          build the atlas (atlas/atlas.lua: every channel of every layer) into
                   build/atlas/ instead of the article (`make atlas`); with it:
    --layers LIST  only these layers: names, net/name or Lua patterns, comma-separated
                   (expanded_conv_5,extern1 or 'expanded_conv_1[0-4]' or classifier/.*)
    --dry-run      print the jobs to run and their estimated CPU-hours; run nothing
  --help           this text

On a Slurm cluster (every job that is not cached runs there; see the README):
  --farm slurm           run the jobs through sbatch/squeue/scancel (or FV_FARM=slurm)
  --partition P          sbatch --partition           (or FV_SLURM_PARTITION)
  --account A            sbatch --account             (or FV_SLURM_ACCOUNT)
  --time-limit T         sbatch --time, per worker    (or FV_SLURM_TIME)
  --cpus-per-task N      threads of each job (default 1; or FV_SLURM_CPUS)
  --tasks N              workers at once (default 16; or FV_SLURM_TASKS)
  --sbatch-args "..."    more sbatch options          (or FV_SLURM_ARGS)
  --retries N            attempts after the first (default 2; or FV_FARM_RETRIES)
  --heartbeat S          seconds without a sign of life before a worker's job is run
                         elsewhere (default 60; or FV_FARM_HEARTBEAT)
Environment: FV_CACHE=DIR  where the cache's entries live (shared storage for a farm)
]]

local root = arg[0]:match('^(.*)/[^/]*$') or '.'
if root:sub(1, 1) ~= '/' then root = (os.getenv('PWD') or '.') .. '/' .. root end
root = root:gsub('/%./?$', ''):gsub('/%.$', '')
local variant = os.getenv('VARIANT') or 'release'
package.path = root .. '/?.lua;' .. package.path
package.cpath = root .. '/build/' .. variant .. '/lib/?.so;' .. package.cpath

-- Everything below needs our C module: say how to get it rather than fail in a require.
local ok_sys, sys = pcall(require, 'fvsys')
if not ok_sys then
  io.stderr:write('build: the fvsys module is not built (run `make tools` first): ' .. tostring(sys) .. '\n')
  os.exit(1)
end
-- The driver's modules load from the bytecode `make tools` compiled, when it is current.
table.insert(package.searchers, 2,
             require('pipeline.driver.bytecode').searcher(root, root .. '/build/' .. variant .. '/luac', sys.stat))

require 'pipeline.driver.strict'

-- The Slurm farm of this build, when it uses one: closed (its tasks cancelled, its queue
-- removed) however main ends.
local active_farm

-- The command line into opts. Returns opts, or nil and an exit code (after --help or a usage
-- error, already reported).
local function parse_args()
  local opts = { jobs = sys.ncpu(), force = false, verbose = false, farm = os.getenv('FV_FARM'), slurm = {} }
  local farm_flags = {}
  for _, v in ipairs(require('pipeline.driver.farm').vars) do farm_flags[v[3]] = v[1] end
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local function value()
      i = i + 1
      if not arg[i] then io.stderr:write('build: ' .. a .. ' needs a value\n' .. usage); os.exit(2) end
      return arg[i]
    end
    if a == '--jobs' or a == '-j' then
      opts.jobs = math.tointeger(tonumber(value()))
      if not opts.jobs or opts.jobs < 1 then io.stderr:write('build: --jobs expects a whole number >= 1\n'); return nil, 2 end
    elseif a == '--force' then opts.force = true
    elseif a == '--only' then opts.only = value()
    elseif a == '--verbose' then opts.verbose = true
    elseif a == '--quick' then opts.quick = true
    elseif a == '--times' then opts.times = true
    elseif a == '--fetch-model' then opts.fetch_model = true
    elseif a == '--atlas' then opts.atlas = true
    elseif a == '--layers' then opts.layers = value()
    elseif a == '--dry-run' then opts.dry_run = true
    elseif a == '--farm' then opts.farm = value()
    elseif farm_flags[a] then opts.slurm[farm_flags[a]] = value()
    elseif a == '--help' or a == '-h' then io.stdout:write(usage); return nil, 0
    else io.stderr:write('build: unknown option ' .. a .. '\n' .. usage); return nil, 2 end
    i = i + 1
  end
  if (opts.layers or opts.dry_run) and not opts.atlas then
    io.stderr:write('build: --layers and --dry-run need --atlas\n'); return nil, 2
  end
  if opts.atlas and opts.only then io.stderr:write('build: --only is for the article, not --atlas\n'); return nil, 2 end
  return opts
end

local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'
local runner = require 'pipeline.driver.runner'
local json = require 'pipeline.driver.json'
local manifest = require 'pipeline.driver.manifest'
local model = require 'pipeline.stages.model'
local figures = require 'pipeline.stages.figures'
local page = require 'pipeline.stages.page'
local sprites = require 'pipeline.stages.sprites'
local site = require 'pipeline.stages.site'

-- The build's stages, in order. Each reads fields of the build `b` (needs) and adds its own
-- (gives); walk() checks both, so a stage moved before what it needs fails at once.
-- run(b) returns nothing (or true) to go on, a number to end with that exit code (nothing left to do, or
-- an error it reported), or nil and one line of error (exit 1, or 130 after Ctrl-C).
-- only(b): whether the stage runs in this build (default: always).
-- mode: the build a stage belongs to ('article' or 'atlas'; nil: both), set before each group.
local stages = {}
local mode
local function stage(name, needs, gives, run, only)
  stages[#stages + 1] = { name = name, needs = needs, gives = gives, run = run, only = only, mode = mode }
end

-- The project is the current directory (Lua has no chdir); tools and scripts come from root,
-- so a test can build a fixture project with `cd fixture && lua5.4 /path/to/build.lua`.
stage('project', {}, { 'real' }, function(b)
  local real = sys.realpath('.')
  if not real or not sys.stat(real .. '/content') then
    io.stderr:write('build: ' .. tostring(real) .. ' is not a project (expected a directory with content/)\n')
    return 1
  end
  fs.root, b.real = real, real
end)

stage('farm settings', { 'opts' }, {}, function(b)
  local opts = b.opts
  if opts.farm == '' then opts.farm = nil end
  if opts.farm then
    if opts.farm ~= 'slurm' then
      io.stderr:write("build: --farm '" .. opts.farm .. "' (expected slurm)\n"); return 2
    end
    local farm = require 'pipeline.driver.farm'
    local settings, serr = farm.settings(opts.slurm)
    if not settings then io.stderr:write(serr .. '\n'); return 2 end
    local missing = farm.check()
    if missing then io.stderr:write(missing .. '\n'); return 2 end
    b.farm_settings = settings
  elseif next(opts.slurm) then
    io.stderr:write('build: the cluster options need --farm slurm\n'); return 2
  end
end)

-- This checkout's own state, and the store of entries (shared when FV_CACHE says so).
stage('cache', { 'real' }, { 'times' }, function(b)
  cache.local_dir = b.real .. '/.cache'
  local store = os.getenv('FV_CACHE')
  if store and store ~= '' then
    local ok_dir, derr = sys.mkdir_p(store)
    local rs = ok_dir and sys.realpath(store)
    if not rs then io.stderr:write('build: FV_CACHE: ' .. tostring(derr or store) .. ' (expected a directory this build can write)\n'); return 1 end
    cache.dir = rs
  else
    cache.dir = cache.local_dir
  end
  for _, d in ipairs({ cache.tmp(), cache.objects(), cache.local_dir .. '/state', cache.gen() }) do
    local okd, derr = sys.mkdir_p(d)
    if not okd then io.stderr:write('build: ' .. derr .. '\n'); return 1 end
  end
  local locked, lerr = sys.lock(cache.local_dir .. '/lock')
  if not locked then io.stderr:write('build: ' .. lerr .. ' (another build is running)\n'); return 1 end
  cache.clean_tmp()
  sys.catch_signals()
  os.remove(cache.local_dir .. '/state/hashes.lua') -- the memo's format until December 2026
  fs.load_memo(cache.local_dir .. '/state/hashes.bin')
  manifest.load_memo(cache.local_dir .. '/state/manifests.lua')
  -- Each job's seconds and CPU seconds when it last ran: its cost, for the order of the jobs.
  local function state(name)
    local chunk = loadfile(cache.local_dir .. '/state/' .. name, 't', {})
    local ok, t = pcall(chunk or function() return {} end)
    return ok and type(t) == 'table' and t or {}
  end
  b.times, b.cpu, b.schedule = state('times.lua'), state('cpu.lua'), {}
  b.state_loaded = true -- from here on, main saves the state however the build ends
end)

-- The verified model: beside the tools, or in the shared store when there is one (every
-- checkout and node that shares it then fetches it once). It is part of every full build
-- (render jobs read it); --fetch-model ends here.
stage('model', { 'real' }, {}, function(b)
  model.dir = os.getenv('FV_MODEL_DIR') or
    ((cache.dir ~= cache.local_dir and cache.dir or (root .. '/.cache')) .. '/models/mbv3-coco')
  -- Keys name no place: these become tokens in them (the longest that fits wins; on a tie, the
  -- first listed). The entries and the generated files get their own, so that a checkout whose
  -- store is another's .cache/ computes the same keys as that other.
  cache.set_places({ { cache.objects(), '{objects}' }, { cache.gen(), '{gen}' }, { cache.dir, '{cache}' },
                     { cache.local_dir, '{local}' }, { root, '{root}' }, { b.real, '{project}' },
                     { model.dir, '{model}' } })
  local dir, err = model.ensure(false)
  if not dir then io.stderr:write(err .. '\n'); return 1 end
  if b.opts.fetch_model then return 0 end
end)

-- Figure kinds (each pipeline/kinds/<kind>.lua is one), the manifests, and their jobs.
mode = 'article'
stage('figures', { 'opts' }, { 'env', 'figs', 'placed', 'warnings', 'fig_jobs', 'all_jobs', 'by_id' }, function(b)
  for _, n in ipairs(sys.listdir(root .. '/pipeline/kinds') or {}) do
    local kind = n:match('^(.*)%.lua$')
    if kind then manifest.kinds[kind] = require('pipeline.kinds.' .. kind) end
  end
  -- env: what figure kinds may use. quick: render small and short (kinds decide how).
  local env = { bin = root .. '/build/' .. variant .. '/bin', root = root, model_dir = model.dir,
                quick = b.opts.quick or false }
  local by_id = {}
  function env.job_dir(id) return by_id[id].dir end
  function env.read_json(path)
    local v, err = json.decode(fs.read(path) or '')
    if not v then error(path .. ': ' .. err, 0) end
    return v
  end
  b.env, b.by_id = env, by_id
  local figs, ferr = figures.load('figures')
  if not figs then return nil, ferr end
  local placed, warnings = figures.placed(figs, 'content/article.md')
  if not placed then return nil, warnings end
  b.figs, b.placed, b.warnings = figs, placed, warnings
  -- A kind raises error(msg, 0) from jobs() for what only the whole set of figures can tell
  -- (a map naming a figure that does not exist): one line, like every other bad input.
  local jok, fig_jobs, all_jobs = pcall(figures.jobs, figs, env, placed)
  if not jok then return nil, require('pipeline.driver.quote').text(tostring(fig_jobs), 1000) end
  for _, j in ipairs(all_jobs) do by_id[j.id] = j end
  b.fig_jobs, b.all_jobs = fig_jobs, all_jobs
end)

-- Runs jobs through the cache (on the farm when there is one), adding to the build's counts.
local function run(b, jobs, label)
  if #jobs == 0 then return true end
  -- The farm's workers serve every stage of this build; made when first needed.
  if b.farm_settings and not active_farm then
    local f, ferr = require('pipeline.driver.farm').new(b.farm_settings, root, arg[-1] or 'lua5.4')
    if not f then return nil, ferr end
    f.force, active_farm = b.opts.force, f
  end
  local ok, res = runner.run(jobs, { jobs = b.opts.jobs, force = b.opts.force, verbose = b.opts.verbose,
                                     times = b.times, cpu = b.cpu, schedule = b.schedule, t0 = b.t0, label = label,
                                     executor = active_farm })
  if not ok then return nil, res end
  b.ran, b.cached = b.ran + res.ran, b.cached + res.cached
  return true
end

-- The placed figures' jobs; with --only, the named job or figure's (placed or not) and the
-- jobs they depend on, or for the page every placed figure's.
stage('figure jobs', { 'fig_jobs', 'all_jobs', 'by_id' }, {}, function(b)
  local only = b.opts.only
  if not only or only == 'page' then return run(b, b.fig_jobs, 'figures') end
  local want = {}
  local function add(j)
    if want[j] then return end
    want[j] = true
    for _, d in ipairs(j.deps or {}) do add(b.by_id[d]) end
  end
  for _, j in ipairs(b.all_jobs) do if j.id == only or j.figure == only then add(j) end end
  local jobs = {}
  for _, j in ipairs(b.all_jobs) do if want[j] then jobs[#jobs + 1] = j end end -- dependencies first
  return run(b, jobs, 'figures')
end)

local function page_wanted(b) return not b.opts.only or b.opts.only == 'page' end

-- The placed figures' frames packed into sheets, then each figure's HTML with its frames
-- placed, then figures.json for the page tool.
stage('sprites', { 'env', 'placed', 'figs' }, { 'files', 'figjson' }, function(b)
  local figjson = cache.gen() .. '/figures.json'
  local sprite_report
  local ok, err = pcall(function()
    figures.frames(b.placed, b.env, sprites.declare)
    local sjobs = sprites.jobs(b.placed, b.env)
    for _, j in ipairs(sjobs) do b.by_id[j.id] = j end
    local ran_before = b.ran
    local sok, serr = run(b, sjobs, 'sprites')
    if not sok then error(serr, 0) end
    local sf, report = sprites.resolve(b.placed, b.env)
    if b.ran > ran_before or b.opts.times then sprite_report = report end
    local read = {}
    for _, j in ipairs(b.fig_jobs) do read[#read + 1] = j end
    for _, j in ipairs(sjobs) do read[#read + 1] = j end
    local key, kerr = figures.bodies_key(b, read, root, cache.places)
    if not key then error(kerr, 0) end
    local files, werr = figures.write_bodies(b.figs, b.placed, b.env, sprites.framer, figjson, key,
                                             cache.local_dir .. '/state/bodies.lua')
    if not files then error(werr, 0) end
    for _, x in ipairs(sf) do files[#files + 1] = x end
    b.files, b.figjson = files, figjson
  end)
  if sprite_report and #sprite_report > 0 then
    io.stderr:write('sprites: ' .. table.concat(sprite_report, '\nsprites: ') .. '\n')
  end
  if not ok then return nil, err end
end, page_wanted)

stage('page', { 'env', 'figjson' }, { 'page_job' }, function(b)
  local pj = page.job(b.env, b.figjson)
  b.by_id.page, b.page_job = pj, pj
  return run(b, { pj }, 'page')
end, page_wanted)

stage('publish', { 'files', 'page_job' }, { 'published' }, function(b)
  local files = b.files
  files[#files + 1] = { dest = 'index.html', src = b.page_job.dir .. '/index.html' }
  for _, f in ipairs(site.static_files(root, cache.gen())) do files[#files + 1] = f end
  local res, perr = site.publish(files, 'build/article')
  if not res then return nil, perr end
  b.published = res
end, function(b) return not b.opts.only end)

-- The figures not placed, once the build went through: after an error, that error is the one
-- line to read (a misspelt {{figure id}} leaves its figure unplaced too).
stage('warnings', { 'warnings' }, {}, function(b)
  for _, w in ipairs(b.warnings) do io.stderr:write(w .. '\n') end
end)

-- Seconds each figure's jobs took when they ran (cached jobs keep their record).
stage('times', { 'env', 'placed', 'by_id' }, {}, function(b)
  io.stdout:write('| figure | jobs | render time |\n| --- | --- | --- |\n')
  local total, counted = 0, {}
  for _, m in ipairs(b.placed) do
    local secs, n = 0, 0
    for _, id in ipairs(b.env.jobs_of[m.id] or {}) do
      local s = b.by_id[id].meta and b.by_id[id].meta.seconds or 0
      secs, n = secs + s, n + 1
      if not counted[id] then total, counted[id] = total + s, true end -- shared jobs once
    end
    io.stdout:write(string.format('| `%s` (%s) | %d | %.0f s |\n', m.id, m.kind, n, secs))
  end
  io.stdout:write(string.format('| all (a shared job counted once) | | %.0f s (one job at a time) |\n', total))
end, function(b) return b.published and b.opts.times end)

stage('summary', { 'published' }, {}, function(b)
  local res = b.published
  if b.ran > 0 or res.changed then
    io.stderr:write(string.format('article: %d jobs (%d cached, %d run) in %.1fs; build/article/ %s: %d files, %s\n',
      b.ran + b.cached, b.cached, b.ran, sys.clock() - b.t0, res.changed and 'published' or 'unchanged',
      res.count, fs.human_size(res.bytes)))
  end
end, function(b) return b.published end)

mode = 'atlas'
require('pipeline.stages.atlas').stages(stage, run, root, variant)
mode = nil

-- The state this build learnt (hash memo, job times), kept for the next.
-- times.lua and cpu.lua: id -> seconds; schedule.tsv: the jobs the last build that ran any
-- ran, when they started, their seconds, CPU seconds and threads (runner.lua).
local function save_state(b)
  fs.save_memo(b.published ~= nil) -- after a whole build, only what it used
  manifest.save_memo(b.published ~= nil)
  for name, t in pairs({ ['times.lua'] = b.times, ['cpu.lua'] = b.cpu }) do
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = { 'return {' }
    for _, k in ipairs(keys) do out[#out + 1] = string.format('[%q]=%.3f,', k, t[k]) end
    out[#out + 1] = '}\n'
    local text, path = table.concat(out, '\n'), cache.local_dir .. '/state/' .. name
    fs.write_if_changed(path, text) -- a no-op build writes nothing
  end
  if #b.schedule > 0 then
    fs.write_atomic(cache.local_dir .. '/state/schedule.tsv',
      'job\tstart_s\twall_s\tcpu_s\tthreads\n' .. table.concat(b.schedule, '\n') .. '\n')
  end
end

-- Walks the stages over the build b. Returns the exit code.
local function walk(b)
  for _, s in ipairs(stages) do
    if (not s.mode or s.mode == (b.opts.atlas and 'atlas' or 'article')) and (not s.only or s.only(b)) then
      for _, k in ipairs(s.needs) do assert(b[k] ~= nil, 'stage ' .. s.name .. ' needs ' .. k) end
      local res, err = s.run(b)
      if type(res) == 'number' then return res end
      if res == nil and err then
        io.stderr:write(tostring(err) .. '\n')
        return sys.interrupted() ~= 0 and 130 or 1
      end
      for _, k in ipairs(s.gives) do assert(b[k] ~= nil, 'stage ' .. s.name .. ' gives no ' .. k) end
    end
  end
  return 0
end

local function main()
  local opts, rc = parse_args()
  if not opts then return rc end
  local b = { opts = opts, ran = 0, cached = 0, t0 = sys.clock() }
  rc = walk(b)
  if b.state_loaded then save_state(b) end
  return rc
end

local ok, rc = xpcall(main, debug.traceback)
if active_farm then active_farm:close() end
if not ok then
  io.stderr:write('build: internal error: ' .. tostring(rc) .. '\n')
  os.exit(3)
end
os.exit(rc)
