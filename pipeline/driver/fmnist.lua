-- fmnist: the jobs every figure about the Fashion-MNIST classifier shares — training it once
-- (fv-train, cached like any job) and the data set's files. Kinds include the returned job in
-- their own list; the figures stage keeps one copy of a job that several figures return.
local M = {}

M.data = '/usr/share/datasets/fashion-mnist'
M.files = { 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
            't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz' }

-- What a render on the classifier starts from: its 28-pixel input (its dense layers need exactly
-- that), no transforms unless the figure asks.
M.render_defaults = { size = 28, steps = 256, transforms = 'none', lr = 0.05 }

-- Checks a classifier figure's `units`: 1 to max channel numbers of its layer.
function M.check_units(m, ctx, max)
  local units = ctx:field(m, 'units', 'table', true)
  if #units == 0 or #units > max then ctx:fail('units', 'expected 1 to ' .. max .. ' channel numbers') end
  for i, u in ipairs(units) do
    if math.type(u) ~= 'integer' or u < 0 then ctx:fail('units[' .. i .. ']', 'expected a channel number') end
  end
end

-- The checkpoints the seed-1 training keeps (the evolution figure's columns), as fv-train
-- --checkpoints spells them and as the folders it names: the untrained network, a few early
-- steps (minibatches of 64) and every epoch.
local checkpoints = { full = { spec = '0,10,50,200,epoch', names = { 'step-0', 'step-10', 'step-50', 'step-200', 'epoch-1', 'epoch-2' } },
                      quick = { spec = '0,5,20,epoch', names = { 'step-0', 'step-5', 'step-20', 'epoch-1' } } }

-- The folders (in the seed-1 training job's output) of its checkpoints, in training order.
function M.checkpoints(env) return checkpoints[env.quick and 'quick' or 'full'].names end

-- The training job. Full: 2 epochs on all 60,000 images (about 90 % test accuracy); --quick:
-- one epoch on 4,000, enough for the test article's pictures to mean something. seed (default
-- 1): the seed-1 network is the article's and keeps the checkpoints; another seed trains the
-- same recipe again (the model comparison), without them; in --quick on 1,000 images only, as
-- the test article is built many times by the tests and needs the figure to work, not to mean.
-- FV_GEMM (auto, amx, bf16 or sgemm) pins where the training's products run. Unset or auto,
-- fv-train takes the best the CPU has (AMX, else AVX512-BF16, else sgemm), and the paths give
-- different bytes: a cache or a farm shared by CPUs of both kinds keeps whichever trained first.
-- Pinned, the path is part of the command, so of the job's key: every CPU gets the same model,
-- and a CPU without that path fails the job with fv-train's one line.
local function gemm_pin()
  local g = os.getenv('FV_GEMM')
  if g == nil or g == '' or g == 'auto' then return nil end
  if g ~= 'amx' and g ~= 'bf16' and g ~= 'sgemm' then
    error(string.format("FV_GEMM='%s': expected auto, amx, bf16 or sgemm", g:gsub('%c', '?')), 0)
  end
  return g
end

function M.train_job(env, seed)
  seed = seed or 1
  local argv = { env.bin .. '/fv-train', '--epochs', '2', '--seed', tostring(seed) }
  if env.quick then
    argv = { env.bin .. '/fv-train', '--epochs', '1', '--seed', tostring(seed), '--train-limit', seed == 1 and '4000' or '1000',
             '--test-limit', '1000' }
  end
  local outputs = { 'fmnist-cnn.json', 'fmnist-cnn.bin', 'train.jsonl' }
  if seed == 1 then
    local c = checkpoints[env.quick and 'quick' or 'full']
    argv[#argv + 1] = '--checkpoints'
    argv[#argv + 1] = c.spec
    outputs[#outputs + 1] = 'checkpoints.jsonl'
    for _, n in ipairs(c.names) do
      outputs[#outputs + 1] = 'checkpoints/' .. n .. '/fmnist-cnn.json'
      outputs[#outputs + 1] = 'checkpoints/' .. n .. '/fmnist-cnn.bin'
    end
  end
  local pin = gemm_pin()
  if pin then argv[#argv + 1] = '--gemm'; argv[#argv + 1] = pin end
  argv[#argv + 1] = '{out}'
  local inputs = {}
  for _, f in ipairs(M.files) do inputs[#inputs + 1] = M.data .. '/' .. f end
  return {
    id = 'fmnist:train' .. (seed ~= 1 and '-seed' .. seed or '') .. (env.quick and '-quick' or ''),
    argv = argv,
    tools = { env.bin .. '/fv-train' },
    inputs = inputs,
    outputs = outputs,
    estimate = env.quick and 10 or 240,
    threads_file = true, -- fv-train follows FV_THREADS_FILE between minibatches
  }
end

return M
