-- test_memo: fvsys.memo_encode / memo_decode (pipeline/luaext/memo.c), the bytes of the hash
-- memo that pipeline/driver/fs.lua keeps in .cache/state/hashes.bin.
local t = require 'lib'
local sys = require 'fvsys'

local memo = {
  ['src/a.lua'] = { 12, 1796654292356174250, 10954086, string.rep('ab', 32) },
  ['checked:/store/objects/k/image_0.png'] = { 65024, 10953172, 42698, 1796654550937568275, 1796654550937568275, string.rep('0f', 32) },
  ['text:.cache/gen/x.json'] = { 0, -1, math.maxinteger, math.mininteger, 'h' },
}
local keys = {}
for k in pairs(memo) do keys[#keys + 1] = k end
table.sort(keys)
local bytes = sys.memo_encode(keys, memo)
t.eq('the bytes start with the magic', 'fvmemo1\n', bytes:sub(1, 8))
local back, err = sys.memo_decode(bytes)
local same = back ~= nil
for k, r in pairs(memo) do
  local b = back and back[k]
  same = same and b and #b == #r
  for i = 1, #r do same = same and b[i] == r[i] and math.type(b[i]) == math.type(r[i]) end
end
local n = 0
for _ in pairs(back or {}) do n = n + 1 end
t.ok('records come back as they were (integers of any sign and size, the hash)', same and n == 3, err)
t.eq('the same records give the same bytes', bytes, sys.memo_encode(keys, memo))
t.eq('only the keys listed are written', 1, (function()
  local only = sys.memo_decode(sys.memo_encode({ 'src/a.lua' }, memo))
  local c = 0
  for _ in pairs(only) do c = c + 1 end
  return c
end)())
t.ok('an empty memo is the magic alone', sys.memo_encode({}, memo) == 'fvmemo1\n' and next(sys.memo_decode('fvmemo1\n')) == nil)

-- Damaged bytes never raise: every cut and every flipped byte decodes to a table or to nil and
-- the offset where it stopped making sense.
local raised, cut_ok = 0, true
for i = 0, #bytes - 1 do
  local ok, r, msg = pcall(sys.memo_decode, bytes:sub(1, i))
  if not ok then raised = raised + 1
  elseif i > 8 and i < #bytes then
    -- a cut inside a record is reported (one at a record's end decodes to fewer records)
    if r == nil then cut_ok = cut_ok and msg:match('^byte %d+: ') ~= nil end
  end
end
t.eq('no cut of the memo raises', 0, raised)
t.ok('... and each one that fails names its byte', cut_ok)
local _, msg = sys.memo_decode(bytes:sub(1, #bytes - 3))
t.ok('a cut hash is reported', msg and msg:find('cut short', 1, true), msg)
_, msg = sys.memo_decode('return {}\n')
t.ok('a memo of another format is refused', msg and msg:find('byte 0: expected "fvmemo1"', 1, true), msg)
for i = 9, #bytes do
  for _, v in ipairs({ 0, 255 }) do
    local ok = pcall(sys.memo_decode, bytes:sub(1, i - 1) .. string.char(v) .. bytes:sub(i + 1))
    if not ok then raised = raised + 1 end
  end
end
t.eq('no changed byte raises', 0, raised)

-- What it cannot write is an error (fs.lua writes only records that pass its own check).
t.fails('a field that is not an integer is refused', 'field 1 is not an integer', sys.memo_encode, { 'k' }, { k = { 1.5, 2, 3, 'h' } })
t.fails('a record without a hash is refused', 'does not end in a hash', sys.memo_encode, { 'k' }, { k = { 1, 2, 3, 4 } })
t.fails('a key without a record is refused', 'has no record', sys.memo_encode, { 'k' }, {})
t.fails('an empty key is refused', 'is not a string of 1 to 65535 bytes', sys.memo_encode, { '' }, { [''] = { 1, 'h' } })
t.fails('too many fields are refused', 'fields (expected 2 to 9)', sys.memo_encode, { 'k' }, { k = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 'h' } })

t.finish()
