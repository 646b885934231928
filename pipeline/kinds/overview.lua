-- Figure kind "overview": a static row of columns, one per idea, each a title, a small rendered
-- example and one line of text. The examples are cells of other grid figures (kinds grid and
-- measured): the same jobs, so nothing renders twice and the picture is the one shown there.
--
--   return { kind = "overview", caption = "…", width = "wide",
--            columns = {
--              { title = "Objective", text = "One line, Markdown-free.", figure = "objectives", cell = 2,
--                alt = "What the example shows" },
--            } }
--
-- A cell with a batch shows all its images, side by side, in its column.
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = { columns = true }

local sources = { grid = true, measured = true }

function M.validate(m, ctx)
  local cols = ctx:field(m, 'columns', 'table', true)
  if #cols == 0 or #cols > 8 then ctx:fail('columns', 'expected 1 to 8 columns { title = ..., figure = ..., cell = ... }') end
  for i, c in ipairs(cols) do
    local p = 'columns[' .. i .. ']'
    if type(c) ~= 'table' then ctx:fail(p, 'expected a table') end
    for _, k in ipairs({ 'title', 'text', 'alt', 'figure' }) do ctx:field(c, k, 'string', true, p .. '.' .. k) end
    local cell = ctx:field(c, 'cell', 'number', true, p .. '.cell')
    if math.type(cell) ~= 'integer' or cell < 1 then ctx:fail(p .. '.cell', 'expected a whole number from 1') end
  end
end

-- The cell of another figure that column c shows (only known once every figure is loaded).
local function source(m, env, i, c)
  local where = string.format("%s: field 'columns[%d]", m.file, i)
  local src
  for _, f in ipairs(env.figures) do if f.id == c.figure then src = f end end
  if not src or not sources[src.kind] then
    error(string.format("%s.figure': no figure '%s' of kind grid or measured (expected the id of one)", where,
      c.figure), 0)
  end
  if c.cell > #src.cells then
    error(string.format("%s.cell': %d, but figure '%s' has %d cells (expected 1 to %d)", where, c.cell, c.figure,
      #src.cells, #src.cells), 0)
  end
  return src
end

function M.jobs(m, env)
  local jobs = {}
  for i, c in ipairs(m.columns) do
    local src = source(m, env, i, c)
    -- The source figure's own jobs (the same ids: kept once); this column's cell among them.
    for _, j in ipairs(src.kindmod.jobs(src, env)) do
      if j.id == src.cells[c.cell].job then jobs[#jobs + 1] = j end
    end
    c.job, c.n = src.cells[c.cell].job, src.cells[c.cell].n
  end
  return jobs
end

-- Each column's images ({ job, n } like a render part).
function M.frames(m, env) return render.images(env, m.columns) end

function M.html(m, env, frame)
  local out = { string.format('<div class="overview" style="--cols: %d">', #m.columns) }
  for _, c in ipairs(m.columns) do
    local imgs = {}
    for b = 0, c.n - 1 do
      local nth = c.n > 1 and string.format(' (%d of %d)', b + 1, c.n) or ''
      imgs[#imgs + 1] = frame(string.format('%s/image_%d.png', env.job_dir(c.job), b), {
        alt = c.alt .. nth, class = 'fv-zoom', extra = ' data-label="' .. html.attr(c.title .. nth) .. '"' })
    end
    out[#out + 1] = string.format(
      '<div class="col"><div class="title">%s</div><div class="pics" style="--n: %d">%s</div><p class="text">%s</p></div>',
      html.text(c.title), c.n > 1 and 2 or 1, table.concat(imgs), html.text(c.text))
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), {}
end

return M
