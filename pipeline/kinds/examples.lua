-- Figure kind "examples": dataset examples next to optimization, on the pipeline's own
-- Fashion-MNIST classifier. For each unit (a channel of a layer): the image optimized to excite
-- it, the test images that excite it most, and its activation spectrum (test images from its
-- minimum through zero to its maximum, with their values).
--
--   return {
--     kind = "examples", caption = "…",
--     layer = "fc1",                 -- fv-examples layer (':preact' for before the ReLU)
--     units = { 12, 40 },            -- channels of that layer
--     k = 6,                         -- top examples shown
--     recipe = { steps = 256 },      -- render recipe fields (size 28, no transforms by default);
--                                    -- its objectives (penalties) are added to each unit's
--   }
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'
local fmnist = require 'pipeline.driver.fmnist'

local M = {}

M.fields = { layer = true, units = true, k = true, recipe = true }

function M.validate(m, ctx)
  ctx:field(m, 'layer', 'string', true)
  fmnist.check_units(m, ctx, 16)
  local k = ctx:field(m, 'k', 'number', false)
  if k and (math.type(k) ~= 'integer' or k < 1 or k > 16) then ctx:fail('k', 'expected a whole number from 1 to 16') end
  render.check_manifest(m, ctx)
end

function M.jobs(m, env)
  local train = fmnist.train_job(env)
  local chans = {}
  for _, u in ipairs(m.units) do chans[#chans + 1] = tostring(u) end
  m.examples_job = 'examples:' .. m.id
  local jobs = { train, {
    id = m.examples_job, deps = { train.id },
    argv = { env.bin .. '/fv-examples', '--layer', m.layer, '--k', tostring(m.k or 6), '--channels', table.concat(chans, ','),
             '{dep:' .. train.id .. '}', '{out}' },
    tools = { env.bin .. '/fv-examples' }, inputs = { fmnist.data .. '/t10k-images-idx3-ubyte.gz' },
    outputs = nil, estimate = env.quick and 3 or 10,
  } }
  m.render_jobs = {}
  local layer = m.layer:find(':preact') and m.layer or (m.layer .. ':preact')
  for i, u in ipairs(m.units) do
    -- The unit's objective, plus any penalties the manifest's recipe lists (total variation…).
    local objs = { { kind = 'channel', channel = u } }
    for _, o in ipairs((m.recipe or {}).objectives or {}) do objs[#objs + 1] = o end
    local r = render.merge(fmnist.render_defaults, m.recipe,
      { layer = layer, objectives = objs })
    local j = render.job(m, env, 'unit' .. i, r,
      { job = train.id, json = 'fmnist-cnn.json', bin = 'fmnist-cnn.bin', size = true })
    m.render_jobs[i] = j.id
    jobs[#jobs + 1] = j
  end
  return jobs
end

-- For each unit: its optimized image, its top test images, then its spectrum's.
function M.frames(m, env)
  local dir = env.job_dir(m.examples_job)
  local by = {}
  for _, c in ipairs(env.read_json(dir .. '/examples.json').channels) do by[c.channel] = c end
  local paths = {}
  for i, u in ipairs(m.units) do
    paths[#paths + 1] = env.job_dir(m.render_jobs[i]) .. '/image_0.png'
    for _, img in ipairs(by[u].top) do paths[#paths + 1] = dir .. '/' .. img.file end
    for _, p in ipairs(by[u].spectrum) do
      for _, img in ipairs(p.images) do paths[#paths + 1] = dir .. '/' .. img.file end
    end
  end
  return paths
end

local function tile(frame, dir, img, show_value)
  local label = string.format('test image %d, %s, activation %.2f', img.index, img.class, img.value)
  local f = frame(dir .. '/' .. img.file, { alt = string.format('Test image %d, a %s', img.index, img.class),
    class = 'fv-zoom', extra = ' data-label="' .. html.attr(label) .. '"' })
  local cap = show_value and string.format('<span class="val">%.2f</span>', img.value) or ''
  return '<span class="ex">' .. f .. cap .. '</span>'
end

-- The toggle swaps what each unit shows (data-show on .examples: both, optimized or dataset).
-- It is hidden until the page's script enables it, so without script both are shown.
local toggle = '<div class="ex-toggle" role="group" aria-label="Show for each unit" hidden>'
  .. '<button type="button" data-show="both" aria-pressed="true">Both</button>'
  .. '<button type="button" data-show="optimized" aria-pressed="false">Optimized</button>'
  .. '<button type="button" data-show="dataset" aria-pressed="false">Dataset examples</button></div>'

function M.html(m, env, frame)
  local dir = env.job_dir(m.examples_job)
  local ex = env.read_json(dir .. '/examples.json')
  local by = {}
  for _, c in ipairs(ex.channels) do by[c.channel] = c end
  local out = { toggle, '<div class="examples" data-show="both">' }
  for i, u in ipairs(m.units) do
    local c = by[u]
    local opt = frame(env.job_dir(m.render_jobs[i]) .. '/image_0.png',
      { alt = string.format('Image optimized to excite unit %d of %s', u, m.layer), class = 'fv-zoom',
        extra = string.format(' data-label="unit %d, optimized"', u) })
    local top, spec = {}, {}
    for _, img in ipairs(c.top) do top[#top + 1] = tile(frame, dir, img, false) end
    for _, p in ipairs(c.spectrum) do
      for _, img in ipairs(p.images) do spec[#spec + 1] = tile(frame, dir, img, true) end
    end
    out[#out + 1] = string.format('<div class="ex-row"><div class="ex-unit">unit %d</div>'
      .. '<div class="ex-opt">%s<span class="ex-h">optimized</span></div>'
      .. '<div class="ex-top"><div class="ex-tiles">%s</div><span class="ex-h">top test images</span></div>'
      .. '<div class="ex-spec"><div class="ex-tiles">%s</div><span class="ex-h">spectrum: minimum → zero → maximum</span></div></div>',
      u, opt, table.concat(top), table.concat(spec))
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), {}
end

return M
