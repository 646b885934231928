-- Figure kind "images": an author's own image files (PNG, JPEG, SVG in content/images/) laid
-- out in a row or grid with a caption.
--
--   return {
--     kind = "images",
--     caption = "Markdown caption, may cite [@key] and use $math$.",
--     width = "text" | "wide",          -- optional, default "text"
--     columns = 2,                      -- optional, default: number of images, at most 4
--     images = {
--       { src = "images/loop.svg", alt = "What the image shows", label = "optional label" },
--     },
--   }
--
-- Every kind module has the same four members: fields (allowed manifest fields besides the
-- common ones), validate(m, ctx), jobs(m, env) and html(m, env, frame); a kind that shows
-- rendered images adds frames(m, env), their paths, which the sprite stage packs before html()
-- gets each one placed through frame(path, attrs). This is the extension point through which
-- later kinds arrive. (This kind publishes the author's files as they are: no frames.)
local html = require 'pipeline.driver.html'
local fs = require 'pipeline.driver.fs'

local M = {}

M.fields = { images = true, columns = true }

function M.validate(m, ctx)
  local imgs = ctx:field(m, 'images', 'table', true)
  if #imgs == 0 then ctx:fail('images', 'empty (expected at least one { src = ..., alt = ... })') end
  for i, im in ipairs(imgs) do
    local p = 'images[' .. i .. ']'
    if type(im) ~= 'table' then ctx:fail(p, 'expected a table { src = ..., alt = ... }') end
    local src = ctx:field(im, 'src', 'string', true, p .. '.src')
    ctx:field(im, 'alt', 'string', true, p .. '.alt')
    ctx:field(im, 'label', 'string', false, p .. '.label')
    local norm, why = fs.safe_path('content', src)
    if not norm then ctx:fail(p .. '.src', why) end
    if not src:lower():match('%.png$') and not src:lower():match('%.jpe?g$') and not src:lower():match('%.svg$') then
      ctx:fail(p .. '.src', "'" .. src .. "' is not an image (expected .png, .jpg, .jpeg or .svg)")
    end
    local st = require('fvsys').stat(norm)
    if not st or st.type ~= 'file' then ctx:fail(p .. '.src', "file '" .. norm .. "' does not exist (expected an image file in content/)") end
    im.path = norm
  end
  local cols = ctx:field(m, 'columns', 'number', false)
  if cols and (math.type(cols) ~= 'integer' or cols < 1 or cols > 8) then
    ctx:fail('columns', 'expected a whole number from 1 to 8')
  end
end

local function ext(path) return path:match('%.(%w+)$'):lower() end

function M.jobs(m, env)
  local jobs = {}
  for i, im in ipairs(m.images) do
    local name = string.format('%d.%s', i, ext(im.path))
    im.job = string.format('images:%s:%d', m.id, i)
    im.name = name
    jobs[#jobs + 1] = {
      id = im.job,
      argv = { env.bin .. '/fv-asset', im.path, '{out}', name },
      tools = { env.bin .. '/fv-asset' },
      inputs = { im.path },
      outputs = { name, name .. '.json' },
      estimate = 0.05,
    }
  end
  return jobs
end

-- Returns the figure body's HTML and the files to publish ({dest, src}).
function M.html(m, env)
  local cols = m.columns or math.min(#m.images, 4)
  local out = { string.format('<div class="images" style="--cols: %d">', cols) }
  local files = {}
  for _, im in ipairs(m.images) do
    local dir = env.job_dir(im.job)
    local info = env.read_json(dir .. '/' .. im.name .. '.json')
    local dest = string.format('figures/%s/%s', m.id, im.name)
    files[#files + 1] = { dest = dest, src = dir .. '/' .. im.name }
    local size = ''
    if info.width > 0 and info.height > 0 then
      size = string.format(' width="%d" height="%d"', info.width, info.height)
    end
    out[#out + 1] = string.format('<div class="image"><img src="%s" alt="%s"%s loading="lazy" decoding="async">%s</div>',
      html.attr(dest), html.attr(im.alt), size,
      im.label and ('<span class="label">' .. html.text(im.label) .. '</span>') or '')
  end
  out[#out + 1] = '</div>'
  return table.concat(out, '\n'), files
end

return M
