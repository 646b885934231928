-- sheets: the atlas's images packed by fv-sprite, as the article's are (pipeline/stages/sprites.lua),
-- after the renders ran. Per layer, one job packs every channel's visualization as a thumbnail
-- (`--retina`: the 1x sheets hold each render halved; only those are published, so a layer page
-- loads one small sheet, not hundreds of files). Per channel, one job packs its full-size images
-- (visualization, neuron, diversity set; for a classifier unit its image, top test images and
-- spectrum) into the one sheet its own page loads.
local fs = require 'pipeline.driver.fs'
local sys = require 'fvsys'

local M = {}

-- Thumbnails are previews (the channel's page has it at full quality): an SSIM target of 0.85
-- rather than the article's 0.97 makes them 4x smaller (measured on 59 renders of the article's
-- mid and late layers: 4.3 KB -> 1.1 KB each), so that a 720-channel layer page stays under its
-- 1.5 MB budget (about 0.8 MB of thumbnails, 0.35 MB of HTML).
M.THUMBS = { '--retina', '--target', '0.85' }
local THUMBS = M.THUMBS

local function image(env, ref) return string.format('%s/image_%d.png', env.job_dir(ref[1]), ref[2]) end

-- The frames of channel c of layer l: list of { id, path, role, label }.
function M.channel_frames(l, c, env, examples)
  local o, fr = l.of[c], {}
  fr[#fr + 1] = { id = 'vis', path = image(env, o.vis), role = 'vis' }
  if o.neuron then fr[#fr + 1] = { id = 'neuron', path = image(env, o.neuron), role = 'neuron' } end
  if o.div then
    for i = 0, 3 do fr[#fr + 1] = { id = 'div' .. i, path = image(env, { o.div[1], o.div[2] + i }), role = 'div' } end
  end
  if examples then
    local dir = env.job_dir(l.jobs.examples)
    local ch = examples[c]
    for i, img in ipairs(ch.top) do fr[#fr + 1] = { id = string.format('top%02d', i), path = dir .. '/' .. img.file, role = 'top', img = img } end
    local k = 0
    for _, p in ipairs(ch.spectrum) do
      for _, img in ipairs(p.images) do
        k = k + 1
        fr[#fr + 1] = { id = string.format('spec%02d', k), path = dir .. '/' .. img.file, role = 'spec', img = img }
      end
    end
  end
  return fr
end

-- A list file for fv-sprite (written only when its text changed, so its hash memo stays warm).
local function list_file(name, frames)
  local dir = '.cache/gen/atlas/sheets'
  assert(sys.mkdir_p(dir))
  local lines = {}
  for _, f in ipairs(frames) do
    lines[#lines + 1] = f.id .. '\t' .. (f.path:sub(1, 1) == '/' and f.path or fs.root .. '/' .. f.path)
  end
  local path = dir .. '/' .. name .. '.tsv'
  local text = table.concat(lines, '\n') .. '\n'
  assert(fs.write_if_changed(path, text))
  return path
end

local function job(env, id, list, frames, extra)
  local inputs = { list }
  for _, f in ipairs(frames) do inputs[#inputs + 1] = f.path end
  local argv = { env.bin .. '/fv-sprite', 'build', list, '{out}' }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return { id = id, argv = argv, tools = { env.bin .. '/fv-sprite' }, inputs = inputs, outputs = nil,
           estimate = 0.3 + 0.02 * #frames, kind = 'sprite' }
end

-- The sprite jobs of the selected layers (after their renders and examples ran).
-- examples_of(l): the layer's examples by channel (classifier), or nil.
function M.jobs(layers, env, examples_of)
  local jobs = {}
  for _, l in ipairs(layers) do
    local key = l.net .. '-' .. l.name
    local thumbs = {}
    for c = 0, l.shown - 1 do thumbs[#thumbs + 1] = { id = string.format('c%04d', c), path = image(env, l.of[c].vis) } end
    l.jobs.thumbs = 'atlas:' .. l.net .. '/' .. l.name .. ':thumbs'
    jobs[#jobs + 1] = job(env, l.jobs.thumbs, list_file(key .. '-thumbs', thumbs), thumbs, THUMBS)
    l.sheet_job = {}
    local ex = examples_of(l)
    for c = 0, l.shown - 1 do
      local frames = M.channel_frames(l, c, env, ex)
      l.sheet_job[c] = string.format('atlas:%s/%s:sheet%04d', l.net, l.name, c)
      jobs[#jobs + 1] = job(env, l.sheet_job[c], list_file(string.format('%s-%04d', key, c), frames), frames)
    end
  end
  return jobs
end

-- The 1x sheets of a sprite job's output: { sheet = file name, frames = {id -> {x,y,w,h}}, W, H } list,
-- and the files to publish under dest_dir.
function M.read(env, job_id, dest_dir, files)
  local dir = env.job_dir(job_id)
  local by = {}
  for _, name in ipairs(sys.listdir(dir) or {}) do
    if name:match('%.json$') and not name:find('@2x', 1, true) then
      local atlas = env.read_json(dir .. '/' .. name)
      local dest = dest_dir .. '/' .. atlas.sheet
      files[#files + 1] = { dest = dest, src = dir .. '/' .. atlas.sheet }
      for _, f in ipairs(atlas.frames) do
        by[f.id] = { sheet = dest, x = f.x, y = f.y, w = f.width, h = f.height, W = atlas.width, H = atlas.height,
                     bytes = atlas.encoding.bytes }
      end
    end
  end
  return by
end

return M
