-- Stage "figures": every figures/<id>.lua manifest, checked, turned into jobs by its kind, and
-- after those jobs ran, into figures.json for the page tool plus the list of files to publish.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local json = require 'pipeline.driver.json'
local manifest = require 'pipeline.driver.manifest'

local M = {}

-- Loads every manifest in dir. Returns a list sorted by id, or nil and one line of error.
function M.load(dir)
  local list = {}
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local id = name:match('^(.*)%.lua$')
    if id then
      if not id:match('^[%w_-]+$') then
        local q = require('pipeline.driver.quote').text
        return nil, string.format("%s/%s: figure id '%s' (expected letters, digits, '-' and '_' only)", dir, q(name), q(id))
      end
      local m, err = manifest.load(dir .. '/' .. name, id)
      if not m then return nil, err end
      list[#list + 1] = m
    end
  end
  return list
end

function M.jobs(figs, env)
  local jobs = {}
  -- What a kind may read of the others (the appendix of recipes does): every figure, and the
  -- ids of each figure's jobs.
  env.figures, env.jobs_of = figs, {}
  local seen = {}
  for _, m in ipairs(figs) do
    env.jobs_of[m.id] = {}
    for _, j in ipairs(m.kindmod.jobs(m, env)) do
      -- A job several figures share (training the classifier) is kept once.
      if not seen[j.id] then
        seen[j.id] = true
        j.figure = m.id
        jobs[#jobs + 1] = j
      end
      table.insert(env.jobs_of[m.id], j.id)
    end
  end
  return jobs
end

-- After the figure jobs: each figure's body HTML (by id) and the files to publish.
function M.bodies(figs, env)
  local bodies, files = {}, {}
  for _, m in ipairs(figs) do
    local body, fl = m.kindmod.html(m, env)
    bodies[m.id] = body
    for _, f in ipairs(fl) do files[#files + 1] = f end
  end
  return bodies, files
end

-- Writes figures.json, the page tool's view of the figures.
function M.write(figs, bodies, path)
  local out = setmetatable({}, json.object_mt)
  for _, m in ipairs(figs) do
    out[m.id] = { source = m.file, kind = m.kind, caption = m.caption, caption_line = m.caption_line,
                  html = bodies[m.id], class = m.width == 'wide' and 'wide' or '' }
  end
  return fs.write_atomic(path, json.encode({ figures = out }) .. '\n')
end

return M
