-- test_bytecode: pipeline/driver/bytecode.lua, the searcher that loads a module from the
-- bytecode `make tools` compiled only while it is current, and the tree make tools compiled.
local t = require 'lib'
local bytecode = require 'pipeline.driver.bytecode'
local sys = require 'fvsys'

local function write(path, text)
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end
local function sh(cmd) assert(os.execute(cmd), cmd) end

sh('rm -rf src bc && mkdir -p src/a bc/a')
write('src/a/m.lua', 'return { v = 1 }\n')
sh('luac5.4 -o bc/a/m.luac src/a/m.lua && touch -r src/a/m.lua bc/a/m.luac')
local search = bytecode.searcher('src', 'bc', sys.stat)

local chunk, where = search('a.m')
t.ok('current bytecode is found', type(chunk) == 'function', where)
t.eq('... named by its path', 'bc/a/m.luac', where)
t.eq('... and is the module', 1, type(chunk) == 'function' and chunk().v)
t.ok('... and is recorded as loaded from bytecode', bytecode.loaded['a.m'])

-- An edit gives the source a new mtime: the source wins until make tools compiles it again.
write('src/a/m.lua', 'return { v = 2 }\n')
sh('touch -d "+1 second" src/a/m.lua')
chunk, where = search('a.m')
t.ok('an edited source is not served from the old bytecode', type(chunk) == 'string', tostring(where))
t.ok('... and the message says why', type(chunk) == 'string' and chunk:find('not current', 1, true))
-- (require then goes on to Lua's own searcher, which loads the source)

-- A copy with the source's mtime that does not load (cut short) falls back to the source.
sh('luac5.4 -o bc/a/m.luac src/a/m.lua && head -c 20 bc/a/m.luac > bc/a/cut && mv bc/a/cut bc/a/m.luac')
sh('touch -r src/a/m.lua bc/a/m.luac')
chunk = search('a.m')
t.ok('bytecode cut short is not loaded', type(chunk) == 'string', tostring(chunk))

t.ok('a module without bytecode is left to the next searcher', type(search('a.none')) == 'string')
sh('rm src/a/m.lua')
t.ok('bytecode without its source is not loaded', type(search('a.m')) == 'string')

-- The tree: `make tools` (run before the tests) compiled every module of the driver, and each
-- copy is current, so that build.lua parses none of them.
local root, variant = os.getenv('ROOT'), os.getenv('VARIANT') or 'release'
if root then
  local p = io.popen('cd ' .. root .. ' && find pipeline -name "*.lua"')
  local stale, n = {}, 0
  for rel in p:lines() do
    n = n + 1
    local s, b = sys.stat(root .. '/' .. rel), sys.stat(root .. '/build/' .. variant .. '/luac/' .. rel .. 'c')
    if not (s and b and s.mtime_ns == b.mtime_ns) then stale[#stale + 1] = rel end
  end
  p:close()
  t.ok('make tools compiled every module of pipeline/ (' .. n .. ')', n > 20 and #stale == 0,
       'not current: ' .. table.concat(stale, ', '))
end

t.finish()
