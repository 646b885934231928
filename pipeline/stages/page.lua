-- Stage "page": the article's index.html, by fv-page, as one cached job.
local M = {}

function M.job(env, figures_json)
  local katex = env.root .. '/pipeline/js/katex-render.js'
  local inputs = { 'content/article.md', 'templates/page.html', figures_json, katex,
                   env.root .. '/node_modules/katex/package.json' }
  local argv = { env.bin .. '/fv-page', '--article', 'content/article.md', '--template', 'templates/page.html',
                 '--figures', figures_json, '--katex', katex, '--out', '{out}' }
  -- Formulas rendered before are reused (pure: the directory is named by KaTeX's version and our
  -- script), so an edit of the text does not pay node's start-up.
  local fs = require 'pipeline.driver.fs'
  local version = require('fvsys').sha256((fs.hash(katex) or '') .. (fs.hash(env.root .. '/node_modules/katex/package.json') or ''))
  argv[#argv + 1] = '--katex-cache'
  argv[#argv + 1] = '.cache/katex/' .. version:sub(1, 16)
  if require('pipeline.driver.fs').exists('content/references.bib') then
    inputs[#inputs + 1] = 'content/references.bib'
    table.insert(argv, 2, 'content/references.bib')
    table.insert(argv, 2, '--bib')
  end
  return {
    id = 'page',
    argv = argv,
    tools = { env.bin .. '/fv-page' },
    inputs = inputs,
    outputs = { 'index.html' },
    estimate = 0.3,
  }
end

return M
