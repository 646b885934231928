-- proc: runs a short command to its end and tells what it printed (npm, tar, the Slurm client
-- commands). Jobs are not run here: the runner's executors start those.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'

local M = {}

-- Runs argv with its output in files under tmpdir (removed after). Waits for that process
-- only, through interruptions (the commands are short; the caller checks sys.interrupted()).
-- Returns ok (exit 0), code (exit status, -signal, or nil when it could not start), stdout and
-- stderr as text.
function M.run(argv, tmpdir)
  local base = string.format('%s/proc.%d.%d', tmpdir, sys.getpid(), math.random(1 << 30))
  local out, err = base .. '.out', base .. '.err'
  local pid, serr = sys.spawn(argv, { stdout = out, stderr = err })
  if not pid then return false, nil, '', serr end
  local got, code
  repeat got, code = sys.wait(true, pid) until got == pid or (got == nil and code ~= 'interrupted')
  local o, e = fs.read(out) or '', fs.read(err) or ''
  os.remove(out); os.remove(err)
  return got == pid and code == 0, got == pid and code or nil, o, e
end

-- The first of names that is not on PATH, or nil when all are.
function M.missing(names)
  for _, n in ipairs(names) do
    local found = false
    for dir in (os.getenv('PATH') or ''):gmatch('[^:]+') do
      local st = sys.stat(dir .. '/' .. n)
      if st and st.type == 'file' then found = true; break end
    end
    if not found then return n end
  end
end

return M
