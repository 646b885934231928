-- manifest: loads figures/<id>.lua and checks it against its kind's fields.
--
-- A manifest is a Lua file returning a table; it runs in a sandbox that has only the pure
-- libraries (string, table, math, utf8, and ipairs/pairs/tostring...), no I/O. Errors name the
-- file and the line of the field at fault: "figures/hero.lua:4: field 'caption': expected a
-- string (got number)".
local M = {}

M.kinds = {} -- kind name -> module (pipeline/kinds/<kind>.lua), filled by build.lua

-- Copies of the library tables: a manifest that assigns string.format = ... changes its own
-- copy, not the driver's (found by tests/fuzz/fuzz_manifest, which loads many manifests in one
-- Lua state).
local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function sandbox()
  return {
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
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
    pos = line_of(self.src, name or seg, pos, nth)
    nth = idx and tonumber(idx) or nil
  end
  if nth then pos = pos + nth end -- "list[n]" itself: its n-th element, one per line
  local _, lines = self.src:gsub('\n', '')
  return math.min(pos, math.max(1, lines))
end

function Ctx:fail(path, msg)
  error({ manifest_error = string.format('%s:%d: field \'%s\': %s', self.file, self:line(path), path, msg) }, 0)
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

-- Loads one manifest. Returns the validated table (with .id, .file, .src, .kindmod), or nil and
-- one line of error.
function M.load(file, id)
  -- The manifest itself must not be a symlink out of the project: the build reads only the project.
  local dir, base = file:match('^(.*)/([^/]+)$')
  if dir and not dir:find('^/') and require('pipeline.driver.fs').root then
    local ok, why = require('pipeline.driver.fs').safe_path(dir, base)
    if not ok then return nil, file .. ': ' .. why end
  end
  local f, err = io.open(file, 'rb')
  if not f then return nil, err end
  local src = f:read('a')
  f:close()
  local chunk, perr = load(src, '=' .. file, 't', sandbox())
  if not chunk then return nil, perr .. ' (expected Lua returning a table)' end
  local ok, m = pcall(chunk)
  -- A runtime error (the sandbox has no io, os or require): Lua's message names file and line.
  if not ok then return nil, tostring(m) .. ' (expected Lua returning a table, without io, os or require)' end
  if type(m) ~= 'table' then return nil, file .. ':1: manifest must return a table (got ' .. type(m) .. ')' end
  local ctx = setmetatable({ file = file, src = src }, Ctx)
  local vok, verr = pcall(function()
    local kind = ctx:field(m, 'kind', 'string', true)
    local mod = M.kinds[kind]
    if not mod then
      local names = {}
      for k in pairs(M.kinds) do names[#names + 1] = k end
      table.sort(names)
      ctx:fail('kind', string.format("unknown kind '%s' (expected one of: %s)", kind, table.concat(names, ', ')))
    end
    if m.id ~= nil and m.id ~= id then
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
