-- quote: text written by an author (a key, a path, a value), made safe to echo in a one-line
-- message: control characters (a new line, a terminal escape) are shown as escapes, invalid
-- UTF-8 bytes as \xNN, and a long text is cut. Every message of the driver that echoes such
-- text passes it through here.
local M = {}

local named = { ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function hex(c) return named[c] or string.format('\\x%02x', c:byte()) end

-- s (any value; tostring'd) escaped, at most max bytes of it (default 200) and then '...'.
function M.text(s, max)
  s = tostring(s)
  max = max or 200
  local cut = false
  if #s > max then
    -- Cut on a character boundary: back over UTF-8 continuation bytes.
    while max > 0 and (s:byte(max + 1) or 0) & 0xC0 == 0x80 do max = max - 1 end
    s, cut = s:sub(1, max), true
  end
  s = s:gsub('[%c\127]', hex)
  if utf8.len(s) then
    -- C1 controls (U+0080..U+009F) act as escapes on some terminals too.
    s = s:gsub('\194([\128-\159])', function(c) return string.format('\\u%04x', c:byte()) end)
  else
    s = s:gsub('[\128-\255]', hex)
  end
  return cut and s .. '...' or s
end

return M
