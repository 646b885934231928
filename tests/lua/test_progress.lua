-- test_progress: pipeline/driver/progress.lua's lines (a log's view of a long build): one line per
-- finished job with its time, the build's elapsed time and the time left, from the jobs'
-- estimates (the atlas's renders are priced from the cache's records: a night's log says when
-- it will end), shared over the jobs that run at once and scaled by how the finished jobs
-- compared with theirs.
local t = require 'lib'
local progress = require 'pipeline.driver.progress'

-- Runs fn with io.stderr captured; returns what it wrote.
local function captured(fn)
  local out, real = {}, io.stderr
  io.stderr = { write = function(self, ...) for _, s in ipairs({ ... }) do out[#out + 1] = s end return self end,
                flush = function() end }
  local ok, err = pcall(fn)
  io.stderr = real
  assert(ok, err)
  return table.concat(out)
end

local old = os.getenv('FV_PROGRESS')
assert(old == nil or old == 'lines', 'run with FV_PROGRESS unset or lines')
local p
local text = captured(function()
  p = progress.new(4, 1, 'atlas')
  p.mode = 'lines' -- as in a log (stderr not a terminal)
  p:add_estimate('render:a', 100)
  p:add_estimate('render:b', 3700)
  p:add_estimate('render:c', 20)
  p:started('render:a')
  p:finished('render:a', 100.04)
end)
t.ok('a finished job: label, count, id and its seconds', text:find('atlas [2/4] render:a (100.0s)', 1, true) ~= nil, text)
t.ok('... then the elapsed time', text:match(' · %d+s elapsed · ') ~= nil, text)
t.eq('... and the time left: the estimates of the jobs not finished (3700 + 20 s)', '~1h02m left\n', text:match('~[^~]*$'))
text = captured(function()
  p:started('render:b'); p:started('render:c')
  p:finished('render:c', 20)
end)
t.ok('time left with a job still running: its estimate, less its time so far', text:match('~1h01m left\n$'), text)
t.eq('one line per finished job', 1, select(2, text:gsub('\n', '')))
-- Two jobs side by side: the work left is shared between two, also in the line written as one
-- of them has ended (the other still running).
local q
text = captured(function()
  q = progress.new(3, 0, 'atlas')
  q.mode = 'lines'
  q:add_estimate('x', 100); q:add_estimate('y', 100); q:add_estimate('z', 400)
  q:started('x'); q:started('y')
  q:finished('x', 100)
end)
t.ok('two at once: the time left is halved (100 + 400 s over 2), not the work of one', text:match('~4m10s left\n$'), text)
text = captured(function() q:finished('y', 100) end)
t.ok('... and with one job left, it is that job\'s time', text:match('~6m40s left\n$'), text)
-- Estimates from a slower machine (or an older tool): the jobs finished so far took half theirs.
text = captured(function()
  q = progress.new(4, 0, 'atlas')
  q.mode = 'lines'
  for _, id in ipairs({ 'a', 'b', 'c', 'd' }) do q:add_estimate(id, 100) end
  q:started('a'); q:finished('a', 50)
  q:started('b'); q:finished('b', 50)
end)
t.ok('after one job, the estimates as they are (300 s)', text:match('~5m00s left\n'), text)
t.ok('after two that took half their estimates, the rest at half (200 s x 0.5)', text:match('~1m40s left\n$'), text)
-- A busy start, then quiet: the recent jobs count most.
text = captured(function()
  q = progress.new(62, 0, 'atlas')
  q.mode = 'lines'
  for i = 1, 62 do q:add_estimate('j' .. i, 10) end
  for i = 1, 30 do q:started('j' .. i); q:finished('j' .. i, 30) end -- three times the estimate
  for i = 31, 60 do q:started('j' .. i); q:finished('j' .. i, 10) end -- then as estimated
end)
local last = tonumber(text:match('~(%d+)s left\n$'))
t.ok('after 30 jobs at 3x their estimate, then 30 as estimated: 2 x 10 s at about 1.35x (not 2x, the mean)',
  last and last >= 25 and last <= 29, text:match('[^\n]*\n$'))
-- Classes: one layer's renders took four times their estimates, another's as estimated; each
-- class's jobs left are scaled by its own, a class not seen yet by all jobs'.
text = captured(function()
  q = progress.new(14, 0, 'atlas')
  q.mode = 'lines'
  for i = 1, 4 do q:add_estimate('a' .. i, 10, 'A') end
  for i = 1, 8 do q:add_estimate('b' .. i, 10, 'B') end
  q:add_estimate('c1', 30, 'C'); q:add_estimate('d1', 30)
  for i = 1, 2 do q:started('a' .. i); q:finished('a' .. i, 40) end
  for i = 1, 2 do q:started('b' .. i); q:finished('b' .. i, 10) end
end)
-- A: 2 x 10 x 4 = 80; B: 6 x 10 = 60; C and the unclassed job: 60 x all jobs' 100 s / 40 s
-- (2.42 with the latest counting most) = 145; 285 s in all (one scale for all: 339 s).
local m = text:match('~4m(%d+)s left\n$')
t.ok('each class scaled by its own, the unseen by all jobs\' (80 + 60 + 145 s)', m and tonumber(m) >= 43 and tonumber(m) <= 47,
  text:match('[^\n]*\n$'))
t.finish()
