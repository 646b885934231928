-- Stage "sprites": the rendered images of each figure are packed into a few sheets and encoded
-- to the smallest format that meets the SSIM target (fv-sprite build, one cached job per
-- figure); the page then shows every frame as a window onto its sheet.
--
-- Data flows one way: a kind lists the images it shows (kind.frames(m, env), after its jobs
-- ran), this stage packs them, and the kind's html(m, env, frame) then gets each frame already
-- placed: frame(path, attrs) returns
--   <span class="sprite" style="aspect-ratio: w / h"><img src="sprites/<fig>/sheet-0.webp"
--     style="width: W/w·100%; left: -x/w·100%; top: -y/h·100%" alt="…" data-frame="x y w h"></span>
-- Percentages keep the frame exact at any displayed size (the sheet's padding is extruded, so
-- scaling never bleeds a neighbour in).
local fs = require 'pipeline.driver.fs'
local html = require 'pipeline.driver.html'

local M = {}

-- Records the images figure m shows (paths, in the order the page shows them first; the same
-- file listed twice is packed once).
function M.declare(m, paths)
  -- Kept under one private field: manifests have fields of their own (an interpolation's frames).
  local sp = { frames = {}, of = {} }
  for _, path in ipairs(paths) do
    if not sp.of[path] then
      local id = string.format('%s/%d', m.id, #sp.frames + 1)
      sp.frames[#sp.frames + 1] = { id = id, path = path }
      sp.of[path] = id
    end
  end
  if #sp.frames > 0 then m._sprite = sp end
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
      assert(fs.write_if_changed(list, text))
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

-- After the sprite jobs: reads the atlases, and returns the sheets to publish (each once) plus
-- one line per sheet for the build's report. Each figure's frames are then placed (M.framer).
function M.resolve(figs, env)
  local files, report = {}, {}
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
      m._sprite.placed = frames
    end
  end
  return files, report
end

-- The frame function handed to figure m's html(): frame(path, attrs) returns the HTML of image
-- `path` (one of those m's kind listed) on its sheet; attrs: alt (required), class, extra (raw
-- attribute text, built by the kind).
function M.framer(m)
  return function(path, attrs)
    local owner = m.sprite_owner or m
    local id = m._sprite and m._sprite.of[path]
    if not id then
      error(string.format("sprites: figure '%s' shows %s, which its kind's frames() does not list", m.id, path), 0)
    end
    local f = owner._sprite.placed[owner._sprite.of[path]]
    if not f then error(string.format("sprites: frame '%s' is missing from the atlases of %s", id, owner.sprite_job), 0) end
    return string.format('<span class="sprite%s" style="aspect-ratio: %d / %d"><img src="%s" alt="%s" '
      .. 'style="width: %.4f%%; left: %.4f%%; top: %.4f%%" data-frame="%d %d %d %d" width="%d" height="%d" '
      .. 'loading="lazy" decoding="async"%s></span>',
      attrs.class and (' ' .. attrs.class) or '', f.w, f.h, html.attr(f.sheet), html.attr(attrs.alt),
      100 * f.W / f.w, -100 * f.x / f.w, -100 * f.y / f.h, f.x, f.y, f.w, f.h, f.W, f.H, attrs.extra or '')
  end
end

return M
