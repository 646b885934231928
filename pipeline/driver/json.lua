-- json: encode Lua values as JSON (keys sorted, so the same table gives the same bytes) and
-- decode JSON text. Errors name the byte offset. Both refuse nesting deeper than M.max_depth:
-- recursion that deep would end in Lua's "C stack overflow" instead of a message.
local M = {}

M.max_depth = 200

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= 'integer' or k < 1 or k > n then return false end
  end
  return true
end

-- open: the tables being encoded around v (a cycle would never end); depth: how many.
local function encode(v, out, open, depth)
  local t = type(v)
  if t == 'nil' then out[#out + 1] = 'null'
  elseif t == 'boolean' then out[#out + 1] = tostring(v)
  elseif t == 'number' then
    -- NaN's sign (tostring gives "nan" or "-nan") says nothing to a reader.
    if v ~= v then error('json: cannot encode NaN (expected a finite number)', 0) end
    if v == math.huge or v == -math.huge then error('json: cannot encode ' .. tostring(v) .. ' (expected a finite number)', 0) end
    out[#out + 1] = math.type(v) == 'integer' and tostring(v) or string.format('%.17g', v)
  elseif t == 'string' then out[#out + 1] = encode_string(v)
  elseif t == 'table' then
    if open[v] then error('json: cannot encode a table that contains itself', 0) end
    if depth >= M.max_depth then error(string.format('json: cannot encode tables nested more than %d deep', M.max_depth), 0) end
    open[v] = true
    if next(v) == nil and getmetatable(v) ~= M.object_mt then out[#out + 1] = '[]'
    elseif is_array(v) and getmetatable(v) ~= M.object_mt then
      out[#out + 1] = '['
      for i = 1, #v do
        if i > 1 then out[#out + 1] = ',' end
        encode(v[i], out, open, depth + 1)
      end
      out[#out + 1] = ']'
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = ',' end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ':'
        encode(v[k], out, open, depth + 1)
      end
      out[#out + 1] = '}'
    end
    open[v] = nil
  else
    error('json: cannot encode a ' .. t, 0)
  end
end

-- Tables with this metatable encode as objects even when empty.
M.object_mt = {}

-- The fast path in C (fvsys.json_encode) where the driver's module is loaded: the same bytes,
-- for plain values; it declines anything else (NaN, a function, a cycle, ...), which the code
-- above encodes with its messages. M.lua_only: this encoder alone (tests compare the two).
local has_sys, sys = pcall(require, 'fvsys')
local fast_encode = has_sys and type(sys) == 'table' and sys.json_encode or nil
M.lua_only = false

function M.encode(v)
  if fast_encode and not M.lua_only then
    local ok, text = fast_encode(v, M.object_mt, M.max_depth)
    if ok then return text end
  end
  local out = {}
  encode(v, out, {}, 0)
  return table.concat(out)
end

-- Bytes compared as numbers, and strings without escapes cut in one piece: the driver decodes
-- every figure's records at every build (a no-op build included), about 230 KB.
local byte, find, sub = string.byte, string.find, string.sub
local B = { quote = 34, backslash = 92, lbrace = 123, rbrace = 125, lbracket = 91, rbracket = 93,
            colon = 58, comma = 44 }
local unescape = { b = '\b', f = '\f', n = '\n', r = '\r', t = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/' }

-- The fast path in C (fvsys.json_decode) where the driver's module is loaded: it builds the same
-- values, and declines anything but plain input (escapes, odd numbers, errors), which the code
-- below decodes with its messages. M.lua_only: this decoder alone (tests compare the two).
local fast = has_sys and type(sys) == 'table' and sys.json_decode or nil

function M.decode(s)
  if fast and not M.lua_only and type(s) == 'string' then
    local ok, v = fast(s, M.object_mt, M.max_depth)
    if ok then return v end
  end
  local pos = 1
  local function fail(what) error(string.format('json: %s at byte %d', what, pos), 0) end
  local function ws()
    local c = byte(s, pos)
    if c == 32 or c == 9 or c == 10 or c == 13 then pos = find(s, '[^ \t\r\n]', pos) or #s + 1 end
  end
  local value
  local depth = 0
  local function nest()
    depth = depth + 1
    if depth > M.max_depth then fail(string.format('nested more than %d deep', M.max_depth)) end
  end
  local function str()
    pos = pos + 1
    local j = find(s, '["\\]', pos)
    if j and byte(s, j) == B.quote then -- no escape: the common case
      local r = sub(s, pos, j - 1)
      pos = j + 1
      return r
    end
    local out = {}
    while true do
      local c = byte(s, pos)
      if not c then fail('unterminated string') end
      if c == B.quote then pos = pos + 1; break end
      if c == B.backslash then
        local e = sub(s, pos + 1, pos + 1)
        if e == 'u' then
          local cp = tonumber(sub(s, pos + 2, pos + 5), 16) or fail('bad \\u escape')
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and sub(s, pos, pos + 1) == '\\u' then
            local lo = tonumber(sub(s, pos + 2, pos + 5), 16) or fail('bad \\u escape')
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8.char(cp)
        else
          out[#out + 1] = unescape[e] or fail('bad escape')
          pos = pos + 2
        end
      else
        local k = find(s, '["\\]', pos) or #s + 1
        out[#out + 1] = sub(s, pos, k - 1)
        pos = k
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = byte(s, pos)
    if c == B.lbrace then
      nest()
      pos = pos + 1
      local t = setmetatable({}, M.object_mt)
      ws()
      if byte(s, pos) == B.rbrace then pos = pos + 1; depth = depth - 1; return t end
      while true do
        ws()
        if byte(s, pos) ~= B.quote then fail('expected a key') end
        local k = str()
        ws()
        if byte(s, pos) ~= B.colon then fail("expected ':'") end
        pos = pos + 1
        t[k] = value()
        ws()
        local d = byte(s, pos)
        if d ~= B.rbrace and d ~= B.comma then fail("expected ',' or '}'") end
        pos = pos + 1
        if d == B.rbrace then depth = depth - 1; return t end
      end
    elseif c == B.lbracket then
      nest()
      pos = pos + 1
      local t = {}
      ws()
      if byte(s, pos) == B.rbracket then pos = pos + 1; depth = depth - 1; return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = byte(s, pos)
        if d ~= B.rbracket and d ~= B.comma then fail("expected ',' or ']'") end
        pos = pos + 1
        if d == B.rbracket then depth = depth - 1; return t end
      end
    elseif c == B.quote then return str()
    elseif sub(s, pos, pos + 3) == 'true' then pos = pos + 4; return true
    elseif sub(s, pos, pos + 4) == 'false' then pos = pos + 5; return false
    elseif sub(s, pos, pos + 3) == 'null' then pos = pos + 4; return nil
    else
      local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', pos)
      if not num or num == '' then fail('unexpected character') end
      pos = pos + #num
      return math.tointeger(tonumber(num)) or tonumber(num)
    end
  end
  local ok, v = pcall(value)
  if not ok then return nil, v end
  ws()
  if pos <= #s then return nil, string.format('json: trailing text at byte %d', pos) end
  return v
end

return M
