-- runner: runs a list of jobs through the cache, in parallel, with progress.
--
-- A job is a table:
--   id       unique name, shown in progress ("render:hero:3")
--   argv     command: {program, args...}; "{out}" becomes the job's output directory and
--            "{dep:ID}" the output directory of job ID (which must be in deps)
--   tools    files whose bytes belong to the key (our binaries, scripts)
--   inputs   files whose contents belong to the key
--   deps     ids of jobs whose outputs this job reads
--   recipe   any value that also determines the output (part of the key)
--   outputs  names of the files the job must write into {out} (nil: whatever it writes)
--   estimate seconds expected when never run before (for the time-left estimate)
-- After run(), job.dir is the cache directory holding its outputs and job.meta its record.
local sys = require 'fvsys'
local cache = require 'pipeline.driver.cache'
local fs = require 'pipeline.driver.fs'
local progress = require 'pipeline.driver.progress'

local M = {}

local function expand(argv, out, dirs)
  local r = {}
  for i, a in ipairs(argv) do
    a = a:gsub('{out}', out)
    a = a:gsub('{dep:([^}]+)}', function(id) return dirs[id] end)
    r[i] = a
  end
  return r
end

local function tail(path, n)
  local s = fs.read(path) or ''
  local lines = {}
  for l in s:gmatch('[^\n]+') do lines[#lines + 1] = l end
  local from = math.max(1, #lines - n + 1)
  return table.concat(lines, '\n', from), lines
end

-- Runs jobs (in dependency order: deps appear earlier). opts: jobs (parallelism), force,
-- verbose, times (table id -> seconds from earlier runs), label.
-- Returns true, or nil and a message (the first failure) after running jobs have finished.
function M.run(jobs, opts)
  local by_id, keys, dirs = {}, {}, {}
  for _, j in ipairs(jobs) do
    if by_id[j.id] then return nil, "duplicate job id '" .. j.id .. "'" end
    by_id[j.id] = j
  end
  -- Keys first: every input must exist before anything runs.
  local todo = {}
  for _, j in ipairs(jobs) do
    local dk = {}
    for _, d in ipairs(j.deps or {}) do
      if not keys[d] then return nil, string.format("job '%s' depends on unknown job '%s'", j.id, d) end
      dk[#dk + 1] = keys[d]
    end
    local key, err = cache.key(j, dk)
    if not key then return nil, string.format('%s: %s', j.id, err) end
    j.tool_hashes = {}
    for _, tool in ipairs(j.tools or {}) do j.tool_hashes[tool] = fs.hash(tool) end
    keys[j.id] = key
    j.key = key
    local meta, note = nil, nil
    if not opts.force then meta, note = cache.lookup(key) end
    if note and opts.verbose then io.stderr:write(note .. '\n') end
    if meta then
      j.meta, j.dir, j.cached = meta, cache.entry(key), true
      dirs[j.id] = j.dir
    else
      todo[#todo + 1] = j
    end
  end
  if opts.force then for _, j in ipairs(todo) do sys.rm_rf(cache.entry(j.key)) end end

  local p = progress.new(#jobs, #jobs - #todo, opts.label)
  for _, j in ipairs(todo) do p:add_estimate(j.id, opts.times[j.id] or j.estimate or 1) end

  local running, n_running = {}, 0
  local failure
  local ncpu = sys.ncpu()
  local pending = {}
  for _, j in ipairs(todo) do pending[#pending + 1] = j end

  local function ready(j)
    for _, d in ipairs(j.deps or {}) do if not dirs[d] then return false end end
    return true
  end

  local function start(j)
    -- A tool rebuilt while this build runs would store its results under the old binary's key.
    for _, tool in ipairs(j.tools or {}) do
      if fs.hash(tool) ~= j.tool_hashes[tool] then
        return nil, 'tool ' .. tool .. ' changed during the build (rebuilt?); run the build again'
      end
    end
    local tmp = cache.new_tmp(j.key)
    local log = tmp .. '.log'
    -- One job alone gets every core; jobs side by side get one thread each, so the machine is
    -- never oversubscribed (OpenBLAS and OpenMP included).
    local threads = (n_running == 0 and #pending == 0) and ncpu or 1
    local t = tostring(threads)
    local env = { FV_THREADS = t, OPENBLAS_NUM_THREADS = t, OMP_NUM_THREADS = t,
                  FV_PROGRESS_FILE = tmp .. '.progress' }
    local argv = expand(j.argv, tmp, dirs)
    if opts.verbose then io.stderr:write('run ' .. j.id .. ': ' .. table.concat(argv, ' ') .. '\n') end
    local pid, err = sys.spawn(argv, { stdout = log, stderr = log, env = env })
    if not pid then return nil, err end
    running[pid] = { job = j, tmp = tmp, log = log, t0 = sys.clock(), argv = argv }
    n_running = n_running + 1
    p:started(j.id, tmp .. '.progress', log)
    return true
  end

  while true do
    -- Start what can start (unless something failed: then only drain).
    local i = 1
    while not failure and n_running < opts.jobs and i <= #pending do
      local j = pending[i]
      if ready(j) then
        table.remove(pending, i)
        local ok, err = start(j)
        if not ok then failure = j.id .. ': ' .. err end
      else
        i = i + 1
      end
    end
    if n_running == 0 then break end
    p:draw()
    -- Poll rather than block so the live line keeps its clock moving.
    local pid, code = sys.wait(false)
    if not pid then
      if sys.interrupted() ~= 0 then
        for rpid, r in pairs(running) do sys.kill(rpid); sys.rm_rf(r.tmp) end
        for _ in pairs(running) do sys.wait(true) end
        for _, r in pairs(running) do os.remove(r.log); os.remove(r.tmp .. '.progress') end
        p:finish()
        return nil, 'interrupted; finished jobs are cached, the next build picks up from there'
      end
      sys.sleep(0.05)
    else
      local r = running[pid]
      running[pid] = nil
      n_running = n_running - 1
      local j = r.job
      local secs = sys.clock() - r.t0
      os.remove(r.tmp .. '.progress')
      if code == 0 then
        local meta, err = cache.store(j, j.key, r.tmp, secs)
        if meta then
          j.meta, j.dir = meta, cache.entry(j.key)
          dirs[j.id] = j.dir
          opts.times[j.id] = secs
          os.remove(r.log)
          p:finished(j.id, secs)
        else
          sys.rm_rf(r.tmp)
          failure = failure or err
        end
      else
        sys.rm_rf(r.tmp)
        local last, lines = tail(r.log, 12)
        os.rename(r.log, cache.dir .. '/last-failure.log')
        p:finish()
        -- Our tools report bad input as one line: show it first, as is; then the context.
        local how = code < 0 and ('killed by signal ' .. -code) or ('exit ' .. code)
        local msg = (#lines > 0 and last .. '\n' or '') ..
          string.format("build: job '%s' failed (%s): %s", j.id, how, table.concat(r.argv, ' '))
        failure = failure or msg
      end
    end
  end
  p:finish()
  if failure then return nil, failure end
  for _, j in ipairs(pending) do
    return nil, "job '" .. j.id .. "' could not start (a dependency failed)"
  end
  return true, p:summary()
end

return M
