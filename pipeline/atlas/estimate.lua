-- estimate: the CPU time of renders not yet run (`make atlas DRY_RUN=1`), from the renders the
-- cache recorded. Every render entry's render.json holds its full recipe, its wall time and its
-- threads; a render's cost is taken as CPU-seconds per (image x step x pixel) of renders of its
-- class: the same layer, with or without a batch-wide term (a diversity term costs more than the
-- channel objectives beside it, and cost 3x as much before fv_objective.c took N passes for N^2).
-- Renders by the current fv-render (its sha256 in the entry's .meta) are preferred: a faster
-- renderer makes the older times stale. A render's cost is its CPU seconds where its .meta
-- records them (the machine's other work, a test suite beside the atlas, stretches the wall
-- time of a one-thread job, not its CPU time), else its wall time x threads.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'
local json = require 'pipeline.driver.json'
local cache = require 'pipeline.driver.cache'

local M = {}

-- A cache with more renders than this is not read through: plenty for a rate.
M.LIMIT = 4000

-- The class of a recipe: its layer, and whether it carries a diversity term.
function M.class(r)
  for _, o in ipairs(r.objectives or {}) do
    if o.kind == 'diversity' then return (r.layer or '') .. ' +diversity' end
  end
  return r.layer or ''
end

-- Images x steps x pixels of a recipe.
function M.work(r) return (r.batch or 1) * (r.steps or 0) * (r.size or 128) ^ 2 end

-- The CPU seconds a cache entry's job took: its .meta's `cpu` where recorded, else a render's
-- wall time x threads (rj: its render.json, decoded), else the entry's wall time; nil when the
-- entry records none of them.
function M.spent(meta, rj)
  local cpu = type(meta) == 'table' and meta.cpu
  if type(cpu) == 'number' and cpu > 0 then return cpu end
  if type(rj) == 'table' and type(rj.wall_seconds) == 'number' and rj.wall_seconds > 0 then
    return rj.wall_seconds * (type(rj.threads) == 'number' and rj.threads or 1)
  end
  local s = type(meta) == 'table' and meta.seconds
  return type(s) == 'number' and s >= 0 and s or nil
end

-- The CPU seconds of the entry in dir (meta: its .meta, as cache.lookup returns it).
function M.entry_spent(dir, meta)
  local text = fs.read(dir .. '/render.json')
  return M.spent(meta, text and json.decode(text))
end

-- The rates of the renders under objects/ (the tiny renders of --quick, under 64 steps, are left
-- out: their start-up dominates). renderer: the sha256 of the current fv-render; an entry made by
-- it is fresh. Returns rates = { fresh = { [class] = r, ['layer:' .. layer] = r, all = r },
-- older = { the same }, n = renders, n_fresh = fresh renders }.
function M.recorded(objects, renderer)
  local acc = { fresh = { all = { s = 0, w = 0 } }, older = { all = { s = 0, w = 0 } } }
  local n, n_fresh = 0, 0
  for _, key in ipairs(sys.listdir(objects) or {}) do
    if n >= M.LIMIT then break end
    local path = objects .. '/' .. key .. '/render.json'
    local text = fs.read(path)
    local rj = text and json.decode(text)
    local r = type(rj) == 'table' and rj.recipe
    if type(r) == 'table' and type(r.steps) == 'number' and r.steps >= 64 and type(rj.wall_seconds) == 'number'
        and rj.wall_seconds > 0 then
      local meta = cache.read_meta(objects .. '/' .. key)
      local age = (renderer and meta and type(meta.tools) == 'table' and meta.tools['fv-render'] == renderer)
        and 'fresh' or 'older'
      local secs, work, class = M.spent(meta, rj), M.work(r), M.class(r)
      for _, k in ipairs({ class, 'layer:' .. (r.layer or ''), 'all' }) do
        local a = acc[age][k] or { s = 0, w = 0 }
        a.s, a.w = a.s + secs, a.w + work
        acc[age][k] = a
      end
      n = n + 1
      if age == 'fresh' then n_fresh = n_fresh + 1 end
    end
  end
  local rates = { fresh = {}, older = {}, n = n, n_fresh = n_fresh }
  for age, by in pairs(acc) do
    for k, a in pairs(by) do if a.w > 0 then rates[age][k] = a.s / a.w end end
  end
  return rates
end

-- CPU-seconds per image x step x pixel for recipe r, and where it came from: its class ('fresh',
-- 'older'), else its layer with or without the diversity term, else every layer; nil when
-- nothing was recorded.
function M.rate(rates, r)
  local c, l = M.class(r), 'layer:' .. (r.layer or '')
  if rates.fresh[c] then return rates.fresh[c], 'fresh' end
  if rates.older[c] then return rates.older[c], 'older' end
  if rates.fresh[l] then return rates.fresh[l], 'fresh, the layer\'s other kind' end
  if rates.older[l] then return rates.older[l], 'older, the layer\'s other kind' end
  if rates.fresh.all then return rates.fresh.all, 'fresh, other layers' end
  if rates.older.all then return rates.older.all, 'older, other layers' end
  return nil
end

return M
