// Renders a batch of TeX expressions with KaTeX at build time, so the page needs no script for
// math. Usage: node katex-render.js IN.json OUT.json
// IN: [{tex, display}], OUT: [{html} | {error}] in the same order. Exit 0 unless I/O fails.
'use strict';
const fs = require('fs');
const path = require('path');
const katex = require(path.join(__dirname, '..', '..', 'node_modules', 'katex'));

const [, , inPath, outPath] = process.argv;
const items = JSON.parse(fs.readFileSync(inPath, 'utf8'));
const out = items.map(({ tex, display }) => {
  try {
    return {
      html: katex.renderToString(tex, {
        displayMode: !!display,
        throwOnError: true,
        output: 'htmlAndMathml',
        strict: 'error',
        trust: false,
      }),
    };
  } catch (err) {
    return { error: String(err.message || err).replace(/\s+/g, ' ') };
  }
});
fs.writeFileSync(outPath, JSON.stringify(out));
