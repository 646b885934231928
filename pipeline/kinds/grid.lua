-- Figure kind "grid": images rendered by feature visualization (fv-render), one cell per
-- recipe, laid out in a grid with labels.
--
--   return {
--     kind = "grid",
--     caption = "Markdown caption.",
--     width = "wide",
--     columns = 3,
--     recipe = {                      -- defaults for every cell: any field of pipeline/fv/RECIPE.md
--       layer = "tower_0/MobilenetV3/expanded_conv_11/expand/BatchNorm/FusedBatchNorm",
--       size = 128, steps = 512, transforms = "default",
--     },
--     cells = {
--       { label = "channel 12", alt = "What the image shows",
--         recipe = { objectives = { { kind = "channel", channel = 12 } } } },
--     },
--   }
--
-- A cell's recipe is laid over the figure's (field by field). The model is always mbv3-coco,
-- verified by the model stage. With --quick (the test article) every render is cut to a few
-- steps at a small size. A cell whose recipe has batch > 1 shows its images side by side.
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = { recipe = true, cells = true, columns = true }

function M.validate(m, ctx)
  if m.recipe ~= nil then
    ctx:field(m, 'recipe', 'table', false)
    render.check(m.recipe, ctx, 'recipe')
  end
  local cells = ctx:field(m, 'cells', 'table', true)
  if #cells == 0 then ctx:fail('cells', 'empty (expected at least one { label = ..., recipe = ... })') end
  for i, c in ipairs(cells) do
    local p = 'cells[' .. i .. ']'
    if type(c) ~= 'table' then ctx:fail(p, 'expected a table') end
    ctx:field(c, 'label', 'string', false, p .. '.label')
    ctx:field(c, 'alt', 'string', true, p .. '.alt')
    ctx:field(c, 'recipe', 'table', false, p .. '.recipe')
    render.check(c.recipe or {}, ctx, p .. '.recipe')
    local r = render.merge(m.recipe, c.recipe)
    if type(r.objectives) ~= 'table' or #r.objectives == 0 then
      ctx:fail(p .. '.recipe', 'no objectives (expected objectives = { { kind = ..., ... } } here or in the figure recipe)')
    end
  end
  local cols = ctx:field(m, 'columns', 'number', false)
  if cols and (math.type(cols) ~= 'integer' or cols < 1 or cols > 12) then
    ctx:fail('columns', 'expected a whole number from 1 to 12')
  end
end

function M.jobs(m, env)
  local jobs = {}
  for i, c in ipairs(m.cells) do
    local j = render.job(m, env, 'cell' .. i, render.merge(m.recipe, c.recipe))
    c.job, c.n = j.id, j.recipe_used.batch or 1
    jobs[#jobs + 1] = j
  end
  return jobs
end

-- Each cell's images, cell by cell.
function M.frames(m, env) return render.images(env, m.cells) end

function M.html(m, env, frame)
  local cols = m.columns or math.min(#m.cells, 4)
  local out = { string.format('<div class="grid" style="--cols: %d">', cols) }
  local files = {}
  for i, c in ipairs(m.cells) do
    local dir = env.job_dir(c.job)
    local imgs = {}
    for b = 0, c.n - 1 do
      local nth = c.n > 1 and string.format(' (%d of %d)', b + 1, c.n) or ''
      -- fv-zoom: the page enlarges the frame on hover, tap or Enter, titled by data-label.
      imgs[#imgs + 1] = frame(string.format('%s/image_%d.png', dir, b), {
        alt = c.alt .. nth, class = 'fv-zoom',
        extra = c.label and (' data-label="' .. html.attr(c.label .. nth) .. '"') or nil })
    end
    out[#out + 1] = string.format('<div class="cell">%s%s</div>', table.concat(imgs),
      c.label and ('<span class="label">' .. html.text(c.label) .. '</span>') or '')
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), files
end

return M
