-- test_quote: pipeline/driver/quote.lua (the author's text made safe to echo) and the messages
-- of fs.lua that echo it: a path's bad character, a failed job's log tail.
local t = require 'lib'
local quote = require 'pipeline.driver.quote'
local fs = require 'pipeline.driver.fs'

t.eq('a new line, a tab and a terminal escape are escaped', 'a\\nb\\tc\\x1b[31m', quote.text('a\nb\tc\27[31m'))
t.eq('DEL and NUL are escaped', '\\x7f\\x00', quote.text('\127\0'))
t.eq('UTF-8 text is kept', 'café ∑', quote.text('café ∑'))
t.eq('a C1 control (CSI, U+009B) is escaped', 'a\\u009bb', quote.text('a\194\155b'))
t.eq('invalid UTF-8 bytes are escaped', '\\xff\\x9b[2J', quote.text('\255\155[2J'))
t.eq('a long text is cut', 'abc...', quote.text('abcdef', 3))
t.eq('a cut never splits a character', 'é...', quote.text('éé', 3))
t.eq('a number is text', '42', quote.text(42))

fs.root = require('fvsys').realpath('.')
local _, why = fs.safe_path('content', 'images/a\27[2J.png')
t.eq('a control character in a path is named', "invalid character '\\x1b' in path (expected printable characters)", why)
_, why = fs.safe_path('content', 'images\\a.png')
t.eq('a backslash in a path is named', "invalid character '\\' in path (expected '/' between names)", why)
_, why = fs.safe_path('content', 'a\0b')
t.eq('a NUL in a path is named', "invalid character '\\x00' in path (expected printable characters)", why)

local f = assert(io.open('tool.log', 'wb'))
f:write('one\n', 'two\n', "tool.json: unknown layer 'x\27]0;pwned\7'\n")
f:close()
local tail, lines = fs.tail('tool.log', 2)
t.eq("a job's log tail is escaped, line by line", "two\ntool.json: unknown layer 'x\\x1b]0;pwned\\x07'", tail)
t.eq('... and all its lines are counted', 3, #lines)

t.finish()
