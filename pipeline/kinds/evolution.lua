-- Figure kind "evolution": how units of the Fashion-MNIST classifier come to be while it learns.
-- The shared training (seed 1) keeps checkpoints (pipeline/driver/fmnist.lua says which: the
-- untrained network, a few early steps, every epoch); each unit is optimized on each checkpoint
-- with the same recipe and seed, so a row shows one unit as training goes, and each column's
-- test accuracy says how far the network was.
--
--   return {
--     kind = "evolution", caption = "…",
--     alt = "What the figure shows, for a reader who cannot see it",
--     layer = "fc1:preact",          -- the units' layer
--     units = { 5, 42, 77 },         -- 1 to 8 channels of that layer
--     recipe = { steps = 256 },      -- render recipe fields (size 28, no transforms by default);
--                                    -- its objectives (penalties) are added to the units'
--   }
-- One render job per checkpoint: its batch holds the units (one network pass serves them all).
local html = require 'pipeline.driver.html'
local json = require 'pipeline.driver.json'
local fs = require 'pipeline.driver.fs'
local render = require 'pipeline.driver.render'
local fmnist = require 'pipeline.driver.fmnist'

local M = {}

M.fields = { alt = true, layer = true, units = true, recipe = true }

function M.validate(m, ctx)
  ctx:field(m, 'alt', 'string', true)
  ctx:field(m, 'layer', 'string', true)
  fmnist.check_units(m, ctx, 8)
  render.check_manifest(m, ctx, { 'layer', 'batch' })
end

function M.jobs(m, env)
  local train = fmnist.train_job(env)
  m.train_job = train.id
  local objs = {}
  for b, u in ipairs(m.units) do objs[#objs + 1] = { kind = 'channel', channel = u, batch = b - 1 } end
  for _, o in ipairs((m.recipe or {}).objectives or {}) do objs[#objs + 1] = o end
  local r = render.merge(fmnist.render_defaults, m.recipe,
    { layer = m.layer, batch = #m.units, objectives = objs })
  local jobs = { train }
  m.columns = {}
  for _, ck in ipairs(fmnist.checkpoints(env)) do
    local j = render.job(m, env, ck, r,
      { job = train.id, dir = 'checkpoints/' .. ck, json = 'fmnist-cnn.json', bin = 'fmnist-cnn.bin', size = true })
    m.columns[#m.columns + 1] = { name = ck, job = j.id }
    jobs[#jobs + 1] = j
  end
  return jobs
end

-- Unit by unit (rows), checkpoint by checkpoint (columns).
function M.frames(m, env)
  local paths = {}
  for b = 1, #m.units do
    for _, c in ipairs(m.columns) do paths[#paths + 1] = string.format('%s/image_%d.png', env.job_dir(c.job), b - 1) end
  end
  return paths
end

-- "step-10" -> "step 10"; the accuracy of each checkpoint from the training's checkpoints.jsonl.
local function label(name) return (name:gsub('%-', ' ')) end

local function accuracies(env, job)
  local acc = {}
  local text = assert(fs.read(env.job_dir(job) .. '/checkpoints.jsonl'))
  for line in text:gmatch('[^\n]+') do
    local c = json.decode(line)
    acc[c.checkpoint] = c.test_accuracy
  end
  return acc
end

function M.html(m, env, frame)
  local acc = accuracies(env, m.train_job)
  for _, c in ipairs(m.columns) do
    if not acc[c.name] then error(string.format("%s: checkpoint '%s' is not in the training's checkpoints.jsonl", m.file, c.name), 0) end
  end
  local out = { '<div class="table-wrap evolution" role="group" aria-label="' .. html.attr(m.alt) .. '"><table>',
    '<thead><tr><th scope="col">unit</th>' }
  for _, c in ipairs(m.columns) do out[#out + 1] = '<th scope="col">' .. html.text(label(c.name)) .. '</th>' end
  out[#out + 1] = '</tr></thead><tbody>'
  for b, u in ipairs(m.units) do
    out[#out + 1] = string.format('<tr><th scope="row">%d</th>', u)
    for _, c in ipairs(m.columns) do
      local what = string.format('unit %d, %s (test accuracy %.1f %%)', u, label(c.name), 100 * acc[c.name])
      out[#out + 1] = '<td>' .. frame(string.format('%s/image_%d.png', env.job_dir(c.job), b - 1),
        { alt = 'Image optimized for ' .. what, class = 'fv-zoom', extra = ' data-label="' .. html.attr(what) .. '"' }) .. '</td>'
    end
    out[#out + 1] = '</tr>'
  end
  out[#out + 1] = '</tbody><tfoot><tr><th scope="row">test accuracy</th>'
  for _, c in ipairs(m.columns) do out[#out + 1] = string.format('<td>%.1f %%</td>', 100 * acc[c.name]) end
  out[#out + 1] = '</tr></tfoot></table></div>'
  return table.concat(out), {}
end

return M
