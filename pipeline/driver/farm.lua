-- farm: the runner's executor for a Slurm cluster (`build.lua --farm slurm`). Jobs go through
-- the ordinary client commands (sbatch, squeue, scancel) of an existing cluster; nothing of ours
-- runs as a server.
--
-- Small jobs must not each pay the scheduler's latency, so the build submits *workers* (one
-- Slurm array, more when some are lost) and the workers take jobs from a queue in the shared
-- store: <store>/farm/<build>/ (the store is the cache's, on storage every node sees):
--   ready/<n>.<try>        a job a worker may take (a Lua table: argv, key, outputs, the tools'
--                          hashes); <try> counts its attempts
--   run/<n>.<try>.<task>   taken by Slurm task <task> (<array>_<index>; a rename, so one worker
--                          wins); the worker touches it every second while the job runs
--   done/<n>.<try>         the worker's report; its outputs are already in objects/<key>, which
--                          the driver verifies (every file's hash) before anything uses them
--   workers/<task>         each worker's node and process, written when it starts
--   logs/                  the jobs' output and progress, the workers' output
--   tmp/                   the jobs' unfinished outputs
--   heartbeat, closed  the driver's: a worker leaves when the driver is gone or done
-- The driver puts a job into ready/ only when its inputs are in the cache, so dependencies hold.
--
-- Failures: a job that exits non-zero, a worker that is cancelled, runs out of time or fails,
-- and a worker that stops touching its job (its node died) are seen by polling squeue and the
-- queue (never by `sbatch --wait`); the job goes back to ready/ up to `retries` more times,
-- then is reported with its last log lines. Lost workers are replaced. Ctrl-C cancels every
-- task this build submitted; the queue directory goes with the build.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'
local proc = require 'pipeline.driver.proc'

local M = {}
local Farm = {}
Farm.__index = Farm

-- Slurm states after which a task runs nothing more.
local ENDED = { COMPLETED = true, CANCELLED = true, FAILED = true, TIMEOUT = true, NODE_FAIL = true,
                PREEMPTED = true, OUT_OF_MEMORY = true, BOOT_FAIL = true, DEADLINE = true,
                SPECIAL_EXIT = true, REVOKED = true }

-- The settings, from environment variables, then flags (flags win). Returns the table, or nil
-- and one line naming the bad setting.
M.vars = {
  { 'partition', 'FV_SLURM_PARTITION', '--partition', 'string' },
  { 'account', 'FV_SLURM_ACCOUNT', '--account', 'string' },
  { 'time', 'FV_SLURM_TIME', '--time-limit', 'string' },
  { 'cpus', 'FV_SLURM_CPUS', '--cpus-per-task', 'count' },
  { 'tasks', 'FV_SLURM_TASKS', '--tasks', 'count' },
  { 'sbatch_args', 'FV_SLURM_ARGS', '--sbatch-args', 'string' },
  { 'retries', 'FV_FARM_RETRIES', '--retries', 'whole' },
  { 'heartbeat', 'FV_FARM_HEARTBEAT', '--heartbeat', 'seconds' },
}

function M.settings(flags)
  local s = { cpus = 1, tasks = 16, retries = 2, heartbeat = 60, sbatch_args = '' }
  for _, v in ipairs(M.vars) do
    local name, env, flag, kind = v[1], v[2], v[3], v[4]
    local from, text = flag, flags[name]
    if text == nil then from, text = env, os.getenv(env) end
    if text ~= nil and text ~= '' then
      local val = text
      if kind ~= 'string' then
        val = tonumber(text)
        local okv = val and (kind == 'seconds' and val > 0 or
          (math.type(val) == 'integer' or val == math.floor(val)) and val >= (kind == 'count' and 1 or 0))
        if not okv then
          local want = kind == 'seconds' and 'a number of seconds > 0' or
            kind == 'count' and 'a whole number >= 1' or 'a whole number >= 0'
          return nil, string.format("build: %s: '%s' (expected %s)", from, text, want)
        end
        if kind ~= 'seconds' then val = math.tointeger(val) end
      elseif text:find('[%c]') then
        return nil, string.format('build: %s: control characters (expected plain text)', from)
      end
      s[name] = val
    end
  end
  return s
end

-- Nil when the Slurm client commands are here; otherwise one line saying what to install.
function M.check()
  local miss = proc.missing({ 'sbatch', 'squeue', 'scancel' })
  if miss then
    return 'build: --farm slurm needs the Slurm client commands (' .. miss .. ' is not on PATH): '
      .. 'install them (Debian: apt-get install slurm-client) and point SLURM_CONF at your cluster'
  end
end

-- A new farm for one build. s: settings; root: the tools' directory (the nodes see it at the
-- same path); lua: the interpreter's name.
function M.new(s, root, lua)
  local id = string.format('%s.%d.%d', cache.host, sys.getpid(), os.time())
  local q = cache.dir .. '/farm/' .. id
  for _, d in ipairs({ 'ready', 'run', 'done', 'workers', 'logs', 'tmp' }) do
    local ok, err = sys.mkdir_p(q .. '/' .. d)
    if not ok then return nil, 'build: cannot create the farm queue: ' .. err end
  end
  local variant = os.getenv('VARIANT') or 'release'
  local script = table.concat({
    '#!/bin/sh',
    '# A worker of build ' .. id .. ': takes jobs from this queue until the build ends.',
    string.format("VARIANT='%s' FV_FARM_HEARTBEAT='%g' exec %s '%s/pipeline/driver/worker.lua' '%s'",
      variant, s.heartbeat, lua, root, q),
  }, '\n') .. '\n'
  local ok, err = fs.write_atomic(q .. '/worker.sh', script)
  if not ok then return nil, 'build: cannot write the farm queue: ' .. tostring(err) end
  fs.write_atomic(q .. '/heartbeat', '')
  return setmetatable({
    s = s, q = q, id = id, seq = 0, jobs = {}, by_name = {}, arrays = {}, tasks = {},
    events = {}, outstanding = 0, last_squeue = -1e9, last_beat = 0, last_submit = -1e9,
    unseen = 0, bad_starts = 0, submitted = 0, fatal = nil,
  }, Farm)
end

-- Lua literal of a value (strings, numbers, booleans, nested tables).
local function literal(v)
  local t = type(v)
  if t == 'table' then
    local out = {}
    for k, x in pairs(v) do
      local key = type(k) == 'number' and ('[' .. k .. ']') or string.format('[%q]', k)
      out[#out + 1] = key .. '=' .. literal(x)
    end
    table.sort(out)
    return '{' .. table.concat(out, ',') .. '}'
  elseif t == 'string' then return string.format('%q', v)
  else return tostring(v) end
end
M.literal = literal

local function load_table(path)
  local chunk = loadfile(path, 't', {})
  if not chunk then return nil end
  local ok, v = pcall(chunk)
  if ok and type(v) == 'table' then return v end
end
M.load_table = load_table

function Farm:capacity() return self.fatal and 0 or math.huge end

local function write_job(self, r)
  local spec = { name = r.name, id = r.job.id, key = r.job.key, attempt = r.attempt, argv = r.argv,
                 outputs = r.job.outputs, force = self.force or false, tools = {} }
  for _, t in ipairs(r.job.tools or {}) do spec.tools[#spec.tools + 1] = { t, r.job.tool_hashes[t] } end
  return fs.write_atomic(self.q .. '/ready/' .. r.name .. '.' .. r.attempt, 'return ' .. literal(spec) .. '\n')
end

function Farm:start(j, argv)
  self.seq = self.seq + 1
  local r = { job = j, argv = argv, name = string.format('%06d', self.seq), attempt = 1, state = 'ready',
              lost = {} }
  local ok, err = write_job(self, r)
  if not ok then return nil, 'cannot queue the job: ' .. tostring(err) end
  self.by_name[r.name] = r
  self.outstanding = self.outstanding + 1
  return true
end

local function emit(self, ev) self.events[#self.events + 1] = ev end

local function done(self, r, ev)
  r.state = 'done'
  self.outstanding = self.outstanding - 1
  ev.kind, ev.job = 'done', r.job
  emit(self, ev)
end

-- The text of a worker's Slurm output, last lines.
local function worker_log(self, task)
  local t = self.tasks[task]
  if not t then return '' end
  local path = string.format('%s/logs/worker-%s_%s.out', self.q, t.array, t.index)
  local last = fs.tail(path, 6)
  return last ~= '' and (last .. '\n') or ''
end

-- Gives up on the whole farm: every job still out fails with msg (the first carries it).
local function give_up(self, msg)
  self.fatal = msg
  for _, r in pairs(self.by_name) do
    if r.state ~= 'done' then
      os.remove(self.q .. '/ready/' .. r.name .. '.' .. r.attempt)
      done(self, r, { ok = false, msg = msg })
      msg = nil
    end
  end
end

-- A job's attempt ended without a result (its worker was lost) or with a failure: again, or
-- report it once the retries are spent.
local function retry(self, r, why, msg)
  r.lost[#r.lost + 1] = why
  if r.attempt > self.s.retries then
    if not msg then -- lost, not failed: what the job had printed, then what Slurm said
      local last = fs.tail(string.format('%s/logs/%s.%d.log', self.q, r.name, r.attempt), 6)
      msg = (last ~= '' and last .. '\n' or '') .. string.format(
        "build: job '%s' failed on the cluster after %d attempts (last: %s): %s",
        r.job.id, r.attempt, why, table.concat(r.argv, ' '))
    end
    done(self, r, { ok = false, msg = msg })
    return
  end
  emit(self, { kind = 'note', text = string.format("farm: job '%s' did not finish (%s); trying again (attempt %d of %d)",
    r.job.id, why, r.attempt + 1, self.s.retries + 1) })
  r.attempt = r.attempt + 1
  r.state, r.task = 'ready', nil
  local ok, err = write_job(self, r)
  if not ok then done(self, r, { ok = false, msg = 'build: cannot queue the job again: ' .. tostring(err) }) end
end

-- squeue: the state of every task of our arrays.
local function poll_squeue(self)
  if #self.arrays == 0 then return end
  local ids = {}
  for _, a in ipairs(self.arrays) do ids[#ids + 1] = a.id end
  local ok, code, out = proc.run({ 'squeue', '-h', '-r', '-t', 'all', '-j', table.concat(ids, ','),
    '-o', '%A|%F|%K|%T|%N' }, self.q .. '/tmp')
  if not ok and code ~= 1 then return end -- the controller is busy or away: ask again later
  local seen = {}
  for line in out:gmatch('[^\n]+') do
    local array, index, state, node = line:match('^%d+|(%d+)|(%d+)|([%u_]+)|(.*)$')
    if array then
      local task = array .. '_' .. index
      seen[array] = true
      local t = self.tasks[task] or { array = array, index = index }
      t.state, t.node = state, node ~= '' and node or t.node
      self.tasks[task] = t
    end
  end
  -- An array squeue no longer knows (its records expired, or every id was invalid: exit 1):
  -- all its tasks have ended.
  for _, a in ipairs(self.arrays) do
    if not seen[a.id] and sys.clock() - a.t0 > 5 then
      a.gone = true
      for _, t in pairs(self.tasks) do if t.array == a.id and not ENDED[t.state] then t.state = 'GONE' end end
    end
  end
  self.unseen = 0
end

local function live_tasks(self)
  local n = self.unseen
  for _, a in ipairs(self.arrays) do
    if not a.gone then
      for _, t in pairs(self.tasks) do
        if t.array == a.id and not ENDED[t.state] and t.state ~= 'GONE' and t.state ~= 'COMPLETING' then n = n + 1 end
      end
    end
  end
  return n
end

local function submit(self, n)
  local s = self.s
  local argv = { 'sbatch', '--parsable', '--job-name=fv-build', string.format('--array=0-%d', n - 1),
    '--output=' .. self.q .. '/logs/worker-%A_%a.out', '--chdir=' .. fs.root,
    '--cpus-per-task=' .. s.cpus }
  if s.partition then argv[#argv + 1] = '--partition=' .. s.partition end
  if s.account then argv[#argv + 1] = '--account=' .. s.account end
  if s.time then argv[#argv + 1] = '--time=' .. s.time end
  for a in s.sbatch_args:gmatch('%S+') do argv[#argv + 1] = a end
  argv[#argv + 1] = self.q .. '/worker.sh'
  local ok, _, out, err = proc.run(argv, self.q .. '/tmp')
  local id = ok and out:match('^(%d+)')
  if not id then
    return nil, 'build: sbatch refused the workers: ' .. ((err .. out):gsub('%s+$', ''):gsub('\n', ' '))
  end
  self.arrays[#self.arrays + 1] = { id = id, n = n, t0 = sys.clock() }
  self.unseen = self.unseen + n
  self.submitted = self.submitted + n
  self.last_submit = sys.clock()
  return true
end

-- What a lost worker's task tells of itself: "Slurm task 12 on n1 ended CANCELLED".
local function task_words(self, task)
  local t = self.tasks[task] or {}
  return string.format('Slurm task %s%s', task, t.node and (' on ' .. t.node) or '')
end

function Farm:poll()
  if self.fatal then return end
  local now = sys.clock()
  if now - self.last_beat >= 1 then sys.touch(self.q .. '/heartbeat'); self.last_beat = now end
  if now - self.last_squeue >= 1 then poll_squeue(self); self.last_squeue = now end

  -- Reports first (squeue before them): a worker writes its report before it lets go of the
  -- job and exits.
  for _, n in ipairs(sys.listdir(self.q .. '/done') or {}) do
    -- (A name with more to it is a report being written: its writer renames it in place.)
    local name, attempt = n:match('^(%d+)%.(%d+)$')
    local r = name and self.by_name[name]
    local rep = r and load_table(self.q .. '/done/' .. n)
    if name then os.remove(self.q .. '/done/' .. n) end
    if r and rep and r.state ~= 'done' then
      if r.state == 'ready' then
        -- Taken and finished between two looks: it started all the same (on rep.node).
        os.remove(self.q .. '/ready/' .. r.name .. '.' .. r.attempt)
        emit(self, { kind = 'started', job = r.job, where = rep.node })
      end
      if rep.ok then
        done(self, r, { ok = true, stored = true, seconds = rep.seconds or 0 })
      elseif tonumber(attempt) == r.attempt then
        local where = string.format('Slurm task %s on %s, %s', rep.task or '?', rep.node or '?', rep.how or 'failed')
        local msg = (rep.tail and rep.tail ~= '' and rep.tail .. '\n' or '') ..
          string.format("build: job '%s' failed on the cluster after %d attempts (last: %s): %s",
            r.job.id, r.attempt, where, table.concat(r.argv, ' '))
        retry(self, r, where, r.attempt > self.s.retries and msg or nil)
      end
    end
  end

  -- Jobs taken by workers, and workers that were lost with a job.
  local claimed = {}
  for _, n in ipairs(sys.listdir(self.q .. '/run') or {}) do
    local try, task = n:match('^(%d+%.%d+)%.(%d+_%d+)$')
    if try then claimed[try] = task end
  end
  for name, r in pairs(self.by_name) do
    local try = name .. '.' .. r.attempt
    local task = claimed[try]
    if r.state == 'ready' and task then
      r.state, r.task, r.beat, r.seen = 'running', task, nil, now
      local t = self.tasks[task]
      local w = load_table(self.q .. '/workers/' .. task)
      emit(self, { kind = 'started', job = r.job, progress = self.q .. '/logs/' .. try .. '.progress',
                   log = self.q .. '/logs/' .. try .. '.log', where = (w and w.node) or (t and t.node) })
    end
    if r.state == 'running' then
      local claim = self.q .. '/run/' .. try .. '.' .. r.task
      local st = sys.stat(claim)
      if st and st.mtime_ns ~= r.beat then r.beat, r.seen = st.mtime_ns, now end
      local t = self.tasks[r.task]
      if t and (ENDED[t.state] or t.state == 'GONE') then
        os.remove(claim)
        retry(self, r, task_words(self, r.task) .. ' ended ' .. t.state)
      elseif now - r.seen > self.s.heartbeat then
        -- No heartbeat: the node is gone or hung. Its task is cancelled (should it come back).
        os.remove(claim)
        proc.run({ 'scancel', r.task }, self.q .. '/tmp')
        retry(self, r, string.format('%s sent no heartbeat for %.0f s', task_words(self, r.task), self.s.heartbeat))
      end
    end
  end

  -- Workers that ended without ever starting (no lua5.4 on the node, the tools' folder not
  -- mounted there): after three, the farm cannot work, and retrying would never end.
  for task, t in pairs(self.tasks) do
    if (ENDED[t.state] or t.state == 'GONE') and not t.counted then
      t.counted = true
      -- Only states where the worker's script ran (a lost node or a cancel says nothing of it).
      local ran = t.state == 'FAILED' or t.state == 'COMPLETED' or t.state == 'OUT_OF_MEMORY'
      if ran and not fs.exists(self.q .. '/workers/' .. task) then
        self.bad_starts = self.bad_starts + 1
        self.last_bad = task
      end
    end
  end
  if self.bad_starts >= 3 then
    give_up(self, worker_log(self, self.last_bad) .. string.format(
      'build: the farm\'s workers do not start on the cluster (%s ended %s, %d times so far); '
      .. 'the nodes must see %s and the store %s at the same paths', task_words(self, self.last_bad),
      self.tasks[self.last_bad].state, self.bad_starts, fs.root, cache.dir))
  end

  -- Enough workers for what is left to do (never more than the setting).
  local want = 0
  for _, r in pairs(self.by_name) do if r.state ~= 'done' then want = want + 1 end end
  want = math.min(want, self.s.tasks)
  if not self.fatal and self.unseen == 0 and now - self.last_submit > 1 then
    local live = live_tasks(self)
    if live < want then
      local ok, err = submit(self, want - live)
      if not ok then give_up(self, err) end
    end
  end
end

-- Withdraws the jobs no worker has taken (after a failure: only what runs is waited for).
function Farm:withdraw()
  for _, r in pairs(self.by_name) do
    if r.state == 'ready' then
      os.remove(self.q .. '/ready/' .. r.name .. '.' .. r.attempt)
      done(self, r, { ok = false })
    end
  end
end

-- Stops every task this build submitted and waits (at most 20 s) until Slurm says they ended,
-- then removes the queue. Used for Ctrl-C and at the end of every build.
function Farm:close()
  if self.closed then return end
  self.closed = true
  fs.write_atomic(self.q .. '/closed', '')
  local ids = {}
  for _, a in ipairs(self.arrays) do ids[#ids + 1] = a.id end
  if #ids > 0 then
    proc.run({ 'scancel', table.unpack(ids) }, self.q .. '/tmp')
    local t0 = sys.clock()
    repeat
      poll_squeue(self)
      local active = 0
      -- COMPLETING counts as gone: a task on a dead node stays there until the node is declared
      -- down, and nothing of it runs any more.
      for _, t in pairs(self.tasks) do
        if not ENDED[t.state] and t.state ~= 'GONE' and t.state ~= 'COMPLETING' then active = active + 1 end
      end
      if active == 0 then break end
      sys.sleep(0.2)
    until sys.clock() - t0 > 20
  end
  sys.rm_rf(self.q)
end

function Farm:cancel() self:close() end

function Farm:status()
  local run, pend = 0, 0
  for _, t in pairs(self.tasks) do
    if t.state == 'RUNNING' then run = run + 1 elseif t.state == 'PENDING' then pend = pend + 1 end
  end
  pend = pend + self.unseen
  return string.format('%d worker%s%s', run, run == 1 and '' or 's', pend > 0 and (', ' .. pend .. ' pending') or '')
end

return M
