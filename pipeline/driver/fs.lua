-- fs: files for the build driver — reading, atomic writing, content hashes remembered so that
-- an unchanged file is never read twice, and the rule that no path named by an author may leave
-- the project.
--
-- The hash memo (.cache/state/hashes.bin) has two kinds of record:
--   M.hash, M.hash_text  an author's sources, the tools, generated files: trusted while (size,
--                        mtime, inode) are unchanged, as make, ninja and tup do.
--   M.hash_checked       files whose bytes must never be trusted on mtime alone (cache entries,
--                        possibly in a store other machines write; the model): trusted while
--                        (dev, inode, size, mtime, ctime) are unchanged. No user-space call sets
--                        ctime: any write, even one whose mtime is put back with `touch -d`,
--                        changes it (git's index relies on the same).
-- Racily clean files (git's term): a file changed within the same timestamp tick as it was hashed
-- keeps every field. So a hash is remembered only for a file whose mtime and ctime are older
-- than M.racy_ns before the moment it was hashed; a younger file is hashed again next time (and
-- remembered then). The margin covers the file system's coarse clock and, on a shared store,
-- the skew between this machine's clock and the file server's.
local sys = require 'fvsys'
local quote = require 'pipeline.driver.quote'

local M = {}

M.root = nil          -- absolute project root, set by build.lua
-- path -> {size, mtime_ns, ino, sha}; 'text:'..path likewise; 'checked:'..path ->
-- {dev, ino, size, mtime_ns, ctime_ns, sha}
local hash_memo = {}
local memo_path = nil
local memo_dirty = false
local used = {}       -- the records this build looked at: the only ones saved (no stale paths)
M.racy_ns = 2 * 1000000000 -- (tests set it below zero to trust files just written)

function M.read(path)
  local f, err = io.open(path, 'rb')
  if not f then return nil, err end
  local s = f:read('a')
  f:close()
  return s
end

-- Writes through path.tmp.<pid> and a rename: readers see the old file or the new, never half.
function M.write_atomic(path, data)
  local tmp = path .. '.tmp.' .. sys.getpid()
  local f, err = io.open(tmp, 'wb')
  if not f then return nil, err end
  local ok, werr = f:write(data)
  local cok = f:close()
  if not ok or not cok then os.remove(tmp); return nil, tostring(werr) end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

-- Writes text to path (atomically) unless the file holds it already; returns true, or nil and a
-- message. The comparison goes through the hash memo (M.hash): an unchanged file costs a stat
-- and a hash of text, not a read, and keeps its inode and mtime, so the keys that hash it take
-- the memo's answer too. The driver rewrites its generated files (recipes, sprite lists,
-- figures.json, its state) at every build this way: a no-op build writes nothing.
function M.write_if_changed(path, text)
  if M.hash(path) == sys.sha256(text) then return true end
  return M.write_atomic(path, text)
end

-- The last n lines of a text file (one string), and all its lines. The tail is for messages
-- (a failed job's log): each of its lines is escaped, since a tool may echo an author's text.
function M.tail(path, n)
  local s = M.read(path) or ''
  local lines = {}
  for l in s:gmatch('[^\n]+') do lines[#lines + 1] = l end
  local shown = {}
  for i = math.max(1, #lines - n + 1), #lines do shown[#shown + 1] = quote.text(lines[i], 1000) end
  return table.concat(shown, '\n'), lines
end

function M.exists(path) return sys.stat(path) ~= nil end

function M.dirname(path) return path:match('^(.*)/[^/]*$') or '.' end

-- Loads the remembered hashes (fvsys.memo_decode: pipeline/luaext/memo.c has the format). A
-- memo that does not decode (damaged, or of an older version) is left aside: every file is
-- hashed again, and the build saves a new one.
function M.load_memo(path)
  memo_path = path
  local bytes = M.read(path)
  local t = bytes and sys.memo_decode(bytes)
  if t then hash_memo = t end
end

-- A damaged memo costs hashing again, never a wrong hash or a failed save: a record is checked
-- where it is used (memo_get) and where it is written (save_memo), not at load, where checking
-- all of them took a tenth of a no-op build.
local function valid(k, m)
  -- (what fvsys.memo_encode can write: a key of 1 to 65535 bytes, up to 8 integers, a hash)
  if type(k) ~= 'string' or #k > 65535 or type(m) ~= 'table' or #m < 4 or #m > 9 then return false end
  if type(m[#m]) ~= 'string' or #m[#m] == 0 or #m[#m] > 255 then return false end
  for i = 1, #m - 1 do
    if math.type(m[i]) ~= 'integer' then return false end
  end
  return true
end

-- The record under key when it has n fields, the last a hash (its other fields are compared to
-- a stat's integers, which anything else never equals); else nil.
local function memo_get(key, n)
  local m = hash_memo[key]
  if type(m) == 'table' and #m == n and type(m[n]) == 'string' then return m end
end

-- Writes the memo when it changed. prune (after a whole build): only the records this build
-- used, so that paths of replaced entries and deleted sources do not pile up.
function M.save_memo(prune)
  if not memo_path then return end
  local keys = {}
  for k in pairs(hash_memo) do
    if used[k] or not prune then keys[#keys + 1] = k else memo_dirty = true end
  end
  if not memo_dirty then return end
  local n = 0
  for _, k in ipairs(keys) do
    if valid(k, hash_memo[k]) then n = n + 1; keys[n] = k end
  end
  for i = n + 1, #keys do keys[i] = nil end
  table.sort(keys)
  M.write_atomic(memo_path, sys.memo_encode(keys, hash_memo))
  memo_dirty = false
end

-- Remembers record (its last field the hash) under key, unless the file is racily clean: its
-- mtime or ctime is within M.racy_ns of `before` (the clock, in ns, read before its stat).
local function remember(key, st, before, record)
  if st.mtime_ns < before - M.racy_ns and st.ctime_ns < before - M.racy_ns then
    hash_memo[key], used[key], memo_dirty = record, true, true
  elseif hash_memo[key] then
    hash_memo[key], memo_dirty = nil, true
  end
end

-- The clock in the file system's unit, read before a stat: whole seconds, rounded down.
local function now_ns() return os.time() * 1000000000 end

-- sha256 of a file's content; nil, msg when it cannot be read.
function M.hash(path)
  local before = now_ns()
  local st, err = sys.stat(path)
  if not st then return nil, err end
  local m = memo_get(path, 4)
  if m and m[1] == st.size and m[2] == st.mtime_ns and m[3] == st.ino then used[path] = true; return m[4] end
  local h, herr = sys.sha256_file(path)
  if not h then return nil, herr end
  remember(path, st, before, { st.size, st.mtime_ns, st.ino, h })
  return h
end

-- sha256 of a file's content, for files whose bytes must not be trusted on mtime (see the top);
-- and its size. fresh: the file is in a store other machines write (fvsys.stat's fresh).
-- Returns sha, size; or nil, msg.
function M.hash_checked(path, fresh)
  local before = now_ns()
  local st, err = sys.stat(path, fresh)
  if not st then return nil, err end
  local key = 'checked:' .. path
  local m = memo_get(key, 6)
  if m and m[1] == st.dev and m[2] == st.ino and m[3] == st.size and m[4] == st.mtime_ns and m[5] == st.ctime_ns then
    used[key] = true
    return m[6], st.size
  end
  local h, herr = sys.sha256_file(path)
  if not h then return nil, herr end
  remember(key, st, before, { st.dev, st.ino, st.size, st.mtime_ns, st.ctime_ns, h })
  return h, st.size
end

-- sha256 of a text file's content after rewrite(content): for files whose bytes name places
-- that must not count (the driver's generated files; see cache.portable). Remembered like hash.
function M.hash_text(path, rewrite)
  local before = now_ns()
  local st, err = sys.stat(path)
  if not st then return nil, err end
  local mk = 'text:' .. path
  local m = memo_get(mk, 4)
  if m and m[1] == st.size and m[2] == st.mtime_ns and m[3] == st.ino then used[mk] = true; return m[4] end
  local s, rerr = M.read(path)
  if not s then return nil, path .. ': ' .. tostring(rerr) end
  local h = sys.sha256(rewrite(s))
  remember(mk, st, before, { st.size, st.mtime_ns, st.ino, h })
  return h
end

-- Checks that a path an author wrote (relative to base, itself inside the project) stays
-- inside the project: not absolute, no '..' that climbs out, no symlink that leads out.
-- Returns the normalized project-relative path, or nil and the reason.
function M.safe_path(base, rel)
  if type(rel) ~= 'string' or rel == '' then return nil, 'expected a non-empty relative path' end
  if rel:sub(1, 1) == '/' then return nil, "absolute paths are not allowed (expected a path relative to " .. base .. "/)" end
  -- A backslash is a separator elsewhere; a control character would be echoed into messages and
  -- pages. Neither names a file an author means.
  if rel:find('\\', 1, true) then return nil, "invalid character '\\' in path (expected '/' between names)" end
  local c = rel:match('[%c\127]')
  if c then
    return nil, "invalid character '" .. quote.text(c) .. "' in path (expected printable characters)"
  end
  local parts = {}
  for p in (base .. '/' .. rel):gmatch('[^/]+') do
    if p == '..' then
      if #parts == 0 then return nil, 'path leaves the project (expected a file inside ' .. base .. '/)' end
      parts[#parts] = nil
    elseif p ~= '.' then
      parts[#parts + 1] = p
    end
  end
  local norm = table.concat(parts, '/')
  if norm:sub(1, #base + 1) ~= base .. '/' then
    return nil, 'path leaves ' .. base .. '/ (expected a file inside it)'
  end
  -- The deepest part of the path that exists tells where a symlink leads.
  local probe, real = M.root .. '/' .. norm, nil
  while not real and #probe > #M.root do
    real = sys.realpath(probe)
    probe = probe:match('^(.*)/[^/]*$') or M.root
  end
  if real and real ~= M.root and real:sub(1, #M.root + 1) ~= M.root .. '/' then
    return nil, 'path leads outside the project through a symbolic link (expected a file inside the project)'
  end
  return norm
end

function M.human_size(n)
  if n >= 1024 * 1024 then return string.format('%.1f MB', n / 1048576) end
  if n >= 1024 then return string.format('%.0f KB', n / 1024) end
  return n .. ' B'
end

return M
