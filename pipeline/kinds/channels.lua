-- Figure kind "channels": every channel of one layer (or a range), rendered in batches (each
-- batch element optimizes its own channel, so one network pass serves several channels), and
-- shown as a grid to browse, each image labelled with its channel number.
--
--   return {
--     kind = "channels",
--     caption = "…",
--     layer = "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact",
--     first = 0, count = 96,            -- channels first .. first+count-1
--     per_job = 8,                      -- channels per render job (default 8)
--     recipe = { size = 96, steps = 512, transforms = "default" },
--     columns = 8,
--   }
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = { layer = true, first = true, count = true, per_job = true, recipe = true, columns = true }

local function whole(ctx, m, name, lo, hi, required)
  local v = ctx:field(m, name, 'number', required)
  if v ~= nil and (math.type(v) ~= 'integer' or v < lo or v > hi) then
    ctx:fail(name, string.format('expected a whole number from %d to %d', lo, hi))
  end
  return v
end

function M.validate(m, ctx)
  ctx:field(m, 'layer', 'string', true)
  whole(ctx, m, 'first', 0, 100000, false)
  whole(ctx, m, 'count', 1, 4096, true)
  whole(ctx, m, 'per_job', 1, 32, false)
  whole(ctx, m, 'columns', 1, 16, false)
  if m.recipe ~= nil then
    ctx:field(m, 'recipe', 'table', false)
    render.check(m.recipe, ctx, 'recipe')
    if m.recipe.objectives or m.recipe.batch or m.recipe.layer then
      ctx:fail('recipe', 'layer, batch and objectives come from the figure (expected neither here)')
    end
  end
end

function M.jobs(m, env)
  local first, per = m.first or 0, m.per_job or 8
  local jobs = {}
  m.parts = {}
  for start = first, first + m.count - 1, per do
    local n = math.min(per, first + m.count - start)
    local objs = {}
    for b = 0, n - 1 do
      objs[#objs + 1] = { kind = 'channel', layer = m.layer, channel = start + b, batch = b }
    end
    local j = render.job(m, env, string.format('ch%04d', start),
      render.merge(m.recipe, { layer = m.layer, batch = n, objectives = objs }))
    m.parts[#m.parts + 1] = { job = j.id, first = start, n = n }
    jobs[#jobs + 1] = j
  end
  return jobs
end

-- Each channel's image, in the grid's order.
function M.frames(m, env) return render.images(env, m.parts) end

function M.html(m, env, frame)
  local out = { string.format('<div class="channels" style="--cols: %d">', m.columns or 8) }
  local files = {}
  for _, part in ipairs(m.parts) do
    local dir = env.job_dir(part.job)
    for b = 0, part.n - 1 do
      local ch = part.first + b
      out[#out + 1] = string.format('<div class="cell">%s<span class="label">%d</span></div>',
        frame(string.format('%s/image_%d.png', dir, b),
          { alt = string.format('Channel %d of %s, optimized', ch, m.layer), class = 'fv-zoom',
            extra = string.format(' data-label="channel %d"', ch) }), ch)
    end
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), files
end

return M
