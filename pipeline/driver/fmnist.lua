-- fmnist: the jobs every figure about the Fashion-MNIST classifier shares — training it once
-- (fv-train, cached like any job) and the data set's files. Kinds include the returned job in
-- their own list; the figures stage keeps one copy of a job that several figures return.
local M = {}

M.data = '/usr/share/datasets/fashion-mnist'
M.files = { 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
            't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz' }

-- The training job. Full: 2 epochs on all 60,000 images (about 90 % test accuracy); --quick:
-- one epoch on 4,000, enough for the test article's pictures to mean something.
function M.train_job(env)
  local argv = { env.bin .. '/fv-train', '--epochs', '2', '--seed', '1' }
  if env.quick then
    argv = { env.bin .. '/fv-train', '--epochs', '1', '--seed', '1', '--train-limit', '4000', '--test-limit', '1000' }
  end
  argv[#argv + 1] = '{out}'
  local inputs = {}
  for _, f in ipairs(M.files) do inputs[#inputs + 1] = M.data .. '/' .. f end
  return {
    id = 'fmnist:train' .. (env.quick and '-quick' or ''),
    argv = argv,
    tools = { env.bin .. '/fv-train' },
    inputs = inputs,
    outputs = { 'fmnist-cnn.json', 'fmnist-cnn.bin', 'train.jsonl' },
    estimate = env.quick and 10 or 240,
    threads_file = true, -- fv-train follows FV_THREADS_FILE between minibatches
  }
end

return M
