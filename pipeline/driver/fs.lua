-- fs: files for the build driver — reading, atomic writing, content hashes remembered by
-- (size, mtime, inode) so that an unchanged file is never read twice, and the rule that no path
-- named by an author may leave the project.
local sys = require 'fvsys'
local quote = require 'pipeline.driver.quote'

local M = {}

M.root = nil          -- absolute project root, set by build.lua
local hash_memo = {}  -- path -> {size, mtime_ns, ino, sha}
local memo_path = nil
local memo_dirty = false

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

-- Loads the remembered hashes (a Lua table literal: fast to load, no parser of ours needed).
function M.load_memo(path)
  memo_path = path
  local chunk = loadfile(path, 't', {})
  if chunk then
    local ok, t = pcall(chunk)
    if ok and type(t) == 'table' then hash_memo = t end
  end
end

function M.save_memo()
  if not memo_dirty or not memo_path then return end
  local keys = {}
  for k in pairs(hash_memo) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = { 'return {\n' }
  for _, k in ipairs(keys) do
    local m = hash_memo[k]
    out[#out + 1] = string.format('[%q]={%d,%d,%d,%q},\n', k, m[1], m[2], m[3], m[4])
  end
  out[#out + 1] = '}\n'
  M.write_atomic(memo_path, table.concat(out))
  memo_dirty = false
end

-- sha256 of a file's content; nil, msg when it cannot be read.
function M.hash(path)
  local st, err = sys.stat(path)
  if not st then return nil, err end
  local m = hash_memo[path]
  if m and m[1] == st.size and m[2] == st.mtime_ns and m[3] == st.ino then return m[4] end
  local h, herr = sys.sha256_file(path)
  if not h then return nil, herr end
  hash_memo[path] = { st.size, st.mtime_ns, st.ino, h }
  memo_dirty = true
  return h
end

-- sha256 of a text file's content after rewrite(content): for files whose bytes name places
-- that must not count (the driver's generated files; see cache.portable). Remembered like hash.
function M.hash_text(path, rewrite)
  local st, err = sys.stat(path)
  if not st then return nil, err end
  local mk = 'text:' .. path
  local m = hash_memo[mk]
  if m and m[1] == st.size and m[2] == st.mtime_ns and m[3] == st.ino then return m[4] end
  local s, rerr = M.read(path)
  if not s then return nil, path .. ': ' .. tostring(rerr) end
  local h = sys.sha256(rewrite(s))
  hash_memo[mk] = { st.size, st.mtime_ns, st.ino, h }
  memo_dirty = true
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
