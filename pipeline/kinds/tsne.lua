-- Figure kind "tsne": the Fashion-MNIST test images laid out by t-SNE of the classifier's
-- penultimate features, snapped to a grid (exact linear assignment) and drawn as thumbnails
-- tinted by class, with a legend. Jobs: train (shared) -> features (fv-examples) -> t-SNE
-- (fv-tsne) -> grid (fv-gridsnap) -> mosaic (fv-mosaic).
--
--   return { kind = "tsne", caption = "…", alt = "…", rows = 40, cols = 40, layer = "fc1",
--            perplexity = 30, seed = 1 }
local html = require 'pipeline.driver.html'
local fmnist = require 'pipeline.driver.fmnist'
local mosaic_colors = { '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
                        '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf' }
local classes = { 'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot' }

local M = {}

M.fields = { rows = true, cols = true, layer = true, perplexity = true, seed = true }

function M.validate(m, ctx)
  ctx:field(m, 'alt', 'string', true)
  for _, k in ipairs({ 'rows', 'cols' }) do
    local v = ctx:field(m, k, 'number', true)
    if math.type(v) ~= 'integer' or v < 4 or v > 100 then ctx:fail(k, 'expected a whole number from 4 to 100') end
  end
  if m.rows * m.cols > 10000 then ctx:fail('rows', 'rows × cols must be at most 10000 (the test images)') end
  ctx:field(m, 'layer', 'string', false)
  local p = ctx:field(m, 'perplexity', 'number', false)
  if p and (p < 2 or p > 100) then ctx:fail('perplexity', 'expected a number from 2 to 100') end
  local s = ctx:field(m, 'seed', 'number', false)
  if s and math.type(s) ~= 'integer' then ctx:fail('seed', 'expected a whole number') end
end

function M.jobs(m, env)
  local train = fmnist.train_job(env)
  local n = m.rows * m.cols
  local base = 'tsne:' .. m.id
  local est = env.quick and 2 or 20
  m.jobs = { features = base .. ':features', embed = base .. ':embed', grid = base .. ':grid', mosaic = base .. ':mosaic' }
  return {
    train,
    { id = m.jobs.features, deps = { train.id },
      argv = { env.bin .. '/fv-examples', '--features-only', '--layer', m.layer or 'fc1', '--limit', tostring(n),
               '{dep:' .. train.id .. '}', '{out}' },
      tools = { env.bin .. '/fv-examples' }, outputs = { 'features.fvf', 'labels.txt' }, estimate = est },
    { id = m.jobs.embed, deps = { m.jobs.features },
      argv = { env.bin .. '/fv-tsne', '--progress', '--perplexity', tostring(m.perplexity or 30), '--seed', tostring(m.seed or 1),
               '--labels', '{dep:' .. m.jobs.features .. '}/labels.txt', '{dep:' .. m.jobs.features .. '}/features.fvf',
               '-o', '{out}/embedding.fvf', '--json', '{out}/tsne.json' },
      tools = { env.bin .. '/fv-tsne' }, outputs = { 'embedding.fvf', 'tsne.json' }, estimate = est },
    { id = m.jobs.grid, deps = { m.jobs.embed },
      argv = { env.bin .. '/fv-gridsnap', '{dep:' .. m.jobs.embed .. '}/embedding.fvf', '--rows', tostring(m.rows),
               '--cols', tostring(m.cols), '-o', '{out}/cells.tsv' },
      tools = { env.bin .. '/fv-gridsnap' }, outputs = { 'cells.tsv' }, estimate = est },
    { id = m.jobs.mosaic, deps = { m.jobs.grid },
      argv = { env.bin .. '/fv-mosaic', '{dep:' .. m.jobs.grid .. '}/cells.tsv', '{out}/map.png' },
      tools = { env.bin .. '/fv-mosaic' }, inputs = { fmnist.data .. '/t10k-images-idx3-ubyte.gz' },
      outputs = { 'map.png' }, estimate = 1 },
  }
end

-- The map: one image.
function M.frames(m, env) return { env.job_dir(m.jobs.mosaic) .. '/map.png' } end

function M.html(m, env, frame)
  local report = env.read_json(env.job_dir(m.jobs.embed) .. '/tsne.json')
  -- fv-pan: the page's script makes the map zoomable and draggable (markup contract at the top
  -- of templates/assets/article.js); without script it is a plain image.
  local out = { '<div class="tsne-map fv-pan" aria-label="' .. html.attr('Map of test images: ' .. m.alt) .. '"><div class="fv-pan-layer">' }
  out[#out + 1] = frame(env.job_dir(m.jobs.mosaic) .. '/map.png', { alt = m.alt })
  out[#out + 1] = '</div></div><ul class="legend">'
  for i, c in ipairs(classes) do
    out[#out + 1] = string.format('<li><span class="swatch" style="background: %s"></span>%s</li>', mosaic_colors[i], html.text(c))
  end
  out[#out + 1] = '</ul>'
  out[#out + 1] = string.format('<p class="tsne-note">%d test images · perplexity %g · KL divergence %.3f · %d×%d grid</p>',
    report.n or 0, report.settings and report.settings.perplexity or 30, report.kl_divergence or 0, m.rows, m.cols)
  return table.concat(out, '\n'), {}
end

return M
