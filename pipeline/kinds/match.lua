-- Figure kind "match": do two trainings of the Fashion-MNIST classifier learn the same units?
-- The article's network (seed 1) and a second one trained by the same recipe from another seed;
-- fv-examples gives each unit's value on every test image, fv-match correlates every unit of the
-- first with every unit of the second and matches them one to one (exact assignment maximizing
-- the summed correlation). Shown: the best, middle and worst matched pairs, each unit's optimized
-- image side by side with the correlation, and a histogram of all the matched correlations.
--
--   return {
--     kind = "match", caption = "…",
--     alt = "What the pairs' images show, for a reader who cannot see them",
--     layer = "fc1:preact",          -- the layer whose units are matched (and rendered)
--     seed = 2,                      -- the second network's seed (default 2)
--     show = 3,                      -- pairs per group: best, middle, worst (default 3)
--     recipe = { steps = 256 },      -- render recipe fields (size 28, no transforms by default);
--                                    -- its objectives (penalties) are added to the unit's
--   }
-- Which units are shown is known only once fv-match ran: it writes each shown unit's recipe from
-- the template the driver gives it, and the render jobs read those recipes from its output.
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'
local fmnist = require 'pipeline.driver.fmnist'

local M = {}

M.fields = { alt = true, layer = true, seed = true, show = true, recipe = true }

local groups = { 'best', 'middle', 'worst' }

function M.validate(m, ctx)
  ctx:field(m, 'alt', 'string', true)
  ctx:field(m, 'layer', 'string', true)
  local seed = ctx:field(m, 'seed', 'number', false)
  if seed and (math.type(seed) ~= 'integer' or seed < 2 or seed > 0x7fffffff) then
    ctx:fail('seed', 'expected a whole number from 2 to 2147483647 (1 is the article\'s network)')
  end
  local show = ctx:field(m, 'show', 'number', false)
  if show and (math.type(show) ~= 'integer' or show < 1 or show > 5) then ctx:fail('show', 'expected a whole number from 1 to 5') end
  render.check_manifest(m, ctx, { 'layer', 'batch' })
end

-- The features job of one network: its layer's value per test image and unit.
local function features_job(m, env, key, train)
  local argv = { env.bin .. '/fv-examples', '--features-only', '--layer', m.layer }
  if env.quick then argv[#argv + 1] = '--limit'; argv[#argv + 1] = '1000' end
  argv[#argv + 1] = '{dep:' .. train.id .. '}'
  argv[#argv + 1] = '{out}'
  return { id = 'features:' .. m.id .. ':' .. key, deps = { train.id }, argv = argv,
           tools = { env.bin .. '/fv-examples' }, inputs = { fmnist.data .. '/t10k-images-idx3-ubyte.gz' },
           outputs = { 'features.fvf', 'labels.txt' }, estimate = env.quick and 2 or 8 }
end

function M.jobs(m, env)
  local show = m.show or 3
  local train = { a = fmnist.train_job(env), b = fmnist.train_job(env, m.seed or 2) }
  local feat = { a = features_job(m, env, 'a', train.a), b = features_job(m, env, 'b', train.b) }
  -- The template of every shown unit's recipe: fv-match sets objectives[1]'s channel.
  local objs = { { kind = 'channel', channel = 0 } }
  for _, o in ipairs((m.recipe or {}).objectives or {}) do objs[#objs + 1] = o end
  local template = render.recipe_file(m, env, 'template',
    render.merge(fmnist.render_defaults, m.recipe, { layer = m.layer, objectives = objs }),
    { json = 'fmnist-cnn.json', bin = 'fmnist-cnn.bin', size = true })
  local outputs = { 'match.json' }
  for _, g in ipairs(groups) do
    for i = 1, show do
      outputs[#outputs + 1] = string.format('recipe-%s-%d-a.json', g, i)
      outputs[#outputs + 1] = string.format('recipe-%s-%d-b.json', g, i)
    end
  end
  m.match_job = 'match:' .. m.id
  local jobs = { train.a, train.b, feat.a, feat.b, {
    id = m.match_job, deps = { feat.a.id, feat.b.id },
    argv = { env.bin .. '/fv-match', '--show', tostring(show), '--recipe', template,
             '{dep:' .. feat.a.id .. '}/features.fvf', '{dep:' .. feat.b.id .. '}/features.fvf', '{out}' },
    tools = { env.bin .. '/fv-match' }, inputs = { template }, outputs = outputs, estimate = 2,
  } }
  m.renders = {}
  for _, g in ipairs(groups) do
    for i = 1, show do
      for _, side in ipairs({ 'a', 'b' }) do
        local name = string.format('%s-%d-%s', g, i, side)
        local j = {
          id = string.format('render:%s:%s', m.id, name), deps = { train[side].id, m.match_job },
          argv = { env.bin .. '/fv-render', '--progress', '--model-dir', '{dep:' .. train[side].id .. '}',
                   '{dep:' .. m.match_job .. '}/recipe-' .. name .. '.json', '{out}' },
          tools = { env.bin .. '/fv-render' }, inputs = {}, outputs = { 'render.json', 'image_0.png' },
          estimate = env.quick and 2 or 5,
        }
        m.renders[name] = j.id
        jobs[#jobs + 1] = j
      end
    end
  end
  return jobs
end

local function image(env, m, name) return env.job_dir(m.renders[name]) .. '/image_0.png' end

function M.frames(m, env)
  local paths = {}
  for _, g in ipairs(groups) do
    for i = 1, m.show or 3 do
      paths[#paths + 1] = image(env, m, string.format('%s-%d-a', g, i))
      paths[#paths + 1] = image(env, m, string.format('%s-%d-b', g, i))
    end
  end
  return paths
end

-- The matched correlations as a histogram of bins 0.1 wide from -1 to 1 (inline SVG, drawn by
-- the page's stylesheet), the shown pairs marked under it.
local function histogram(match)
  local bins, n, lo, hi = {}, #match.pairs, 1, -1
  for k = 1, 20 do bins[k] = 0 end
  for _, p in ipairs(match.pairs) do
    local k = math.min(20, math.floor((p.r + 1) * 10) + 1)
    bins[k] = bins[k] + 1
    lo, hi = math.min(lo, p.r), math.max(hi, p.r)
  end
  local top = 1
  for k = 1, 20 do top = math.max(top, bins[k]) end
  local w, h, bw = 300, 110, 14
  local out = { string.format('<svg class="match-hist" viewBox="0 0 %d %d" role="img" aria-label="%s">', w, h,
    html.attr(string.format('Histogram of the %d matched correlations: from %.2f to %.2f, median %.2f, mean %.2f',
      n, lo, hi, match.median, match.mean))) }
  for k = 1, 20 do
    local bh = math.floor(bins[k] / top * 80 + 0.5)
    if bins[k] > 0 then
      out[#out + 1] = string.format('<rect class="bar" x="%d" y="%d" width="%d" height="%d"/>', 10 + (k - 1) * bw, 88 - bh, bw - 2, bh)
    end
  end
  for _, s in ipairs(match.shown) do
    out[#out + 1] = string.format('<circle class="mark-%s" cx="%.1f" cy="93" r="2.5"/>', s.group, 10 + (s.r + 1) * 10 * bw)
  end
  out[#out + 1] = string.format('<line class="axis" x1="10" y1="88.5" x2="%d" y2="88.5"/>', 10 + 20 * bw)
  for _, t in ipairs({ -1, -0.5, 0, 0.5, 1 }) do
    out[#out + 1] = string.format('<text x="%.0f" y="107" text-anchor="middle">%g</text>', 10 + (t + 1) * 10 * bw, t)
  end
  out[#out + 1] = '</svg>'
  return table.concat(out)
end

function M.html(m, env, frame)
  local match = env.read_json(env.job_dir(m.match_job) .. '/match.json')
  local out = { '<div class="match">', '<div class="match-pairs" role="group" aria-label="' .. html.attr(m.alt) .. '">' }
  local where = { best = 'best matched', middle = 'middle', worst = 'worst matched' }
  for _, g in ipairs(groups) do
    out[#out + 1] = string.format('<div class="match-group"><p class="match-title">%s</p>', html.text(g))
    local i = 0
    for _, s in ipairs(match.shown) do
      if s.group == g then
        i = i + 1
        local pa = string.format('network 1, unit %d (%s pair %d of %d, r = %.2f)', s.a, where[g], s.rank, #match.pairs, s.r)
        local pb = string.format('network 2, unit %d, matched to unit %d of network 1 (r = %.2f)', s.b, s.a, s.r)
        out[#out + 1] = string.format('<div class="match-pair">%s%s<span class="match-r">r = %.2f</span><span class="match-units">%d ↔ %d</span></div>',
          frame(image(env, m, string.format('%s-%d-a', g, i)), { alt = 'Image optimized for ' .. pa, class = 'fv-zoom', extra = ' data-label="' .. html.attr(pa) .. '"' }),
          frame(image(env, m, string.format('%s-%d-b', g, i)), { alt = 'Image optimized for ' .. pb, class = 'fv-zoom', extra = ' data-label="' .. html.attr(pb) .. '"' }),
          s.r, s.a, s.b)
      end
    end
    out[#out + 1] = '</div>'
  end
  out[#out + 1] = '</div>'
  out[#out + 1] = histogram(match)
  -- 10000 -> 10,000
  local images = tostring(math.tointeger(match.images)):reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
  out[#out + 1] = string.format('<p class="match-note">%d units of <code>%s</code> · %s test images · matched correlation: median %.2f, mean %.2f</p>',
    #match.pairs, html.text(m.layer), images, match.median, match.mean)
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), {}
end

return M
