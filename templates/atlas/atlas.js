// The atlas's pages (pipeline/atlas/pages.lua): keys and swipes between channels and layers,
// and the "layer, channel" jump box. Every action is also a plain link: without script, the
// pages work and the jump box lands on jump.html's list of links.
'use strict';
(function () {
  function go(nav) {
    const a = document.querySelector('a[data-nav="' + nav + '"]');
    if (a) { window.location.href = a.href; return true; }
    return false;
  }
  // Channel and layer pages: ← → channel (a layer page: layer), Shift + ← → layer.
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const dir = e.key === 'ArrowLeft' ? 'prev' : 'next';
    const layerOnly = !document.querySelector('a[data-nav="next"], a[data-nav="prev"]');
    if ((e.shiftKey || layerOnly) ? go(dir + '-layer') : go(dir)) e.preventDefault();
  });
  // Swipe: a mostly horizontal stroke of at least 50 px moves to the next or previous channel.
  let x0 = null, y0 = 0;
  document.addEventListener('touchstart', function (e) {
    if (e.touches.length !== 1) { x0 = null; return; }
    x0 = e.touches[0].clientX; y0 = e.touches[0].clientY;
  }, { passive: true });
  document.addEventListener('touchend', function (e) {
    if (x0 === null || !document.body.classList.contains('chanpage')) return;
    const t = e.changedTouches[0];
    const dx = t.clientX - x0, dy = t.clientY - y0;
    x0 = null;
    if (Math.abs(dx) >= 50 && Math.abs(dy) < Math.abs(dx) / 2) go(dx < 0 ? 'next' : 'prev');
  }, { passive: true });

  // "layer, channel" (also "layer 12", "net/layer/12", or a layer alone) -> the page's address.
  function resolve(q) {
    const el = document.getElementById('atlas-index');
    if (!el) return null;
    const index = JSON.parse(el.textContent);
    const m = /^\s*(?:(detector|classifier)\s*\/\s*)?([\w-]+?)\s*(?:[,\s/#:]\s*(\d+))?\s*$/i.exec(q || '');
    if (!m) return { error: 'Type a layer and a channel, e.g. "expanded_conv_5, 12".' };
    const name = m[2].toLowerCase();
    const l = index.find(function (x) { return x.name.toLowerCase() === name && (!m[1] || x.net === m[1].toLowerCase()); });
    if (!l) return { error: 'No layer "' + m[2] + '" in this atlas.' };
    if (m[3] === undefined) return { href: l.net + '/' + l.name + '/index.html' };
    const c = Number(m[3]);
    if (c >= l.n) return { error: l.name + ' has channels 0 to ' + (l.n - 1) + ' here.' };
    return { href: l.net + '/' + l.name + '/' + c + '.html' };
  }
  const form = document.querySelector('form.jump');
  if (form) {
    form.addEventListener('submit', function (e) {
      const r = resolve(form.q.value);
      if (r && r.href) { e.preventDefault(); window.location.href = r.href; }
    });
  }
  if (document.body.classList.contains('jumppage')) {
    const q = new URLSearchParams(window.location.search).get('q');
    if (q) {
      const r = resolve(q);
      if (r && r.href) window.location.replace(r.href);
      else if (r) document.getElementById('jump-msg').textContent = r.error + ' Choose below.';
    }
  }
})();
