-- Figure kind "interpolation": for each pair of channels (a, b), a batch of frames optimized
-- together with objectives (1-t)·a + t·b, sharing a low-resolution part of the
-- parameterization so that neighbouring frames stay alike. On the page: all frames as a strip,
-- and a large view with a slider (mouse, touch and keyboard) that picks the frame.
--
--   return {
--     kind = "interpolation",
--     caption = "…",
--     frames = 5,                                 -- 3..9, default 5
--     recipe = { layer = "…", size = 128, steps = 512, param = { shared = { 2, 4, 8, 16 } } },
--     pairs = {
--       { a = 99, b = 363, label = "channel 99 to 363", alt = "What the frames show" },
--     },
--   }
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = { recipe = true, pairs = true, frames = true }

function M.validate(m, ctx)
  ctx:field(m, 'recipe', 'table', true)
  render.check(m.recipe, ctx, 'recipe')
  if m.recipe.objectives or m.recipe.batch then
    ctx:fail('recipe', 'objectives and batch come from pairs and frames (expected neither here)')
  end
  if type(m.recipe.layer) ~= 'string' then ctx:fail('recipe.layer', 'missing (expected the layer of the channels)') end
  local f = ctx:field(m, 'frames', 'number', false)
  if f and (math.type(f) ~= 'integer' or f < 3 or f > 9) then ctx:fail('frames', 'expected a whole number from 3 to 9') end
  local pairs_ = ctx:field(m, 'pairs', 'table', true)
  if #pairs_ == 0 then ctx:fail('pairs', 'empty (expected { a = channel, b = channel, alt = ... })') end
  for i, p in ipairs(pairs_) do
    local path = 'pairs[' .. i .. ']'
    if type(p) ~= 'table' then ctx:fail(path, 'expected a table') end
    for _, k in ipairs({ 'a', 'b' }) do
      local v = ctx:field(p, k, 'number', true, path .. '.' .. k)
      if math.type(v) ~= 'integer' or v < 0 then ctx:fail(path .. '.' .. k, 'expected a channel number (a whole number >= 0)') end
    end
    ctx:field(p, 'alt', 'string', true, path .. '.alt')
    ctx:field(p, 'label', 'string', false, path .. '.label')
  end
end

function M.jobs(m, env)
  local n = m.frames or 5
  local jobs = {}
  for i, p in ipairs(m.pairs) do
    local wa, wb = {}, {}
    for k = 0, n - 1 do
      wb[#wb + 1] = k / (n - 1)
      wa[#wa + 1] = 1 - k / (n - 1)
    end
    local r = render.merge(m.recipe, {
      batch = n,
      objectives = {
        { kind = 'channel', layer = m.recipe.layer, channel = p.a, weight = wa },
        { kind = 'channel', layer = m.recipe.layer, channel = p.b, weight = wb },
      },
    })
    if not r.param then r.param = { shared = { 2, 4, 8, 16 } } end
    local j = render.job(m, env, 'pair' .. i, r)
    p.job, p.n = j.id, n
    jobs[#jobs + 1] = j
  end
  return jobs
end

-- Each pair's frames (the view and the strip show the same images).
function M.frames(m, env) return render.images(env, m.pairs) end

function M.html(m, env, frame)
  local n = m.frames or 5
  local out, files = {}, {}
  for i, p in ipairs(m.pairs) do
    local dir = env.job_dir(p.job)
    local label = p.label or string.format('channel %d → channel %d', p.a, p.b)
    out[#out + 1] = '<div class="interp">'
    out[#out + 1] = '<div class="interp-view" data-frame-shown="0" aria-live="polite">'
    for b = 0, n - 1 do
      -- Only the frame on show is visible, so only it takes hover and keyboard focus for zoom.
      out[#out + 1] = frame(string.format('%s/image_%d.png', dir, b), {
        class = 'frame fv-zoom' .. (b == 0 and ' on' or ''),
        alt = string.format('%s, frame %d of %d', p.alt, b + 1, n),
        extra = ' data-label="' .. html.attr(string.format('%s, frame %d of %d', label, b + 1, n)) .. '"' })
    end
    out[#out + 1] = '</div>'
    out[#out + 1] = string.format('<label class="interp-label"><span>%s</span>'
      .. '<input type="range" min="0" max="%d" step="1" value="0" aria-label="%s"></label>',
      html.text(label), n - 1, html.attr('Interpolation frame, ' .. label))
    out[#out + 1] = '<div class="interp-strip">'
    -- The strip repeats the frames for readers without script; hidden from screen readers.
    for b = 0, n - 1 do
      out[#out + 1] = frame(string.format('%s/image_%d.png', dir, b), { alt = '', extra = ' aria-hidden="true"' })
    end
    out[#out + 1] = '</div></div>'
  end
  return table.concat(out, '\n'), files
end

return M
