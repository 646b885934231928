-- Figure kind "progress": one optimization shown at chosen steps, with its objective curve
-- drawn as inline SVG from the renderer's measurements (render.json's "curve").
--
--   return {
--     kind = "progress",
--     caption = "…",
--     alt = "What the frames show",
--     recipe = { layer = "…", size = 128, steps = 512,
--                objectives = { { kind = "channel", channel = 165 } },
--                snapshots = { 0, 16, 32, 64, 128, 256, 512 } },
--   }
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = { recipe = true }

function M.validate(m, ctx)
  ctx:field(m, 'recipe', 'table', true)
  ctx:field(m, 'alt', 'string', true)
  render.check(m.recipe, ctx, 'recipe')
  local s = m.recipe.snapshots
  if type(s) ~= 'table' or #s < 2 then ctx:fail('recipe.snapshots', 'expected at least two steps to show') end
  if type(m.recipe.objectives) ~= 'table' or #m.recipe.objectives == 0 then
    ctx:fail('recipe.objectives', 'missing (expected { { kind = ..., ... } })')
  end
end

function M.jobs(m, env)
  local j = render.job(m, env, 'run', m.recipe)
  m.job, m.snaps = j.id, j.recipe_used.snapshots
  return { j }
end

-- The objective curve as a small SVG line chart (no script, scales with the page).
local function curve_svg(curve, steps)
  local w, h, pad = 600, 140, 28
  local lo, hi = math.huge, -math.huge
  for _, c in ipairs(curve) do lo = math.min(lo, c[2]); hi = math.max(hi, c[2]) end
  if hi <= lo then hi = lo + 1 end
  local pts = {}
  for _, c in ipairs(curve) do
    local x = pad + (w - 2 * pad) * c[1] / math.max(1, steps)
    local y = h - pad - (h - 2 * pad) * (c[2] - lo) / (hi - lo)
    pts[#pts + 1] = string.format('%.1f,%.1f', x, y)
  end
  return string.format([[<svg class="curve" viewBox="0 0 %d %d" role="img" aria-label="Objective rising from %.2f to %.2f over %d steps">
<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/><line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>
<polyline points="%s" class="line"/>
<text x="%d" y="%d" class="tick">0</text><text x="%d" y="%d" class="tick" text-anchor="end">step %d</text>
<text x="%d" y="%d" class="tick" text-anchor="end">%.2f</text><text x="%d" y="%d" class="tick" text-anchor="end">%.2f</text>
</svg>]], w, h, curve[1] and curve[1][2] or 0, curve[#curve] and curve[#curve][2] or 0, steps,
    pad, h - pad, w - pad, h - pad, pad, pad, pad, h - pad,
    table.concat(pts, ' '),
    pad, h - pad + 16, w - pad, h - pad + 16, steps,
    pad - 4, pad + 4, hi, pad - 4, h - pad, lo)
end

-- The image at each step shown.
function M.frames(m, env)
  local paths = {}
  for _, s in ipairs(m.snaps) do paths[#paths + 1] = string.format('%s/step%04d_0.png', env.job_dir(m.job), s) end
  return paths
end

function M.html(m, env, frame)
  local dir = env.job_dir(m.job)
  local info = env.read_json(dir .. '/render.json')
  local steps = info.recipe and info.recipe.steps or 512
  local out, files = { '<div class="progress">', '<div class="frames">' }, {}
  for _, s in ipairs(m.snaps) do
    -- The start image is nearly uniform grey on purpose; say so, for checks of blank images.
    out[#out + 1] = string.format('<div class="cell">%s<span class="label">step %d</span></div>',
      frame(string.format('%s/step%04d_0.png', dir, s), {
        alt = string.format('%s, after %d steps', m.alt, s), class = 'fv-zoom',
        extra = string.format(' data-label="step %d"', s) .. (s == 0 and ' data-uniform="start"' or '') }), s)
  end
  out[#out + 1] = '</div>'
  out[#out + 1] = curve_svg(info.curve or {}, steps)
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), files
end

return M
