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

require 'pipeline.driver.strict'

-- The Slurm farm of this build, when it uses one: closed (its tasks cancelled, its queue
-- removed) however main ends.
local active_farm

local function main()
  local ok_sys, sys = pcall(require, 'fvsys')
  if not ok_sys then
    io.stderr:write('build: the fvsys module is not built (run `make tools` first): ' .. tostring(sys) .. '\n')
    return 1
  end
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
      if not opts.jobs or opts.jobs < 1 then io.stderr:write('build: --jobs expects a whole number >= 1\n'); return 2 end
    elseif a == '--force' then opts.force = true
    elseif a == '--only' then opts.only = value()
    elseif a == '--verbose' then opts.verbose = true
    elseif a == '--quick' then opts.quick = true
    elseif a == '--times' then opts.times = true
    elseif a == '--fetch-model' then opts.fetch_model = true
    elseif a == '--farm' then opts.farm = value()
    elseif farm_flags[a] then opts.slurm[farm_flags[a]] = value()
    elseif a == '--help' or a == '-h' then io.stdout:write(usage); return 0
    else io.stderr:write('build: unknown option ' .. a .. '\n' .. usage); return 2 end
    i = i + 1
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

  -- The project is the current directory (Lua has no chdir); tools and scripts come from root,
  -- so a test can build a fixture project with `cd fixture && lua5.4 /path/to/build.lua`.
  local real = sys.realpath('.')
  if not real or not sys.stat(real .. '/content') then
    io.stderr:write('build: ' .. tostring(real) .. ' is not a project (expected a directory with content/)\n')
    return 1
  end
  fs.root = real

  local farm_settings
  if opts.farm == '' then opts.farm = nil end
  if opts.farm then
    if opts.farm ~= 'slurm' then
      io.stderr:write("build: --farm '" .. opts.farm .. "' (expected slurm)\n"); return 2
    end
    local farm = require 'pipeline.driver.farm'
    local serr
    farm_settings, serr = farm.settings(opts.slurm)
    if not farm_settings then io.stderr:write(serr .. '\n'); return 2 end
    local missing = farm.check()
    if missing then io.stderr:write(missing .. '\n'); return 2 end
  elseif next(opts.slurm) then
    io.stderr:write('build: the cluster options need --farm slurm\n'); return 2
  end

  -- This checkout's own state, and the store of entries (shared when FV_CACHE says so).
  cache.local_dir = real .. '/.cache'
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
  fs.load_memo(cache.local_dir .. '/state/hashes.lua')
  local times = {}
  do
    local chunk = loadfile(cache.local_dir .. '/state/times.lua', 't', {})
    local ok, t = pcall(chunk or function() return {} end)
    if ok and type(t) == 'table' then times = t end
  end

  local function save_state()
    fs.save_memo()
    local keys = {}
    for k in pairs(times) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = { 'return {' }
    for _, k in ipairs(keys) do out[#out + 1] = string.format('[%q]=%.3f,', k, times[k]) end
    out[#out + 1] = '}\n'
    fs.write_atomic(cache.local_dir .. '/state/times.lua', table.concat(out, '\n'))
  end

  -- The verified model: beside the tools, or in the shared store when there is one (every
  -- checkout and node that shares it then fetches it once).
  model.dir = os.getenv('FV_MODEL_DIR') or
    ((cache.dir ~= cache.local_dir and cache.dir or (root .. '/.cache')) .. '/models/mbv3-coco')
  -- Keys name no place: these become tokens in them (the longest that fits wins; on a tie, the
  -- first listed). The entries and the generated files get their own, so that a checkout whose
  -- store is another's .cache/ computes the same keys as that other.
  cache.set_places({ { cache.objects(), '{objects}' }, { cache.gen(), '{gen}' }, { cache.dir, '{cache}' },
                     { cache.local_dir, '{local}' }, { root, '{root}' }, { real, '{project}' },
                     { model.dir, '{model}' } })
  if opts.fetch_model then
    local dir, err = model.ensure(false)
    save_state()
    if not dir then io.stderr:write(err .. '\n'); return 1 end
    return 0
  end

  -- Figure kinds: each pipeline/kinds/<kind>.lua is one kind.
  for _, n in ipairs(sys.listdir(root .. '/pipeline/kinds') or {}) do
    local kind = n:match('^(.*)%.lua$')
    if kind then manifest.kinds[kind] = require('pipeline.kinds.' .. kind) end
  end

  local bin = root .. '/build/' .. variant .. '/bin'
  -- env: what figure kinds may use. quick: render small and short (kinds decide how).
  local env = { bin = bin, root = root, model_dir = model.dir, quick = opts.quick or false,
                frame = sprites.frame }
  local by_id = {}
  function env.job_dir(id) return by_id[id].dir end
  function env.read_json(path)
    local v, err = json.decode(fs.read(path) or '')
    if not v then error(path .. ': ' .. err, 0) end
    return v
  end

  -- The model is part of every full build (render jobs read it); cheap once verified.
  do
    local mdir, merr = model.ensure(false)
    if not mdir then io.stderr:write(merr .. '\n'); save_state(); return 1 end
  end

  local figs, ferr = figures.load('figures')
  if not figs then io.stderr:write(ferr .. '\n'); return sys.interrupted() ~= 0 and 130 or 1 end
  -- A kind raises error(msg, 0) from jobs() for what only the whole set of figures can tell
  -- (a map naming a figure that does not exist): one line, like every other bad input.
  local jok, fig_jobs = pcall(figures.jobs, figs, env)
  if not jok then io.stderr:write(require('pipeline.driver.quote').text(fig_jobs, 1000) .. '\n'); return 1 end
  for _, j in ipairs(fig_jobs) do by_id[j.id] = j end

  local only = opts.only
  local function selected(jobs)
    if not only then return jobs end
    local out = {}
    for _, j in ipairs(jobs) do if j.id == only or j.figure == only then out[#out + 1] = j end end
    return out
  end

  local t0 = sys.clock()
  local total_ran, total_cached = 0, 0
  local function run(jobs, label)
    if #jobs == 0 then return true end
    -- The farm's workers serve every stage of this build; made when first needed.
    if farm_settings and not active_farm then
      local f, ferr = require('pipeline.driver.farm').new(farm_settings, root, arg[-1] or 'lua5.4')
      if not f then return nil, ferr end
      f.force, active_farm = opts.force, f
    end
    local ok, res = runner.run(jobs, { jobs = opts.jobs, force = opts.force, verbose = opts.verbose,
                                       times = times, label = label, executor = active_farm })
    if not ok then return nil, res end
    total_ran, total_cached = total_ran + res.ran, total_cached + res.cached
    return true
  end

  local ok, err = run(selected(fig_jobs), 'figures')
  if ok and (not only or only == 'page') then
    local figjson = cache.gen() .. '/figures.json'
    local files, sprite_report
    local aok, aerr = pcall(function()
      local bodies, f = figures.bodies(figs, env)
      local sjobs = sprites.jobs(figs, env)
      for _, j in ipairs(sjobs) do by_id[j.id] = j end
      local ran_before = total_ran
      local sok, serr = run(sjobs, 'sprites')
      if not sok then error(serr, 0) end
      local sf, report = sprites.resolve(figs, env, bodies)
      for _, x in ipairs(sf) do f[#f + 1] = x end
      if total_ran > ran_before or opts.times then sprite_report = report end
      local wok, werr = figures.write(figs, bodies, figjson)
      if not wok then error(werr, 0) end
      files = f
    end)
    if sprite_report and #sprite_report > 0 then
      io.stderr:write('sprites: ' .. table.concat(sprite_report, '\nsprites: ') .. '\n')
    end
    if not aok then ok, err = nil, aerr
    else
      local pj = page.job(env, figjson)
      by_id.page = pj
      ok, err = run({ pj }, 'page')
      if ok and not only then
        files[#files + 1] = { dest = 'index.html', src = pj.dir .. '/index.html' }
        for _, f in ipairs(site.static_files(root, cache.gen())) do files[#files + 1] = f end
        local res, perr = site.publish(files, 'build/article')
        if not res then ok, err = nil, perr
        else
          save_state()
          if opts.times then
            -- Seconds each figure's jobs took when they ran (cached jobs keep their record).
            io.stdout:write('| figure | jobs | render time |\n| --- | --- | --- |\n')
            local total, counted = 0, {}
            for _, m in ipairs(figs) do
              local secs, n = 0, 0
              for _, id in ipairs(env.jobs_of[m.id] or {}) do
                local s = by_id[id].meta and by_id[id].meta.seconds or 0
                secs, n = secs + s, n + 1
                if not counted[id] then total, counted[id] = total + s, true end -- shared jobs once
              end
              io.stdout:write(string.format('| `%s` (%s) | %d | %.0f s |\n', m.id, m.kind, n, secs))
            end
            io.stdout:write(string.format('| all (a shared job counted once) | | %.0f s (one job at a time) |\n', total))
          end
          local what = res.changed and 'published' or 'unchanged'
          if total_ran > 0 or res.changed then
            io.stderr:write(string.format('article: %d jobs (%d cached, %d run) in %.1fs; build/article/ %s: %d files, %s\n',
              total_ran + total_cached, total_cached, total_ran, sys.clock() - t0, what, res.count, fs.human_size(res.bytes)))
          end
          return 0
        end
      end
    end
  end
  save_state()
  if not ok then
    io.stderr:write(tostring(err) .. '\n')
    if sys.interrupted() ~= 0 then return 130 end
    return 1
  end
  return 0
end

local ok, rc = xpcall(main, debug.traceback)
if active_farm then active_farm:close() end
if not ok then
  io.stderr:write('build: internal error: ' .. tostring(rc) .. '\n')
  os.exit(3)
end
os.exit(rc)
