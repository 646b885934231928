-- cache: content-addressed results in .cache/objects/<key>/.
--
-- A job's key is the sha256 of everything that determines its output: the hashes of its tools'
-- binaries, its command line (with placeholders, not temporary paths), its recipe, the content
-- hashes of its input files and the keys of the jobs it depends on. An entry is a directory
-- holding the job's output files and `.meta` (a Lua table: job id, key, each file's size and
-- sha256, seconds taken). Entries appear by renaming a finished temporary directory, so an
-- interrupted job never leaves a half-written entry.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'

local M = {}

M.dir = '.cache'
local VERSION = 'fv-cache-1'

function M.objects() return M.dir .. '/objects' end
function M.tmp() return M.dir .. '/tmp' end

-- Stable text of a recipe value (tables with sorted keys).
local function canon(v)
  local t = type(v)
  if t == 'table' then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. '=' .. canon(v[k]) end
    return '{' .. table.concat(out, ',') .. '}'
  end
  return t:sub(1, 1) .. ':' .. tostring(v)
end

-- Computes job.key. deps_keys: keys of the jobs it depends on, in job.deps order.
-- Returns the key, or nil and a message naming the missing input.
function M.key(job, deps_keys)
  local parts = { VERSION, 'argv=' .. canon(job.argv), 'recipe=' .. canon(job.recipe or '') }
  for _, tool in ipairs(job.tools or {}) do
    local h, err = fs.hash(tool)
    if not h then return nil, 'tool ' .. tool .. ' is not built (' .. err .. ')' end
    parts[#parts + 1] = 'tool=' .. tool .. ':' .. h
  end
  for _, input in ipairs(job.inputs or {}) do
    local h, err = fs.hash(input)
    if not h then return nil, err end
    parts[#parts + 1] = 'in=' .. input .. ':' .. h
  end
  for i, k in ipairs(deps_keys) do parts[#parts + 1] = 'dep=' .. job.deps[i] .. ':' .. k end
  return sys.sha256(table.concat(parts, '\n'))
end

function M.entry(key) return M.objects() .. '/' .. key end

local function load_meta(dir)
  local chunk = loadfile(dir .. '/.meta', 't', {})
  if not chunk then return nil end
  local ok, meta = pcall(chunk)
  if ok and type(meta) == 'table' then return meta end
end

-- Returns the entry's meta when a valid entry exists. A file whose size changed, or whose
-- content no longer matches the recorded hash, makes the entry invalid: it is removed and
-- rebuilt, never served.
function M.lookup(key)
  local dir = M.entry(key)
  local meta = load_meta(dir)
  if not meta then
    if fs.exists(dir) then sys.rm_rf(dir) end
    return nil
  end
  for _, f in ipairs(meta.files or {}) do
    local path = dir .. '/' .. f.name
    local st = sys.stat(path)
    local ok = st and st.size == f.size and fs.hash(path) == f.sha256
    if not ok then
      sys.rm_rf(dir)
      return nil, 'cache entry ' .. key:sub(1, 12) .. ' was damaged (' .. f.name .. '); rebuilding'
    end
  end
  return meta
end

-- A fresh temporary directory for a job's outputs.
function M.new_tmp(key)
  local dir = string.format('%s/%s.%d', M.tmp(), key, sys.getpid())
  sys.rm_rf(dir)
  assert(sys.mkdir_p(dir))
  return dir
end

-- Records the outputs of a finished job and publishes the temporary directory as the entry.
-- Returns meta, or nil and a message when an expected output is missing.
function M.store(job, key, tmp, seconds)
  local files = {}
  local names = job.outputs
  if not names then -- a job whose output names depend on its work: everything it wrote
    names = {}
    for _, n in ipairs(sys.listdir(tmp) or {}) do
      local st = sys.stat(tmp .. '/' .. n)
      if n:sub(1, 1) ~= '.' and st and st.type == 'file' then names[#names + 1] = n end
    end
  end
  for _, name in ipairs(names) do
    local path = tmp .. '/' .. name
    local st = sys.stat(path)
    if not st or st.type ~= 'file' then
      return nil, string.format("job '%s' did not write its output '%s'", job.id, name)
    end
    files[#files + 1] = { name = name, size = st.size, sha256 = sys.sha256_file(path) }
  end
  local meta = { id = job.id, key = key, seconds = seconds, files = files }
  local lines = { 'return {', string.format('id=%q, key=%q, seconds=%.3f, files={', job.id, key, seconds) }
  for _, f in ipairs(files) do
    lines[#lines + 1] = string.format('{name=%q, size=%d, sha256=%q},', f.name, f.size, f.sha256)
  end
  lines[#lines + 1] = '}}'
  local ok, err = fs.write_atomic(tmp .. '/.meta', table.concat(lines, '\n') .. '\n')
  if not ok then return nil, err end
  local dest = M.entry(key)
  if fs.exists(dest) then
    sys.rm_rf(tmp) -- an identical job finished first; content-addressed, so either will do
  else
    local rok, rerr = os.rename(tmp, dest)
    if not rok then return nil, 'cache: cannot publish ' .. dest .. ': ' .. tostring(rerr) end
  end
  return meta
end

-- Removes temporary directories left by an interrupted build (safe: we hold the build lock).
function M.clean_tmp()
  local names = sys.listdir(M.tmp())
  for _, n in ipairs(names or {}) do sys.rm_rf(M.tmp() .. '/' .. n) end
end

return M
