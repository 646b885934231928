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

t.finish()
