// What a reader meets beyond each control working on its own (called by tests/browser/check.js,
// one page per viewport): focus that moves on closes a zoom, the wheel is never trapped over a
// map, previews open one at a time and stay on screen, references lead back, grids are one tab
// stop, map controls cover nothing on a phone and stay in view on a desktop, hover zoom waits
// for the pointer to rest (timers under playwright's fake clock, so nothing depends on how fast
// the machine is), touch targets are large enough, print and no-script readers get a page that
// works. Every function takes check(name, cond, detail) from the caller.
'use strict';

// In the page: is element e rendered and visible?
function isShown(e) {
  return e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden' && getComputedStyle(e).display !== 'none';
}

// The page's tab stops (focusable, visible, not tabindex=-1).
function tabStops(page) {
  return page.evaluate(() => [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
    .filter((e) => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden').length);
}

const popOpen = () => { const p = document.querySelector('.fv-zoom-pop'); return !!p && !p.hidden; };

// Issue 1: focus + Enter opens a frame's zoom; Tab to the next control closes it.
async function tabCloses(page, name, check) {
  const el = await page.evaluateHandle(() => [...document.querySelectorAll('.interp .fv-zoomable, .fv-zoomable')]
    .find((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden'));
  await el.asElement().scrollIntoViewIfNeeded();
  await el.asElement().focus();
  await page.keyboard.press('Enter');
  const opened = await page.evaluate(popOpen);
  await page.keyboard.press('Tab');
  const after = await page.evaluate(() => ({ open: (() => { const p = document.querySelector('.fv-zoom-pop'); return !!p && !p.hidden; })(),
    focus: document.activeElement && (document.activeElement.getAttribute('aria-label') || document.activeElement.tagName) }));
  check(`${name}: Tab after Enter on a frame closes its enlargement`, opened && !after.open, `opened ${opened}, then focus on ${after.focus}, open ${after.open}`);
}

// Issue 7: the zoomable frames of a figure are one tab stop, arrows move inside it.
async function roving(page, name, check) {
  const st = await page.evaluate(() => {
    const figs = new Map();
    for (const e of document.querySelectorAll('.fv-zoomable')) {
      const f = e.closest('figure') || e;
      if (!figs.has(f)) figs.set(f, []);
      figs.get(f).push(e);
    }
    return { frames: document.querySelectorAll('.fv-zoomable').length,
      stops: [...figs.values()].map((l) => l.filter((e) => e.tabIndex === 0).length) };
  });
  check(`${name}: the frames of each figure are one tab stop`, st.stops.length > 0 && st.stops.every((n) => n === 1), JSON.stringify(st.stops));
  const fig = await page.$('.fig-grid');
  const first = fig && await fig.$('.fv-zoomable[tabindex="0"]');
  if (!first) { check(`${name}: a grid figure has a frame to focus`, false); return; }
  await first.scrollIntoViewIfNeeded();
  await first.focus();
  const pos = () => page.evaluate(() => {
    const a = document.activeElement, r = a.getBoundingClientRect();
    return { zoom: a.classList.contains('fv-zoomable'), x: Math.round(r.left + scrollX), y: Math.round(r.top + scrollY), stop: a.tabIndex };
  });
  const p0 = await pos();
  await page.keyboard.press('ArrowRight');
  const p1 = await pos();
  await page.keyboard.press('ArrowDown');
  const p2 = await pos();
  await page.keyboard.press('Home');
  const p3 = await pos();
  check(`${name}: arrow keys move between the frames of a grid (right, down, Home)`, p1.zoom && p1.x > p0.x && p2.zoom && p2.y > p1.y
    && p3.x === p0.x && p3.y === p0.y && p3.stop === 0, JSON.stringify([p0, p1, p2, p3]));
  const n = await tabStops(page);
  console.log(`INFO ${name}: ${n} tab stops, ${st.frames} zoomable frames in ${st.stops.length} groups`);
  check(`${name}: fewer tab stops than zoomable frames`, n < st.frames, `${n} tab stops, ${st.frames} frames`);
}

// Issue 2: over a focused, unzoomed map the wheel down scrolls the page.
async function wheelPastMap(page, name, check) {
  const m = await page.$('.fv-pan');
  if (!m) return;
  await m.scrollIntoViewIfNeeded();
  await m.evaluate((b) => { const r = b.closest('.fv-pan-wrap') || b; const x = r.querySelector('[data-pan="reset"]'); if (x) x.click(); });
  const r = await m.boundingBox();
  const vh = page.viewportSize().height;
  const x = r.x + r.width / 2, y = Math.max(r.y, 0) + (Math.min(r.y + r.height, vh) - Math.max(r.y, 0)) / 2;
  await page.mouse.click(x, y);
  const y0 = await page.evaluate(() => window.scrollY);
  await page.mouse.wheel(0, 240);
  await page.waitForFunction((v) => window.scrollY !== v, y0, { timeout: 5000 }).catch(() => {});
  const st = await page.evaluate(() => ({ y: window.scrollY, focus: document.activeElement.className,
    scale: document.querySelector('.fv-pan').getAttribute('data-pan-scale') }));
  check(`${name}: the wheel over a focused unzoomed map scrolls the page`, st.y > y0 && st.focus.includes('fv-pan') && Number(st.scale) === 1,
    `scrollY ${y0} -> ${st.y}, ${JSON.stringify(st)}`);
}

// Issues 3 and 4: previews open one at a time, stay inside the viewport; references lead back.
async function previews(page, name, phone, check) {
  const nested = await page.$('.fnref:has(.preview .cite) > a');
  if (!phone) {
    check(`${name}: a footnote with a citation in it exists`, !!nested);
    if (nested) {
      await nested.scrollIntoViewIfNeeded();
      await nested.hover();
      const open = await page.evaluate(() => [...document.querySelectorAll('.preview')].filter((p) => p.getClientRects().length > 0).length);
      check(`${name}: hovering a footnote opens its preview only (not the citation's inside it)`, open === 1, `${open} previews open`);
      await page.mouse.move(1, 1);
    }
  }
  const out = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth, vh = window.innerHeight, bad = [];
    let n = 0;
    for (const a of document.querySelectorAll('.cite > a, .fnref > a')) {
      if (!a.getClientRects().length) continue; // inside a closed preview
      a.scrollIntoView({ block: 'center' });
      a.focus();
      const p = a.parentElement.querySelector(':scope > .preview');
      const r = p.getBoundingClientRect();
      n++;
      if (!(r.width > 0 && r.left >= 0 && r.right <= vw && r.top >= 0 && r.bottom <= vh)) {
        bad.push(`${a.textContent}: ${Math.round(r.left)}..${Math.round(r.right)} x ${Math.round(r.top)}..${Math.round(r.bottom)}`);
      }
      a.blur();
    }
    return { n, bad, vw, vh };
  });
  check(`${name}: every citation and footnote preview (${out.n}) opens inside the ${out.vw}px viewport`, out.n > 0 && out.bad.length === 0,
    out.bad.slice(0, 5).join('; '));
  const back = await page.evaluate(() => [...document.querySelectorAll('.references li')].map((li) => {
    const a = li.querySelector('a.ref-back');
    const id = a && decodeURIComponent(a.getAttribute('href').slice(1));
    return { id: li.id, ok: !!a && !!document.getElementById(id) };
  }));
  check(`${name}: every reference has a link back to the text`, back.length > 0 && back.every((b) => b.ok),
    JSON.stringify(back.filter((b) => !b.ok).slice(0, 5)));
  if (phone) {
    const a = await page.$('.cite > a');
    await a.scrollIntoViewIfNeeded();
    const url = page.url();
    await a.tap();
    const st = await page.evaluate(() => {
      const p = document.activeElement.parentElement.querySelector(':scope > .preview');
      const r = p ? p.getBoundingClientRect() : { width: 0 };
      return { hash: location.hash, shown: r.width > 0 && r.left >= 0 && r.right <= document.documentElement.clientWidth && r.bottom <= window.innerHeight };
    });
    check(`${name}: the first tap on a citation shows its preview and stays put`, page.url() === url && st.shown, JSON.stringify(st));
    await a.tap();
    await page.waitForFunction(() => location.hash.startsWith('#ref-'), null, { timeout: 5000 }).catch(() => {});
    check(`${name}: a second tap follows it to the references`, (await page.evaluate(() => location.hash)).startsWith('#ref-'));
    await page.evaluate(() => { document.activeElement.blur(); history.replaceState(null, '', location.pathname); });
  }
}

// Issue 8: map controls beside the map on a phone; on a desktop, in view over a tall map.
async function mapControls(page, name, phone, check) {
  const maps = await page.$$('.fv-pan');
  for (const [i, m] of maps.entries()) {
    const t = `${name}: map ${i + 1}`;
    const vh = page.viewportSize().height;
    if (phone) {
      await m.scrollIntoViewIfNeeded();
      const st = await m.evaluate((b) => {
        const r = b.getBoundingClientRect();
        const c = (b.closest('.fv-pan-wrap') || b).querySelector('.fv-pan-controls').getBoundingClientRect();
        return { overlap: c.right > r.left && c.left < r.right && c.bottom > r.top && c.top < r.bottom, c: [c.left, c.top, c.right, c.bottom], r: [r.left, r.top, r.right, r.bottom] };
      });
      check(`${t}: its buttons cover none of it`, !st.overlap, JSON.stringify(st));
    } else {
      const h = (await m.boundingBox()).height;
      if (h < vh) continue;
      await m.evaluate((b) => { const r = b.getBoundingClientRect(); window.scrollBy(0, r.top + r.height / 2 - 100); });
      const st = await m.evaluate((b) => {
        const r = b.getBoundingClientRect(), vh = window.innerHeight;
        const c = [...(b.closest('.fv-pan-wrap') || b).querySelectorAll('.fv-pan-controls button')].map((x) => x.getBoundingClientRect());
        return { inView: c.length === 3 && c.every((q) => q.top >= 0 && q.bottom <= vh && q.left >= r.left && q.right <= r.right && q.top >= r.top && q.bottom <= r.bottom),
          top: c.map((q) => Math.round(q.top)), map: [Math.round(r.top), Math.round(r.bottom)] };
      });
      check(`${t} (taller than the window): its buttons stay in view over its middle`, st.inView, JSON.stringify(st));
    }
  }
}

// Issue 8: the phone's slider is a touch target of at least 44 px (24 px elsewhere).
async function sliderTarget(page, name, phone, check) {
  const hs = await page.$$eval('input[type=range]', (a) => a.map((e) => Math.round(e.getBoundingClientRect().height)));
  const min = phone ? 44 : 24;
  check(`${name}: sliders are at least ${min} px tall`, hs.length > 0 && hs.every((h) => h >= min), `heights ${hs.join(', ')}`);
}

// Issue 5: print at desktop width: one full-width column, figures kept whole, no controls.
async function print(page, name, check) {
  await page.emulateMedia({ media: 'print' });
  const st = await page.evaluate((shownSrc) => {
    const shown = new Function('return ' + shownSrc)();
    const w = document.documentElement.clientWidth;
    const col = document.querySelector('.article').getBoundingClientRect().width;
    const figs = [...document.querySelectorAll('figure.fig')];
    return { w, col, figs: figs.length, whole: figs.filter((f) => getComputedStyle(f).breakInside === 'avoid').length,
      controls: [...document.querySelectorAll('button, input, .fv-pan-controls, .ex-toggle')].filter(shown).length };
  }, isShown.toString());
  await page.emulateMedia({ media: 'screen' });
  check(`${name}: print: the text column is the page's width`, st.col >= st.w - 48, `column ${st.col} of ${st.w}`);
  check(`${name}: print: figures are not split across pages`, st.figs > 0 && st.whole === st.figs, `${st.whole} of ${st.figs}`);
  check(`${name}: print: no buttons or sliders`, st.controls === 0, `${st.controls} shown`);
}

// Issue 6, in a page without script: every interpolation frame shown, no tab stop that does nothing.
async function noScript(page, check) {
  const st = await page.evaluate((shownSrc) => {
    const shown = new Function('return ' + shownSrc)();
    const views = [...document.querySelectorAll('.interp-view')];
    return { views: views.length,
      all: views.every((v) => [...v.querySelectorAll('.sprite')].every(shown)),
      sliders: [...document.querySelectorAll('.interp input')].filter(shown).length,
      dead: [...document.querySelectorAll('[tabindex]')].filter((e) => e.tabIndex >= 0 && !e.matches('a[href], button, input, select, textarea, summary')).map((e) => e.className) };
  }, isShown.toString());
  check('no script: every interpolation frame is shown, without a slider', st.views > 0 && st.all && st.sliders === 0, JSON.stringify(st));
  check('no script: no tab stop that does nothing', st.dead.length === 0, st.dead.join(', '));
}

// Issue 8: hover zoom opens once the pointer rests, never while the wheel scrolls. A page of
// its own with playwright's clock paused: timers fire only when the test runs the clock.
async function hoverDelay(browser, url, check) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.clock.install();
  await page.goto(url, { waitUntil: 'load' });
  const el = await page.$('.fig-grid .fv-zoomable');
  await el.evaluate((e) => e.scrollIntoView({ block: 'center' }));
  const box = await el.boundingBox();
  // Paused only now: playwright's own waits (scrolling into view) run on animation frames.
  await page.clock.pauseAt(await page.evaluate(() => Date.now() + 1000));
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const at0 = await page.evaluate(popOpen);
  await page.clock.runFor(1000);
  const rested = await page.evaluate(popOpen);
  check('hover zoom: not at once, but after the pointer rests', !at0 && rested, `at once ${at0}, after 1 s ${rested}`);
  await page.mouse.move(1, 1);
  let during = false;
  for (let k = 0; k < 8; k++) {
    await page.mouse.wheel(0, 1);
    if (k === 0) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.clock.runFor(60);
    during = during || await page.evaluate(popOpen);
  }
  check('hover zoom: not while the wheel scrolls', !during);
  await ctx.close();
}

module.exports = { tabCloses, roving, wheelPastMap, previews, mapControls, sliderTarget, print, noScript, hoverDelay };
