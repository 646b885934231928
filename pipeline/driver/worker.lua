-- worker: one Slurm task of the farm (farm.lua). Started by the build's sbatch script on a node:
--
--   lua5.4 pipeline/driver/worker.lua QUEUE_DIR
--
-- Takes jobs from QUEUE_DIR/ready/ one at a time (a rename into run/: one worker wins), checks
-- that the node sees the build's own tools (their hashes), runs the job into a temporary
-- directory, stores its outputs in the cache (objects/<key>, by rename: the driver verifies
-- them), and reports in done/. Touches its job every second, so that the driver can tell a live
-- worker from a dead node. Leaves when the build is closed, when the driver stops touching its
-- heartbeat, when nothing has been queued for a while, or on SIGTERM (scancel, time limit),
-- after stopping its job and removing what it had half written.
--
-- Exit codes: 0 left normally, 1 the queue is not usable, 2 usage.
local root = arg[0]:match('^(.*)/pipeline/driver/[^/]*$') or '.'
local variant = os.getenv('VARIANT') or 'release'
package.path = root .. '/?.lua;' .. package.path
package.cpath = root .. '/build/' .. variant .. '/lib/?.so;' .. package.cpath
require 'pipeline.driver.strict'

local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'
local farm = require 'pipeline.driver.farm'

local IDLE_EXIT = 60 -- seconds with no job to take before a worker leaves (the driver asks for more)

local function main()
  local q = arg[1]
  if not q or arg[2] then io.stderr:write('usage: lua5.4 worker.lua QUEUE_DIR\n'); return 2 end
  if not fs.exists(q .. '/ready') then io.stderr:write('worker: ' .. q .. ' is not a farm queue\n'); return 1 end
  cache.dir = q:match('^(.*)/farm/[^/]+$') or (q .. '/../..')
  local array, index = os.getenv('SLURM_ARRAY_JOB_ID'), os.getenv('SLURM_ARRAY_TASK_ID')
  if not array or not index then
    io.stderr:write('worker: not a Slurm array task (SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID unset)\n')
    return 2
  end
  local task = array .. '_' .. index
  local node = os.getenv('SLURMD_NODENAME') or cache.host
  local threads = tostring(tonumber(os.getenv('SLURM_CPUS_PER_TASK') or '') or 1)
  local driver_timeout = math.max(60, 3 * (tonumber(os.getenv('FV_FARM_HEARTBEAT') or '') or 60))
  sys.catch_signals()
  fs.write_atomic(q .. '/workers/' .. task, string.format('return {node=%q, pid=%d, host=%q}\n', node,
    sys.getpid(), cache.host))
  io.stdout:write(string.format('worker %s on %s (pid %d): %s\n', task, node, sys.getpid(), q))
  io.stdout:flush()

  -- The driver is there while it touches its heartbeat (mtimes compared with each other, not
  -- with this node's clock).
  local beat, beat_seen = nil, sys.clock()
  local function driver_alive()
    if fs.exists(q .. '/closed') then return false, 'the build is over' end
    local st = sys.stat(q .. '/heartbeat')
    if not st then return false, 'the queue is gone' end
    if st.mtime_ns ~= beat then beat, beat_seen = st.mtime_ns, sys.clock() end
    if sys.clock() - beat_seen > driver_timeout then return false, 'the driver stopped' end
    return true
  end

  local function report(name, rep)
    fs.write_atomic(q .. '/done/' .. name, 'return ' .. farm.literal(rep) .. '\n')
  end

  -- Runs one claimed job. Returns false when the worker must stop (signal, build over).
  local function run(claim, name, spec)
    local base = { task = task, node = node }
    for _, t in ipairs(spec.tools or {}) do
      local h = sys.sha256_file(t[1])
      if h ~= t[2] then
        base.ok, base.how = false, 'wrong tool'
        base.tail = string.format('worker: %s on node %s %s (expected sha256 %s): the nodes must see the build\'s own tools',
          t[1], node, h and ('has sha256 ' .. h) or 'is missing', t[2])
        report(name, base)
        os.remove(claim)
        return true
      end
    end
    -- (new_tmp makes missing parents: a queue the driver has removed must stay removed.)
    if not fs.exists(q .. '/tmp') then os.remove(claim); return false end
    local tmp, terr = cache.new_tmp(spec.key, q .. '/tmp')
    if not tmp then
      base.ok, base.how, base.tail = false, 'no space', 'worker: ' .. tostring(terr)
      report(name, base); os.remove(claim)
      return true
    end
    local log, prog = q .. '/logs/' .. name .. '.log', q .. '/logs/' .. name .. '.progress'
    local argv = {}
    for i, a in ipairs(spec.argv) do argv[i] = a:gsub('{out}', function() return tmp end) end
    local env = { FV_THREADS = threads, OPENBLAS_NUM_THREADS = threads, OMP_NUM_THREADS = threads,
                  FV_PROGRESS_FILE = prog }
    local t0 = sys.clock()
    local pid, err = sys.spawn(argv, { stdout = log, stderr = log, env = env })
    if not pid then
      base.ok, base.how, base.tail = false, 'cannot start', 'worker: ' .. tostring(err)
      report(name, base); os.remove(claim); sys.rm_rf(tmp)
      return true
    end
    local code, cpu, last_touch = nil, nil, sys.clock()
    while true do
      local got, c, cs = sys.wait(false, pid)
      if got == pid then code, cpu = c, cs; break end
      local alive = driver_alive()
      if sys.interrupted() ~= 0 or not alive then
        sys.kill(pid)
        sys.wait(true, pid)
        sys.rm_rf(tmp)
        os.remove(claim)
        return false
      end
      if sys.clock() - last_touch >= 1 then sys.touch(claim); last_touch = sys.clock() end
      sys.sleep(0.02)
    end
    -- A job killed by a signal while this worker is being stopped (scancel, Ctrl-C: the signal
    -- reaches every process of the task, and the job may die of it before the worker notices
    -- its own) did not fail: the worker leaves it as it leaves a running one, and the driver
    -- sees the task end. The grace covers a signal that reached the job first.
    if code < 0 then
      for _ = 1, 10 do
        if sys.interrupted() ~= 0 then sys.rm_rf(tmp); os.remove(claim); return false end
        sys.sleep(0.02)
      end
    end
    local secs = sys.clock() - t0
    os.remove(prog)
    if code == 0 then
      local th = {}
      for _, t in ipairs(spec.tools or {}) do th[t[1]] = t[2] end
      local meta, serr = cache.store({ id = spec.id, outputs = spec.outputs, tool_hashes = th }, spec.key, tmp, secs, spec.force, cpu)
      base.ok, base.seconds = meta ~= nil, secs
      if not meta then base.how, base.tail = 'store failed', 'worker: ' .. tostring(serr) end
    else
      sys.rm_rf(tmp)
      base.ok = false
      base.how = code < 0 and ('killed by signal ' .. -code) or ('exit ' .. code)
      base.tail = fs.tail(log, 12)
    end
    report(name, base)
    os.remove(claim)
    return true
  end

  local idle_since, nap = sys.clock(), 0.02
  while true do
    local alive, why = driver_alive()
    if not alive then io.stdout:write('worker: leaving: ' .. why .. '\n'); return 0 end
    if sys.interrupted() ~= 0 then io.stdout:write('worker: leaving: signal\n'); return 0 end
    local took = false
    for _, n in ipairs(sys.listdir(q .. '/ready') or {}) do
      if n:match('^%d+%.%d+$') then
        local claim = q .. '/run/' .. n .. '.' .. task
        if os.rename(q .. '/ready/' .. n, claim) then
          took = true
          sys.touch(claim)
          local spec = farm.load_table(claim)
          if spec then
            if not run(claim, n, spec) then io.stdout:write('worker: leaving: stopped during ' .. n .. '\n'); return 0 end
          else
            report(n, { ok = false, how = 'unreadable', task = task, node = node,
                        tail = 'worker: the job file ' .. n .. ' is not readable' })
            os.remove(claim)
          end
          break
        end
      end
    end
    if took then
      idle_since, nap = sys.clock(), 0.02
    else
      if sys.clock() - idle_since > IDLE_EXIT then io.stdout:write('worker: leaving: idle\n'); return 0 end
      sys.sleep(nap)
      nap = math.min(nap * 1.5, 0.5) -- a shared file system is not asked more than it must be
    end
  end
end

local ok, rc = xpcall(main, debug.traceback)
if not ok then
  io.stderr:write('worker: internal error: ' .. tostring(rc) .. '\n')
  os.exit(3)
end
os.exit(rc)
