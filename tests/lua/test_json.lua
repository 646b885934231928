-- test_json: pipeline/driver/json.lua — encoding (sorted keys, escapes, refusals) and decoding
-- (values, escapes, errors naming the byte).
local t = require 'lib'
local json = require 'pipeline.driver.json'

-- Encoding: the same table gives the same bytes; strings are escaped.
t.eq('encode sorts keys', '{"a":1,"b":[true,false],"c":"x"}', json.encode({ c = 'x', a = 1, b = { true, false } }))
t.eq('encode escapes quotes and controls', '"a\\"b\\\\c\\n\\u0001"', json.encode('a"b\\c\n\1'))
t.eq('encode keeps a float exact', '0.10000000000000001', json.encode(0.1))
t.eq('empty table is an array', '[]', json.encode({}))
t.eq('object_mt makes an empty object', '{}', json.encode(setmetatable({}, json.object_mt)))

-- Decoding.
local v = json.decode(' {"a": [1, 2.5, -3e2], "b": "\\u00e9\\n", "c": null, "d": true} ')
t.ok('decode object and array', v and v.a[1] == 1 and v.a[2] == 2.5 and v.a[3] == -300 and v.d == true)
t.eq('decode escapes', '\195\169\n', v and v.b)
t.eq('decode integers as integers', 'integer', math.type(v and v.a[1]))
t.eq('decode a surrogate pair', '\240\159\152\128', json.decode('"\\ud83d\\ude00"'))
t.fails('decode names the byte of an error', "json: expected ',' or ']' at byte 4", json.decode, '[1 2]')
t.fails('decode refuses trailing text', 'json: trailing text at byte 4', json.decode, '1  x')
t.fails('decode refuses an unterminated string', 'unterminated string', json.decode, '"abc')
t.fails('decode refuses a bare word', 'unexpected character', json.decode, 'nul')

-- Refusals that name json (their callers add the file): never Lua's own position or a crash.
t.fails('encode refuses NaN', 'json: cannot encode NaN (expected a finite number)', json.encode, { x = 0 / 0 })
t.fails('encode refuses -NaN', 'json: cannot encode NaN (expected a finite number)', json.encode, { x = -(0 / 0) })
t.fails('encode refuses Inf', 'json: cannot encode inf (expected a finite number)', json.encode, { 1 / 0 })
t.fails('encode refuses a function', 'json: cannot encode a function', json.encode, { print })
local cyc = {}
cyc.self = { cyc }
t.fails('encode refuses a cycle', 'json: cannot encode a table that contains itself', json.encode, cyc)
local ok_nan, msg_nan = pcall(json.encode, 0 / 0)
t.ok('the message has no Lua position', not ok_nan and not tostring(msg_nan):find('json.lua', 1, true), msg_nan)
local shared = { 1 }
t.eq('a table used twice is not a cycle', '[[1],[1]]', json.encode({ shared, shared }))
local deep = {}
for _ = 1, 100000 do deep = { deep } end
t.fails('encode refuses nesting 100,000 deep', 'json: cannot encode tables nested more than 200 deep', json.encode, deep)
local ok199 = {}
for _ = 1, 199 do ok199 = { ok199 } end
t.ok('encode takes nesting 200 deep', pcall(json.encode, ok199))
t.fails('decode refuses nesting 100,000 deep', 'json: nested more than 200 deep at byte 201', json.decode, string.rep('[', 100000))
t.ok('decode takes nesting 200 deep', json.decode(string.rep('[', 200) .. string.rep(']', 200)) ~= nil)
t.ok('decode takes 300 arrays one after another', json.decode('[' .. string.rep('[[]],', 299) .. '[[]]]') ~= nil)

-- The C fast path (fvsys.json_decode) builds what the Lua decoder builds, and declines what it
-- does not take (the Lua decoder then decodes it, with its messages).
local sys = require 'fvsys'
t.ok('the fast path takes plain JSON', (sys.json_decode('{"a":[1,2.5,"x"]}', json.object_mt, 200)))
t.eq('... and declines an escape', false, (sys.json_decode('"a\\n"', json.object_mt, 200)))
t.eq('... and a syntax error', false, (sys.json_decode('[1,', json.object_mt, 200)))
t.eq('... and nesting past the limit', false, (sys.json_decode('[[[]]]', json.object_mt, 2)))
local function same(a, b)
  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end
  if type(a) ~= 'table' then return a == b end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
for _, s in ipairs({ '[1,null,2]', '{"a":null,"b":1}', '{"a":1,"a":null}', '{"k":"x\\u00e9\\n"}', '1.0', '1e2', '-0',
                     '1.5', '1e400', '1.', '1e', '[1e]', '12345678901234567890', '0.1e-2', '{}', '[]', '',
                     ' [ ] x', 'truex', '[true,false,null]', '{"a":{"b":[{}]}}', '"\1raw control"',
                     string.rep('[', 201) .. string.rep(']', 201),
                     -- numbers: the fast path's (no strtod) and those it leaves to strtod
                     '[0.1,5.19682365,-0,-0.0,1e22,1e23,1.5e-7,123456789012345678,9007199254740993.0]',
                     '[1.0,1e3,0.000001,-2.5E+3,1.7976931348623157e308,4.9e-324,0.30000000000000004]',
                     '[1234567890123456789,9223372036854775807,-9223372036854775808,1e-22,8.5e-23,00,1.]',
                     '[3.14159265358979,2.718281828459045,100,-17,0.5e1,123.456e-5,1e0,1E-0,9007199254740992]' }) do
  json.lua_only = true
  local a, ea = json.decode(s)
  json.lua_only = false
  local b, eb = json.decode(s)
  t.ok('fast path and Lua decoder agree on ' .. string.format('%q', s:sub(1, 24)), same(a, b) and ea == eb,
       tostring(ea) .. ' / ' .. tostring(eb))
end

-- The encoder's fast path (fvsys.json_encode) writes the Lua encoder's bytes, and declines what
-- it does not take (the Lua encoder then gives its message).
t.ok("fvsys has the encoder (these cases compare it)", type(require("fvsys").json_encode) == "function")
local encode_cases = {
  { c = 'x', a = 1, b = { true, false } }, 'a"b\\c\n\1\127\31 é', 0.1, -0.0, 1e300, -5, 2 ^ 53, 3.0,
  math.maxinteger, math.mininteger, {}, setmetatable({}, json.object_mt), { 1, 2, { x = { 'y' } } },
  { [1] = 'a', [3] = 'c' }, { 'a', nil, 'c' }, { a = {}, b = setmetatable({ z = 1 }, json.object_mt) },
  { ['b'] = 1, ['a\0'] = 2 }, { ab = 1, a = 2, ['A'] = 3, ['a b'] = 4, ['~'] = 5, [''] = 6 },
  { [1] = 'x', y = 2 }, { [1.5] = 1 }, { [true] = 1 }, { x = 0 / 0 }, { 1 / 0 }, { print }, cyc, deep, ok199,
  { shared, shared }, setmetatable({ 1 }, {}), false, 'plain',
}
for i, v in ipairs(encode_cases) do
  json.lua_only = true
  local oa, a = pcall(json.encode, v)
  json.lua_only = false
  local ob, b = pcall(json.encode, v)
  t.ok('fast path and Lua encoder agree on case ' .. i, oa == ob and a == b, tostring(a):sub(1, 60) .. ' / ' .. tostring(b):sub(1, 60))
end

t.finish()
