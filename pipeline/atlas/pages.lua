-- pages: the atlas's HTML — the landing page, one page per layer (every channel as a grid of
-- thumbnails, and the t-SNE map of the channels), one page per channel (its full-size images and
-- their recipes), and jump.html (the "layer, channel" box's target, a list of links without
-- script). Pages are templates/atlas/page.html with the body filled in; every text from a
-- manifest, a model or a tool's output goes through pipeline/driver/html.lua.
--
-- Addresses: index.html, jump.html, <net>/<layer>/index.html, <net>/<layer>/<channel>.html,
-- sheets beside them (<net>/<layer>/thumbs/, <net>/<layer>/c/<channel>/), assets/.
local html = require 'pipeline.driver.html'
local render = require 'pipeline.driver.render'
local fs = require 'pipeline.driver.fs'
local json = require 'pipeline.driver.json'

local M = {}
local esc = html.text

-- A thumbnail as a CSS background onto a packed sheet (layer grids hold hundreds: a background
-- costs one attribute, an <img> four). In percentages of the box, so one style fits a box of
-- any size: the grid's and the landing page's 64 px cells and the channel map's smaller ones
-- (atlas.css). f: a frame from sheets.read; rel: the sheet's address from the page.
local function thumb_style(f, rel)
  -- A position of p % puts the image's point at p % onto the box's point at p %: the frame's
  -- corner x lands on the box's when p = x / (W - w).
  local function pos(x, W, w) return W > w and 100 * x / (W - w) or 0 end
  return string.format('background-image:url(%s);background-size:%.4f%% %.4f%%;background-position:%.4f%% %.4f%%',
    rel, 100 * f.W / f.w, 100 * f.H / f.h, pos(f.x, f.W, f.w), pos(f.y, f.H, f.h))
end

-- A full-size frame as an <img> window onto its sheet (the article's sprite markup).
local function frame(f, rel, alt, class)
  return string.format('<span class="sprite%s" style="aspect-ratio: %d / %d"><img src="%s" alt="%s" '
    .. 'style="width: %.4f%%; left: %.4f%%; top: %.4f%%" data-frame="%d %d %d %d" width="%d" height="%d" decoding="async"></span>',
    class and (' ' .. class) or '', f.w, f.h, esc(rel), esc(alt), 100 * f.W / f.w, -100 * f.x / f.w, -100 * f.y / f.h,
    f.x, f.y, f.w, f.h, f.W, f.H)
end

local function page(tpl, root, title, body, extra_class)
  return (tpl:gsub('{{(%w+)}}', { title = esc(title), root = root, body = body, class = extra_class or '' }))
end

-- The objective of a recipe objective entry, in words.
local function objective_text(o)
  if o.kind == 'channel' then return string.format('channel %d (mean over positions)', o.channel)
  elseif o.kind == 'neuron' then return string.format('neuron: channel %d at the centre', o.channel)
  elseif o.kind == 'diversity' then return string.format('diversity (Gram cosine), weight %g', o.weight)
  elseif o.kind == 'tv' then return string.format('total variation penalty, weight %g', type(o.weight) == 'table' and o.weight[1] or o.weight or 1)
  end
  return o.kind
end

-- Whether objective o applies to batch element b (render.json lists weights per element).
local function applies(o, b)
  if o.kind == 'diversity' then return true end
  local w = o.weight
  if type(w) == 'table' then return (w[b + 1] or 0) ~= 0 end
  local bt = o.batch
  if bt == nil or bt == 'all' then return true end
  if type(bt) == 'number' then return bt == b end
  for _, x in ipairs(bt) do if x == b then return true end end
  return false
end

-- The value of the channel objective of batch element b when it was the same for every image of
-- the render (rj: its render.json), else nil. A channel whose output does not depend on the
-- image (a dead channel: nothing of the image reaches it, or a ReLU shut for every image) gives
-- the optimizer no gradient, and its images are only their start and the recipe's other terms:
-- its page says so rather than show them as its picture.
function M.constant(rj, b)
  local objs, fin = rj.recipe.objectives or {}, (rj.final or {}).objectives or {}
  for _, f in ipairs(fin) do
    local o = objs[(f.index or -1) + 1]
    local v = f.values
    if o and o.kind == 'channel' and applies(o, b) and type(v) == 'table' and #v >= 2 then
      for i = 2, #v do
        if math.abs(v[i] - v[1]) > 1e-9 * math.max(1, math.abs(v[1])) then return nil end
      end
      return v[1]
    end
  end
  return nil
end

-- The recipe of batch element b of a render (its render.json), as table rows.
local function recipe_rows(rj, b, what)
  local r = rj.recipe
  local objs = {}
  for _, o in ipairs(r.objectives) do if applies(o, b) then objs[#objs + 1] = objective_text(o) end end
  return string.format('<tr><th scope="row">%s</th><td><code>%s</code></td><td>%s</td><td>%d</td><td>%d</td><td>%d px</td><td>%s</td><td>%d of %d</td><td><code title="%s">%s…</code></td></tr>',
    esc(what), esc(r.layer or ''), esc(table.concat(objs, ' + ')), r.steps, r.seed, r.size, esc(render.transforms_text(r.transforms)),
    b + 1, r.batch, esc(rj.model_sha256 or ''), esc((rj.model_sha256 or ''):sub(1, 12)))
end

local RECIPE_HEAD = '<table class="recipe"><caption>Recipe of each image, as fv-render recorded it</caption><thead><tr>'
  .. '<th scope="col">image</th><th scope="col">layer</th><th scope="col">objective</th><th scope="col">steps</th>'
  .. '<th scope="col">seed</th><th scope="col">size</th><th scope="col">transforms</th><th scope="col">batch element</th>'
  .. '<th scope="col">model sha256</th></tr></thead><tbody>'

-- The site's pages. a: { m = manifest, layers, env, tpl = page template text, thumbs[l] = frames,
-- sheets[l][c] = frames, examples[l] = by channel, grid[l] = cells, tsne[l] = report, landing = frames }.
-- Returns a list of { dest, text }.
function M.build(a)
  local out = {}
  local env = a.env
  local rjcache = {}
  local function rj(job) rjcache[job] = rjcache[job] or env.read_json(env.job_dir(job) .. '/render.json'); return rjcache[job] end
  local function href(l, c) return string.format('%s/%s/%s', l.net, l.name, c and (c .. '.html') or 'index.html') end
  local nets = { detector = a.m.detector.title, classifier = a.m.classifier.title }

  -- Landing: both networks, their layers with counts and a thumbnail, the jump box.
  local body = { '<header class="top"><h1>Feature-visualization atlas</h1>',
    '<p class="lede">' .. esc(a.m.caption) .. '</p>',
    '<form class="jump" action="jump.html" method="get" role="search" aria-label="Jump to a channel">'
      .. '<label for="q">Layer, channel</label><input id="q" name="q" list="layer-names" placeholder="expanded_conv_5, 12" autocomplete="off">'
      .. '<button type="submit">Go</button></form></header><main id="main">' }
  local datalist = { '<datalist id="layer-names">' }
  local index = {}
  for _, net in ipairs({ 'detector', 'classifier' }) do
    local items = {}
    for _, l in ipairs(a.layers) do
      if l.net == net then
        local f = a.landing[l.net .. '/' .. l.name]
        items[#items + 1] = string.format('<li><a href="%s"><span class="th" style="%s" aria-hidden="true"></span>'
          .. '<span class="nm">%s</span><span class="ct">%d channels%s</span></a></li>',
          href(l), thumb_style(f, f.sheet), esc(l.name), l.channels,
          l.shown < l.channels and string.format(' (%d shown)', l.shown) or '')
        datalist[#datalist + 1] = string.format('<option value="%s">', esc(l.name))
        index[#index + 1] = { name = l.name, net = l.net, n = l.shown }
      end
    end
    if #items > 0 then
      body[#body + 1] = string.format('<section aria-labelledby="net-%s"><h2 id="net-%s">%s</h2><ul class="layers">%s</ul></section>',
        net, net, esc(nets[net]), table.concat(items))
    end
  end
  datalist[#datalist + 1] = '</datalist>'
  body[#body + 1] = table.concat(datalist)
  body[#body + 1] = '<script type="application/json" id="atlas-index">' .. json.encode(index):gsub('</', '<\\/') .. '</script></main>'
  out[#out + 1] = { dest = 'index.html', text = page(a.tpl, '', 'Feature-visualization atlas', table.concat(body, '\n'), 'landing') }

  -- jump.html: with script it resolves ?q=; without, the links it would choose among.
  local links = {}
  for _, l in ipairs(a.layers) do
    local chs = {}
    for c = 0, l.shown - 1 do chs[#chs + 1] = string.format('<a href="%s">%d</a>', href(l, c), c) end
    links[#links + 1] = string.format('<li><a href="%s">%s/%s</a> <details><summary>channels</summary><p class="chs">%s</p></details></li>',
      href(l), l.net, esc(l.name), table.concat(chs, ' '))
  end
  out[#out + 1] = { dest = 'jump.html', text = page(a.tpl, '', 'Jump to a channel',
    '<header class="top"><nav aria-label="Breadcrumb" class="crumbs"><a href="index.html">Atlas</a></nav><h1>Jump to a channel</h1>'
    .. '<p id="jump-msg" role="status">Choose a layer, then a channel.</p></header><main id="main"><ul class="jumplist">'
    .. table.concat(links) .. '</ul>' .. '<script type="application/json" id="atlas-index">'
    .. json.encode(index):gsub('</', '<\\/') .. '</script></main>', 'jumppage') }

  for li, l in ipairs(a.layers) do
    local prevl, nextl = a.layers[li - 1], a.layers[li + 1]
    local function layer_nav(up)
      local p = {}
      p[#p + 1] = prevl and string.format('<a href="%s../%s/index.html" data-nav="prev-layer">← %s</a>', up, esc(prevl.name), esc(prevl.name)) or ''
      p[#p + 1] = nextl and string.format('<a href="%s../%s/index.html" data-nav="next-layer">%s →</a>', up, esc(nextl.name), esc(nextl.name)) or ''
      return p
    end
    -- Neighbouring layers of another network are one folder further up.
    local function other(x) return x and x.net ~= l.net end
    local function lhref(x, c)
      if not x then return nil end
      local cc = c and math.min(c, x.shown - 1)
      local base = other(x) and ('../../' .. x.net .. '/' .. x.name .. '/') or ('../' .. x.name .. '/')
      return base .. (cc and (cc .. '.html') or 'index.html')
    end
    local crumbs = string.format('<nav aria-label="Breadcrumb" class="crumbs"><a href="../../index.html">Atlas</a> › %s › <a href="index.html">%s</a></nav>',
      l.net, esc(l.name))
    local th = a.thumbs[l]
    local dead = {}
    for c = 0, l.shown - 1 do dead[c] = M.constant(rj(l.of[c].vis[1]), l.of[c].vis[2]) end
    local function dead_attr(c) return dead[c] and ' data-constant title="A dead channel: its output does not depend on the image"' or '' end
    -- The layer page: a grid of every channel, then the map.
    local cells = {}
    for c = 0, l.shown - 1 do
      local f = th[string.format('c%04d', c)]
      cells[#cells + 1] = string.format('<li><a href="%d.html" style="%s" data-frame="%d %d %d %d" data-sheet="%s"%s><span>%d</span></a></li>',
        c, thumb_style(f, f.sheet:match('[^/]+/[^/]+$')), f.x, f.y, f.w, f.h, f.sheet:match('[^/]+/[^/]+$'), dead_attr(c), c)
    end
    local mapcells = {}
    for c = 0, l.shown - 1 do
      local f, cell = th[string.format('c%04d', c)], a.grid[l][c + 1]
      mapcells[#mapcells + 1] = string.format('<a href="%d.html" style="grid-row:%d;grid-column:%d;%s" aria-label="Channel %d%s"%s>%d</a>',
        c, cell[1] + 1, cell[2] + 1, thumb_style(f, f.sheet:match('[^/]+/[^/]+$')), c, dead[c] and ', a dead channel' or '', dead_attr(c), c)
    end
    local rep = a.tsne[l]
    local lb = { '<header class="top">' .. crumbs,
      string.format('<h1>%s <span class="sub">%s, %d channels</span></h1>', esc(l.name), l.net, l.channels),
      string.format('<p class="node">Node <code>%s</code>%s.</p>', esc(l.node),
        l.shown < l.channels and string.format('; this build shows its first %d channels', l.shown) or ''),
      '<nav class="pager" aria-label="Layers">' .. string.format('%s%s',
        prevl and string.format('<a href="%s" data-nav="prev-layer" rel="prev">← %s</a>', lhref(prevl), esc(prevl.name)) or '<span></span>',
        nextl and string.format('<a href="%s" data-nav="next-layer" rel="next">%s →</a>', lhref(nextl), esc(nextl.name)) or '<span></span>') .. '</nav></header>',
      '<main id="main"><section aria-labelledby="grid-h"><h2 id="grid-h">Every channel</h2>',
      '<p>Each thumbnail is the image optimized to excite the channel (in a convolution\'s output, its mean over positions). Select one for its page.</p>',
      '<ul class="grid">' .. table.concat(cells) .. '</ul></section>',
      string.format('<section class="mapsec" aria-labelledby="map-h"><h2 id="map-h">Channel map</h2><p>The channels placed by t-SNE of their activation profiles: '
        .. 'how strongly each responds, on average, to every other channel\'s visualization (its own left out). '
        .. 'Neighbours respond to the same images. %d channels, perplexity %g, KL divergence %.3f, a %d × %d grid.</p>',
        rep.n or l.shown, l.perplexity, rep.kl_divergence or 0, l.rows, l.cols),
      string.format('<div class="map" tabindex="0" role="region" aria-label="t-SNE map of the channels of %s" style="--rows:%d;--cols:%d">%s</div></section></main>',
        esc(l.name), l.rows, l.cols, table.concat(mapcells)) }
    out[#out + 1] = { dest = href(l), text = page(a.tpl, '../../', l.name .. ' — atlas', table.concat(lb, '\n'), 'layerpage') }

    -- The channel pages.
    for c = 0, l.shown - 1 do
      local fr = a.sheets[l][c]
      local rel = string.format('c/%d/', c)
      local function img(id, alt, class) local f = fr[id]; return frame(f, rel .. f.sheet:match('[^/]+$'), alt, class) end
      local cb = { '<header class="top">' .. crumbs:gsub('</nav>$', string.format(' › channel %d</nav>', c)),
        string.format('<h1>%s <span class="sub">channel %d of %d</span></h1>', esc(l.name), c, l.channels),
        '<nav class="pager" aria-label="Channels and layers">'
          .. (c > 0 and string.format('<a href="%d.html" rel="prev" data-nav="prev">← channel %d</a>', c - 1, c - 1) or '<span></span>')
          .. (prevl and string.format('<a href="%s" data-nav="prev-layer">↑ %s</a>', lhref(prevl, c), esc(prevl.name)) or '<span></span>')
          .. '<a href="index.html" data-nav="up">all of ' .. esc(l.name) .. '</a>'
          .. (nextl and string.format('<a href="%s" data-nav="next-layer">↓ %s</a>', lhref(nextl, c), esc(nextl.name)) or '<span></span>')
          .. (c < l.shown - 1 and string.format('<a href="%d.html" rel="next" data-nav="next">channel %d →</a>', c + 1, c + 1) or '<span></span>')
          .. '</nav><p class="keys">Keys: ← → channel, Shift + ← → layer; swipe left or right on a phone.</p></header><main id="main" data-channel="'
          .. c .. '" data-layer="' .. esc(l.name) .. '"' .. (dead[c] and ' data-constant' or '') .. '>' }
      if dead[c] then
        local n = rj(l.of[c].vis[1]).recipe.batch
        cb[#cb + 1] = string.format('<p class="dead" role="note"><strong>A dead channel.</strong> Its output was %.4g for each of the %d images '
          .. 'of its render, each optimized for another objective: it does not respond to the image. '
          .. 'The optimizer had no gradient from it to follow: its own images show only where they started and what the '
          .. 'recipe\'s other terms (a smoothness penalty, where it has one) made of that.%s</p>', dead[c], n,
          l.net == 'detector' and ' Its diversity set shows only what the diversity term, which compares the whole layer\'s Gram matrices, '
            .. 'made of them.' or '')
      end
      local rows = {}
      if l.net == 'detector' then
        cb[#cb + 1] = '<div class="pair"><figure>' .. img('vis', string.format('Image optimized to excite channel %d of %s', c, l.name), 'big')
          .. '<figcaption>Channel objective: the mean of the channel over positions.</figcaption></figure>'
          .. '<figure>' .. img('neuron', string.format('Image optimized to excite the centre neuron of channel %d of %s', c, l.name), 'big')
          .. '<figcaption>Neuron objective: the channel at the centre position only.</figcaption></figure></div>'
        local d = {}
        for i = 0, 3 do d[#d + 1] = img('div' .. i, string.format('Diverse image %d of 4 for channel %d of %s', i + 1, c, l.name)) end
        cb[#cb + 1] = '<figure class="div"><div class="four">' .. table.concat(d) .. '</div><figcaption>A diversity set: four images optimized together for the channel, '
          .. 'pushed apart by a penalty on the similarity of their Gram matrices.</figcaption></figure>'
        local o = l.of[c]
        rows[#rows + 1] = recipe_rows(rj(o.vis[1]), o.vis[2], 'channel')
        rows[#rows + 1] = recipe_rows(rj(o.neuron[1]), o.neuron[2], 'neuron')
        for i = 0, 3 do rows[#rows + 1] = recipe_rows(rj(o.div[1]), o.div[2] + i, 'diverse ' .. (i + 1)) end
      else
        local ex = a.examples[l][c]
        local top, spec = {}, {}
        for i, x in ipairs(ex.top) do
          top[#top + 1] = '<span class="ex">' .. img(string.format('top%02d', i), string.format('Test image %d, a %s', x.index, x.class), 'px')
            .. string.format('<span class="val">%.2f</span></span>', x.value)
        end
        local k = 0
        for _, p in ipairs(ex.spectrum) do
          for _, x in ipairs(p.images) do
            k = k + 1
            spec[#spec + 1] = '<span class="ex">' .. img(string.format('spec%02d', k), string.format('Test image %d, a %s', x.index, x.class), 'px')
              .. string.format('<span class="val">%.2f</span></span>', x.value)
          end
        end
        cb[#cb + 1] = '<div class="pair"><figure>' .. img('vis', string.format('Grey image optimized to excite unit %d of %s', c, l.name), 'big px')
          .. '<figcaption>Optimized to excite the unit.</figcaption></figure></div>'
          .. '<figure><div class="tiles">' .. table.concat(top) .. '</div><figcaption>The test images that excite it most, with their activations.</figcaption></figure>'
          .. '<figure><div class="tiles">' .. table.concat(spec) .. '</div><figcaption>Its activation spectrum: the test images nearest its minimum, '
          .. 'half its minimum, zero, half its maximum and its maximum.</figcaption></figure>'
        rows[#rows + 1] = recipe_rows(rj(l.of[c].vis[1]), l.of[c].vis[2], 'optimized')
      end
      cb[#cb + 1] = '<div class="scroll" tabindex="0" role="region" aria-label="Recipes of the images">' .. RECIPE_HEAD .. table.concat(rows) .. '</tbody></table></div></main>'
      out[#out + 1] = { dest = href(l, c), text = page(a.tpl, '../../', string.format('%s channel %d — atlas', l.name, c),
        table.concat(cb, '\n'), 'chanpage') }
    end
  end
  return out
end

-- Writes the pages into dir (each only when its text changed). Returns the files to publish.
function M.write(pages, dir)
  local files = {}
  for _, p in ipairs(pages) do
    local path = dir .. '/' .. p.dest
    assert(require('fvsys').mkdir_p(fs.dirname(path)))
    assert(fs.write_if_changed(path, p.text))
    files[#files + 1] = { dest = p.dest, src = path }
  end
  return files
end

return M
