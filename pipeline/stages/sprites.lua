-- Stage "sprites": the rendered images of each figure are packed into a few sheets and encoded
-- to the smallest format that meets the SSIM target (fv-sprite build, one cached job per
-- figure); the page then shows every frame as a window onto its sheet.
--
-- Figure kinds do not write <img> tags for rendered images themselves: they call
-- env.frame(m, path, attrs) which returns a placeholder, and this stage replaces it with the
-- frame's HTML once the atlases exist:
--   <span class="sprite" style="aspect-ratio: w / h"><img src="sprites/<fig>/sheet-0.webp"
--     style="width: W/w·100%; left: -x/w·100%; top: -y/h·100%" alt="…" data-frame="x y w h"></span>
-- Percentages keep the frame exact at any displayed size (the sheet's padding is extruded, so
-- scaling never bleeds a neighbour in).
local json = require 'pipeline.driver.json'
local fs = require 'pipeline.driver.fs'
local html = require 'pipeline.driver.html'

local M = {}

-- Registers a rendered image of figure m; attrs: alt (required), class, extra (raw attribute
-- text, built by the kind). The same file used twice is packed once. Returns the placeholder to
-- put in the figure's HTML.
function M.frame(m, path, attrs)
  -- Kept under one private field: manifests have fields of their own (an interpolation's frames).
  local sp = m._sprite or { frames = {}, of = {}, uses = {} }
  m._sprite = sp
  local id = sp.of[path]
  if not id then
    id = string.format('%s/%d', m.id, #sp.frames + 1)
    sp.frames[#sp.frames + 1] = { id = id, path = path }
    sp.of[path] = id
  end
  sp.uses[#sp.uses + 1] = attrs
  return string.format('\1frame:%s:%d\1', id, #sp.uses)
end

-- The figure whose sheets hold every frame of m, when another figure's do (the channel map
-- shows the renders of the channels appendix): m then reuses those sheets rather than publishing
-- a second copy of the same pixels. The largest such figure is chosen, the earlier one on ties,
-- so that the choice does not depend on anything but the manifests.
local function owner_of(m, figs)
  local best
  for _, o in ipairs(figs) do
    local n, k = o._sprite and #o._sprite.frames or 0, #m._sprite.frames
    -- Only a larger figure, or an equal one placed earlier, can hold m: so no owner shares itself.
    if o ~= m and (n > k or (n == k and o._index < m._index)) and (not best or n > #best._sprite.frames) then
      local all = true
      for _, f in ipairs(m._sprite.frames) do
        if not o._sprite.of[f.path] then all = false; break end
      end
      if all then best = o end
    end
  end
  return best
end

-- One job per figure that has frames of its own (see owner_of).
function M.jobs(figs, env)
  local jobs = {}
  local dir = '.cache/gen/sprites'
  assert(require('fvsys').mkdir_p(dir))
  for i, m in ipairs(figs) do m._index = i end
  for _, m in ipairs(figs) do
    if m._sprite then m.sprite_owner = owner_of(m, figs) end
  end
  for _, m in ipairs(figs) do
    if m._sprite and not m.sprite_owner then
      local lines, inputs = {}, {}
      for _, f in ipairs(m._sprite.frames) do
        local abs = f.path:sub(1, 1) == '/' and f.path or (fs.root .. '/' .. f.path)
        lines[#lines + 1] = f.id .. '\t' .. abs
        inputs[#inputs + 1] = f.path
      end
      local list = string.format('%s/%s.tsv', dir, m.id)
      local text = table.concat(lines, '\n') .. '\n'
      if fs.read(list) ~= text then assert(fs.write_atomic(list, text)) end
      inputs[#inputs + 1] = list
      m.sprite_job = 'sprites:' .. m.id
      jobs[#jobs + 1] = {
        id = m.sprite_job,
        argv = { env.bin .. '/fv-sprite', 'build', list, '{out}' },
        tools = { env.bin .. '/fv-sprite' },
        inputs = inputs,
        outputs = nil, -- the sheets it chooses (names depend on the encodings): all it writes
        estimate = 0.5 + 0.05 * #m._sprite.frames,
        figure = m.id,
      }
    end
  end
  -- The lists are the sheets' recipes (the benchmarks pack them too): none of a figure gone.
  local sys = require('fvsys')
  for _, name in ipairs(sys.listdir(dir) or {}) do
    local id = name:match('^(.*)%.tsv$')
    local keep = false
    for _, j in ipairs(jobs) do if j.figure == id then keep = true end end
    if id and not keep then os.remove(dir .. '/' .. name) end
  end
  return jobs
end

-- Replaces the placeholders of every figure's HTML and returns the sheets and atlases to
-- publish (each sheet once), plus one line per sheet for the build's report.
function M.resolve(figs, env, bodies)
  local files, report = {}, {}
  local frames_of = {} -- figure id -> frame id -> where it is, for figures with sheets of their own
  for _, m in ipairs(figs) do
    if m.sprite_job then
      local dir = env.job_dir(m.sprite_job)
      local frames = {}
      for _, name in ipairs(require('fvsys').listdir(dir)) do
        if name:match('%.json$') then
          local atlas = env.read_json(dir .. '/' .. name)
          local dest = string.format('sprites/%s/%s', m.id, atlas.sheet)
          files[#files + 1] = { dest = dest, src = dir .. '/' .. atlas.sheet }
          local e = atlas.encoding
          report[#report + 1] = string.format('%s %s %s q%d ssim %.4f %d bytes', m.id, atlas.sheet, e.format,
            e.quality, e.ssim, e.bytes)
          for _, f in ipairs(atlas.frames) do
            frames[f.id] = { sheet = dest, x = f.x, y = f.y, w = f.width, h = f.height, W = atlas.width, H = atlas.height }
          end
        end
      end
      frames_of[m.id] = frames
    end
  end
  for _, m in ipairs(figs) do
    if m._sprite then
      local owner = m.sprite_owner or m
      local frames, path_of = frames_of[owner.id], {}
      for _, f in ipairs(m._sprite.frames) do path_of[f.id] = f.path end
      bodies[m.id] = bodies[m.id]:gsub('\1frame:([^\1]+):(%d+)\1', function(id, use)
        local f = frames[owner._sprite.of[path_of[id]]]
        if not f then error(string.format("sprites: frame '%s' is missing from the atlases of %s", id, owner.sprite_job), 0) end
        local a = m._sprite.uses[tonumber(use)]
        return string.format('<span class="sprite%s" style="aspect-ratio: %d / %d"><img src="%s" alt="%s" '
          .. 'style="width: %.4f%%; left: %.4f%%; top: %.4f%%" data-frame="%d %d %d %d" width="%d" height="%d" '
          .. 'loading="lazy" decoding="async"%s></span>',
          a.class and (' ' .. a.class) or '', f.w, f.h, html.attr(f.sheet), html.attr(a.alt),
          100 * f.W / f.w, -100 * f.x / f.w, -100 * f.y / f.h, f.x, f.y, f.w, f.h, f.W, f.H, a.extra or '')
      end)
    end
  end
  return files, report
end

return M
