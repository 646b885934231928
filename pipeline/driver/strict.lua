-- strict: any read or write of an undeclared global is an error, so that a typo in a stage
-- fails loudly instead of reading nil. Installed first thing by build.lua.
local mt = {}
function mt.__newindex(_, name)
  error("assignment to undeclared global '" .. tostring(name) .. "'", 2)
end
function mt.__index(_, name)
  error("read of undeclared global '" .. tostring(name) .. "'", 2)
end
setmetatable(_G, mt)
return true
