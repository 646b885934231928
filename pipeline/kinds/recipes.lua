-- Figure kind "recipes": the appendix that lists how every rendered image of the article was
-- made, read from the renderer's own records (render.json): model sha256, layer, objectives,
-- parameterization, transforms, size, steps, seed. Wall-clock times are left out so that two
-- builds give the same page.
--
--   return { kind = "recipes", caption = "How every image was made." }
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'

local M = {}

M.fields = {}

function M.validate() end

-- No jobs of its own: it reads the other figures' records.
function M.jobs() return {} end

local function objectives_text(objs)
  local parts = {}
  for _, o in ipairs(objs or {}) do
    local t = o.kind
    if o.channel then t = t .. ' ' .. tostring(o.channel) end
    if o.class then t = t .. ' ' .. tostring(o.class) end
    if o.seed and o.kind == 'direction' then t = t .. ' seed ' .. tostring(o.seed) end
    if o.layer then t = t .. ' @ ' .. o.layer:gsub('^tower_0/', ''):gsub('MobilenetV3/', '') end
    local w = o.weight
    if type(w) == 'table' then
      local ws = {}
      for _, x in ipairs(w) do ws[#ws + 1] = string.format('%g', x) end
      w = '[' .. table.concat(ws, ' ') .. ']'
    end
    if w ~= nil and w ~= 1 then t = t .. ' × ' .. tostring(w) end
    parts[#parts + 1] = t
  end
  return table.concat(parts, '; ')
end

-- What a model is, from the file name its recipe names (the two models of the article).
local function model_name(r, env, objects)
  local file = ((r.model or {}).json or ''):match('[^/]+$') or ''
  if file == 'centernet.json' then return 'mbv3-coco: <code>@vladmandic/human@3.3.6</code> centernet' end
  if file == 'fmnist-cnn.json' then
    -- Several trainings and their checkpoints: which one, from the model's own metadata. The
    -- recorded path names the cache where it was rendered: read it from this build's cache.
    local rest = r.model.json:match('/objects/(.+)$')
    local ok, info = pcall(env.read_json, rest and objects .. '/' .. rest or r.model.json)
    local t = ok and (((info or {}).userDefinedMetadata or {}).fmnist or {}).training or {}
    local which = t.seed and string.format(' (seed %d%s)', t.seed,
      t.checkpoint and string.format(', checkpoint %s, test accuracy %.1f %%', t.checkpoint, 100 * t.test_accuracy) or '') or ''
    return 'fmnist-cnn: the Fashion-MNIST classifier trained by <code>fv-train</code>' .. html.text(which)
  end
  return '<code>' .. html.text(file) .. '</code>'
end

function M.html(m, env)
  local out = { '<div class="recipes">' }
  local models, model_of = {}, {} -- the models used, in order of first use, by sha256
  for _, f in ipairs(env.figures) do
    local rows, shas = {}, {}
    for _, id in ipairs(env.jobs_of[f.id] or {}) do
      -- A figure may reuse another's renders (channelmap): list each under its own figure.
      if id:match('^render:([^:]+):') == f.id then
        local info = env.read_json(env.job_dir(id) .. '/render.json')
        local r = info.recipe or {}
        local p = r.param or {}
        rows[#rows + 1] = string.format('<tr><td>%s</td><td>%s</td><td>%s%s%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>',
          html.text(id:match('^render:[^:]+:(.*)$')), html.text(objectives_text(r.objectives)),
          html.text(p.kind or ''), p.decorrelate and ', decorrelated' or '', p.grey and ', grey' or '',
          html.text(render.transforms_text(r.transforms)), r.size or 0, r.steps or 0, r.batch or 1, r.seed or 0)
        local sha = info.model_sha256
        if sha and not model_of[sha] then
          models[#models + 1] = sha
          model_of[sha] = { name = model_name(r, env, env.job_dir(id):match('^(.*)/[^/]*$')), n = #models }
        end
        if sha and not shas[sha] then shas[sha] = true; shas[#shas + 1] = sha end
      end
    end
    if #rows > 0 then
      local on = {}
      for _, sha in ipairs(shas) do on[#on + 1] = '<sup>' .. model_of[sha].n .. '</sup>' end
      out[#out + 1] = string.format('<details><summary>%s <code>figures/%s.lua</code> — %d render%s, model %s</summary>',
        html.text(f.title or f.id), html.text(f.id), #rows, #rows > 1 and 's' or '', table.concat(on, ' '))
      out[#out + 1] = '<div class="table-wrap"><table><thead><tr><th>image</th><th>objectives</th><th>parameterization</th><th>transforms</th><th>size</th><th>steps</th><th>batch</th><th>seed</th></tr></thead><tbody>'
      for _, r in ipairs(rows) do out[#out + 1] = r end
      out[#out + 1] = '</tbody></table></div></details>'
    end
  end
  for _, sha in ipairs(models) do
    out[#out + 1] = string.format('<p class="model-sha">Model <sup>%d</sup> %s, sha256 of its JSON and weights <code>%s</code>.</p>',
      model_of[sha].n, model_of[sha].name, html.text(sha))
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), {}
end

return M
