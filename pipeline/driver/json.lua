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

function M.encode(v)
  local out = {}
  encode(v, out, {}, 0)
  return table.concat(out)
end

function M.decode(s)
  local pos = 1
  local function fail(what) error(string.format('json: %s at byte %d', what, pos), 0) end
  local function ws() pos = s:find('[^ \t\r\n]', pos) or #s + 1 end
  local value
  local depth = 0
  local function nest()
    depth = depth + 1
    if depth > M.max_depth then fail(string.format('nested more than %d deep', M.max_depth)) end
  end
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == '' then fail('unterminated string') end
      if c == '"' then pos = pos + 1; break end
      if c == '\\' then
        local e = s:sub(pos + 1, pos + 1)
        if e == 'u' then
          local cp = tonumber(s:sub(pos + 2, pos + 5), 16) or fail('bad \\u escape')
          pos = pos + 6
          if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == '\\u' then
            local lo = tonumber(s:sub(pos + 2, pos + 5), 16) or fail('bad \\u escape')
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8.char(cp)
        else
          local map = { b = '\b', f = '\f', n = '\n', r = '\r', t = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/' }
          out[#out + 1] = map[e] or fail('bad escape')
          pos = pos + 2
        end
      else
        local j = s:find('["\\]', pos) or #s + 1
        out[#out + 1] = s:sub(pos, j - 1)
        pos = j
      end
    end
    return table.concat(out)
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == '{' then
      nest()
      pos = pos + 1
      local t = setmetatable({}, M.object_mt)
      ws()
      if s:sub(pos, pos) == '}' then pos = pos + 1; depth = depth - 1; return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail('expected a key') end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ':' then fail("expected ':'") end
        pos = pos + 1
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        if d ~= '}' and d ~= ',' then fail("expected ',' or '}'") end
        pos = pos + 1
        if d == '}' then depth = depth - 1; return t end
      end
    elseif c == '[' then
      nest()
      pos = pos + 1
      local t = {}
      ws()
      if s:sub(pos, pos) == ']' then pos = pos + 1; depth = depth - 1; return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        if d ~= ']' and d ~= ',' then fail("expected ',' or ']'") end
        pos = pos + 1
        if d == ']' then depth = depth - 1; return t end
      end
    elseif c == '"' then return str()
    elseif s:sub(pos, pos + 3) == 'true' then pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == 'false' then pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == 'null' then pos = pos + 4; return nil
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
