-- Stage "model": the pretrained network, fetched once with `npm pack`, verified against the
-- checksums pinned below (M.files: the package's own files, as published), and kept in
-- .cache/models/mbv3-coco/ (or FV_MODEL_DIR). A file that does not match its checksum is never
-- used: a damaged copy is fetched again, a package that does not match is refused.
--
-- The copy's hashes come from fs.hash_checked: from the bytes unless (dev, inode, size, mtime,
-- ctime) are those of the last hash, so a byte changed in place with its mtime put back is still
-- found (its ctime changed). The attributes are read through open: the copy may sit in a store
-- that other machines write.
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

-- nil when every file of the copy matches its checksum; else one line naming the first that
-- does not (or is missing).
local function mismatch()
  for _, f in ipairs(M.files) do
    local path = M.dir .. '/' .. f.name
    local h = fs.hash_checked(path, true)
    if h ~= f.sha256 then
      if not h then return path .. ': missing' end
      return string.format('%s: sha256 %s (expected %s)', path, h, f.sha256)
    end
  end
end

-- Makes sure the verified model is in place. Returns the directory, or nil and a message.
function M.ensure(quiet)
  local bad = mismatch()
  if not bad then return M.dir end
  -- A copy that exists but does not match was damaged here: say so, whatever `quiet` says.
  if sys.stat(M.dir .. '/' .. M.files[1].name) or sys.stat(M.dir .. '/' .. M.files[2].name) then
    io.stderr:write('model: ' .. bad .. '; fetching it again\n')
  end
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
  bad = mismatch()
  if bad then return nil, 'model: ' .. bad .. ' after install' end
  return M.dir
end

return M
