-- cache: content-addressed results in <store>/objects/<key>/, shared by any number of checkouts,
-- builds and machines at once.
--
-- Two places (build.lua sets both):
--   M.dir        the store: objects/ (entries), tmp/ (entries being written), farm/ (queues of
--                the Slurm farm). FV_CACHE=DIR puts it anywhere (NFS included); by default it is
--                the project's .cache/.
--   M.local_dir  this checkout's own: the build lock, state/ (hash memo, manifests' memo, job
--                times) and gen/ (the files the driver writes for its jobs: recipes, sprite
--                lists, figures.json).
--
-- A job's key is the sha256 of everything that determines its output: the hashes of its tools'
-- binaries, its command line (with placeholders, not temporary paths), its recipe, the content
-- hashes of its input files and the keys of the jobs it depends on. Keys name no place: every
-- absolute path of the tools, the project, the store, the entries or the model is replaced by a
-- token ({root}, {project}, {objects}, {model}, ...) before hashing, and so is every such path
-- inside the files the driver generates for its jobs. Any checkout of the same sources,
-- wherever it lives, computes the same keys and hits the same entries.
--
-- An entry is a directory holding the job's output files and `.meta` (a Lua table: job id, key,
-- each file's size and sha256, seconds taken, CPU seconds when known, the tools' sha256).
-- Entries appear only by renaming a finished temporary directory, so a reader never sees half
-- an entry; two writers finishing the same key leave one entry (the first rename wins, the
-- second finds it there). An entry whose files no longer match its record is moved out of the
-- way in one rename, then removed, and rebuilt.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'

local M = {}

M.dir = '.cache'
M.local_dir = '.cache'
M.places = {} -- { {absolute prefix, token}, ... }, longest prefix first (M.set_places)
local VERSION = 'fv-cache-2'

function M.objects() return M.dir .. '/objects' end
function M.tmp() return M.dir .. '/tmp' end
function M.gen() return M.local_dir .. '/gen' end

-- Places whose absolute paths keys must not contain: list of {path, token}. ('/' itself is
-- no place: every path would name it.)
function M.set_places(list)
  local p = {}
  for i, x in ipairs(list) do
    if x[1] and x[1]:sub(1, 1) == '/' and x[1]:find('[^/]') then p[#p + 1] = { (x[1]:gsub('/+$', '')), x[2], i } end
  end
  table.sort(p, function(a, b)
    if #a[1] ~= #b[1] then return #a[1] > #b[1] end
    return a[3] < b[3]
  end)
  M.places = p
end

-- s with every known absolute place replaced by its token (a whole path component only: a
-- project at /a/p does not rewrite /a/p2). In C (pipeline/luaext/canon.c): it runs for every
-- string of every recipe at every build.
local portable, canon_c = sys.portable, sys.canon
function M.portable(s) return portable(s, M.places) end

-- Stable text of a recipe value (tables with sorted keys), with places replaced by tokens
-- (canon.c; tests/lua/test_cache.lua holds the Lua it was written from).
local function canon(v) return canon_c(v, M.places) end

-- A file the driver generated for a job (under gen/): its content names places too.
local function generated(path)
  local g = M.gen() .. '/'
  return path:sub(1, #g) == g or path:sub(1, 11) == '.cache/gen/'
end

-- The sha256 of a file's bytes (a job's input, a file the site publishes); nil, msg when it
-- cannot be read. A file of a cache entry (another job's output) is hashed as M.lookup hashes
-- it (fs.hash_checked): the same sha256 from the same memo record, so that it costs one stat
-- and one record a build, not two of each.
function M.hash_file(path)
  local o = M.objects() .. '/'
  if path:sub(1, #o) == o then return fs.hash_checked(path, M.dir ~= M.local_dir) end
  return fs.hash(path)
end

-- The tools' hashes, once a process: a build takes its tools as they were when it began (a
-- hundred jobs name the same two tools; a stat each cost a no-op build 2 %).
-- A job's key holds these, and the runner checks a tool against them before it starts a job.
local tool_hashes = {}

-- The hash of tool as this build took it; nil and a message when it is not built.
function M.tool_hash(tool)
  local h = tool_hashes[tool]
  if h then return h end
  local err
  h, err = fs.hash(tool)
  if not h then return nil, 'tool ' .. tool .. ' is not built (' .. err .. ')' end
  tool_hashes[tool] = h
  return h
end

-- Computes job.key. deps_keys: keys of the jobs it depends on, in job.deps order.
-- Returns the key, or nil and a message naming the missing input.
function M.key(job, deps_keys)
  local parts = { VERSION, 'argv=' .. canon(job.argv), 'recipe=' .. canon(job.recipe or '') }
  for _, tool in ipairs(job.tools or {}) do
    local h, err = M.tool_hash(tool)
    if not h then return nil, err end
    parts[#parts + 1] = 'tool=' .. (tool:match('[^/]+$') or tool) .. ':' .. h -- by content only
  end
  for _, input in ipairs(job.inputs or {}) do
    local h, err
    if generated(input) then h, err = fs.hash_text(input, M.portable) else h, err = M.hash_file(input) end
    if not h then return nil, err end
    parts[#parts + 1] = 'in=' .. M.portable(input) .. ':' .. h
  end
  for i, k in ipairs(deps_keys) do parts[#parts + 1] = 'dep=' .. job.deps[i] .. ':' .. k end
  return sys.sha256(table.concat(parts, '\n'))
end

function M.entry(key) return M.objects() .. '/' .. key end

-- The .meta of the entry in dir, or nil when it has none that loads.
local function load_meta(dir)
  local chunk = loadfile(dir .. '/.meta', 't', {})
  if not chunk then return nil end
  local ok, meta = pcall(chunk)
  if ok and type(meta) == 'table' then return meta end
end
M.read_meta = load_meta

-- This machine's name, in temporary names: several machines write into one store.
local host = (fs.read('/proc/sys/kernel/hostname') or 'host'):gsub('%s+$', ''):gsub('[^%w_-]', '_')
M.host = host

-- A unique path in tmp/ (or in dir, on the store's file system) for this process; prefix:
-- what it is for.
local serial = 0
function M.tmp_path(prefix, dir)
  serial = serial + 1
  return string.format('%s/%s.%s.%d.%d', dir or M.tmp(), prefix, host, sys.getpid(), serial)
end

-- Takes a directory out of objects/ in one rename (readers see it whole or not at all), then
-- removes it.
local function discard(dir)
  local away = M.tmp_path('discard')
  if os.rename(dir, away) then sys.rm_rf(away) end
end

-- Returns the entry's meta when a valid entry exists. A file whose size changed, or whose
-- content no longer matches the recorded hash, makes the entry invalid: it is removed and
-- rebuilt, never served. outputs (optional): names the entry must hold.
-- A file's hash comes from fs.hash_checked: from its bytes, unless its (dev, inode, size,
-- mtime, ctime) are those it had when this checkout last hashed it. ctime is what catches a
-- byte changed in place with its mtime put back (no user-space call sets ctime), here or, in a
-- shared store, on another machine (there the attributes are read through open, which
-- revalidates them on NFS). Measured: hashing the article's entries (1,472 files, 44 MB) from
-- their bytes took 0.06 s from the page cache, 0.4 s from a cold disk, about half of a no-op
-- build's own CPU time; their stat takes a few ms.
function M.lookup(key, outputs)
  local dir = M.entry(key)
  local meta = load_meta(dir)
  if not meta or meta.key ~= key then
    if fs.exists(dir) then
      discard(dir)
      return nil, 'cache entry ' .. key:sub(1, 12) .. ' had no valid record; rebuilding'
    end
    return nil
  end
  local have = {}
  for _, f in ipairs(meta.files or {}) do
    local path = dir .. '/' .. f.name
    local h, size = fs.hash_checked(path, M.dir ~= M.local_dir)
    local ok = h and size == f.size and h == f.sha256
    if not ok then
      discard(dir)
      return nil, 'cache entry ' .. key:sub(1, 12) .. ' was damaged (' .. f.name .. '); rebuilding'
    end
    have[f.name] = true
  end
  for _, name in ipairs(outputs or {}) do
    if not have[name] then
      discard(dir)
      return nil, 'cache entry ' .. key:sub(1, 12) .. ' lacks ' .. name .. '; rebuilding'
    end
  end
  return meta
end

-- A fresh temporary directory for a job's outputs (in tmp/, or in dir).
function M.new_tmp(key, dir)
  dir = M.tmp_path(key, dir)
  sys.rm_rf(dir)
  local ok, err = sys.mkdir_p(dir)
  if not ok then return nil, err end
  return dir
end

-- Records the outputs of a finished job and publishes the temporary directory as the entry.
-- replace: the job ran again on purpose (--force): the new entry takes the old one's place in
-- one step. Returns meta, or nil and a message when an expected output is missing.
-- cpu: the job's CPU seconds (user + system), or nil: the atlas's estimate prices renders by it,
-- which the machine's other work does not inflate as it does the wall time.
function M.store(job, key, tmp, seconds, replace, cpu)
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
      sys.rm_rf(tmp)
      return nil, string.format("job '%s' did not write its output '%s'", job.id, name)
    end
    files[#files + 1] = { name = name, size = st.size, sha256 = sys.sha256_file(path) }
  end
  -- The sha256 of each tool the job ran, by file name: which renderer made an entry (the atlas's
  -- estimate prefers the times of the current one).
  local tools, tl = {}, {}
  for path, h in pairs(job.tool_hashes or {}) do tools[path:match('[^/]+$')] = h end
  for name, h in pairs(tools) do tl[#tl + 1] = string.format('[%q]=%q', name, h) end
  table.sort(tl)
  local meta = { id = job.id, key = key, seconds = seconds, cpu = cpu, files = files, tools = tools }
  local lines = { 'return {', string.format('id=%q, key=%q, seconds=%.3f,%s tools={%s}, files={', job.id, key, seconds,
                                            cpu and string.format(' cpu=%.3f,', cpu) or '', table.concat(tl, ', ')) }
  for _, f in ipairs(files) do
    lines[#lines + 1] = string.format('{name=%q, size=%d, sha256=%q},', f.name, f.size, f.sha256)
  end
  lines[#lines + 1] = '}}'
  local ok, err = fs.write_atomic(tmp .. '/.meta', table.concat(lines, '\n') .. '\n')
  if not ok then sys.rm_rf(tmp); return nil, err end
  local dest = M.entry(key)
  if replace and fs.exists(dest) and sys.exchange(tmp, dest) then
    sys.rm_rf(tmp) -- now the old entry
    return meta
  end
  -- rename(2) onto an existing, non-empty directory fails: then an identical job (another
  -- build, another node) finished first, and content-addressed, either will do.
  local rok, rerr = os.rename(tmp, dest)
  if not rok then
    sys.rm_rf(tmp)
    if not fs.exists(dest .. '/.meta') then return nil, 'cache: cannot publish ' .. dest .. ': ' .. tostring(rerr) end
  end
  return meta
end

-- Removes temporary files and farm queues that no running process owns: this machine's whose
-- process is gone, and any machine's older than a day (a node that died). Other builds' work in
-- progress stays.
function M.clean_tmp()
  local now = os.time()
  for _, n in ipairs(sys.listdir(M.tmp()) or {}) do
    local h, pid = n:match('^[^.]+%.([^.]+)%.(%d+)%.')
    local path = M.tmp() .. '/' .. n
    local st = sys.lstat(path)
    local gone = h == host and not sys.kill(tonumber(pid), 0)
    local old = st and now - st.mtime_ns // 1000000000 > 86400
    if gone or old or not h then sys.rm_rf(path) end
  end
  -- The farm's queues (farm/<host>.<pid>.<time>) of builds that were killed: their workers
  -- leave when the queue is gone.
  for _, n in ipairs(sys.listdir(M.dir .. '/farm') or {}) do
    local h, pid = n:match('^(.+)%.(%d+)%.%d+$')
    local st = sys.lstat(M.dir .. '/farm/' .. n)
    if (h == host and not sys.kill(tonumber(pid), 0)) or (st and now - st.mtime_ns // 1000000000 > 86400) then
      sys.rm_rf(M.dir .. '/farm/' .. n)
    end
  end
end

return M
