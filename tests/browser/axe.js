// axe-core (node_modules/axe-core, pinned in package.json) run inside a playwright page: the
// accessibility rules a screen-reader user's browser meets. Shared by the browser tests of the
// article (tests/browser/check.js) and of any other page the site builds (the atlas).
//
//   const axe = require('./axe');
//   const v = await axe.violations(page);         // [] when every rule passes
//   check('desktop: axe', v.length === 0, axe.describe(v));
//
// The script is evaluated in the page by the driver (no request leaves the site, and it runs on
// a page whose own script is off). Every rule axe-core runs by default is kept: a fault is fixed in the page, not by
// turning its rule off.
'use strict';
const fs = require('fs');
const path = require('path');

const AXE = path.join(__dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');

// The violations on the page as it is now: [{ id, impact, help, nodes: [selector...] }].
async function violations(page) {
  if (!fs.existsSync(AXE)) throw new Error(`${AXE}: missing (expected axe-core from npm: run pipeline/setup.sh)`);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    // Evaluated by the driver rather than added as a <script> element: the page is left as it is.
    await page.evaluate(fs.readFileSync(AXE, 'utf8') + '\n;0');
  }
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  });
}

// The violations on the page at url as a reader without script gets it. axe-core itself needs
// script (its run waits on timers, which never fire in a page with script off), so the page's
// DOM is taken as Chromium builds it with script off (<noscript> content as elements) and shown,
// with the page's own scripts taken out, in a page where axe can run.
async function violationsWithoutScript(browser, url, viewport) {
  const off = await browser.newContext({ viewport: viewport || { width: 1280, height: 900 }, javaScriptEnabled: false });
  const p0 = await off.newPage();
  await p0.goto(url, { waitUntil: 'load' });
  const html = (await p0.content()).replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '').replace(/<\/?noscript>/gi, '');
  await off.close();
  const on = await browser.newContext({ viewport: viewport || { width: 1280, height: 900 } });
  const page = await on.newPage();
  await page.route(url, (r) => r.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  await page.goto(url, { waitUntil: 'load' });
  try { return await violations(page); } finally { await on.close(); }
}

// One line per rule: "rule (impact): help: selector, selector, ... (N nodes)".
function describe(list) {
  return list.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 6).join(', ')}`
    + (v.nodes.length > 6 ? `, ... (${v.nodes.length} nodes)` : ` (${v.nodes.length} node${v.nodes.length === 1 ? '' : 's'})`))
    .join('\n     ');
}

module.exports = { violations, violationsWithoutScript, describe };
