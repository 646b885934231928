-- test_estimate: pipeline/atlas/estimate.lua, the render times `make atlas DRY_RUN=1` scales
-- from the cache's entries: per layer and per kind (a diversity term or not), the current
-- renderer's entries first.
local t = require 'lib'
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local est = require 'pipeline.atlas.estimate'

local objects = os.tmpname()
os.remove(objects)
assert(sys.mkdir_p(objects))
local NEW, OLD = string.rep('a', 64), string.rep('b', 64)

-- An entry as the runner stores a render: render.json (recipe, wall time, threads) and .meta.
local n = 0
local function entry(layer, div, steps, wall, tool, cpu)
  n = n + 1
  local dir = string.format('%s/%064d', objects, n)
  assert(sys.mkdir_p(dir))
  local objs = '{"kind": "channel", "channel": 0}' .. (div and ', {"kind": "diversity", "layer": "' .. layer .. '"}' or '')
  assert(fs.write_atomic(dir .. '/render.json', string.format(
    '{"recipe": {"layer": "%s", "size": 128, "steps": %d, "batch": 8, "objectives": [%s]}, "wall_seconds": %g, "threads": 1}',
    layer, steps, objs, wall)))
  local tools = tool and string.format('tools={["fv-render"]=%q}, ', tool) or ''
  local c = cpu and string.format('cpu=%g, ', cpu) or ''
  assert(fs.write_atomic(dir .. '/.meta', string.format('return {id="j%d", key="k", seconds=1, %s%sfiles={}}\n', n, c, tools)))
end

local W = 8 * 512 * 128 * 128 -- the work of a 512-step batch of 8 at 128 px
entry('L13', false, 512, 12, NEW)
entry('L13', false, 512, 14, NEW)
entry('L13', true, 512, 34, OLD)  -- a diversity job by the older renderer
entry('L13', true, 512, 11, NEW)  -- the same by the current one
entry('L5', false, 512, 2, nil)   -- an entry stored before .meta named its tools
entry('L5', false, 16, 1, NEW)    -- a --quick render: start-up dominates, left out
entry('L7', false, 512, 30, NEW, 12) -- 30 s of wall time beside other work, 12 s of CPU
local d = objects .. '/' .. string.rep('9', 64)
assert(sys.mkdir_p(d)) -- an entry of another kind: no render.json

local rates = est.recorded(objects, NEW)
t.eq('renders counted (the quick one and the non-render left out)', 6, rates.n)
t.eq('renders by the current renderer', 4, rates.n_fresh)

local function near(a, b) return a and math.abs(a - b) < 1e-9 * b end
local plain = { layer = 'L13', size = 128, steps = 512, batch = 8, objectives = { { kind = 'channel' } } }
local div = { layer = 'L13', size = 128, steps = 512, batch = 8,
              objectives = { { kind = 'channel' }, { kind = 'diversity' } } }
t.eq('a recipe with a diversity term is its own class', 'L13 +diversity', est.class(div))
t.eq('work: images x steps x pixels', W, est.work(plain))
local r, from = est.rate(rates, plain)
t.ok('plain renders: the mean of the current renderer\'s (13 s a job)', near(r, 13 / W) and from == 'fresh', tostring(r) .. ' ' .. tostring(from))
r, from = est.rate(rates, div)
t.ok('diversity renders: the current renderer\'s 11 s, not the older 34 s', near(r, 11 / W) and from == 'fresh', tostring(r))
r, from = est.rate(rates, { layer = 'L5', steps = 512, batch = 8, objectives = {} })
t.ok('a layer only older entries have: theirs', near(r, 2 / W) and from == 'older', tostring(from))
r, from = est.rate(rates, { layer = 'L5', steps = 512, batch = 8, objectives = { { kind = 'diversity' } } })
t.ok('a kind the layer never ran: the layer\'s other kind, not other layers\'', near(r, 2 / W)
  and from == 'older, the layer\'s other kind', tostring(from))
r = est.rate(rates, { layer = 'L7', steps = 512, batch = 8, objectives = {} })
t.ok('an entry that records its CPU seconds: priced by them, not its wall time', near(r, 12 / W), tostring(r and r * W))
r, from = est.rate(rates, { layer = 'L9', steps = 512, batch = 8, objectives = {} })
t.ok('a layer never recorded: all of the current renderer\'s', near(r, (12 + 14 + 11 + 12) / (4 * W)) and from == 'fresh, other layers',
  tostring(from))

rates = est.recorded(objects, string.rep('c', 64)) -- a renderer that made none of them
r, from = est.rate(rates, div)
t.ok('with no entry of the current renderer: the older ones, by class', rates.n_fresh == 0 and near(r, (34 + 11) / (2 * W))
  and from == 'older', tostring(from))
t.eq('an empty store: no rate', nil, est.rate(est.recorded(objects .. '/none', NEW), plain))

-- What an entry's job took, for the dry run's total of the cached jobs.
t.eq('spent: the CPU seconds where .meta records them', 12, est.spent({ seconds = 30, cpu = 12 }, { wall_seconds = 30, threads = 2 }))
t.eq('spent: else a render\'s wall time x threads', 60, est.spent({ seconds = 31 }, { wall_seconds = 30, threads = 2 }))
t.eq('spent: else the entry\'s wall time', 5, est.spent({ seconds = 5, cpu = 0 }, nil))
t.eq('spent: nothing recorded', nil, est.spent({}, nil))
t.eq('entry_spent reads the entry\'s render.json', 30, est.entry_spent(objects .. '/' .. string.format('%064d', 7), { seconds = 1 }))

sys.rm_rf(objects)
t.finish()
