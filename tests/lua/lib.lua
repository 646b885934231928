-- lib: the checks of the Lua unit suites (tests/lua/test_*.lua, run by tests/cli/lua.sh).
-- Each check prints "ok   name" or "FAIL name" and its detail, the lines tests/cli/lib.sh
-- prints, so the runner counts both alike; finish() prints the tally and sets the exit status.
local M = { passed = 0, failed = 0 }

local function show(v)
  if type(v) == 'string' then return string.format('%q', v) end
  return tostring(v)
end

function M.ok(name, cond, detail)
  if cond then
    M.passed = M.passed + 1
    io.stdout:write('ok   ', name, '\n')
  else
    M.failed = M.failed + 1
    io.stdout:write('FAIL ', name, '\n')
    if detail then io.stdout:write('     ', tostring(detail), '\n') end
  end
  return cond
end

function M.eq(name, want, got)
  return M.ok(name, want == got, 'want: ' .. show(want) .. '\n     got:  ' .. show(got))
end

-- The error fn raises (or the message of its nil, msg) must contain `want`, plainly.
function M.fails(name, want, fn, ...)
  local ok, a, b = pcall(fn, ...)
  local msg
  if not ok then msg = a elseif a == nil then msg = b end
  if msg == nil then return M.ok(name, false, 'expected a failure, got ' .. show(a)) end
  return M.ok(name, tostring(msg):find(want, 1, true) ~= nil,
              'want: ' .. show(want) .. '\n     got:  ' .. show(msg))
end

-- A scratch project for the driver's modules: ./work made afresh (the suite runs in a directory
-- of its own), fs.root there, and a cache store of its own in work/store (objects/, tmp/, gen/
-- as build.lua makes them; local state in work/local). Returns the work directory's path.
function M.scratch_store()
  local sys = require 'fvsys'
  local fs = require 'pipeline.driver.fs'
  local cache = require 'pipeline.driver.cache'
  local W = assert(sys.realpath('.')) .. '/work'
  sys.rm_rf(W)
  assert(sys.mkdir_p(W))
  fs.root = W
  cache.dir, cache.local_dir = W .. '/store', W .. '/local'
  for _, d in ipairs({ cache.objects(), cache.tmp(), cache.gen() }) do assert(sys.mkdir_p(d)) end
  return W
end

function M.finish()
  io.stdout:write(string.format('%d passed, %d failed\n', M.passed, M.failed))
  os.exit(M.failed == 0 and 0 or 1)
end

return M
