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

-- The figures the article places ({{figure id}} alone on a line of article, as fv-page reads
-- it), and the others, each with the one-line warning a drafting author expects: it is checked
-- but neither rendered nor published. The scan may take a line of a code block for a placement:
-- that only renders a figure for nothing, never drops one the page shows.
function M.placed(figs, article)
  local text, err = fs.read(article)
  if not text then return nil, article .. ': ' .. tostring(err) end
  local on = {}
  for line in (text .. '\n'):gmatch('([^\n]*)\n') do
    local id = line:match('^%s*{{%s*figure%s+([%w_-]+)%s*}}%s*\r?$')
    if id then on[id] = true end
  end
  local placed, warnings = {}, {}
  for _, m in ipairs(figs) do
    if on[m.id] then placed[#placed + 1] = m
    else
      warnings[#warnings + 1] = string.format("%s: figure '%s' is not placed in %s (no {{figure %s}}); not rendered, not published",
        m.file, m.id, article, m.id)
    end
  end
  return placed, warnings
end

-- The jobs of every figure (each kind checks what only the whole set can tell, placed or not),
-- and of the placed ones only: the build runs those; --only may name any.
-- Returns placed_jobs, all_jobs.
function M.jobs(figs, env, placed)
  local all, jobs = {}, {}
  -- What a kind may read of the others (the appendix of recipes does): every figure, and the
  -- ids of each placed figure's jobs.
  env.figures, env.jobs_of = figs, {}
  local on = {}
  for _, m in ipairs(placed or figs) do on[m] = true end
  local seen, kept = {}, {}
  for _, m in ipairs(figs) do
    if on[m] then env.jobs_of[m.id] = {} end
    for _, j in ipairs(m.kindmod.jobs(m, env)) do
      -- A job several figures share (training the classifier) is kept once.
      if not seen[j.id] then
        seen[j.id] = j
        j.figure = m.id
        all[#all + 1] = j
      end
      if on[m] then
        table.insert(env.jobs_of[m.id], j.id)
        if not kept[j.id] then kept[j.id] = true; jobs[#jobs + 1] = seen[j.id] end
      end
    end
  end
  -- In the order of all (dependencies first), whichever figure came first.
  local order = {}
  for i, j in ipairs(all) do order[j] = i end
  table.sort(jobs, function(a, b) return order[a] < order[b] end)
  return jobs, all
end

-- After the figure jobs: the images each figure shows, as its kind lists them (kind.frames,
-- optional), for the sprite stage to pack. declare(m, paths) records them.
function M.frames(figs, env, declare)
  for _, m in ipairs(figs) do
    if m.kindmod.frames then declare(m, m.kindmod.frames(m, env)) end
  end
end

-- After the sheets are packed: each figure's body HTML (by id) and the files to publish.
-- framer(m): the function that gives the HTML of one of m's frames on its sheet.
function M.bodies(figs, env, framer)
  local bodies, files = {}, {}
  for _, m in ipairs(figs) do
    local body, fl = m.kindmod.html(m, env, framer(m))
    bodies[m.id] = body
    for _, f in ipairs(fl) do files[#files + 1] = f end
  end
  return bodies, files
end

-- Writes figures.json, the page tool's view of the figures.
function M.write(figs, bodies, path)
  local out = setmetatable({}, json.object_mt)
  for _, m in ipairs(figs) do
    -- A figure not placed stays known to the page (with no body), so that {{ref id}} to it
    -- says "never placed" rather than "unknown figure".
    out[m.id] = { source = m.file, kind = m.kind, caption = m.caption, caption_line = m.caption_line,
                  html = bodies[m.id] or '', class = m.width == 'wide' and 'wide' or '' }
  end
  -- Unchanged, the file is left alone: its inode and mtime stay, so the page job's key takes
  -- its hash from the memo instead of reading it again.
  return fs.write_if_changed(path, json.encode({ figures = out }) .. '\n')
end

return M
