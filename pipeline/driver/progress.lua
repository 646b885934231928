-- progress: what a long build shows. On a terminal, one live line (jobs done/total, the jobs
-- running with their own step when they report one, elapsed time, time left; on the farm also
-- how many jobs wait in its queue, run on the cluster, and on which node); otherwise (CI,
-- a log file) one line per finished job, with the elapsed time and the time left. Cached jobs
-- print nothing: a build with nothing to do is quiet. A tool reports its step either by overwriting the file named in FV_PROGRESS_FILE
-- with a short line such as "step 120/512, 14s left", or as the last line of its stderr.
local sys = require 'fvsys'
local fs = require 'pipeline.driver.fs'

local M = {}
M.__index = M

local function clock_text(s)
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format('%dh%02dm', s // 3600, (s % 3600) // 60) end
  if s >= 60 then return string.format('%dm%02ds', s // 60, s % 60) end
  return s .. 's'
end

function M.new(total, done, label)
  local mode = os.getenv('FV_PROGRESS') or (sys.isatty(2) and 'live' or 'lines')
  return setmetatable({
    total = total, done = done, cached = done, ran = 0, label = label or 'build',
    t0 = sys.clock(), running = {}, order = {}, est = {}, n_queued = 0, waiting = {},
    mode = mode, last_draw = 0, drawn = false, peak = 0, cls = {}, left_by = {},
    seen = {}, all = { took = 0, est = 0, n = 0 },
  }, M)
end

-- class: jobs whose estimates err alike (the atlas's renders of one layer and kind), or nil.
function M:add_estimate(id, secs, class)
  class = class or ''
  self.est[id], self.cls[id] = secs, class
  self.left_by[class] = (self.left_by[class] or 0) + secs
end

-- Handed to the executor, not started yet (the farm's queue).
function M:queued(id)
  if not self.waiting[id] then self.waiting[id] = true; self.n_queued = self.n_queued + 1 end
end

-- where: the node it runs on (farm), or nil.
function M:started(id, progress_file, log_file, where)
  if self.waiting[id] then self.waiting[id] = nil; self.n_queued = self.n_queued - 1 end
  if self.running[id] then self:forget(id) end
  self.running[id] = { t0 = sys.clock(), file = progress_file, log = log_file, where = where }
  self.order[#self.order + 1] = id
  self.peak = math.max(self.peak, #self.order)
end

-- A job that left without finishing (failed, withdrawn).
function M:forget(id)
  if self.waiting[id] then self.waiting[id] = nil; self.n_queued = self.n_queued - 1 end
  self.running[id] = nil
  for i, v in ipairs(self.order) do if v == id then table.remove(self.order, i) break end end
end
local forget = M.forget

-- Seconds of work left: estimates of unstarted jobs plus what is left of running ones,
-- spread over as many jobs side by side as have run at once so far (not those running this
-- instant: a log's line is written as one job has ended and before the next starts).
-- The estimates are scaled by what finished jobs took against theirs (recorded times come from a
-- busier or quieter machine, or from an older tool): those of the same class once two of it
-- have finished, else all jobs' once two have; the last twenty or so count most, so that a test
-- suite that ran beside the first hour of a night's atlas no longer weighs once it has ended.
function M:scale(class)
  local c = self.seen[class]
  if not (c and c.n >= 2 and c.est > 0) then c = self.all end
  return (c.n >= 2 and c.est > 0) and c.took / c.est or 1
end

function M:time_left()
  local left = 0
  for class, secs in pairs(self.left_by) do left = left + secs * self:scale(class) end
  for id, r in pairs(self.running) do
    left = left - math.min((self.est[id] or 0) * self:scale(self.cls[id]), sys.clock() - r.t0)
  end
  local par = math.max(1, math.min(self.peak, self.total - self.done))
  return math.max(0, left / par)
end

-- status: the executor's own words (the farm's workers), or nil.
function M:draw(status)
  if self.mode ~= 'live' then return end
  local now = sys.clock()
  if now - self.last_draw < 0.2 then return end
  self.last_draw = now
  local parts = {}
  for _, id in ipairs(self.order) do
    local r = self.running[id]
    local step = r.file and fs.read(r.file)
    step = step and step:match('[^\n]+')
    if not step and r.log then
      local f = io.open(r.log, 'rb')
      if f then
        local size = f:seek('end')
        f:seek('set', math.max(0, size - 200))
        local t = f:read('a') or ''
        f:close()
        step = t:match('([^\n]+)\n?$')
      end
    end
    local where = r.where and (' on ' .. r.where) or ''
    parts[#parts + 1] = step and (id .. where .. ' ' .. step) or (id .. where)
  end
  local farm = ''
  if status then
    farm = string.format(' %d queued, %d running (%s) ·', self.n_queued, #self.order, status)
  end
  -- The clocks before the list of jobs, which is what a narrow terminal cuts.
  local line = string.format('%s [%d/%d]%s %s elapsed · ~%s left · %s', self.label, self.done, self.total,
    farm, clock_text(now - self.t0), clock_text(self:time_left()), table.concat(parts, ', '))
  local w = sys.term_width() - 1
  if #line > w then line = line:sub(1, w - 1) .. '…' end
  io.stderr:write('\r\27[K' .. line)
  io.stderr:flush()
  self.drawn = true
end

function M:finished(id, secs)
  self.done = self.done + 1
  self.ran = self.ran + 1
  local est, class = self.est[id], self.cls[id]
  if est then
    self.left_by[class] = self.left_by[class] - est
    self.seen[class] = self.seen[class] or { took = 0, est = 0, n = 0 }
    for _, c in ipairs({ self.seen[class], self.all }) do
      c.took, c.est, c.n = c.took * 0.95 + secs, c.est * 0.95 + est, c.n + 1
    end
  end
  local where = self.running[id] and self.running[id].where
  forget(self, id)
  if self.mode == 'lines' then
    -- A night's log says how far it has come: "atlas [1303/3428] render:… (19.4s) · 5m12s
    -- elapsed · ~3h58m left".
    io.stderr:write(string.format('%s [%d/%d] %s%s (%.1fs) · %s elapsed · ~%s left\n', self.label, self.done, self.total, id,
      where and (' on ' .. where) or '', secs, clock_text(sys.clock() - self.t0), clock_text(self:time_left())))
  else
    self.last_draw = 0
    self:draw()
  end
end

-- A line worth keeping (a job the farm runs again), above the live line.
function M:note(text)
  if self.drawn then io.stderr:write('\r\27[K'); self.drawn = false; self.last_draw = 0 end
  io.stderr:write(text .. '\n')
end

function M:finish()
  if self.drawn then io.stderr:write('\r\27[K'); io.stderr:flush(); self.drawn = false end
end

function M:summary()
  return { total = self.total, cached = self.cached, ran = self.ran, seconds = sys.clock() - self.t0 }
end

return M
