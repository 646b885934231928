-- manifest: loads figures/<id>.lua and checks it against its kind's fields.
--
-- A manifest is a Lua file returning a table; it runs in a sandbox that has only the pure
-- libraries (string, table, math, utf8, and ipairs/pairs/tostring...), no I/O. Errors name the
-- file and the line of the field at fault: "figures/hero.lua:4: field 'caption': expected a
-- string (got number)".
--
-- A manifest is code, so it runs in a child process under limits (M.limits; see fvsys.isolate
-- for why a process): it must finish within a few seconds of wall-clock time and allocate at
-- most a few hundred MB, and what it returns must be data: a tree of tables (no cycles, not too
-- deep, not too many values) of text, finite numbers and booleans. The child sends that tree
-- back as a Lua literal; the kinds check the copy. Ctrl-C stops the child at once.
--
-- What the sandbox offers is pure (math.random and math.randomseed are left out), so that
-- literal is a function of the manifest's source, its name and the sandbox (SANDBOX, the
-- limits, Lua's version): it is remembered by their sha256 in .cache/state/manifests.lua
-- (M.load_memo), and an unchanged manifest costs no process. Only a manifest that ran to its
-- end is remembered: an error, a timeout or a crash is met again at every build. The kinds'
-- checks run at every build, on the copy.
local fs = require 'pipeline.driver.fs'
local quote = require 'pipeline.driver.quote'

local M = {}

-- Change it whenever sandbox(), serialize() or evaluate() change what a manifest can do or
-- what its literal holds: remembered literals then no longer match.
local SANDBOX = 'fv-manifest-sandbox-2'
local memo, memo_used, memo_path, memo_dirty = {}, {}, nil, false

M.kinds = {} -- kind name -> module (pipeline/kinds/<kind>.lua), filled by build.lua

-- What a manifest may use. Today's manifests are a few KB, run in a millisecond and return a
-- few hundred values: these leave a hundredfold margin and stop a runaway one early.
M.limits = {
  file_bytes = 1 << 20,     -- the source file
  seconds = 5,              -- wall-clock time to return its table
  memory = 256 << 20,       -- bytes it may allocate
  depth = 32,               -- tables within tables
  values = 100000,          -- values in the returned tree, keys included
  text = 16 << 20,          -- bytes of text in it (the copy this process holds)
}

-- Copies of the library tables: a manifest that assigns string.format = ... changes its own
-- copy, not the driver's (found by tests/fuzz/fuzz_manifest, which loads many manifests in one
-- Lua state).
local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function sandbox()
  local m = copy(math)
  m.random, m.randomseed = nil, nil -- a manifest's result is a function of its source alone
  return {
    string = copy(string), table = copy(table), math = m, utf8 = copy(utf8),
    ipairs = ipairs, pairs = pairs, tostring = tostring, tonumber = tonumber,
    type = type, select = select, next = next,
  }
end

-- The line where `name =` first appears at or after line `from` (1 when not found).
local function line_of(src, name, from, nth)
  local line, seen = 0, 0
  -- The name may be any key of the manifest (["a("] = 1): quote it, or find() raises
  -- "unfinished capture" from inside the error path (tests/fuzz/regressions/manifest).
  local pat = name:gsub('%p', '%%%0')
  for l in (src .. '\n'):gmatch('([^\n]*)\n') do
    line = line + 1
    if line >= (from or 1) and l:find('%f[%w_]' .. pat .. '%s*=') then
      seen = seen + 1
      if seen >= (nth or 1) then return line end
    end
  end
  return from or 1
end

-- A checker passed to the kind's validate(): ctx:fail(field_path, message) raises the error
-- with the right line; ctx:field(t, name, type, required) checks one field.
local Ctx = {}
Ctx.__index = Ctx

function Ctx:line(path)
  -- path: "caption", "recipe.size", "images[2].src", "cells[1].recipe.layer": each segment is
  -- looked for after the line of the one before; "list[n].leaf" takes the n-th leaf after list.
  local pos, nth = 1, nil
  for seg in path:gmatch('[^.]+') do
    local name, idx = seg:match('^([%w_]+)%[(%d+)%]$')
    -- Deeper indexes ("t[1][1]", a table in a table) are not one per line: the name's line.
    if not name then name = seg:match('^([%w_]+)%[') end
    pos = line_of(self.src, name or seg, pos, nth)
    nth = idx and tonumber(idx) or nil
  end
  if nth then pos = pos + nth end -- "list[n]" itself: its n-th element, one per line
  local _, lines = self.src:gsub('\n', '')
  return math.min(pos, math.max(1, lines))
end

-- The whole message is escaped: the path and a kind's message may echo the author's keys and text.
function Ctx:fail(path, msg)
  error({ manifest_error = string.format('%s:%d: field \'%s\': %s', quote.text(self.file), self:line(path),
                                         quote.text(path, 120), quote.text(msg, 300)) }, 0)
end

local type_names = { string = 'a string', number = 'a number', table = 'a table', boolean = 'true or false' }

function Ctx:field(t, name, want, required, path)
  path = path or name
  local v = t[name]
  if v == nil then
    if required then self:fail(path, 'missing (expected ' .. type_names[want] .. ')') end
    return nil
  end
  if type(v) ~= want then
    self:fail(path, string.format('expected %s (got %s)', type_names[want], type(v)))
  end
  return v
end

-- Every field a manifest may have: common ones here, the rest from its kind's `fields`.
local common = { kind = true, id = true, caption = true, alt = true, width = true, title = true }

-- The path of key k inside the field at `path`, as Ctx:line reads it: "recipe.steps", "cells[2]".
local function child_path(path, k)
  if math.type(k) == 'integer' then return path .. '[' .. k .. ']' end
  local name = type(k) == 'string' and k:match('^[%a_][%w_]*$') and k or string.format('[%q]', k)
  if path == '' then return name end
  return name:sub(1, 1) == '[' and path .. name or path .. '.' .. name
end

local data_types = 'text, a finite number, true or false, or a table'

-- The value a manifest returned, as a Lua literal, after checking that it is data (see the top
-- of this file). Runs in the sandbox's child. Raises ctx:fail naming the field at fault.
local function serialize(v, ctx)
  local count, bytes, limits, out, open = 0, 0, M.limits, {}, {}
  local function value(x, path, depth)
    count = count + 1
    if count > limits.values then
      ctx:fail(path, string.format('more than %d values in the manifest (expected fewer)', limits.values))
    end
    local t = type(x)
    if t == 'number' then
      if x ~= x then ctx:fail(path, 'NaN (expected a finite number)') end
      if x == math.huge or x == -math.huge then ctx:fail(path, tostring(x) .. ' (expected a finite number)') end
      out[#out + 1] = string.format('%q', x) -- exact: integers stay integers, floats hexadecimal
    elseif t == 'string' or t == 'boolean' then
      bytes = bytes + (t == 'string' and #x or 0)
      if bytes > limits.text then
        ctx:fail(path, string.format('more than %s of text in the manifest (expected less)', fs.human_size(limits.text)))
      end
      out[#out + 1] = string.format('%q', x)
    elseif t == 'table' then
      if open[x] then ctx:fail(path, 'a table that contains itself (expected a tree of tables, without cycles)') end
      if depth >= limits.depth then
        ctx:fail(path, string.format('tables nested more than %d deep (expected at most %d)', limits.depth, limits.depth))
      end
      open[x] = true
      out[#out + 1] = '{'
      for k, e in next, x do -- next, not pairs: no metamethod of the author's runs here
        local kt = type(k)
        if kt ~= 'string' and kt ~= 'number' then
          ctx:fail(path, 'a key that is ' .. (kt == 'boolean' and 'true or false' or 'a ' .. kt) .. ' (expected a name or an index)')
        end
        local kp = child_path(path, k)
        out[#out + 1] = '['
        value(k, kp, depth + 1)
        out[#out + 1] = ']='
        value(e, kp, depth + 1)
        out[#out + 1] = ','
      end
      out[#out + 1] = '}'
      open[x] = nil
    else
      ctx:fail(path, string.format('a %s (expected %s)', t, data_types))
    end
  end
  value(v, '', 0)
  return table.concat(out)
end

-- The same contract as fvsys.isolate, in this process and without limits: for a harness that
-- loads many manifests and limits them itself (tests/fuzz/fuzz_manifest).
function M.in_process(fn)
  local ok, r = pcall(fn)
  if ok then return 'ok', r end
  return 'error', tostring(r)
end

-- How a manifest is run: in a child process with limits (fvsys.isolate), or M.in_process.
M.isolate = function(fn, seconds, bytes) return require('fvsys').isolate(fn, seconds, bytes) end

local function sandbox_message(file, what)
  return string.format('%s: %s (expected a manifest that returns a table)', quote.text(file), what)
end

-- Runs the manifest's chunk (from parse(): the chunk, or nil and a message) under the limits.
-- Returns its table (a checked copy) or nil, message.
local function evaluate(file, parse, ctx)
  local chunk
  local function run()
    local ok, m = pcall(chunk)
    -- A runtime error (the sandbox has no io, os or require): Lua's message names file and line.
    if not ok then error(quote.text(m, 300) .. ' (expected Lua returning a table, without io, os or require)', 0) end
    if type(m) ~= 'table' then error(quote.text(file) .. ':1: manifest must return a table (got ' .. type(m) .. ')', 0) end
    local sok, text = pcall(serialize, m, ctx)
    if not sok then error(type(text) == 'table' and text.manifest_error or text, 0) end
    return text
  end
  local limits = M.limits
  local key
  if memo_path then
    local l = {}
    for k, v in pairs(limits) do l[#l + 1] = k .. '=' .. v end
    table.sort(l)
    key = require('fvsys').sha256(table.concat({ SANDBOX, _VERSION, table.concat(l, ','), file, ctx.src }, '\0'))
  end
  local status, text
  if key and memo[key] then
    status, text, memo_used[key] = 'ok', memo[key], true
  else
    local perr
    chunk, perr = parse()
    if not chunk then return nil, perr end
    status, text = M.isolate(run, limits.seconds, limits.memory)
    if key and status == 'ok' then memo[key], memo_used[key], memo_dirty = text, true, true end
  end
  if status == 'ok' then
    -- Our own literal, at most limits.depth deep: it loads.
    return assert(load('return ' .. text, '=' .. file .. ' (copy)', 't', {}))()
  elseif status == 'error' then return nil, text
  elseif status == 'timeout' then return nil, sandbox_message(file, string.format('did not finish within %g s', limits.seconds))
  elseif status == 'memory' then return nil, sandbox_message(file, string.format('used more than %s of memory', fs.human_size(limits.memory)))
  elseif status == 'interrupted' then return nil, quote.text(file) .. ': interrupted'
  elseif status == 'crashed' then return nil, sandbox_message(file, 'stopped unexpectedly (' .. tostring(text) .. ')')
  end
  return nil, tostring(text) -- isolate could not start the child: its message names why
end

-- The remembered literals: loaded from path (a damaged file is ignored: the manifests run
-- again), saved there by M.save_memo(prune) (prune: only those this build used).
function M.load_memo(path)
  memo_path, memo = path, {}
  local chunk = loadfile(path, 't', {})
  local ok, t = pcall(chunk or error)
  if ok and type(t) == 'table' then
    for k, v in pairs(t) do
      if type(k) == 'string' and type(v) == 'string' then memo[k] = v end
    end
  end
end

function M.save_memo(prune)
  if not memo_path then return end
  local keys = {}
  for k in pairs(memo) do
    if memo_used[k] or not prune then keys[#keys + 1] = k else memo_dirty = true end
  end
  if not memo_dirty then return end
  table.sort(keys)
  local out = { 'return {' }
  for _, k in ipairs(keys) do out[#out + 1] = string.format('[%q]=%q,', k, memo[k]) end
  out[#out + 1] = '}\n'
  fs.write_atomic(memo_path, table.concat(out, '\n'))
  memo_dirty = false
end

-- Loads one manifest. Returns the validated table (with .id, .file, .src, .kindmod), or nil and
-- one line of error.
function M.load(file, id)
  -- The manifest itself must not be a symlink out of the project: the build reads only the project.
  local dir, base = file:match('^(.*)/([^/]+)$')
  if dir and not dir:find('^/') and fs.root then
    local ok, why = fs.safe_path(dir, base)
    if not ok then return nil, quote.text(file) .. ': ' .. why end
  end
  local f, err = io.open(file, 'rb')
  if not f then return nil, quote.text(err) end
  -- Limits first: the size before the bytes are read.
  local size = f:seek('end')
  if not size or size > M.limits.file_bytes then
    f:close()
    return nil, string.format('%s: %s (expected a manifest of at most %s)', quote.text(file),
                              fs.human_size(size or 0), fs.human_size(M.limits.file_bytes))
  end
  f:seek('set')
  local src = f:read('a')
  f:close()
  -- Parsed only when its literal is not remembered (a remembered one parsed and ran before).
  local function parse()
    local chunk, perr = load(src, '=' .. file, 't', sandbox())
    if chunk then return chunk end
    -- Lua's parser recurses once per nested bracket: too deep, it stops with "C stack overflow"
    -- and a traceback of the driver, which say nothing to the author.
    if perr:find('C stack overflow', 1, true) or perr:find('C levels', 1, true) then
      return nil, string.format('%s: nested too deeply to read (expected tables at most %d deep)', quote.text(file), M.limits.depth)
    end
    return nil, quote.text(perr:match('^[^\n]*'), 300) .. ' (expected Lua returning a table)'
  end
  local ctx = setmetatable({ file = file, src = src }, Ctx)
  local m, eerr = evaluate(file, parse, ctx)
  if not m then return nil, eerr end
  local vok, verr = pcall(function()
    local kind = ctx:field(m, 'kind', 'string', true)
    local mod = M.kinds[kind]
    if not mod then
      local names = {}
      for k in pairs(M.kinds) do names[#names + 1] = k end
      table.sort(names)
      ctx:fail('kind', string.format("unknown kind '%s' (expected one of: %s)", kind, table.concat(names, ', ')))
    end
    if ctx:field(m, 'id', 'string', false) and m.id ~= id then
      ctx:fail('id', string.format("'%s' does not match the file name (expected '%s' or no id)", tostring(m.id), id))
    end
    ctx:field(m, 'caption', 'string', true)
    ctx:field(m, 'alt', 'string', false)
    ctx:field(m, 'title', 'string', false)
    local w = ctx:field(m, 'width', 'string', false)
    if w and w ~= 'text' and w ~= 'wide' then ctx:fail('width', "expected 'text' or 'wide' (got '" .. w .. "')") end
    for k in pairs(m) do
      if type(k) ~= 'string' or not (common[k] or (mod.fields or {})[k]) then
        local names = {}
        for n in pairs(common) do names[#names + 1] = n end
        for n in pairs(mod.fields or {}) do names[#names + 1] = n end
        table.sort(names)
        ctx:fail(tostring(k), 'unknown field (expected one of: ' .. table.concat(names, ', ') .. ')')
      end
    end
    mod.validate(m, ctx)
    m.kindmod = mod
  end)
  if not vok then
    if type(verr) == 'table' and verr.manifest_error then return nil, verr.manifest_error end
    error(verr, 0)
  end
  m.id, m.file, m.src = id, file, src
  m.caption_line = ctx:line('caption')
  return m
end

return M
