// The atlas as a reader's browser sees it: headless Chromium (Debian's) driven by playwright-core
// on the built atlas, served from 127.0.0.1 by a tiny static server (canvas reads same-origin).
//
// Usage: node tests/browser/atlas.js SITE_DIR SCREENSHOT_DIR (atlas-*.png) [STRIDE]
// STRIDE n (default 1) walks every n-th channel page of each layer on the desktop, and each
// layer's last: the full atlas has 4,858 channel pages, a walk of them all takes hours.
// Checks, on a desktop and a 375 px phone: every page (landing, each layer, each channel) loads
// with no console error, no failed request and no request outside the site; every image and
// every thumbnail frame loaded and is not blank (pixels sampled); no horizontal scroll; axe-core
// reports no violation; every thumbnail (a background onto a sheet) paints its own channel's
// frame, and the channel map fits a desktop's column. Deep links open the right channel; ← → and Shift + ← → move between
// channels and layers; a swipe (touch) moves to the next channel; the jump box goes to
// "layer, channel". Prints "ok"/"FAIL" lines and "N passed, N failed"; exits non-zero on failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const nm = path.join(__dirname, '..', '..', 'node_modules');
const { chromium } = require(path.join(nm, 'playwright-core'));
// axe-core comes with the project's node_modules; without it that check is skipped, not passed.
const axePath = path.join(nm, 'axe-core', 'axe.min.js');
const axeSource = fs.existsSync(axePath) ? fs.readFileSync(axePath, 'utf8') : null;

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp' };

const [, , siteDir, shotDir, strideArg] = process.argv;
const stride = strideArg === undefined ? 1 : Number(strideArg);
if (!Number.isInteger(stride) || stride < 1) {
  console.log(`atlas.js: STRIDE '${strideArg}': expected a whole number of 1 or more`);
  process.exit(2);
}
let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok   ' + name); } else { failed++; console.log('FAIL ' + name); if (detail) console.log('     ' + detail); }
}

function serve(root) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(root, rel.endsWith('/') ? rel + 'index.html' : rel);
    if (!file.startsWith(root)) { res.writeHead(403); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// In the page: for every <img> (its data-frame window) and every thumbnail link (its frame on
// the sheet named by data-sheet), the grey range of its pixels; 0 = blank. Returns a list of
// { what, loaded, range }.
async function imageRanges() {
  function range(img, fr) {
    const [sx, sy, sw, sh] = fr;
    const c = document.createElement('canvas');
    c.width = Math.min(sw, 128); c.height = Math.min(sh, 128);
    const g = c.getContext('2d');
    g.drawImage(img, sx, sy, sw, sh, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let min = 255, max = 0;
    for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; if (v < min) min = v; if (v > max) max = v; }
    return max - min;
  }
  const out = [];
  // A dead channel's page (main[data-constant]) and thumbnails ([data-constant]) may be flat:
  // its output does not depend on the image. Its page must say so (p.dead).
  const dead = !!document.querySelector('main[data-constant]');
  if (dead && !document.querySelector('p.dead')) out.push({ what: 'a dead channel\'s page without its note (p.dead)', loaded: false, range: 0 });
  for (const img of document.querySelectorAll('img')) {
    if (!img.complete) await new Promise((r) => { img.onload = r; img.onerror = r; });
    const ok = img.naturalWidth > 0;
    out.push({ what: img.alt, loaded: ok, range: ok ? range(img, img.dataset.frame.split(' ').map(Number)) : 0, dead });
  }
  const sheets = {};
  for (const a of document.querySelectorAll('[data-sheet]')) {
    const src = a.dataset.sheet;
    if (!sheets[src]) {
      sheets[src] = new Image();
      sheets[src].src = src;
      await new Promise((r) => { sheets[src].onload = r; sheets[src].onerror = r; });
    }
    const s = sheets[src];
    const ok = s.naturalWidth > 0;
    out.push({ what: a.textContent.trim() + ' on ' + src, loaded: ok, range: ok ? range(s, a.dataset.frame.split(' ').map(Number)) : 0,
      dead: a.hasAttribute('data-constant') });
  }
  return out;
}

(async () => {
  const root = path.resolve(siteDir);
  const server = await serve(root);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  fs.mkdirSync(shotDir, { recursive: true });
  const pages = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (e.name.endsWith('.html')) pages.push(path.relative(root, p));
    }
  })(root);
  pages.sort();

  for (const [name, width, height] of [['desktop', 1280, 900], ['phone', 375, 740]]) {
    const phone = name === 'phone';
    const ctx = await browser.newContext({ viewport: { width, height }, hasTouch: phone, isMobile: phone });
    const page = await ctx.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push('failed request: ' + r.url()));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push('request leaves the site: ' + r.url()); });
    const blank = [], wide = [], axe = [], heavy = [], flatDead = new Set();
    let heaviest = 0;
    let shots = 0;
    // The phone walks one page of each kind per layer (the desktop walks them all, or every
    // stride-th channel and each layer's last).
    const channel = (p) => { const m = /\/([0-9]+)\.html$/.exec(p); return m ? Number(m[1]) : null; };
    // Dead channels' pages are walked whatever the stride (their note is checked there).
    const deadPages = new Set(pages.filter((p) => channel(p) !== null && /<main[^>]* data-constant/.test(fs.readFileSync(path.join(root, p), 'utf8'))));
    const last = {};
    for (const p of pages) if (channel(p) !== null) last[path.dirname(p)] = Math.max(last[path.dirname(p)] || 0, channel(p));
    const walk = phone ? pages.filter((p) => channel(p) === null || channel(p) <= 1)
      : pages.filter((p) => channel(p) === null || channel(p) % stride === 0 || channel(p) === last[path.dirname(p)] || deadPages.has(p));
    for (const p of walk) {
      await page.goto(base + p, { waitUntil: 'load' });
      for (const r of await page.evaluate(imageRanges)) {
        if (!r.loaded || (r.range < 8 && !r.dead)) blank.push(`${p}: ${r.what} (${r.loaded ? 'range ' + r.range.toFixed(1) : 'not loaded'})`);
        if (r.dead && r.range < 8) flatDead.add(p);
      }
      // First load: the page and everything it fetched (the budget: a layer page under 1.5 MB).
      const bytes = await page.evaluate(() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
        .reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0));
      heaviest = Math.max(heaviest, bytes);
      if (bytes > 1.5e6 || bytes === 0) heavy.push(`${p}: ${bytes} bytes`);
      const sw = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (sw > 0) wide.push(`${p}: ${sw} px`);
      // axe on the page kinds (landing, jump, one layer page, one channel page of each network).
      if (axeSource && /^(index|jump)\.html$|\/(index|0)\.html$/.test(p)) {
        await page.addScriptTag({ content: axeSource });
        const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
        for (const v of res.violations) axe.push(`${p}: ${v.id}: ${v.nodes.length} nodes: ${v.help}`);
      }
      if (/^index\.html$|\/(index|1)\.html$/.test(p) && shots < 7) {
        shots++;
        await page.screenshot({ path: path.join(shotDir, `atlas-${name}-${p.replace(/\//g, '_').replace(/\.html$/, '')}.png`), fullPage: true });
      }
    }
    check(`${name}: ${walk.length} pages: every image and thumbnail loads and is not blank` + (flatDead.size ? ` (flat but marked dead, on ${flatDead.size} pages)` : ''),
      blank.length === 0, blank.slice(0, 5).join('; '));
    check(`${name}: every page under 1.5 MB on first load (heaviest ${(heaviest / 1024).toFixed(0)} KB)`, heavy.length === 0, heavy.slice(0, 5).join('; '));
    check(`${name}: no horizontal scroll`, wide.length === 0, wide.slice(0, 5).join('; '));
    if (axeSource) check(`${name}: axe-core reports no violation`, axe.length === 0, axe.slice(0, 5).join('; '));
    else console.log(`skip atlas-browser: ${name}: axe-core: not in node_modules (npm install axe-core)`);

    // A deep link opens the right channel.
    const deep = pages.find((p) => /^detector\/.*\/2\.html$/.test(p)) || pages.find((p) => /\/2\.html$/.test(p));
    await page.goto(base + deep, { waitUntil: 'load' });
    const [layer, chan] = deep.split('/').slice(1);
    const at = await page.evaluate(() => [document.querySelector('main').dataset.layer, document.querySelector('main').dataset.channel, document.title]);
    check(`${name}: the deep link ${deep} opens channel 2 of ${layer}`, at[0] === layer && at[1] === '2' && at[2].includes('channel 2'), JSON.stringify(at));
    if (!phone) {
      await Promise.all([page.waitForURL(`**/${layer}/3.html`, { timeout: 5000 }).catch(() => null), page.keyboard.press('ArrowRight')]);
      check(`${name}: → opens the next channel`, page.url().endsWith(`/${layer}/3.html`), page.url());
      await Promise.all([page.waitForURL(`**/${layer}/2.html`, { timeout: 5000 }).catch(() => null), page.keyboard.press('ArrowLeft')]);
      check(`${name}: ← opens the previous channel`, page.url().endsWith(`/${layer}/2.html`), page.url());
      const next = await page.$eval('a[data-nav="next-layer"]', (a) => a.href).catch(() => null);
      await Promise.all([page.waitForURL(next || '**/none', { timeout: 5000 }).catch(() => null), page.keyboard.press('Shift+ArrowRight')]);
      check(`${name}: Shift + → opens the next layer`, next && page.url() === next, `${page.url()} (expected ${next})`);
      // The jump box: "layer, channel".
      await page.goto(base + 'index.html', { waitUntil: 'load' });
      await page.fill('#q', `${layer}, 1`);
      await Promise.all([page.waitForURL(`**/${layer}/1.html`, { timeout: 5000 }).catch(() => null), page.press('#q', 'Enter')]);
      check(`${name}: the jump box opens "${layer}, 1"`, page.url().endsWith(`/${layer}/1.html`), page.url());
      await page.goto(base + `jump.html?q=${encodeURIComponent(layer + ' 3')}`, { waitUntil: 'load' });
      await page.waitForURL(`**/${layer}/3.html`, { timeout: 5000 }).catch(() => null);
      check(`${name}: jump.html?q= resolves "${layer} 3"`, page.url().endsWith(`/${layer}/3.html`), page.url());
    } else {
      // A swipe to the left (finger moving right to left) opens the next channel.
      const cdp = await ctx.newCDPSession(page);
      const touch = async (type, x) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y: 300 }] });
      await touch('touchStart', 300);
      await touch('touchMove', 200);
      await touch('touchMove', 100);
      await Promise.all([page.waitForURL(`**/${layer}/3.html`, { timeout: 5000 }).catch(() => null), touch('touchEnd', 100)]);
      check(`${name}: a swipe to the left opens the next channel`, page.url().endsWith(`/${layer}/3.html`), page.url());
    }
    // The thumbnails show their own frame: each grid cell and each map cell as the browser painted
    // it (an element screenshot) against every frame of its layer's sheet; its own must be the
    // nearest. The map fits its column on a desktop (at 40 x 40 cells too) and keeps 24 px cells.
    await page.goto(base + `detector/${layer}/index.html`, { waitUntil: 'load' });
    const cells = await page.$$('.grid a[data-frame], .map a');
    const painted = [];
    for (const el of cells) painted.push([await el.getAttribute('href'), (await el.screenshot()).toString('base64')]);
    const wrong = await page.evaluate(async (painted) => {
      const load = (src) => new Promise((r) => { const i = new Image(); i.onload = () => r(i); i.onerror = () => r(null); i.src = src; });
      // The top half of a 32 x 32 copy (a grid cell's number covers its bottom left). A frame
      // is first shrunk to the cell's painted size, as the browser shrank it: a fine texture in
      // a 24 px map cell aliases (an early layer's stripes turn to noise), and only a frame
      // through the same shrinking looks like it.
      const pixels = (img, fr, w, h) => {
        const a = document.createElement('canvas'); a.width = w; a.height = h;
        a.getContext('2d').drawImage(img, ...(fr || [0, 0, img.naturalWidth, img.naturalHeight]), 0, 0, w, h);
        const c = document.createElement('canvas'); c.width = 32; c.height = 32;
        const g = c.getContext('2d');
        g.drawImage(a, 0, 0, 32, 32);
        return g.getImageData(0, 0, 32, 16).data;
      };
      const sheets = [];
      for (const a of document.querySelectorAll('.grid a[data-frame]')) {
        sheets.push([a.getAttribute('href'), await load(a.dataset.sheet), a.dataset.frame.split(' ').map(Number)]);
      }
      const bySize = {}; // the frames shrunk to each painted cell size
      const out = [];
      for (const [href, png] of painted) {
        const img = await load('data:image/png;base64,' + png);
        const w = img.naturalWidth, h = img.naturalHeight;
        if (!bySize[w + 'x' + h]) {
          bySize[w + 'x' + h] = sheets.map(([hr, sheet, fr]) => [hr, pixels(sheet, fr, w, h)]);
        }
        const seen = pixels(img, null, w, h);
        let best = null, bestd = Infinity;
        for (const [hr, f] of bySize[w + 'x' + h]) {
          let d = 0;
          for (let i = 0; i < f.length; i += 4) d += Math.abs(f[i] - seen[i]) + Math.abs(f[i + 1] - seen[i + 1]) + Math.abs(f[i + 2] - seen[i + 2]);
          if (d < bestd) { bestd = d; best = hr; }
        }
        if (best !== href) out.push(`${href} looks like ${best}`);
      }
      return out;
    }, painted);
    check(`${name}: ${layer}'s ${cells.length} grid and map thumbnails each show their own channel`, cells.length >= 4 && wrong.length === 0,
      `${cells.length} cells; ` + wrong.slice(0, 5).join('; '));
    const fit = await page.evaluate(() => {
      const m = document.querySelector('.map');
      const r = [];
      for (const n of [0, 40]) {
        if (n) { m.style.setProperty('--cols', n); m.style.setProperty('--rows', n); }
        r.push([m.scrollWidth - m.clientWidth, m.querySelector('a').getBoundingClientRect().width]);
      }
      return r;
    });
    if (!phone) check(`${name}: the channel map fits its column, with its cells and at 40 x 40 (cells ${fit.map((x) => x[1].toFixed(1)).join(', ')} px)`,
      fit.every((x) => x[0] <= 0 && x[1] >= 24), JSON.stringify(fit));
    else check(`${name}: the channel map's cells stay 24 px or more at 40 x 40 (${fit[1][1].toFixed(1)} px), scrolling inside its box`,
      fit[1][1] >= 24 && fit[1][0] > 0 && fit[0][1] >= 24, JSON.stringify(fit));
    check(`${name}: no console error, failed request or request outside the site`, problems.length === 0, problems.slice(0, 5).join('; '));
    await ctx.close();
  }
  await browser.close();
  server.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log('FAIL internal: ' + e.stack); console.log(`${passed} passed, ${failed + 1} failed`); process.exit(1); });
