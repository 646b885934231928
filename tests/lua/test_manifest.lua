-- test_manifest: pipeline/driver/manifest.lua — the sandbox's limits (time, memory, what a
-- manifest may return) and that every message names the manifest and the field, with the
-- author's text escaped. Manifests are written to figures/ under the current directory (the
-- runner's scratch directory).
local t = require 'lib'
local sys = require 'fvsys'
local manifest = require 'pipeline.driver.manifest'

local root = assert(os.getenv('ROOT'), 'ROOT: the project root')
for _, n in ipairs(sys.listdir(root .. '/pipeline/kinds')) do
  local k = n:match('^(.*)%.lua$')
  if k then manifest.kinds[k] = require('pipeline.kinds.' .. k) end
end
-- Smaller than the build's, so that the runaway cases below end soon on a loaded machine.
manifest.limits.seconds, manifest.limits.memory = 2, 32 << 20
assert(sys.mkdir_p('figures'))

-- A grid manifest whose figure recipe gets `extra` (Lua source) after `steps = 8,`.
local function grid(extra, top)
  return 'return {\n  kind = "grid",\n  caption = "c",\n' .. (top or '') ..
    '  recipe = { layer = "l", size = 64,\n    steps = 8, ' .. (extra or '') .. '\n  },\n' ..
    '  cells = { { alt = "a", recipe = { objectives = { { kind = "channel", channel = 1 } } } } },\n}\n'
end

local function load(src, id)
  id = id or 'x'
  local f = assert(io.open('figures/' .. id .. '.lua', 'wb'))
  f:write(src)
  f:close()
  return manifest.load('figures/' .. id .. '.lua', id)
end

-- A well-formed manifest comes back as the same data: integers stay integers, floats exact.
local m, err = load(grid('lr = 0.1, seed = 3,'))
t.ok('a grid manifest loads', m ~= nil, err)
t.eq('an integer stays an integer', 'integer', m and math.type(m.recipe.seed))
t.eq('a float comes back exactly', 0.1, m and m.recipe.lr)
t.eq('the kind is attached', manifest.kinds.grid, m and m.kindmod)

-- Time: a loop in Lua, and a pattern that backtracks inside string.find (in C, where no hook runs).
local t0 = sys.clock()
t.fails('a manifest that never returns is stopped',
  'figures/x.lua: did not finish within 2 s (expected a manifest that returns a table)', load, 'while true do end')
t.ok('... and does not hang (killed, not left to run for hours)', sys.clock() - t0 < 60, sys.clock() - t0)
t0 = sys.clock()
t.fails('a pattern that backtracks for hours is stopped', 'figures/x.lua: did not finish within 2 s',
  load, [[return { x = string.find(string.rep('a', 40) .. 'b', ('a*'):rep(20) .. 'c') }]])
t.ok('... and does not hang (killed, not left to run for hours)', sys.clock() - t0 < 60, sys.clock() - t0)

-- Memory: a string of 2^30 bytes, and a table that grows without end.
t.fails('a manifest that allocates 1 GB is stopped',
  'figures/x.lua: used more than 32.0 MB of memory (expected a manifest that returns a table)',
  load, "local s = string.rep('x', 1 << 30) return {}")
t.fails('a table that grows without end is stopped', 'used more than 32.0 MB of memory',
  load, "local t = {} for i = 1, 1e12 do t[i] = string.rep('x', 1 << 20) .. i end return t")

-- What a manifest returns must be data.
t.fails('NaN names the field', "figures/x.lua:5: field 'recipe.steps': NaN (expected a finite number)", load, (grid('lr = 0/0,'):gsub('steps = 8, lr = 0/0', 'steps = 0/0')))
t.fails('Inf names the field', "figures/x.lua:5: field 'recipe.lr': inf (expected a finite number)", load, grid('lr = 1/0,'))
t.fails('-Inf names the field', "field 'recipe.lr': -inf (expected a finite number)", load, grid('lr = -math.huge,'))
t.fails('NaN deep in a list names its place', "field 'cells[1].recipe.objectives[1].weight': NaN (expected a finite number)",
  load, (grid():gsub('channel = 1', 'channel = 1, weight = 0/0')))
t.fails('a cycle names the field', "field 'recipe.param.again': a table that contains itself (expected a tree of tables, without cycles)",
  load, 'local p = {} p.again = p\n' .. grid('param = p,'))
t.fails('a table nested 100,000 deep is refused',
  "tables nested more than 32 deep (expected at most 32)",
  load, 'local t = {} for i = 1, 100000 do t = { t } end\n' .. grid('param = t,'))
t.fails('a literal table nested 100,000 deep is refused', 'figures/x.lua: nested too deeply to read (expected tables at most 32 deep)',
  load, 'return ' .. string.rep('{', 100000) .. string.rep('}', 100000))
t.fails('an infinite key names its place', "field 'recipe[1e9999]': inf (expected a finite number)", load, grid('[1/0] = 1,'))
t.fails('a function is refused', "field 'recipe.lr': a function (expected text, a finite number, true or false, or a table)",
  load, grid('lr = print or tostring,'))
t.fails('a boolean key is refused', "field 'recipe': a key that is true or false (expected a name or an index)",
  load, grid('[true] = 1,'))
t.fails('a table key is refused', "a key that is a table (expected a name or an index)", load, grid('[{}] = 1,'))
t.fails('a shared table repeated past the value limit is refused', 'more than 100000 values in the manifest',
  load, 'local t = {1} for i = 1, 20 do t = { t, t } end\n' .. grid('param = t,'))
manifest.limits.text = 1 << 20
t.fails('more text than the limit is refused', "field 'recipe.layer': more than 1.0 MB of text in the manifest (expected less)",
  load, (grid():gsub('layer = "l"', 'layer = string.rep("x", 2 << 20)')))
manifest.limits.text = 16 << 20
local ok_shared = load('local s = { kind = "channel", channel = 1 }\n' .. grid():gsub('{ kind = "channel", channel = 1 }', 's'))
t.ok('a table used twice (no cycle) is fine', ok_shared ~= nil)

-- Fields, types and escapes.
t.fails('id = 42 is a wrong type, not a file-name mismatch', "figures/x.lua:4: field 'id': expected a string (got number)",
  load, grid(nil, '  id = 42,\n'))
t.fails('a wrong id names the file name', "field 'id': 'y' does not match the file name (expected 'x' or no id)",
  load, grid(nil, '  id = "y",\n'))
local _, esc = load(grid(nil, '  ["a\\27[31m\\nb"] = 1,\n'))
t.ok('an unknown key with controls is escaped', esc and esc:find("field 'a\\x1b[31m\\nb': unknown field", 1, true) ~= nil, esc)
t.ok('... and the message has no control character', esc and not esc:find('%c'), esc)
local _, kesc = load('return { kind = "g\\27[2J", caption = "c" }')
t.ok('an unknown kind is escaped', kesc and kesc:find("unknown kind 'g\\x1b[2J'", 1, true) ~= nil, kesc)
local _, rerr = load('local t = {} t["bad\\27]0;title\\7"].x = 1')
t.ok('a runtime error is escaped', rerr and rerr:find("(field 'bad\\x1b]0;title\\x07')", 1, true) ~= nil and not rerr:find('%c'), rerr)
t.fails('a syntax error names the file', 'figures/x.lua:1:', load, 'return {')
t.fails('io is not there', "figures/x.lua:1: attempt to index a nil value (global 'io')", load, 'return io.open("x")')
t.fails('not a table', 'figures/x.lua:1: manifest must return a table (got number)', load, 'return 1')
local big = assert(io.open('figures/big.lua', 'wb'))
big:write('return {}', string.rep(' ', 2 << 20))
big:close()
t.fails('a manifest over 1 MB is refused before it is read', 'figures/big.lua: 2.0 MB (expected a manifest of at most 1.0 MB)',
  manifest.load, 'figures/big.lua', 'big')

-- Limits first, work after: counts that make outputs are checked before any job is listed.
t.fails('batch = 3e7 is out of range', "figures/x.lua:5: field 'recipe.batch': expected a whole number from 1 to 64", load, grid('batch = 3e7,'))
t.fails("a cell's batch = 30000000 is out of range", "field 'cells[1].recipe.batch': expected a whole number from 1 to 64",
  load, (grid():gsub('objectives =', 'batch = 30000000, objectives =')))
t.fails('5000 snapshots are refused', "field 'recipe.snapshots': 5000 steps (expected at most 1024)",
  load, 'local s = {} for i = 1, 5000 do s[i] = i end\n' .. grid('snapshots = s,'))
t.fails('a snapshot that is not a step is refused', "field 'recipe.snapshots': expected a list of whole numbers from 0 to 1000000",
  load, grid('snapshots = { 0, 2.5 },'))

-- The memo of checked literals: a manifest seen before costs no process, a changed source runs
-- again, a failure is never remembered; and math.random, whose result is no function of the
-- source, is out of the sandbox.
local memo_file = assert(sys.realpath('.')) .. '/manifests.lua'
manifest.load_memo(memo_file)
local real_isolate, runs = manifest.isolate, 0
manifest.isolate = function(...) runs = runs + 1; return real_isolate(...) end
local m1, m2 = load(grid()), load(grid())
t.ok('a manifest seen before loads the same', m1 and m2 and m2.kind == 'grid' and m2.caption == m1.caption, m2)
t.eq('... from the memo, without a second process', 1, runs)
t.ok('a changed source loads', load(grid('lr = 0.1,')) ~= nil)
t.eq('... in a process of its own', 2, runs)
load(grid('lr = 0/0,'))
t.fails('a manifest that fails, twice', 'NaN (expected a finite number)', load, grid('lr = 0/0,'))
t.eq('... runs each time (failures are not remembered)', 4, runs)
manifest.save_memo(true)
manifest.load_memo(memo_file)
t.ok('after saving and loading the memo', load(grid()) ~= nil)
t.eq('... it still answers', 4, runs)
manifest.isolate = real_isolate
t.fails('math.random is not in the sandbox', "attempt to call a nil value (field 'random')",
  load, 'return { kind = "grid", caption = tostring(math.random()) }')

-- In this process (the fuzzer's way) the data checks are the same.
manifest.isolate = manifest.in_process
t.fails('in process: NaN names the field', "figures/x.lua:5: field 'recipe.lr': NaN (expected a finite number)", load, grid('lr = 0/0,'))
t.ok('in process: a grid manifest loads', load(grid()) ~= nil)

t.finish()
