-- runner: runs a list of jobs through the cache, in parallel, with progress, on an executor:
-- this machine's processes (below) or the Slurm farm (farm.lua), which share this interface:
--   ex:capacity()          how many more jobs it takes now
--   ex:start(job, argv, waiting)  starts one; argv has {out} left for the executor to fill;
--                          waiting: how many jobs wait besides it (a job alone gets every core)
--   ex:poll()              looks at what it runs, appending to ex.events (the runner takes
--                          them): {kind='started', job, progress, log, where},
--                          {kind='done', job, ok, seconds, stored, tmp, msg} and
--                          {kind='note', text} (a line for the user)
--   ex:cancel()            stops everything it started (Ctrl-C); returns when they are gone
--   ex:withdraw()          (optional) takes back what has not started, after a failure
--   ex:status()            a few words for the live line (nil for none)
-- A local job's outputs are stored by the runner; a farm job's by its worker, and the runner
-- verifies them (cache.lookup re-hashes every file) before anything uses them.
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

-- The local executor: up to `jobs` processes on this machine.
local Local = {}
Local.__index = Local

function M.local_executor(jobs, verbose)
  return setmetatable({ max = jobs, verbose = verbose, running = {}, n = 0, events = {} }, Local)
end

function Local:capacity() return self.max - self.n end

function Local:start(j, argv, waiting)
  local tmp, terr = cache.new_tmp(j.key)
  if not tmp then return nil, terr end
  local log = tmp .. '.log'
  -- One job alone gets every core; jobs side by side get one thread each, so the machine is
  -- never oversubscribed (OpenBLAS and OpenMP included).
  local threads = (self.n == 0 and waiting == 0) and sys.ncpu() or 1
  local t = tostring(threads)
  local env = { FV_THREADS = t, OPENBLAS_NUM_THREADS = t, OMP_NUM_THREADS = t,
                FV_PROGRESS_FILE = tmp .. '.progress' }
  local a = {}
  for i, s in ipairs(argv) do a[i] = s:gsub('{out}', function() return tmp end) end
  if self.verbose then io.stderr:write('run ' .. j.id .. ': ' .. table.concat(a, ' ') .. '\n') end
  local pid, err = sys.spawn(a, { stdout = log, stderr = log, env = env })
  if not pid then sys.rm_rf(tmp); return nil, err end
  self.running[pid] = { job = j, tmp = tmp, log = log, t0 = sys.clock(), argv = a }
  self.n = self.n + 1
  self.events[#self.events + 1] = { kind = 'started', job = j, progress = tmp .. '.progress', log = log }
  return true
end

function Local:poll()
  while true do
    local pid, code = sys.wait(false)
    if not pid then break end
    local r = self.running[pid]
    if r then
      self.running[pid] = nil
      self.n = self.n - 1
      os.remove(r.tmp .. '.progress')
      local ev = { kind = 'done', job = r.job, ok = code == 0, seconds = sys.clock() - r.t0, tmp = r.tmp }
      if code ~= 0 then
        sys.rm_rf(r.tmp)
        local last, lines = fs.tail(r.log, 12)
        os.rename(r.log, cache.local_dir .. '/last-failure.log')
        local how = code < 0 and ('killed by signal ' .. -code) or ('exit ' .. code)
        -- Our tools report bad input as one line: show it first, as is; then the context.
        ev.msg = (#lines > 0 and last .. '\n' or '') ..
          string.format("build: job '%s' failed (%s): %s", r.job.id, how, table.concat(r.argv, ' '))
      else
        os.remove(r.log)
      end
      self.events[#self.events + 1] = ev
    end
  end
end

function Local:cancel()
  for pid, r in pairs(self.running) do sys.kill(pid); sys.rm_rf(r.tmp) end
  for _ in pairs(self.running) do sys.wait(true) end
  for _, r in pairs(self.running) do os.remove(r.log); os.remove(r.tmp .. '.progress') end
  self.running, self.n = {}, 0
end

function Local:status() return nil end

-- Runs jobs (in dependency order: deps appear earlier). opts: jobs (parallelism), force,
-- verbose, times (table id -> seconds from earlier runs), label, executor (default: local).
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
    if not opts.force then meta, note = cache.lookup(key, j.outputs) end
    if note and opts.verbose then io.stderr:write(note .. '\n') end
    if meta then
      j.meta, j.dir, j.cached = meta, cache.entry(key), true
      dirs[j.id] = j.dir
    else
      todo[#todo + 1] = j
    end
  end

  local ex = opts.executor or M.local_executor(opts.jobs, opts.verbose)
  local p = progress.new(#jobs, #jobs - #todo, opts.label)
  for _, j in ipairs(todo) do p:add_estimate(j.id, opts.times[j.id] or j.estimate or 1) end

  local failure
  local pending = {}
  for _, j in ipairs(todo) do pending[#pending + 1] = j end
  local outstanding, withdrawn = 0, false

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
    local argv = {}
    for i, a in ipairs(j.argv) do
      argv[i] = a:gsub('{dep:([^}]+)}', function(id) return dirs[id] end)
    end
    local ok, err = ex:start(j, argv, #pending)
    if not ok then return nil, err end
    outstanding = outstanding + 1
    p:queued(j.id)
    return true
  end

  local function finished(ev)
    outstanding = outstanding - 1
    local j = ev.job
    if not ev.ok then failure = failure or ev.msg; p:forget(j.id); return end
    local meta, err
    if ev.stored then
      meta, err = cache.lookup(j.key, j.outputs)
      if not meta then err = string.format("build: job '%s': the result that came back %s", j.id,
        err and err:gsub('; rebuilding$', '') or 'is missing from the cache') end
    else
      meta, err = cache.store(j, j.key, ev.tmp, ev.seconds, opts.force)
    end
    if not meta then failure = failure or err; p:forget(j.id); return end
    j.meta, j.dir = meta, cache.entry(j.key)
    dirs[j.id] = j.dir
    opts.times[j.id] = ev.seconds
    p:finished(j.id, ev.seconds)
  end

  while true do
    -- Start what can start (unless something failed: then only drain).
    local i = 1
    while not failure and ex:capacity() > 0 and i <= #pending do
      local j = pending[i]
      if ready(j) then
        table.remove(pending, i)
        local ok, err = start(j)
        if not ok then failure = j.id .. ': ' .. err end
      else
        i = i + 1
      end
    end
    if outstanding == 0 then break end
    ex:poll()
    local events = ex.events
    ex.events = {}
    for _, ev in ipairs(events) do
      if ev.kind == 'started' then p:started(ev.job.id, ev.progress, ev.log, ev.where)
      elseif ev.kind == 'done' then finished(ev)
      elseif ev.kind == 'note' then p:note(ev.text) end
    end
    -- After a failure nothing new starts: what waits in the farm's queue is taken back.
    if failure and not withdrawn then withdrawn = true; if ex.withdraw then ex:withdraw() end end
    p:draw(ex:status())
    if sys.interrupted() ~= 0 then
      ex:cancel()
      p:finish()
      return nil, 'interrupted; finished jobs are cached, the next build picks up from there'
    end
    if #events == 0 then sys.sleep(0.05) end -- poll, so that the live line's clock moves
  end
  p:finish()
  if failure then return nil, failure end
  for _, j in ipairs(pending) do
    return nil, "job '" .. j.id .. "' could not start (a dependency failed)"
  end
  return true, p:summary()
end

return M
