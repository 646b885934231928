-- html: escaping for the HTML that figure kinds build in Lua. Every author-supplied string
-- (alt text, labels, titles) goes through one of these.
local M = {}

local map = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&#39;' }

function M.text(s) return (tostring(s):gsub('[&<>"\']', map)) end

M.attr = M.text

return M
