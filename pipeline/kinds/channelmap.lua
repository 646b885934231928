-- Figure kind "channelmap": the channels of one layer laid out by t-SNE of how they respond to
-- the other channels' visualizations, each shown by its own visualization.
--
-- It reuses the renders of a "channels" figure (named by `channels`; the same jobs, so nothing is
-- rendered twice). Jobs: those renders -> profile (fv-nn profile: each channel's mean activation
-- on every other channel's image, standardised; its own image is left out) -> t-SNE (fv-tsne,
-- exact for these few points) -> grid (fv-gridsnap). The page shows the images on the grid in a
-- pannable, zoomable map (class fv-pan, see templates/assets/article.js).
--
--   return { kind = "channelmap", caption = "…", alt = "…", channels = "channels",
--            rows = 10, cols = 10, perplexity = 8, seed = 1 }
local channels = require 'pipeline.kinds.channels'

local M = {}

M.fields = { channels = true, rows = true, cols = true, perplexity = true, seed = true }

function M.validate(m, ctx)
  ctx:field(m, 'alt', 'string', true)
  ctx:field(m, 'channels', 'string', true)
  for _, k in ipairs({ 'rows', 'cols' }) do
    local v = ctx:field(m, k, 'number', true)
    if math.type(v) ~= 'integer' or v < 2 or v > 64 then ctx:fail(k, 'expected a whole number from 2 to 64') end
  end
  local p = ctx:field(m, 'perplexity', 'number', false)
  if p and (p < 1 or p > 50) then ctx:fail('perplexity', 'expected a number from 1 to 50') end
  local s = ctx:field(m, 'seed', 'number', false)
  if s and math.type(s) ~= 'integer' then ctx:fail('seed', 'expected a whole number') end
end

-- The channels figure this map draws from, checked against the map's own fields.
local function source(m, env)
  local src
  for _, f in ipairs(env.figures) do if f.id == m.channels then src = f end end
  local where = m.file .. ": field 'channels': "
  if not src or src.kind ~= 'channels' then
    error(where .. string.format("no figure '%s' of kind channels (expected the id of a channels figure)", m.channels), 0)
  end
  if src.count > m.rows * m.cols then
    error(where .. string.format('%d channels do not fit a %d × %d grid (expected rows × cols ≥ %d)',
      src.count, m.rows, m.cols, src.count), 0)
  end
  -- fv-tsne's rule: each point needs 3·perplexity neighbours, so 3·perplexity ≤ n − 1.
  if 3 * (m.perplexity or 8) > src.count - 1 then
    error(m.file .. string.format(": field 'perplexity': %g is too large for %d channels (expected at most %.3g)",
      m.perplexity or 8, src.count, (src.count - 1) / 3), 0)
  end
  return src
end

function M.jobs(m, env)
  local src = source(m, env)
  local renders = channels.jobs(src, env) -- the same ids as the channels figure's: kept once
  m.parts, m.first, m.count = src.parts, src.first or 0, src.count
  local base = 'channelmap:' .. m.id
  m.jobs = { profile = base .. ':profile', embed = base .. ':embed', grid = base .. ':grid' }
  local argv = { env.bin .. '/fv-nn', 'profile', env.model_dir, '--output', src.layer,
                 '--self', tostring(m.first), '-o', '{out}/profile.fvf' }
  local deps = {}
  for _, part in ipairs(m.parts) do
    deps[#deps + 1] = part.job
    for b = 0, part.n - 1 do argv[#argv + 1] = string.format('{dep:%s}/image_%d.png', part.job, b) end
  end
  local jobs = renders
  jobs[#jobs + 1] = { id = m.jobs.profile, deps = deps, argv = argv, tools = { env.bin .. '/fv-nn' },
    inputs = { env.model_dir .. '/centernet.json', env.model_dir .. '/centernet.bin' },
    outputs = { 'profile.fvf' }, estimate = 2 }
  jobs[#jobs + 1] = { id = m.jobs.embed, deps = { m.jobs.profile },
    argv = { env.bin .. '/fv-tsne', '--method', 'exact', '--perplexity', tostring(m.perplexity or 8),
             '--seed', tostring(m.seed or 1), '{dep:' .. m.jobs.profile .. '}/profile.fvf',
             '-o', '{out}/embedding.fvf', '--json', '{out}/tsne.json' },
    tools = { env.bin .. '/fv-tsne' }, outputs = { 'embedding.fvf', 'tsne.json' }, estimate = 1 }
  jobs[#jobs + 1] = { id = m.jobs.grid, deps = { m.jobs.embed },
    argv = { env.bin .. '/fv-gridsnap', '{dep:' .. m.jobs.embed .. '}/embedding.fvf', '--rows', tostring(m.rows),
             '--cols', tostring(m.cols), '-o', '{out}/cells.tsv' },
    tools = { env.bin .. '/fv-gridsnap' }, outputs = { 'cells.tsv' }, estimate = 1 }
  return jobs
end

-- The channels' images (the channels figure's renders), in the map's order.
M.frames = channels.frames

function M.html(m, env, frame)
  local cells = {}
  local f = assert(io.open(env.job_dir(m.jobs.grid) .. '/cells.tsv', 'r'))
  for line in f:lines() do
    local r, c = line:match('^(%d+)\t(%d+)$')
    cells[#cells + 1] = { tonumber(r), tonumber(c) }
  end
  f:close()
  local report = env.read_json(env.job_dir(m.jobs.embed) .. '/tsne.json')
  -- No tabindex here: the script makes the map focusable when it makes it pan and zoom (without
  -- script a tab stop would do nothing).
  local out = { string.format('<div class="fv-pan channelmap" role="group" aria-label="%s">',
                              require("pipeline.driver.html").text(m.alt)),
                string.format('<div class="fv-pan-layer" style="--rows: %d; --cols: %d">', m.rows, m.cols) }
  local k = 0
  for _, part in ipairs(m.parts) do
    local dir = env.job_dir(part.job)
    for b = 0, part.n - 1 do
      k = k + 1
      local ch, cell = part.first + b, cells[k]
      out[#out + 1] = string.format('<div class="cell" style="grid-row: %d; grid-column: %d">%s<span class="label">%d</span></div>',
        cell[1] + 1, cell[2] + 1,
        frame(string.format('%s/image_%d.png', dir, b), { alt = string.format('Channel %d, optimized', ch) }), ch)
    end
  end
  out[#out + 1] = '</div></div>'
  out[#out + 1] = string.format('<p class="tsne-note">%d channels · perplexity %g · KL divergence %.3f · %d×%d grid</p>',
    report.n or 0, report.settings and report.settings.perplexity or 8, report.kl_divergence or 0, m.rows, m.cols)
  return table.concat(out, '\n'), {}
end

return M
