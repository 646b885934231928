// axe-core (node_modules/axe-core, pinned in package.json) run inside a playwright page: the
// accessibility rules a screen-reader user's browser meets. Shared by the browser tests of the
// article (tests/browser/check.js) and of any other page the site builds (the atlas).
//
//   const axe = require('./axe');
//   const v = await axe.violations(page);         // [] when every rule passes
//   check('desktop: axe', v.length === 0, axe.describe(v));
//
// The script is injected inline (page.addScriptTag with its content), so no request leaves the
// site. Every rule axe-core runs by default is kept: a fault is fixed in the page, not by
// turning its rule off.
'use strict';
const fs = require('fs');
const path = require('path');

const AXE = path.join(__dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');

// The violations on the page as it is now: [{ id, impact, help, nodes: [selector...] }].
async function violations(page) {
  if (!fs.existsSync(AXE)) throw new Error(`${AXE}: missing (expected axe-core from npm: run pipeline/setup.sh)`);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({ content: fs.readFileSync(AXE, 'utf8') });
  }
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  });
}

// One line per rule: "rule (impact): help: selector, selector, ... (N nodes)".
function describe(list) {
  return list.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 6).join(', ')}`
    + (v.nodes.length > 6 ? `, ... (${v.nodes.length} nodes)` : ` (${v.nodes.length} node${v.nodes.length === 1 ? '' : 's'})`))
    .join('\n     ');
}

module.exports = { violations, describe };
