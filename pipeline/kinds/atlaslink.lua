-- Figure kind "atlaslink": the article's door to the atlas (`make atlas`, build/atlas/). When the
-- atlas is built, the figure links to it and the article's site carries it at atlas/ (the same
-- tree as the published site, where pipeline/publish.sh puts it: one address for the link, and
-- the site check covers both). When it is not, the figure says how to build it: no link leads
-- nowhere, whichever of the two is built.
--
--   return { kind = "atlaslink", caption = "…" }
--
-- The atlas is read when the article builds: an atlas built later is linked by the next
-- `make article` (its figures.json then changes, so only the page job runs again).
local html = require 'pipeline.driver.html'
local sys = require 'fvsys'

local M = {}

M.fields = {}

function M.validate() end

function M.jobs() return {} end

M.dir = 'build/atlas'

-- Its body reads build/atlas/, which no job of the article makes: made again at every build
-- (pipeline/stages/figures.lua, M.write_bodies).
M.volatile = true

-- Every file of the built atlas, as files to publish under atlas/.
local function tree(dir, dest, files)
  for _, n in ipairs(sys.listdir(dir) or {}) do
    local p = dir .. '/' .. n
    local st = sys.stat(p)
    if st and st.type == 'dir' then tree(p, dest .. '/' .. n, files)
    elseif st and st.type == 'file' then files[#files + 1] = { dest = dest .. '/' .. n, src = p } end
  end
  return files
end

function M.html(m)
  if not sys.stat(M.dir .. '/index.html') then
    return '<p class="atlas-link">The atlas is not part of this build: <code>make atlas</code> builds it '
      .. '(every channel of every layer: hours of CPU time; see the README).</p>', {}
  end
  local files = tree(M.dir, 'atlas', {})
  local layers, channels = 0, 0
  for _, f in ipairs(files) do
    if f.dest:match('^atlas/[%w_-]+/[%w_-]+/index%.html$') then layers = layers + 1 end
    if f.dest:match('^atlas/[%w_-]+/[%w_-]+/%d+%.html$') then channels = channels + 1 end
  end
  return string.format('<p class="atlas-link"><a href="atlas/index.html">Open the atlas</a>: %d channels of %d layers, '
    .. 'each with its own page%s.</p>', channels, layers, html.text(m.title and (': ' .. m.title) or '')), files
end

return M
