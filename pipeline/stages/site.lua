-- Stage "site": publishes build/article/ — the page, the figures' files, our CSS/JS and
-- KaTeX's stylesheet and fonts — as one atomic swap: the new version is assembled beside the
-- old one and exchanged with it in a single rename, so build/article/ is always a complete
-- version. When nothing changed, nothing is touched; when something did, the files that did
-- not are hard links to the published version's (recorded in .article.files), not new copies.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'

local M = {}

local function add_tree(files, src_dir, dest_dir, filter)
  for _, n in ipairs(sys.listdir(src_dir) or {}) do
    local p = src_dir .. '/' .. n
    local st = sys.stat(p)
    if st and st.type == 'dir' then add_tree(files, p, dest_dir .. '/' .. n, filter)
    elseif st and st.type == 'file' and (not filter or filter(n)) then
      files[#files + 1] = { dest = dest_dir .. '/' .. n, src = p }
    end
  end
end

-- templates/assets/ is an author's folder, like content/: whatever is in it is published, so the
-- same rule holds (fs.safe_path): a symbolic link may lead only to something inside the project.
-- A folder is entered once per path down (a link to a folder above would publish the tree again
-- and again), and anything but files and folders (a FIFO, a broken link) is refused, not skipped.
-- Returns true, or nil and "path: what (expected)".
local function add_assets(files, rel_dir, dest_dir, open_dirs)
  for _, n in ipairs(sys.listdir(rel_dir) or {}) do
    local p = rel_dir .. '/' .. n
    local _, perr = fs.safe_path('templates', p:sub(#'templates/' + 1))
    if perr then return nil, p .. ': ' .. perr end
    local st = sys.stat(p)
    if st and st.type == 'dir' then
      local real = sys.realpath(p)
      if open_dirs[real] then
        return nil, p .. ': symbolic link to a folder that contains it (expected files and folders, not a loop)'
      end
      open_dirs[real] = true
      local ok, err = add_assets(files, p, dest_dir .. '/' .. n, open_dirs)
      if not ok then return nil, err end
      open_dirs[real] = nil
    elseif st and st.type == 'file' then
      files[#files + 1] = { dest = dest_dir .. '/' .. n, src = p }
    else
      return nil, p .. ': ' .. (st and 'not a regular file or folder' or 'broken symbolic link')
        .. ' (expected files and folders only)'
    end
  end
  return true
end

-- KaTeX's stylesheet as published: its @font-face rules name the woff2 files only (it also
-- names woff and ttf fallbacks, which the site does not carry: no reference may lead nowhere).
-- Written into gen_dir when its text changes. Returns the path, or nil and a message.
local function katex_css(root, gen_dir)
  local src = root .. '/node_modules/katex/dist/katex.min.css'
  local text, err = fs.read(src)
  if not text then return nil, src .. ': ' .. tostring(err) end
  text = text:gsub(',%s*url%(fonts/[%w_-]+%.woff%)%s*format%("woff"%)', '')
             :gsub(',%s*url%(fonts/[%w_-]+%.ttf%)%s*format%("truetype"%)', '')
  local path = gen_dir .. '/katex.min.css'
  local ok, werr = fs.write_if_changed(path, text)
  if not ok then return nil, werr end
  return path
end

-- Static files every site has. gen_dir: where the driver writes files of its own. A file that
-- must not be published comes back as an entry { error = "path: what (expected)" }, which
-- M.publish refuses with that message (before anything is written).
function M.static_files(root, gen_dir)
  local files = {}
  local ok, aerr = add_assets(files, 'templates/assets', 'assets', { [sys.realpath('templates/assets') or ''] = true })
  if not ok then return { { error = aerr } } end
  local css = assert(katex_css(root, gen_dir))
  files[#files + 1] = { dest = 'assets/katex/katex.min.css', src = css }
  -- woff2 only: every browser that runs the page reads it, and it is the smallest.
  add_tree(files, root .. '/node_modules/katex/dist/fonts', 'assets/katex/fonts', function(n) return n:match('%.woff2$') end)
  return files
end

-- The published version's files as recorded when it was published: dest -> {sha256, size,
-- mtime_ns, ctime_ns, ino} ({} when there is no record, or a damaged one: everything is copied).
local function read_listing(path)
  local chunk = loadfile(path, 't', {})
  local ok, t = pcall(chunk or error)
  return ok and type(t) == 'table' and t or {}
end

-- Records out_dir's files (after the swap and the removal of the version before: both change
-- the ctime of a linked file).
local function write_listing(path, files, out_dir)
  local out = { 'return {' }
  for _, f in ipairs(files) do
    local st = sys.stat(out_dir .. '/' .. f.dest)
    if st then
      out[#out + 1] = string.format('[%q]={%q,%d,%d,%d,%d},', f.dest, f.sha, st.size, st.mtime_ns, st.ctime_ns, st.ino)
    end
  end
  out[#out + 1] = '}\n'
  fs.write_atomic(path, table.concat(out, '\n'))
end

-- Publishes files ({dest, src}, or {error} to refuse) to out_dir. Returns {changed, bytes, count} or nil, msg.
function M.publish(files, out_dir)
  for _, f in ipairs(files) do
    if f.error then return nil, f.error end
  end
  table.sort(files, function(a, b) return a.dest < b.dest end)
  local lines, bytes = {}, 0
  for i, f in ipairs(files) do
    if i > 1 and files[i - 1].dest == f.dest then return nil, 'two files published as ' .. f.dest end
    local h, err = cache.hash_file(f.src)
    if not h then return nil, err end
    bytes = bytes + sys.stat(f.src).size
    lines[#lines + 1] = f.dest .. ' ' .. h
    f.sha = h
  end
  local key = sys.sha256(table.concat(lines, '\n'))
  local stamp = fs.dirname(out_dir) .. '/.' .. out_dir:match('[^/]+$') .. '.key'
  if fs.read(stamp) == key and sys.stat(out_dir) then
    return { changed = false, bytes = bytes, count = #files }
  end
  -- A build killed while assembling leaves its article.new.<pid>; we hold the build lock, so
  -- every such directory is stale.
  local base = out_dir:match('[^/]+$')
  for _, n in ipairs(sys.listdir(fs.dirname(out_dir)) or {}) do
    if n:sub(1, #base + 5) == base .. '.new.' then sys.rm_rf(fs.dirname(out_dir) .. '/' .. n) end
  end
  local stage = string.format('%s.new.%d', out_dir, sys.getpid())
  local listing = fs.dirname(out_dir) .. '/.' .. base .. '.files'
  local before = read_listing(listing)
  for i, f in ipairs(files) do
    local dest = stage .. '/' .. f.dest
    assert(sys.mkdir_p(fs.dirname(dest)))
    local ok, err
    -- A file of the published version with the same content, untouched since (its whole stat
    -- as recorded, ctime included): linked, not copied again.
    local old, was = out_dir .. '/' .. f.dest, before[f.dest]
    local st = was and was[1] == f.sha and sys.stat(old)
    if st and st.size == was[2] and st.mtime_ns == was[3] and st.ctime_ns == was[4] and st.ino == was[5] then
      ok = sys.link(old, dest)
    end
    if not ok then ok, err = sys.copy(f.src, dest) end
    if not ok then sys.rm_rf(stage); return nil, err end
  end
  if sys.stat(out_dir) then
    local ok, err = sys.exchange(stage, out_dir)
    if not ok then sys.rm_rf(stage); return nil, err end
    sys.rm_rf(stage) -- now the previous version
  else
    assert(sys.mkdir_p(fs.dirname(out_dir)))
    local ok, err = os.rename(stage, out_dir)
    if not ok then sys.rm_rf(stage); return nil, err end
  end
  write_listing(listing, files, out_dir)
  fs.write_atomic(stamp, key)
  return { changed = true, bytes = bytes, count = #files }
end

return M
