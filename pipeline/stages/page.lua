-- Stage "page": the article's index.html, by fv-page, as one cached job.
local M = {}

function M.job(env, figures_json)
  local katex = env.root .. '/pipeline/js/katex-render.js'
  local inputs = { 'content/article.md', 'templates/page.html', figures_json, katex,
                   env.root .. '/node_modules/katex/package.json' }
  local argv = { env.bin .. '/fv-page', '--article', 'content/article.md', '--template', 'templates/page.html',
                 '--figures', figures_json, '--katex', katex, '--out', '{out}' }
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
