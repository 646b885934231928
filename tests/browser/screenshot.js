// Screenshots of the built article as a reader sees it (desktop and phone width), for people to
// look at: node tests/browser/screenshot.js build/article/index.html OUT_DIR
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

(async () => {
  const [, , page, outDir] = process.argv;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  const url = 'file://' + path.resolve(page);
  for (const [name, width, height] of [['desktop', 1280, 900], ['phone', 375, 800]]) {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const p = await ctx.newPage();
    const problems = [];
    p.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    p.on('requestfailed', (r) => problems.push('failed request: ' + r.url()));
    p.on('request', (r) => { if (!r.url().startsWith('file://')) problems.push('request leaves the site: ' + r.url()); });
    await p.goto(url, { waitUntil: 'load' });
    await p.screenshot({ path: path.join(outDir, `article-${name}.png`), fullPage: true });
    const scrollW = await p.evaluate(() => document.documentElement.scrollWidth);
    if (scrollW > width) problems.push(`${name}: horizontal scroll (${scrollW}px > ${width}px)`);
    for (const pr of problems) console.log(pr);
    await ctx.close();
  }
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
