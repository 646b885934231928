// The article as a reader's browser sees it: headless Chromium (Debian's) driven by
// playwright-core, on the built site served from 127.0.0.1 by a tiny static server of this
// script's own (so that canvas pixel reads are same-origin).
//
// Usage: node tests/browser/check.js SITE_DIR SCREENSHOT_DIR (article-*, zoom-* and map*-zoomed-* PNGs)
// Checks: no console errors, no failed requests, no request outside the site; every image and
// sprite frame loaded and not blank (pixels sampled); every interpolation slider changes the
// frame shown when moved (keyboard); a frame zooms on hover, on tap (phone) and on focus +
// Enter, inside the viewport, and Escape closes it; the examples toggle swaps what each unit
// shows (the swapped-in images loaded and not blank; without script both are shown); the
// t-SNE map pans and zooms by wheel, drag, keyboard and buttons, stays bounded, and reset
// restores it; focus is visible; reduced motion turns transitions off; no horizontal scroll
// at 375 px; axe-core finds no violation (tests/browser/axe.js), at both widths and without
// script; what a reader meets around the controls (tests/browser/reader.js). Prints
// "ok   name" / "FAIL name" lines (and INFO lines) and "N passed, N failed"; exits non-zero on
// failure.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', '..', 'node_modules', 'playwright-core'));
const axe = require('./axe');
const reader = require('./reader');

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

// In the page: the pixel range (max - min of grey) of an image, or of its sprite frame
// (data-frame="x y w h"); a blank (single-colour) image is a rendering failure.
function pixelRange(img) {
  const fr = (img.getAttribute('data-frame') || '').split(' ').map(Number);
  const [sx, sy, sw, sh] = fr.length === 4 ? fr : [0, 0, img.naturalWidth, img.naturalHeight];
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
  return max - min;
}

// The state of the zoom popover, in the page.
function popState() {
  const p = document.querySelector('.fv-zoom-pop');
  if (!p || p.hidden) return { open: false };
  const r = p.getBoundingClientRect();
  const img = p.querySelector('img');
  return { open: true, left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width,
    vw: document.documentElement.clientWidth, vh: window.innerHeight,
    label: p.querySelector('.fv-zoom-text').textContent.trim(),
    loaded: !!img && img.complete && img.naturalWidth > 0 };
}

// Hover, tap (phone), Enter and Escape on the frames that zoom.
async function zoomChecks(page, name, touch) {
  const n = await page.$$eval('.fv-zoomable', (a) => a.length);
  // Focusable: the tab stop of their figure (0) or reached by arrow keys from it (-1).
  check(`${name}: frames that zoom are focusable buttons`, n > 0 && await page.$$eval('.fv-zoomable',
    (a) => a.every((e) => (e.tabIndex === 0 || e.getAttribute('tabindex') === '-1') && e.getAttribute('role') === 'button')), `${n} frames`);
  if (!n) return;
  // The last frame of the first grid sits at the right edge: its enlargement must be moved in.
  // On a phone every frame is blown up to nearly the screen's width, so the edges are tight.
  const el = await page.$('.fig-grid .grid .cell:last-child .fv-zoomable') || await page.$('.fv-zoomable');
  await el.scrollIntoViewIfNeeded();
  const box = await el.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  // Hover opens once the pointer has rested (reader.hoverDelay checks the delay itself).
  await page.waitForFunction(() => { const p = document.querySelector('.fv-zoom-pop'); return p && !p.hidden; }, null, { timeout: 5000 }).catch(() => {});
  let st = await page.evaluate(popState);
  check(`${name}: hovering a frame shows it enlarged`, st.open && st.width >= Math.min(1.5 * box.width, st.vw - 16) && st.loaded,
    JSON.stringify(st) + ` frame width ${box.width}`);
  check(`${name}: the enlargement stays inside the viewport and has its label`, st.open && st.left >= 0 && st.top >= 0
    && st.right <= st.vw && st.bottom <= st.vh && st.label !== '', JSON.stringify(st));
  await page.mouse.move(1, 1);
  check(`${name}: leaving the frame closes it`, !(await page.evaluate(popState)).open);

  // Keyboard: focus, Enter opens, Escape closes and keeps the focus on the frame.
  await page.keyboard.press('Shift'); // keyboard modality, so that the focus ring shows
  await el.focus();
  const ring = await el.evaluate((e) => { const s = getComputedStyle(e); return `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`; });
  check(`${name}: a focused frame shows a focus ring`, /^solid 3px rgb\(179, 89, 0\)$/.test(ring), ring);
  await page.keyboard.press('Enter');
  st = await page.evaluate(popState);
  check(`${name}: focus + Enter shows the frame enlarged`, st.open && st.loaded && await el.getAttribute('aria-expanded') === 'true', JSON.stringify(st));
  await page.waitForTimeout(200); // past the fade-in, for the screenshot
  await page.screenshot({ path: path.join(shotDir, `zoom-${name}.png`) });
  await page.keyboard.press('Escape');
  st = await page.evaluate(popState);
  const still = await el.evaluate((e) => document.activeElement === e);
  check(`${name}: Escape closes it and keeps the focus`, !st.open && still && await el.getAttribute('aria-expanded') === 'false');

  if (touch) {
    await el.tap();
    st = await page.evaluate(popState);
    check(`${name}: tapping a frame shows it enlarged`, st.open && st.left >= 0 && st.right <= st.vw, JSON.stringify(st));
    await page.touchscreen.tap(2, 2);
    check(`${name}: tapping elsewhere closes it`, !(await page.evaluate(popState)).open);
  }
}

// The dataset examples / optimized images toggle.
async function toggleChecks(page, name) {
  const group = await page.$('.ex-toggle');
  const visible = !!group && await group.isVisible();
  check(`${name}: the examples figure has its toggle`, visible);
  if (!visible) return;
  const state = () => page.evaluate(() => {
    const vis = (sel) => Array.from(document.querySelectorAll(sel)).filter((e) => e.getBoundingClientRect().width > 0).length;
    return { opt: vis('.examples .ex-opt'), top: vis('.examples .ex-top'), spec: vis('.examples .ex-spec'),
      pressed: Array.from(document.querySelectorAll('.ex-toggle button[aria-pressed="true"]')).map((b) => b.getAttribute('data-show')) };
  });
  const both = await state();
  check(`${name}: the toggle starts on both`, both.opt > 0 && both.top === both.opt && both.pressed.join() === 'both', JSON.stringify(both));
  // The swapped-in images: shown, loaded and not blank.
  const shown = (sel) => page.$$eval(sel, async (imgs) => {
    const out = [];
    for (const img of imgs) {
      if (!img.complete) await new Promise((r) => { img.onload = img.onerror = r; });
      out.push({ w: img.parentElement.getBoundingClientRect().width, ok: img.naturalWidth > 0, range: window.__pixelRange(img) });
    }
    return out;
  });
  await page.click('.ex-toggle button[data-show="dataset"]');
  const ds = await state();
  const dimgs = await shown('.examples .ex-top img');
  check(`${name}: "dataset examples" shows the top images instead of the optimized ones`,
    ds.opt === 0 && ds.top === both.top && ds.spec === both.spec && ds.pressed.join() === 'dataset', JSON.stringify(ds));
  check(`${name}: the dataset examples shown are loaded and not blank`, dimgs.length > 0 && dimgs.every((i) => i.w > 0 && i.ok && i.range > 8), JSON.stringify(dimgs.slice(0, 3)));
  // By keyboard: Tab-reachable buttons, Space presses.
  await page.focus('.ex-toggle button[data-show="optimized"]');
  await page.keyboard.press('Space');
  const op = await state();
  const oimgs = await shown('.examples .ex-opt img');
  check(`${name}: "optimized images" (keyboard) swaps them back`, op.top === 0 && op.opt === both.opt && op.pressed.join() === 'optimized', JSON.stringify(op));
  check(`${name}: the optimized images shown are loaded and not blank`, oimgs.length > 0 && oimgs.every((i) => i.w > 0 && i.ok && i.range > 8), JSON.stringify(oimgs));
  await page.click('.ex-toggle button[data-show="both"]');
}

// Pan and zoom on every .fv-pan (the t-SNE map).
async function panChecks(page, name) {
  const maps = await page.$$('.fv-pan');
  check(`${name}: the page has a map to pan and zoom`, maps.length > 0);
  for (const [i, m] of maps.entries()) {
    const t = `${name}: map ${i + 1}`;
    const view = () => m.evaluate((b) => {
      const l = b.querySelector('.fv-pan-layer');
      const br = b.getBoundingClientRect(), lr = l.getBoundingClientRect();
      return { tf: l.style.transform, scale: Number(b.getAttribute('data-pan-scale')),
        covers: lr.left <= br.left + 1 && lr.top <= br.top + 1 && lr.right >= br.right - 1 && lr.bottom >= br.bottom - 1 };
    });
    // The buttons are in the wrapper the script puts around the map (beside it, not inside).
    const wrap = await m.evaluateHandle((b) => b.closest('.fv-pan-wrap') || b);
    const controls = await wrap.$$('.fv-pan-controls button[data-pan]');
    check(`${t} has its +, − and reset buttons`, controls.length === 3 && await m.getAttribute('tabindex') === '0', `${controls.length} buttons`);
    if (controls.length !== 3) continue;
    const settle = () => page.waitForTimeout(300); // past a button's or key's 0.18 s transition
    await m.scrollIntoViewIfNeeded();
    // A point at fractions (fu, fv) of the part of the map inside the viewport (a map may be taller).
    const at = async (fu, fv) => {
      const r = await m.boundingBox();
      const vh = page.viewportSize().height;
      const top = Math.max(r.y, 0), bottom = Math.min(r.y + r.height, vh);
      return [r.x + r.width * fu, top + (bottom - top) * fv];
    };
    const [cx, cy] = await at(0.5, 0.5);
    const v0 = await view();
    check(`${t} starts unzoomed`, v0.tf === '' && v0.scale === 1, JSON.stringify(v0));
    // Not focused: the wheel scrolls the page and leaves the map alone.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.mouse.move(cx, cy);
    await page.mouse.wheel(0, -120);
    await page.waitForTimeout(100);
    check(`${t}: the wheel does not zoom an unfocused map`, (await view()).scale === 1);
    await m.scrollIntoViewIfNeeded();
    const [px, py] = await at(0.3, 0.3);
    await page.mouse.click(px, py);
    // The point of the layer under the pointer, in fractions of the layer: the wheel keeps it there.
    const under = () => m.evaluate((b, [x, y]) => {
      const r = b.querySelector('.fv-pan-layer').getBoundingClientRect();
      return [(x - r.left) / r.width, (y - r.top) / r.height];
    }, [px, py]);
    const u0 = await under();
    await page.mouse.wheel(0, -240);
    await page.waitForTimeout(100);
    const v1 = await view();
    const u1 = await under();
    check(`${t}: the wheel zooms around the pointer once the map has focus`, v1.scale > 1 && v1.tf.includes('scale') && v1.covers
      && Math.abs(u1[0] - u0[0]) < 0.01 && Math.abs(u1[1] - u0[1]) < 0.01, JSON.stringify(v1) + ` under the pointer ${u0} -> ${u1}`);
    await page.mouse.move(px, py);
    await page.mouse.down();
    await page.mouse.move(px - 40, py - 30, { steps: 4 });
    await page.mouse.up();
    const v2 = await view();
    check(`${t}: dragging pans`, v2.tf !== v1.tf && v2.scale === v1.scale && v2.covers, `${v1.tf} -> ${v2.tf}`);
    await m.focus();
    await page.keyboard.press('ArrowRight');
    await settle();
    const v3 = await view();
    check(`${t}: an arrow key pans`, v3.tf !== v2.tf && v3.covers, `${v2.tf} -> ${v3.tf}`);
    await page.keyboard.press('+');
    const v4 = await view();
    check(`${t}: + zooms in`, v4.scale > v3.scale, `${v3.scale} -> ${v4.scale}`);
    for (let k = 0; k < 12; k++) await page.keyboard.press('+');
    for (let k = 0; k < 40; k++) await page.keyboard.press('ArrowDown');
    await settle();
    const v5 = await view();
    const max = Number(await m.getAttribute('data-pan-max')) || 8;
    check(`${t}: zoom and pan stay bounded`, v5.scale === max && v5.covers, JSON.stringify(v5));
    await m.screenshot({ path: path.join(shotDir, `map${i + 1}-zoomed-${name}.png`) });
    await page.keyboard.press('-');
    check(`${t}: − zooms out`, (await view()).scale < v5.scale);
    await wrap.$eval('[data-pan="reset"]', (x) => x.click());
    await settle();
    const v6 = await view();
    check(`${t}: reset restores the view`, v6.tf === '' && v6.scale === 1 && v6.covers, JSON.stringify(v6));
    await wrap.$eval('[data-pan="in"]', (x) => x.click());
    check(`${t}: the + button zooms in`, (await view()).scale > 1);
    await wrap.$eval('[data-pan="reset"]', (x) => x.click());
  }
}

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
    // The phone has a touchscreen and asks for reduced motion (both paths get exercised).
    const phone = name === 'phone';
    const ctx = await browser.newContext({ viewport: { width, height }, hasTouch: phone, reducedMotion: phone ? 'reduce' : 'no-preference' });
    await ctx.addInitScript(`window.__pixelRange = ${pixelRange.toString()};`);
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
          // A sprite frame is sampled in its own rectangle of the sheet.
          const fr = (img.getAttribute('data-frame') || '').split(' ');
          if (fr.length === 4) r.src += ` frame ${fr[0]},${fr[1]}`;
          r.range = window.__pixelRange(img);
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

    // Before any control is touched: the page as it loads.
    const faults = await axe.violations(page);
    check(`${name}: axe-core finds no accessibility violation`, faults.length === 0, axe.describe(faults));
    await zoomChecks(page, name, phone);
    await toggleChecks(page, name);
    await panChecks(page, name);
    await reader.tabCloses(page, name, check);
    await reader.roving(page, name, check);
    await reader.wheelPastMap(page, name, check);
    await reader.previews(page, name, phone, check);
    await reader.mapControls(page, name, phone, check);
    await reader.sliderTarget(page, name, phone, check);
    if (!phone) await reader.print(page, name, check);
    // Reduced motion: the popover's and the map's transitions are off on the phone (which asks).
    const dur = await page.evaluate(() => {
      const l = document.querySelector('.fv-pan-layer');
      if (!l) return null;
      l.classList.add('animate');
      const d = getComputedStyle(l).transitionDuration;
      l.classList.remove('animate');
      return d;
    });
    check(`${name}: transitions ${phone ? 'off for reduced motion' : 'on by default'}`, dur !== null && (phone ? dur === '0s' : dur !== '0s'), `transition-duration ${dur}`);

    // Margin notes: beside the text column on the desktop (its left edge right of every
    // paragraph's right edge, inside the viewport), inside the column on the phone.
    const asides = await page.evaluate(() => {
      const col = document.querySelector('.article p').getBoundingClientRect();
      return [...document.querySelectorAll('.article aside')].map((a) => {
        const r = a.getBoundingClientRect();
        return { left: r.left, right: r.right, colLeft: col.left, colRight: col.right };
      });
    });
    check(`${name}: the article has margin notes`, asides.length > 0, 'no <aside> in the article');
    const placed = asides.every((a) => phone ? a.left >= a.colLeft - 1 && a.right <= a.colRight + 1
                                             : a.left >= a.colRight && a.right <= width);
    check(`${name}: margin notes ${phone ? 'sit in the text column' : 'sit in the right margin'}`, placed, JSON.stringify(asides));

    const scrollW = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`${name}: no horizontal scroll at ${width}px`, scrollW <= width, `scrollWidth ${scrollW}`);
    check(`${name}: no console errors, failed or outside requests`, problems.length === 0, problems.join('; '));
    await page.screenshot({ path: path.join(shotDir, `article-${name}.png`), fullPage: true });
    await ctx.close();
  }
  // Without script: the toggle is hidden and each unit shows both of what it picks between.
  {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false });
    const page = await ctx.newPage();
    await page.goto(base + 'index.html', { waitUntil: 'load' });
    const st = await page.evaluate(() => {
      const vis = (sel) => Array.from(document.querySelectorAll(sel)).filter((e) => e.getBoundingClientRect().width > 0).length;
      return { toggle: vis('.ex-toggle'), opt: vis('.examples .ex-opt'), top: vis('.examples .ex-top'), rows: document.querySelectorAll('.examples .ex-row').length };
    });
    check('no script: the examples show both, without a toggle', st.rows > 0 && st.toggle === 0 && st.opt === st.rows && st.top === st.rows, JSON.stringify(st));
    await reader.noScript(page, check);
    await ctx.close();
    const faults = await axe.violationsWithoutScript(browser, base + 'index.html');
    check('no script: axe-core finds no accessibility violation', faults.length === 0, axe.describe(faults));
  }
  await reader.hoverDelay(browser, base + 'index.html', check);
  await browser.close();
  server.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error('browser test: ' + (e && e.stack || e)); process.exit(1); });
