-- Stage "model": the pretrained network, fetched once with `npm pack`, verified against the
-- checksums in ../shared/DESIGN.md, and kept in .cache/models/mbv3-coco/. A file that does not
-- match its checksum is refused and never used.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local proc = require 'pipeline.driver.proc'

local M = {}

M.package = '@vladmandic/human@3.3.6'
-- Beside the tools (the pipeline's root), not per project: every project built with these tools
-- shares one verified copy. build.lua sets the absolute path.
M.dir = '.cache/models/mbv3-coco'
M.files = {
  { name = 'centernet.json', member = 'package/models/centernet.json',
    sha256 = 'bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05' },
  { name = 'centernet.bin', member = 'package/models/centernet.bin',
    sha256 = '1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef' },
}

-- Runs a command, its output (both streams) into log. Returns ok.
local function run(argv, log)
  local ok, _, out, err = proc.run(argv, fs.dirname(log))
  fs.write_atomic(log, out .. err)
  return ok
end

local function verified()
  for _, f in ipairs(M.files) do
    if fs.hash(M.dir .. '/' .. f.name) ~= f.sha256 then return false end
  end
  return true
end

-- Makes sure the verified model is in place. Returns the directory, or nil and a message.
function M.ensure(quiet)
  if verified() then return M.dir end
  -- Beside the model's directory, so that the verified files arrive there by rename.
  local tmp = string.format('%s.fetch.%s.%d', M.dir, require('pipeline.driver.cache').host, sys.getpid())
  sys.rm_rf(tmp)
  assert(sys.mkdir_p(tmp))
  if not quiet then io.stderr:write('model: fetching ' .. M.package .. ' (28 MB) with npm pack\n') end
  local log = tmp .. '/log'
  local ok = run({ 'npm', 'pack', '--silent', '--pack-destination', tmp, M.package }, log)
  local tgz
  for _, n in ipairs(sys.listdir(tmp) or {}) do if n:match('%.tgz$') then tgz = tmp .. '/' .. n end end
  if not ok or not tgz then
    local msg = (fs.read(log) or ''):gsub('%s+$', '')
    sys.rm_rf(tmp)
    return nil, 'model: npm pack ' .. M.package .. ' failed: ' .. msg
  end
  local members = {}
  for _, f in ipairs(M.files) do members[#members + 1] = f.member end
  ok = run({ 'tar', '-xzf', tgz, '-C', tmp, table.unpack(members) }, log)
  if not ok then
    sys.rm_rf(tmp)
    return nil, 'model: ' .. tgz .. ' is not a valid package tarball (expected ' .. table.concat(members, ', ') .. ')'
  end
  for _, f in ipairs(M.files) do
    local h = sys.sha256_file(tmp .. '/' .. f.member)
    if h ~= f.sha256 then
      sys.rm_rf(tmp)
      return nil, string.format('model: %s in %s has sha256 %s (expected %s); refusing it',
        f.member, M.package, tostring(h), f.sha256)
    end
  end
  assert(sys.mkdir_p(M.dir))
  for _, f in ipairs(M.files) do
    local ok2, err = os.rename(tmp .. '/' .. f.member, M.dir .. '/' .. f.name)
    if not ok2 then sys.rm_rf(tmp); return nil, err end
  end
  sys.rm_rf(tmp)
  if not verified() then return nil, 'model: verification failed after install' end
  return M.dir
end

return M
