// The article as a reader's browser sees it: headless Chromium (Debian's) driven by
// playwright-core, on the built site served from 127.0.0.1 by a tiny static server of this
// script's own (so that canvas pixel reads are same-origin).
//
// Usage: node tests/browser/check.js SITE_DIR SCREENSHOT_DIR
// Checks: no console errors, no failed requests, no request outside the site; every image and
// sprite frame loaded and not blank (pixels sampled); every interpolation slider changes the
// frame shown when moved (mouse and keyboard); no horizontal scroll at 375 px. Prints
// "ok   name" / "FAIL name" lines and "N passed, N failed"; exits non-zero on failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp', '.svg': 'image/svg+xml',
  '.json': 'application/json', '.woff2': 'font/woff2' };

const [, , siteDir, shotDir] = process.argv;
let passed = 0;
let failed = 0;
function ok(name) { passed++; console.log('ok   ' + name); }
function fail(name, detail) { failed++; console.log('FAIL ' + name); if (detail) console.log('     ' + detail); }
function check(name, cond, detail) { if (cond) ok(name); else fail(name, detail); }

function serve(root) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(root, rel.endsWith('/') ? rel + 'index.html' : rel);
    if (!file.startsWith(path.resolve(root))) { res.writeHead(403); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

(async () => {
  const server = await serve(path.resolve(siteDir));
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  fs.mkdirSync(shotDir, { recursive: true });

  for (const [name, width, height] of [['desktop', 1280, 900], ['phone', 375, 740]]) {
    const ctx = await browser.newContext({ viewport: { width, height } });
    const page = await ctx.newPage();
    // Generous: a loaded 2-core machine can take long to start and lay out the page.
    page.setDefaultTimeout(180000);
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push('failed request: ' + r.url()));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push('request leaves the site: ' + r.url()); });
    await page.goto(base + 'index.html', { waitUntil: 'load' });
    // Bring every lazy image into view so that it loads.
    await page.evaluate(async () => {
      for (const img of document.querySelectorAll('img')) img.loading = 'eager';
      window.scrollTo(0, document.body.scrollHeight);
      await new Promise((r) => setTimeout(r, 200));
      window.scrollTo(0, 0);
    });
    await page.waitForLoadState('networkidle');

    const images = await page.evaluate(async () => {
      const out = [];
      for (const img of document.querySelectorAll('img')) {
        if (!img.complete) await new Promise((r) => { img.onload = img.onerror = r; });
        // Alt text is required, except on a decorative copy hidden from assistive technology.
        const decorative = img.getAttribute('aria-hidden') === 'true';
        const r = { src: img.getAttribute('src'), loaded: img.naturalWidth > 0,
                    alt: img.hasAttribute('alt') && (img.alt.trim() !== '' || decorative),
                    uniform: img.hasAttribute('data-uniform') };
        if (r.loaded) {
          // Sample the pixels: a blank (single-colour) image is a rendering failure. A sprite
          // frame (data-frame="x y w h") is sampled in its own rectangle of the sheet.
          const fr = (img.getAttribute('data-frame') || '').split(' ').map(Number);
          const [sx, sy, sw, sh] = fr.length === 4 ? fr : [0, 0, img.naturalWidth, img.naturalHeight];
          if (fr.length === 4) r.src += ` frame ${sx},${sy}`;
          const c = document.createElement('canvas');
          c.width = Math.min(sw || 64, 256);
          c.height = Math.min(sh || 64, 256);
          const g = c.getContext('2d');
          g.drawImage(img, sx, sy, sw, sh, 0, 0, c.width, c.height);
          const d = g.getImageData(0, 0, c.width, c.height).data;
          let min = 255, max = 0;
          for (let i = 0; i < d.length; i += 4) {
            const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
            if (v < min) min = v;
            if (v > max) max = v;
          }
          r.range = max - min;
        }
        out.push(r);
      }
      return out;
    });
    for (const im of images) {
      check(`${name}: image ${im.src} loaded`, im.loaded);
      // An image meant to be uniform (an optimization's grey start) must be; any other must not.
      if (im.loaded && im.uniform) check(`${name}: image ${im.src} is the uniform start`, im.range <= 16, `pixel range ${im.range}`);
      else if (im.loaded) check(`${name}: image ${im.src} is not blank`, im.range > 8, `pixel range ${im.range}`);
      check(`${name}: image ${im.src} has alt text`, im.alt);
    }
    check(`${name}: the page has images`, images.length > 0);

    const sliders = await page.$$('input[type=range]');
    for (const [i, s] of sliders.entries()) {
      // The view a slider drives: the nearest ancestor that holds a [data-frame-shown] element.
      const fig = await s.evaluateHandle((el) => {
        let a = el.parentElement;
        while (a && !a.querySelector('[data-frame-shown]')) a = a.parentElement;
        return a;
      });
      const shown = () => fig.evaluate((f) => {
        const v = f.querySelector('[data-frame-shown]');
        return v ? v.getAttribute('data-frame-shown') : null;
      });
      const before = await shown();
      await s.focus();
      await page.keyboard.press('End');
      const after = await shown();
      check(`${name}: slider ${i + 1} changes the frame (keyboard)`, before !== null && after !== before, `${before} -> ${after}`);
    }

    const scrollW = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`${name}: no horizontal scroll at ${width}px`, scrollW <= width, `scrollWidth ${scrollW}`);
    check(`${name}: no console errors, failed or outside requests`, problems.length === 0, problems.join('; '));
    await page.screenshot({ path: path.join(shotDir, `article-${name}.png`), fullPage: true });
    await ctx.close();
  }
  await browser.close();
  server.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error('browser test: ' + (e && e.stack || e)); process.exit(1); });
