-- test_cache: pipeline/driver/cache.lua — keys that name no place, entries published by rename,
-- --force's exchange, damaged entries discarded (a byte changed in place with its stat kept
-- included, with and without the entry memo; its racy rule), and which temporary files clean_tmp removes. Runs in a scratch directory of its own
-- (tests/cli/lua.sh); everything it makes is under ./work.
local t = require 'lib'
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local cache = require 'pipeline.driver.cache'

-- A store of its own: objects/ and tmp/ as build.lua makes them.
local W = t.scratch_store()
local function write(path, text)
  assert(sys.mkdir_p(fs.dirname(path)))
  assert(fs.write_atomic(path, text))
end

-- ---- keys name no place
cache.set_places({ { W .. '/a/p', '{project}' }, { W .. '/a', '{root}' }, { W .. '/store', '{cache}' } })
t.eq('a path under a place becomes its token', '{project}/figures/x.lua', cache.portable(W .. '/a/p/figures/x.lua'))
t.eq('the longest place wins', '{root}/q {project}', cache.portable(W .. '/a/q ' .. W .. '/a/p'))
t.eq('a place is a whole path component (p2 is not p)', '{root}/p2/x', cache.portable(W .. '/a/p2/x'))
t.eq('a place inside quotes is replaced', '"{cache}/objects"', cache.portable('"' .. W .. '/store/objects"'))
t.eq('text that names no place is kept', 'relative/path --flag', cache.portable('relative/path --flag'))

-- The keys' text is made in C (pipeline/luaext/canon.c) from this Lua, which made every key
-- before it: the two must give the same bytes, or every cache entry would be orphaned.
local function ref_portable(s, places)
  for _, p in ipairs(places) do
    local prefix = p[1]
    local a, b = s:find(prefix, 1, true)
    if a then
      local out, i = {}, 1
      repeat
        local after = s:sub(b + 1, b + 1)
        out[#out + 1] = s:sub(i, a - 1)
        out[#out + 1] = (after == '/' or after == '' or after:match('[%s"\']')) and p[2] or prefix
        i = b + 1
        a, b = s:find(prefix, i, true)
      until not a
      out[#out + 1] = s:sub(i)
      s = table.concat(out)
    end
  end
  return s
end
local function ref_canon(v, places)
  local ty = type(v)
  if ty == 'table' then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. '=' .. ref_canon(v[k], places) end
    return '{' .. table.concat(out, ',') .. '}'
  end
  if ty == 'string' then return 's:' .. ref_portable(v, places) end
  return ty:sub(1, 1) .. ':' .. tostring(v)
end
do
  local pl = cache.places
  local P = W .. '/a/p'
  local strings = { '', 'x', '/', P, P .. '/', P .. 'q', P .. '2/y', '"' .. P .. '"', "'" .. P .. "'", P .. '\t' .. P,
                    P .. '\v', P .. '\f' .. P .. P, W .. '/a', W .. '/a/q ' .. W .. '/a/p', 'a\0' .. P .. '\0b',
                    W .. '/store/objects ' .. W .. '/storex', P .. P .. '/' .. P }
  local n_same, n_checked, first_diff = 0, 0, nil
  local function check(v)
    n_checked = n_checked + 1
    local want, got = ref_canon(v, pl), sys.canon(v, pl)
    if want == got then n_same = n_same + 1 elseif not first_diff then first_diff = want .. ' | ' .. got end
  end
  local n_port = 0
  for _, s in ipairs(strings) do
    check(s)
    if ref_portable(s, pl) == cache.portable(s) then n_port = n_port + 1 end
  end
  t.eq('portable in C gives the Lua bytes', #strings, n_port)
  -- Values as recipes hold them, and keys whose order differs between numbers and text
  -- ("10" < "2"), with a zero byte, or of mixed types.
  local arr = {}
  for i = 1, 23 do arr[i] = i % 3 == 0 and P .. '/' .. i or i * 0.5 end
  check(arr)
  check({ size = 64, steps = 512, lr = 0.05, at = P, on = true, off = false, nested = { arr, { deep = { P } } } })
  check({ ['a\0b'] = 1, ['a'] = 2, ['a\0'] = 3, ['\255'] = 4, [''] = 5, [1.5] = 6, [2] = 7, [-1] = 8 })
  check({ 1e300, -0.0, 1 / 3, math.mininteger, math.maxinteger, 2 ^ 53 })
  check({})
  check(42); check(true)
  -- pseudo-random trees (a fixed LCG: the same cases every run)
  local seed = 12345
  local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
  local function tree(d)
    local r = rnd(6)
    if d > 3 or r == 0 then return strings[rnd(#strings) + 1] end
    if r == 1 then return rnd(1000) - 500 end
    if r == 2 then return rnd(1000) / 7 end
    if r == 3 then return rnd(2) == 0 end
    local v = {}
    for _ = 1, rnd(12) do
      -- (no key whose text another's repeats: 1 and '1' have no order, in Lua's sort either)
      local k = rnd(3) == 0 and (rnd(30) + 1) or strings[rnd(#strings) + 1] .. 'k' .. rnd(9)
      v[k] = tree(d + 1)
    end
    return v
  end
  for _ = 1, 300 do check(tree(0)) end
  t.eq('canon in C gives the Lua bytes', n_checked .. ' nil', n_same .. ' ' .. tostring(first_diff))
  t.fails('canon refuses a cycle with a message', 'canon: tables nested more than 200 deep', sys.canon, (function() local c = {}; c[1] = c; return c end)(), pl)
end

-- Two checkouts of the same sources, at two places: the same key for the same job.
local function checkout(dir)
  write(dir .. '/content/in.txt', 'the same input\n')
  write(dir .. '/tool', 'a tool binary')
  -- A file the driver generates names the checkout's place in its bytes.
  write(dir .. '/.cache/gen/recipe.json', '{"model": "' .. dir .. '/model.json"}\n')
end
local function key_in(dir)
  cache.local_dir = dir .. '/.cache'
  cache.set_places({ { dir, '{project}' }, { dir .. '/.cache', '{local}' }, { cache.gen(), '{gen}' } })
  -- Absolute paths everywhere (argv, tools, inputs, recipe), as the driver's jobs have them.
  return cache.key({ id = 'j', argv = { dir .. '/tool', '--in', dir .. '/content/in.txt', '{out}' },
                     tools = { dir .. '/tool' }, recipe = { size = 64, at = dir },
                     inputs = { dir .. '/content/in.txt', cache.gen() .. '/recipe.json' } }, {})
end
checkout(W .. '/one')
checkout(W .. '/elsewhere/two')
local k1, e1 = key_in(W .. '/one')
local k2 = key_in(W .. '/elsewhere/two')
t.ok('a key is computed', k1 and #k1 == 64, e1)
t.eq('two checkouts at different paths compute the same key', k1, k2)
write(W .. '/elsewhere/two/content/in.txt', 'another input\n')
t.ok('a changed input changes the key', key_in(W .. '/elsewhere/two') ~= k1)
cache.local_dir = W .. '/local'
cache.set_places({})
t.fails('a missing input is named', 'missing.txt', cache.key, { id = 'm', argv = {}, inputs = { W .. '/missing.txt' } }, {})

-- ---- publish by rename
local job = { id = 'render:x:1', outputs = { 'a.txt', 'b.txt' }, tool_hashes = { ['/somewhere/bin/fv-render'] = string.rep('7e', 32) } }
local function finished(files)
  local tmp = assert(cache.new_tmp('k'))
  for name, text in pairs(files) do write(tmp .. '/' .. name, text) end
  return tmp
end
local KEY = string.rep('ab', 32)
local tmp = finished({ ['a.txt'] = 'first a', ['b.txt'] = 'first b' })
local meta = cache.store(job, KEY, tmp, 1.5)
t.ok('store returns the record', meta and meta.key == KEY and #meta.files == 2)
t.ok('the temporary directory became the entry', not fs.exists(tmp) and fs.read(cache.entry(KEY) .. '/a.txt') == 'first a')
local got = cache.lookup(KEY, job.outputs)
t.ok('lookup serves a whole entry', got and got.id == 'render:x:1' and got.seconds == 1.5)
t.eq('the entry names the sha256 of the tool its job ran, by file name', string.rep('7e', 32),
  (cache.read_meta(cache.entry(KEY)) or { tools = {} }).tools['fv-render'])
t.eq('... and no CPU seconds when none were given', nil, got.cpu)
local tmpc = finished({ ['a.txt'] = 'a', ['b.txt'] = 'b' })
cache.store(job, string.rep('ce', 32), tmpc, 30, false, 12.25)
t.eq('the entry records the CPU seconds it was given', 12.25, (cache.read_meta(cache.entry(string.rep('ce', 32))) or {}).cpu)
local tmp2 = finished({ ['a.txt'] = 'second a', ['b.txt'] = 'second b' })
t.ok('a second writer of the same key succeeds', cache.store(job, KEY, tmp2, 2) ~= nil)
t.eq('... and the first entry stays (the first rename wins)', 'first a', fs.read(cache.entry(KEY) .. '/a.txt'))
t.ok('... and its temporary directory is gone', not fs.exists(tmp2))
local tmp3 = finished({ ['a.txt'] = 'only a' })
t.fails('an output not written is named', "job 'render:x:1' did not write its output 'b.txt'", cache.store, job, string.rep('cd', 32), tmp3, 1)
t.ok('... and nothing is published', not fs.exists(cache.entry(string.rep('cd', 32))) and not fs.exists(tmp3))

-- ---- --force: the new entry takes the old one's place in one exchange
local tmp4 = finished({ ['a.txt'] = 'forced a', ['b.txt'] = 'forced b' })
t.ok('a forced store succeeds', cache.store(job, KEY, tmp4, 3, true) ~= nil)
t.eq('... and replaces the entry', 'forced a', fs.read(cache.entry(KEY) .. '/a.txt'))
t.ok('... and leaves neither directory behind', not fs.exists(tmp4) and #(sys.listdir(cache.tmp()) or {}) == 0)
t.eq('... and its record is the new one', 3.0, (cache.lookup(KEY, job.outputs) or {}).seconds)

-- ---- damaged entries are discarded, never served
local function entry_with(key, a)
  cache.store(job, key, finished({ ['a.txt'] = a, ['b.txt'] = 'b' }), 1)
  return cache.entry(key)
end
local K1 = string.rep('01', 32)
local d1 = entry_with(K1, 'twelve bytes')
write(d1 .. '/a.txt', 'thirteen byte')
local m1, n1 = cache.lookup(K1)
t.ok('a changed file is not served', m1 == nil and n1 and n1:find('was damaged (a.txt); rebuilding', 1, true), n1)
t.ok('... and the entry is gone', not fs.exists(d1))

-- The same size, mtime and inode (all the hash memo sees), after a hash that warmed the memo.
local K2 = string.rep('02', 32)
local d2 = entry_with(K2, 'twelve bytes')
local racy_default = fs.racy_ns
fs.racy_ns = -3600 * 1000000000 -- trust files just written (the racy rule is tested below)
fs.hash(d2 .. '/a.txt')
local st0 = sys.stat(d2 .. '/a.txt')
local f = assert(io.open(d2 .. '/a.txt', 'r+b'))
f:seek('set', 3); f:write('X'); f:close()
os.execute(string.format("touch -d @%d.%09d '%s'", st0.mtime_ns // 1000000000, st0.mtime_ns % 1000000000, d2 .. '/a.txt'))
local st1 = sys.stat(d2 .. '/a.txt')
t.ok('the flipped file keeps its size, mtime and inode', st1.size == st0.size and st1.mtime_ns == st0.mtime_ns and st1.ino == st0.ino)
t.eq('... and the memo still answers the old hash', sys.sha256('twelve bytes'), fs.hash(d2 .. '/a.txt'))
local m2, n2 = cache.lookup(K2)
t.ok('a byte changed in place is not served', m2 == nil and n2 and n2:find('was damaged (a.txt)', 1, true), n2)

-- The entry memo (fs.hash_checked): an entry looked up once is served from its files' (dev,
-- inode, size, mtime, ctime) the next time, yet a byte changed in place with the mtime put back
-- is still found: the write changed the ctime.
local memo_file = W .. '/local/hashes.bin'
local function read_memo() return sys.memo_decode(fs.read(memo_file) or '') or {} end
fs.load_memo(memo_file)
local K8 = string.rep('08', 32)
local d8 = entry_with(K8, 'twelve bytes')
t.ok('an entry is served', cache.lookup(K8) ~= nil)
fs.save_memo(true)
local rec = read_memo()['checked:' .. d8 .. '/a.txt']
local st8 = sys.stat(d8 .. '/a.txt')
t.ok('... and its files are remembered with dev, inode, size, mtime and ctime', rec and rec[1] == st8.dev and
  rec[2] == st8.ino and rec[3] == st8.size and rec[4] == st8.mtime_ns and rec[5] == st8.ctime_ns, rec)
local real_sha, reads = sys.sha256_file, 0
sys.sha256_file = function(p) reads = reads + 1; return real_sha(p) end
t.ok('a second lookup is served', cache.lookup(K8) ~= nil)
t.eq('... without reading its files', 0, reads)
os.execute('sleep 0.05') -- past the file system's clock tick (the racy rule's case, tested below)
f = assert(io.open(d8 .. '/a.txt', 'r+b'))
f:seek('set', 3); f:write('X'); f:close()
os.execute(string.format("touch -d @%d.%09d '%s'", st8.mtime_ns // 1000000000, st8.mtime_ns % 1000000000, d8 .. '/a.txt'))
local st9 = sys.stat(d8 .. '/a.txt')
t.ok('the flipped file keeps its size, mtime and inode', st9.size == st8.size and st9.mtime_ns == st8.mtime_ns and st9.ino == st8.ino)
local m8, n8 = cache.lookup(K8)
t.ok('a byte changed in place with the mtime put back is found through the memo', m8 == nil and n8 and n8:find('was damaged (a.txt)', 1, true), n8)
t.ok('... by reading the file again', reads >= 1)
sys.sha256_file = real_sha
-- Racily clean: a file hashed within racy_ns of its last change is not remembered (a change in
-- the same clock tick would keep every field); it is hashed again next time.
fs.racy_ns = racy_default
local K9 = string.rep('09', 32)
local d9 = entry_with(K9, 'twelve bytes')
t.ok('an entry just written is served', cache.lookup(K9) ~= nil)
fs.save_memo(true)
local memo9 = read_memo()
t.eq('... and its files, racily clean, are not remembered', nil, memo9['checked:' .. d9 .. '/a.txt'])

local K3 = string.rep('03', 32)
local d3 = entry_with(K3, 'x')
write(d3 .. '/.meta', 'return {')
local m3, n3 = cache.lookup(K3)
t.ok('an entry without a valid record is discarded', m3 == nil and n3 and n3:find('had no valid record', 1, true) and not fs.exists(d3), n3)
local K4 = string.rep('04', 32)
local d4 = entry_with(K4, 'x')
write(d4 .. '/.meta', (fs.read(d4 .. '/.meta'):gsub(K4, string.rep('05', 32))))
t.ok('an entry recorded under another key is discarded', cache.lookup(K4) == nil and not fs.exists(d4))
local K6 = string.rep('06', 32)
local d6 = entry_with(K6, 'x')
local m6, n6 = cache.lookup(K6, { 'a.txt', 'c.txt' })
t.ok('an entry that lacks an expected output is discarded', m6 == nil and n6 and n6:find('lacks c.txt', 1, true) and not fs.exists(d6), n6)
t.eq('a key never stored is simply absent', nil, (cache.lookup(string.rep('07', 32))))
t.eq('discarding leaves nothing in tmp/', 0, #(sys.listdir(cache.tmp()) or {}))

-- ---- clean_tmp: only what no running process owns
local pid = assert(sys.spawn({ 'true' }, {}))
sys.wait(true, pid) -- now certainly gone (and a pid not reused this soon)
local me = sys.getpid()
local names = {
  gone = string.format('k.%s.%d.1', cache.host, pid),      -- this machine, process gone: removed
  mine = string.format('k.%s.%d.1', cache.host, me),       -- this machine, alive: kept
  other = 'k.node-7.999999.1',                              -- another machine, fresh: kept
  stale = 'k.node-8.999999.1',                              -- another machine, 2 days old: removed
  odd = 'leftover',                                         -- no owner in its name: removed
}
for _, n in pairs(names) do write(cache.tmp() .. '/' .. n .. '/f', 'x') end
os.execute(string.format("touch -d '2 days ago' '%s'", cache.tmp() .. '/' .. names.stale))
assert(sys.mkdir_p(cache.dir .. '/farm/' .. cache.host .. '.' .. pid .. '.1700000000'))
assert(sys.mkdir_p(cache.dir .. '/farm/' .. cache.host .. '.' .. me .. '.1700000000'))
assert(sys.mkdir_p(cache.dir .. '/farm/node-7.999999.1700000000'))
cache.clean_tmp()
local left = {}
for _, n in ipairs(sys.listdir(cache.tmp()) or {}) do left[n] = true end
t.ok("clean_tmp removes this machine's files of a process that is gone", not left[names.gone])
t.ok('clean_tmp keeps the files of a running process', left[names.mine])
t.ok("clean_tmp keeps another machine's fresh files", left[names.other])
t.ok("clean_tmp removes another machine's files older than a day", not left[names.stale])
t.ok('clean_tmp removes a name that says no owner', not left[names.odd])
t.ok("clean_tmp removes the farm queue of a build that is gone",
  not fs.exists(cache.dir .. '/farm/' .. cache.host .. '.' .. pid .. '.1700000000'))
t.ok('clean_tmp keeps the farm queues of running builds',
  fs.exists(cache.dir .. '/farm/' .. cache.host .. '.' .. me .. '.1700000000') and fs.exists(cache.dir .. '/farm/node-7.999999.1700000000'))

sys.rm_rf(W)
t.finish()
