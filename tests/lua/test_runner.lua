-- test_runner: pipeline/driver/runner.lua's schedule — jobs' costs from recorded times, ready
-- jobs started longest chain first, and the threads of a running job that follow the cores
-- (its FV_THREADS_FILE rewritten when another job ends, and when a new one needs its part).
-- The jobs are cheap shell commands with made-up recorded times. Runs in a scratch directory of
-- its own (tests/cli/lua.sh); everything it makes is under ./work.
local t = require 'lib'
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'
local runner = require 'pipeline.driver.runner'

local W = t.scratch_store()
cache.set_places({})

-- A job running shell text `sh` (with {out}); each test's jobs are new (recipe = the test's name).
local function job(test, id, sh, deps, more)
  local j = { id = id, argv = { 'sh', '-c', sh }, deps = deps, recipe = test, outputs = { 'o' } }
  for k, v in pairs(more or {}) do j[k] = v end
  return j
end
local quiet = io.open('/dev/null', 'w')
local function run(jobs, opts)
  opts.times, opts.cpu = opts.times or {}, opts.cpu or {}
  local real = io.stderr
  io.stderr = quiet -- the progress lines
  local ok, res = runner.run(jobs, opts)
  io.stderr = real
  return ok, res
end

-- ---- costs: the job's own cost, else CPU seconds, else seconds, else the estimate, else the
-- mean of the job's kind
local costs = runner.costs({ { id = 'render:a:1' }, { id = 'render:a:2', estimate = 60 }, { id = 'render:b:9' },
                             { id = 'render:c:1' }, { id = 'page' }, { id = 'render:d:1', cost = 7, estimate = 60 } },
                           { times = { ['render:a:1'] = 8, ['render:c:1'] = 2, ['render:a:2'] = 30, ['render:d:1'] = 40 },
                             cpu = { ['render:a:1'] = 10, ['render:d:1'] = 41 } })
t.eq('cost: a job\'s own cost before what it took last time', 7, costs['render:d:1'])
t.eq('cost: CPU seconds first', 10, costs['render:a:1'])
t.eq('cost: then the seconds it took (before the estimate)', 30, costs['render:a:2'])
t.eq('cost: a job never run costs the mean of its kind', (10 + 30 + 2 + 41) / 4, costs['render:b:9'])
t.eq('cost: no kind recorded: 1 s', 1, costs['page'])

-- ---- priorities: cost plus the longest chain waiting on it
local list = { { id = 'x:b' }, { id = 'x:a' }, { id = 'x:c', deps = { 'x:a' } }, { id = 'x:d', deps = { 'x:c' } },
               { id = 'x:e', deps = { 'x:a' } } }
runner.prioritize(list, { times = { ['x:a'] = 1, ['x:b'] = 5, ['x:c'] = 1, ['x:d'] = 10, ['x:e'] = 3 } })
t.eq('priority: a job at the head of the longest chain (1 + 1 + 10)', 12, list[2].priority)
t.eq('priority: a job nothing waits on is its cost', 5, list[1].priority)
t.eq('priority: the middle of a chain', 11, list[3].priority)

-- ---- start order: one job at a time, the longest chain first (not the list's order)
local order = {}
local ex = runner.local_executor(1, false, 1)
local plain_start = ex.start
function ex.start(self, j, argv, upcoming) order[#order + 1] = j.id; return plain_start(self, j, argv, upcoming) end
local w = 'echo x > {out}/o'
local ok, err = run({ job('order', 'x:b', w), job('order', 'x:a', w), job('order', 'x:c', w, { 'x:a' }),
                      job('order', 'x:d', w, { 'x:c' }), job('order', 'x:e', w, { 'x:a' }) },
                    { jobs = 1, executor = ex, times = { ['x:a'] = 1, ['x:b'] = 5, ['x:c'] = 1, ['x:d'] = 10, ['x:e'] = 3 } })
t.ok('the ordered build runs', ok, err)
t.eq('jobs start longest chain first', 'x:a x:c x:d x:b x:e', table.concat(order, ' '))

-- A job that reports what its thread file said: FV_THREADS at its start, then each new count,
-- until it has seen `want` (a list of counts, in turn); marks W/<name>-<count> as it sees each.
-- Gives up after 30 s (then "gave up" is in its output and the checks below fail).
local function follower(name, want)
  return 'f="$FV_THREADS_FILE"; echo "start $FV_THREADS" > {out}/o; last=$FV_THREADS; i=0; ' ..
    'for w in ' .. table.concat(want, ' ') .. '; do ' ..
    '  while [ "$(cat "$f" 2>/dev/null)" != "$w" ]; do ' ..
    '    i=$((i+1)); [ $i -gt 600 ] && { echo "gave up waiting for $w" >> {out}/o; exit 0; }; sleep 0.05; done; ' ..
    '  echo "then $w" >> {out}/o; touch ' .. W .. '/' .. name .. '-$w; done'
end
local function until_file(path)
  return 'i=0; while [ ! -e ' .. path .. ' ] && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.05; done; ' ..
    'echo "threads $FV_THREADS file ${FV_THREADS_FILE:-none}" > {out}/o'
end

-- ---- a job's thread file: 2 cores, a long job that follows its file beside a short one; when
-- the short one ends, the long one's file says 2
local jobs = { job('grow', 'long', follower('grow', { 2 }), nil, { threads_file = true }),
               job('grow', 'short', 'sleep 0.3; echo "threads $FV_THREADS file ${FV_THREADS_FILE:-none}" > {out}/o') }
local times, cpu = { long = 100, short = 1 }, {}
local sched = {}
ok, err = run(jobs, { jobs = 2, executor = runner.local_executor(2, false, 2), times = times, cpu = cpu, schedule = sched })
t.ok('the growing build runs', ok, err)
t.eq('the job that follows its file starts with its share, then takes the core freed',
     'start 1\nthen 2\n', fs.read(jobs[1].dir .. '/o'))
t.eq('the job beside it has one thread and no file', 'threads 1 file none\n', fs.read(jobs[2].dir .. '/o'))
t.ok('CPU seconds are recorded for each job', type(cpu.long) == 'number' and cpu.long >= 0 and type(cpu.short) == 'number')
local line = ''
for _, l in ipairs(sched) do if l:match('^long\t') then line = l end end
t.ok('the schedule records the long job\'s threads (1, then 2 at some time)', line:match('\t1,2@[%d.]+$'), line)

-- ---- and back: 3 cores; when the short job ends, the follower takes its core (2), and gives
-- it back (1) when the job waiting behind `gate` starts with the longest chain
-- (`after` lasts until the follower has seen its 1: ended at once, it would give the core back
-- before the follower's next look at its file, which would then never say 1)
sys.rm_rf(W .. '/back-2')
sys.rm_rf(W .. '/back-1')
jobs = { job('back', 'long', follower('back', { 2, 1 }), nil, { threads_file = true }),
         job('back', 'short', 'sleep 0.3; echo x > {out}/o'),
         job('back', 'gate', until_file(W .. '/back-2')),
         job('back', 'after', 'echo "threads $FV_THREADS" > {out}/o; i=0; while [ ! -e ' .. W .. '/back-1 ] && ' ..
             '[ $i -lt 600 ]; do i=$((i+1)); sleep 0.05; done', { 'gate' }) }
ok, err = run(jobs, { jobs = 3, executor = runner.local_executor(3, false, 3),
                      times = { long = 1, short = 1, gate = 1, after = 1000 } })
t.ok('the shrinking build runs', ok, err)
t.eq('a follower takes a freed core, and gives it back when a job with a longer chain starts',
     'start 1\nthen 2\nthen 1\n', fs.read(jobs[1].dir .. '/o'))
t.eq('... which starts with the cores left (3 - 1)', 'threads 2\n', fs.read(jobs[4].dir .. '/o'))
local left = {}
for _, n in ipairs(sys.listdir(cache.tmp()) or {}) do left[#left + 1] = n end
t.eq('no thread file (nor anything else) is left in tmp/', '', table.concat(left, ' '))

t.finish()
