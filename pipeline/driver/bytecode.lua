-- bytecode: the driver's modules from the bytecode `make tools` compiled (pipeline/driver/
-- module.mk: luac5.4 into build/<variant>/luac/), where it was compiled from the source as it is
-- now; else from the source, as Lua would.
--
-- Why: parsing the driver's 26 modules took 3.6 ms of a 23 ms no-op build; loading their
-- bytecode takes 1.4 ms (debug info kept: errors still name file and line).
-- Current means: the bytecode file carries its source's mtime to the nanosecond (the rule
-- copies it with touch -r). An edit, a checkout or a patch gives the source a new mtime, and
-- the source is loaded until `make tools` compiles it again. Bytecode that does not load (cut
-- short, another Lua's format) falls back to the source too.
local M = {}

-- A searcher for package.searchers (put before Lua's own): module a.b from <bc_root>/a/b.luac
-- when <src_root>/a/b.lua has the same mtime. stat(path) returns a table with mtime_ns, or nil.
-- M.loaded[name] = true records what came from bytecode (for the tests).
M.loaded = {}
function M.searcher(src_root, bc_root, stat)
  return function(name)
    local rel = name:gsub('%.', '/')
    local bc = bc_root .. '/' .. rel .. '.luac'
    local sb = stat(bc)
    if not sb then return '\n\tno bytecode ' .. bc end
    local ss = stat(src_root .. '/' .. rel .. '.lua')
    if not ss or ss.mtime_ns ~= sb.mtime_ns then return '\n\tbytecode ' .. bc .. ' is not current' end
    local chunk, err = loadfile(bc, 'b')
    if not chunk then return '\n\t' .. tostring(err) end
    M.loaded[name] = true
    return chunk, bc
  end
end

return M
