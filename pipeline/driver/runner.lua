-- runner: runs a list of jobs through the cache, in parallel, with progress, on an executor:
-- this machine's processes (below) or the Slurm farm (farm.lua), which share this interface:
--   ex:capacity()          how many more jobs it takes now
--   ex:start(job, argv, upcoming)  starts one; argv has {out} left for the executor to fill;
--                          upcoming: how many more jobs the runner starts right after it
--   ex:poll()              looks at what it runs, appending to ex.events (the runner takes
--                          them): {kind='started', job, progress, log, where},
--                          {kind='done', job, ok, seconds, cpu, threads, stored, tmp, msg}
--                          (start: sys.clock() at its start; cpu: user+system seconds;
--                          threads: "1,2@181.0" = 1, then 2 from 181.0 s after its start) and
--                          {kind='note', text} (a line for the user)
--   ex:balance()           (optional) after the runner started what it could: hands the
--                          cores that ended jobs left to the running jobs that can take them
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
--   estimate seconds expected when never run before (for the time-left estimate and its cost)
--   cost     seconds expected from a model that knows better than the job's last recorded time
--            (the atlas prices its renders from the cache's records of renders like them, by
--            the current renderer; a render's last time under the same id may be a slower one's)
--   class    jobs whose estimates err alike (the atlas: a layer and kind of render): the time
--            left scales each class's estimates by how its finished jobs compared (progress.lua)
--   threads_file  true when the tool follows env FV_THREADS_FILE while it runs (budget.h)
-- After run(), job.dir is the cache directory holding its outputs and job.meta its record.
--
-- Order and threads: a job's cost is its own cost, else its CPU seconds when it last ran
-- (opts.cpu), else its seconds (opts.times), else its estimate, else the mean cost of its kind
-- (the id up to its first ':'). Its priority is its cost plus the longest chain of costs of the
-- jobs that wait on it; ready jobs start longest chain first (the Fashion-MNIST training before
-- the renders that could run beside it). The local executor shares the cores among what runs:
-- a job gets FV_THREADS at its start; a job with threads_file gets a file whose count the
-- executor rewrites as jobs start and end (more when cores free up, its part again when new
-- jobs start), which its tool applies between steps. Tools that do not follow a file keep
-- their count to the end.
local sys = require 'fvsys'
local cache = require 'pipeline.driver.cache'
local fs = require 'pipeline.driver.fs'
local progress = require 'pipeline.driver.progress'

local M = {}

-- The local executor: up to `jobs` processes on this machine, sharing `cores` (default: the
-- machine's) among them.
local Local = {}
Local.__index = Local

function M.local_executor(jobs, verbose, cores)
  return setmetatable({ max = jobs, verbose = verbose, cores = cores or sys.ncpu(), running = {}, n = 0,
                        events = {} }, Local)
end

function Local:capacity() return self.max - self.n end

-- Shares the cores among entries {prio, fixed}: a fixed entry keeps its count; the others get
-- an equal part of what is left (at least 1 each: more jobs than cores run a thread each), and
-- the remainder goes one thread each to the longest chains. Sets entry.threads.
function M.share(cores, entries)
  local free, flex = cores, {}
  for i, e in ipairs(entries) do
    if e.fixed then e.threads, free = e.fixed, free - e.fixed else flex[#flex + 1] = e; e.i = i end
  end
  if #flex == 0 then return end
  table.sort(flex, function(a, b) if a.prio ~= b.prio then return a.prio > b.prio end return a.i < b.i end)
  local base = math.max(1, free // #flex)
  local extra = math.max(0, free - base * #flex)
  for k, e in ipairs(flex) do e.threads = base + (k <= extra and 1 or 0) end
end

-- The running jobs as share() entries (a job that follows no file keeps its count).
local function entries_of(self)
  local list = {}
  for _, r in pairs(self.running) do
    list[#list + 1] = { prio = r.job.priority or 0, fixed = not r.file and r.threads or nil, r = r }
  end
  table.sort(list, function(a, b) return a.r.seq < b.r.seq end) -- ties: the earlier start first
  return list
end

-- Gives running job r the count n: its file says so (by rename: the tool never reads half).
function Local:set_threads(r, n)
  if n == r.threads then return end
  r.threads = n
  r.history[#r.history + 1] = string.format('%d@%.1f', n, sys.clock() - r.t0)
  fs.write_atomic(r.file, n .. '\n')
  if self.verbose then io.stderr:write(string.format('threads %s: %d\n', r.job.id, n)) end
end

function Local:start(j, argv, upcoming)
  local tmp, terr = cache.new_tmp(j.key)
  if not tmp then return nil, terr end
  local log = tmp .. '.log'
  -- Its part of the cores beside what runs and what starts with it (those count as jobs of
  -- the lowest priority); the running jobs that follow a file give back what it takes.
  local list = entries_of(self)
  local me = { prio = j.priority or 0 }
  list[#list + 1] = me
  for _ = 1, upcoming or 0 do list[#list + 1] = { prio = -math.huge } end
  M.share(self.cores, list)
  for _, e in ipairs(list) do if e.r and e.r.file then self:set_threads(e.r, e.threads) end end
  local t = tostring(me.threads)
  local env = { FV_THREADS = t, OPENBLAS_NUM_THREADS = t, OMP_NUM_THREADS = t,
                FV_PROGRESS_FILE = tmp .. '.progress' }
  local file = j.threads_file and tmp .. '.threads' or nil
  if file then
    local ok, err = fs.write_atomic(file, t .. '\n')
    if not ok then sys.rm_rf(tmp); return nil, err end
    env.FV_THREADS_FILE = file
  end
  local a = {}
  for i, s in ipairs(argv) do a[i] = s:gsub('{out}', function() return tmp end) end
  if self.verbose then
    io.stderr:write(string.format('run %s (%s thread%s): %s\n', j.id, t, t == '1' and '' or 's', table.concat(a, ' ')))
  end
  local pid, err = sys.spawn(a, { stdout = log, stderr = log, env = env })
  if not pid then sys.rm_rf(tmp); if file then os.remove(file) end; return nil, err end
  self.seq = (self.seq or 0) + 1
  self.running[pid] = { job = j, tmp = tmp, log = log, t0 = sys.clock(), argv = a, threads = me.threads,
                        file = file, seq = self.seq,
                        history = { tostring(me.threads) } }
  self.n = self.n + 1
  self.events[#self.events + 1] = { kind = 'started', job = j, progress = tmp .. '.progress', log = log }
  return true
end

-- The cores of jobs that ended, to the running jobs that follow a file.
function Local:balance()
  if not self.dirty then return end
  self.dirty = false
  local list = entries_of(self)
  M.share(self.cores, list)
  for _, e in ipairs(list) do if e.r.file then self:set_threads(e.r, e.threads) end end
end

function Local:poll()
  while true do
    local pid, code, cpu = sys.wait(false)
    if not pid then break end
    local r = self.running[pid]
    if r then
      self.running[pid] = nil
      self.n, self.dirty = self.n - 1, true
      os.remove(r.tmp .. '.progress')
      if r.file then os.remove(r.file) end
      local ev = { kind = 'done', job = r.job, ok = code == 0, seconds = sys.clock() - r.t0, tmp = r.tmp,
                   cpu = cpu, start = r.t0, threads = table.concat(r.history, ',') }
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
  for _, r in pairs(self.running) do
    os.remove(r.log); os.remove(r.tmp .. '.progress'); if r.file then os.remove(r.file) end
  end
  self.running, self.n = {}, 0
end

function Local:status() return nil end

-- The cost of each job of `list` (see the top of this file): id -> seconds.
function M.costs(list, opts)
  local cost, kinds = {}, {}
  local function recorded(id) return (opts.cpu or {})[id] or (opts.times or {})[id] end
  for id, secs in pairs(opts.times or {}) do
    local k = kinds[id:match('^[^:]*')] or { sum = 0, n = 0 }
    kinds[id:match('^[^:]*')] = k
    k.sum, k.n = k.sum + (recorded(id) or secs), k.n + 1
  end
  for _, j in ipairs(list) do
    local k = kinds[j.id:match('^[^:]*')]
    cost[j.id] = j.cost or recorded(j.id) or j.estimate or (k and k.sum / k.n) or 1
  end
  return cost
end

-- Sets job.priority on each job of `list` (in dependency order): its cost plus the longest
-- chain of costs of the jobs in `list` that wait on it.
function M.prioritize(list, opts)
  local cost, after, by_id = M.costs(list, opts), {}, {}
  for _, j in ipairs(list) do by_id[j.id] = j end
  for i = #list, 1, -1 do -- a job's dependents come after it, so they are done first
    local j = list[i]
    j.priority = cost[j.id] + (after[j.id] or 0)
    for _, d in ipairs(j.deps or {}) do
      if by_id[d] then after[d] = math.max(after[d] or 0, j.priority) end
    end
  end
end

-- Runs jobs (in dependency order: deps appear earlier). opts: jobs (parallelism), force,
-- verbose, times (table id -> seconds from earlier runs; this run's are added), cpu (id -> CPU
-- seconds, likewise), schedule (optional list: a line per job run here, see below), t0 (the
-- clock its start times count from), label,
-- executor (default: local).
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
    keys[j.id] = key
    j.key = key
    local meta, note = nil, nil
    if not opts.force then meta, note = cache.lookup(key, j.outputs) end
    if note and opts.verbose then io.stderr:write(note .. '\n') end
    if meta then
      j.meta, j.dir, j.cached = meta, cache.entry(key), true
      dirs[j.id] = j.dir
    else
      -- The tools as its key took them: start() checks that they are still those.
      j.tool_hashes = {}
      for _, tool in ipairs(j.tools or {}) do j.tool_hashes[tool] = cache.tool_hash(tool) end
      todo[#todo + 1] = j
    end
  end

  local ex = opts.executor or M.local_executor(opts.jobs, opts.verbose)
  local p = progress.new(#jobs, #jobs - #todo, opts.label)
  for _, j in ipairs(todo) do p:add_estimate(j.id, j.cost or opts.times[j.id] or j.estimate or 1, j.class) end

  local failure
  -- Longest chain first (a stable sort: on a tie, the manifests' order).
  M.prioritize(todo, opts)
  local pending = {}
  for i, j in ipairs(todo) do pending[#pending + 1] = j; j.order = i end
  table.sort(pending, function(a, b)
    if a.priority ~= b.priority then return a.priority > b.priority end
    return a.order < b.order
  end)
  local outstanding, withdrawn = 0, false

  local function ready(j)
    for _, d in ipairs(j.deps or {}) do if not dirs[d] then return false end end
    return true
  end

  local function start(j, upcoming)
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
    local ok, err = ex:start(j, argv, upcoming)
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
      meta, err = cache.store(j, j.key, ev.tmp, ev.seconds, opts.force, ev.cpu)
    end
    if not meta then failure = failure or err; p:forget(j.id); return end
    j.meta, j.dir = meta, cache.entry(j.key)
    dirs[j.id] = j.dir
    opts.times[j.id] = ev.seconds
    if opts.cpu and ev.cpu then opts.cpu[j.id] = ev.cpu end
    -- schedule: id, start (seconds after opts.t0), wall and CPU seconds, threads ("1,2@181.0":
    -- 1 at its start, 2 from 181.0 s after it)
    if opts.schedule then
      opts.schedule[#opts.schedule + 1] = string.format('%s\t%s\t%.1f\t%s\t%s', j.id,
        ev.start and string.format('%.1f', ev.start - (opts.t0 or 0)) or '-',
        ev.seconds, ev.cpu and string.format('%.1f', ev.cpu) or '-', ev.threads or '-')
    end
    p:finished(j.id, ev.seconds)
  end

  while true do
    -- Start what can start, longest chain first (unless something failed: then only drain).
    if not failure then
      local go = {}
      for i, j in ipairs(pending) do if ready(j) then go[#go + 1] = i end end
      local n = math.min(ex:capacity(), #go)
      for k = n, 1, -1 do go[k] = table.remove(pending, go[k]) end -- from the end: indices hold
      for k = 1, n do
        if failure then table.insert(pending, go[k]) else
          local ok, err = start(go[k], n - k)
          if not ok then failure = go[k].id .. ': ' .. err end
        end
      end
    end
    if ex.balance then ex:balance() end
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
