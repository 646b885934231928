-- test_figures: pipeline/stages/figures.lua — the key of the remembered figure bodies changes
-- with each thing a body is made from (a stale figure would be published silently otherwise).
local t = require 'lib'
local figures = require 'pipeline.stages.figures'

local root = assert(os.getenv('ROOT'), 'ROOT: the checkout')
local function setup()
  local m1 = { id = 'a', file = 'figures/a.lua', src = 'return { kind = "grid" }' }
  local m2 = { id = 'b', file = 'figures/b.lua', src = 'return { kind = "images" }' }
  local b = { env = { quick = false, bin = root .. '/build/release/bin' }, figs = { m1, m2 }, placed = { m1 } }
  local jobs = { { id = 'render:a', key = string.rep('1', 64),
                   meta = { files = { { name = 'render.json', sha256 = string.rep('a', 64) } } } } }
  return b, jobs, { { '/store', '{cache}' } }
end
local function key(change)
  local b, jobs, places = setup()
  if change then change(b, jobs, places) end
  return assert(figures.bodies_key(b, jobs, root, places))
end

local k0 = key()
t.eq('the key is a function of its inputs', k0, key())
t.ok('an output of a job with other bytes (the same key: --force, another CPU)', k0 ~= key(function(_, j) j[1].meta.files[1].sha256 = string.rep('b', 64) end))
t.ok('a job with another key', k0 ~= key(function(_, j) j[1].key = string.rep('2', 64) end))
t.ok('one more job', k0 ~= key(function(_, j) j[2] = { id = 'render:b', key = string.rep('3', 64) } end))
t.ok('an edited manifest, placed or not', k0 ~= key(function(b) b.figs[2].src = b.figs[2].src .. ' ' end))
t.ok('a figure placed', k0 ~= key(function(b) b.placed[2] = b.figs[2] end))
t.ok('the quick article', k0 ~= key(function(b) b.env.quick = true end))
t.ok('another store', k0 ~= key(function(_, _, p) p[1][1] = '/elsewhere' end))
t.ok('other tools', k0 ~= key(function(b) b.env.bin = root .. '/build/asan/bin' end))

-- The driver's code: a copy of it, then one kind edited.
local copy = os.tmpname()
os.remove(copy)
assert(os.execute(string.format("mkdir -p '%s/pipeline' && cp '%s/build.lua' '%s/' && cp -r '%s/pipeline/kinds' '%s/pipeline/stages' '%s/pipeline/driver' '%s/pipeline/'",
  copy, root, copy, root, root, root, copy)))
local function code_key()
  local b, jobs, places = setup()
  return assert(figures.bodies_key(b, jobs, copy, places))
end
local c0 = code_key()
local f = assert(io.open(copy .. '/pipeline/kinds/grid.lua', 'a'))
f:write('\n-- edited\n')
f:close()
t.ok("an edited kind's code", c0 ~= code_key())
os.execute(string.format("rm -rf '%s'", copy))

t.finish()
