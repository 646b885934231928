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

-- What the placed figures' bodies (and the files they publish) are a function of, as one
-- sha256. A kind's html(m, env, frame) reads the manifests, env, the entries of jobs and the
-- placed frames; so the key holds:
--   * the driver's code: every Lua file of its kinds, stages and driver, build.lua, and the
--     fvsys module (its JSON decoder);
--   * the places (bodies and file lists hold real paths) and whether the build is quick;
--   * every manifest's file and source (the recipes appendix reads them all) and which are placed;
--   * every job the bodies may read (the figures' and the sheets'): its key, and the sha256 of
--     each file of its entry, so that an entry run again with other bytes (--force, another
--     CPU's arithmetic) changes it too.
-- A kind whose html reads anything else says M.volatile = true (the atlas link reads
-- build/atlas/): its body is made again at every build. Returns the key, or nil and a message.
function M.bodies_key(b, jobs, root, places)
  local parts = { 'fv-bodies-1', 'quick=' .. tostring(b.env.quick), 'bin=' .. b.env.bin }
  for _, p in ipairs(places) do parts[#parts + 1] = 'place=' .. p[1] .. '=' .. p[2] end
  local so = package.searchpath('fvsys', package.cpath)
  if not so then return nil, 'fvsys: not found on package.cpath (run `make tools`)' end
  local code = { root .. '/build.lua', so }
  for _, d in ipairs({ 'kinds', 'stages', 'driver' }) do
    local names = sys.listdir(root .. '/pipeline/' .. d) or {}
    table.sort(names)
    for _, n in ipairs(names) do
      if n:match('%.lua$') then code[#code + 1] = root .. '/pipeline/' .. d .. '/' .. n end
    end
  end
  for _, path in ipairs(code) do
    local h, err = fs.hash(path)
    if not h then return nil, err end
    parts[#parts + 1] = 'code=' .. path .. ':' .. h
  end
  local on = {}
  for _, m in ipairs(b.placed) do on[m] = true end
  for _, m in ipairs(b.figs) do
    parts[#parts + 1] = string.format('figure=%s %s %s %s', m.id, m.file, on[m] and 'placed' or '-', sys.sha256(m.src))
  end
  for _, j in ipairs(jobs) do
    parts[#parts + 1] = 'job=' .. j.id .. ' ' .. tostring(j.key)
    for _, f in ipairs(j.meta and j.meta.files or {}) do parts[#parts + 1] = ' ' .. f.name .. ':' .. f.sha256 end
  end
  return sys.sha256(table.concat(parts, '\n'))
end

-- The remembered bodies (M.write_bodies): { key, figjson = sha256 of the figures.json written,
-- figures = { {id, files = {...}} or {id, volatile = sha256 of its body}, ... } }.
local function load_memo(path)
  local chunk = loadfile(path, 't', {})
  local ok, t = pcall(chunk or error)
  if ok and type(t) == 'table' and type(t.figures) == 'table' then return t end
end

local function save_memo(path, key, figjson, entries)
  local out = { 'return {', string.format('key=%q, figjson=%q, figures={', key, figjson) }
  for _, e in ipairs(entries) do
    if e.volatile then
      out[#out + 1] = string.format('{id=%q, volatile=%q},', e.id, e.volatile)
    else
      local fl = {}
      for _, f in ipairs(e.files) do
        local fields = {}
        for k, v in pairs(f) do fields[#fields + 1] = string.format('[%q]=%q', k, v) end
        table.sort(fields)
        fl[#fl + 1] = '{' .. table.concat(fields, ',') .. '}'
      end
      out[#out + 1] = string.format('{id=%q, files={%s}},', e.id, table.concat(fl, ','))
    end
  end
  out[#out + 1] = '}}\n'
  return fs.write_if_changed(path, table.concat(out, '\n'))
end

-- After the sheets are packed: each placed figure's body HTML into figures.json (path, with
-- every figure known to the page), and the files to publish, which it returns (or nil and a
-- message). framer(m): the function that gives the HTML of one of m's frames on its sheet.
--
-- A no-op build makes no body: when key (M.bodies_key) is the one the memo (state, a file of
-- .cache/state/) recorded and figures.json is still the file written then, the bodies are
-- those of figures.json and the files those recorded. Only volatile kinds' bodies are made,
-- and must come out as before. A kind's html took a third of a no-op build (reading and
-- decoding its records).
function M.write_bodies(figs, placed, env, framer, path, key, state)
  local memo = load_memo(state)
  if memo and memo.key == key and memo.figjson == fs.hash(path) then
    local by_id, files, same = {}, {}, true
    for _, m in ipairs(placed) do by_id[m.id] = m end
    for _, e in ipairs(memo.figures) do
      local fl = e.files
      if e.volatile then
        local m = by_id[e.id]
        local body
        if m then body, fl = m.kindmod.html(m, env, framer(m)) end
        if not m or sys.sha256(body) ~= e.volatile then same = false; break end
      end
      for _, f in ipairs(fl) do files[#files + 1] = f end
    end
    if same then return files end
  end
  local bodies, files, entries = {}, {}, {}
  for _, m in ipairs(placed) do
    local body, fl = m.kindmod.html(m, env, framer(m))
    bodies[m.id] = body
    for _, f in ipairs(fl) do files[#files + 1] = f end
    entries[#entries + 1] = m.kindmod.volatile and { id = m.id, volatile = sys.sha256(body) } or { id = m.id, files = fl }
  end
  local out = setmetatable({}, json.object_mt)
  for _, m in ipairs(figs) do
    -- A figure not placed stays known to the page (with no body), so that {{ref id}} to it
    -- says "never placed" rather than "unknown figure".
    out[m.id] = { source = m.file, kind = m.kind, caption = m.caption, caption_line = m.caption_line,
                  html = bodies[m.id] or '', class = m.width == 'wide' and 'wide' or '' }
  end
  -- Unchanged, the file is left alone: its inode and mtime stay, so the page job's key takes
  -- its hash from the memo instead of reading it again.
  local text = json.encode({ figures = out }) .. '\n'
  local ok, err = fs.write_if_changed(path, text)
  if not ok then return nil, err end
  ok, err = save_memo(state, key, sys.sha256(text), entries)
  if not ok then return nil, err end
  return files
end

return M
