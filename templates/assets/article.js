// Small progressive enhancements. The article reads fully without script: every interpolation
// frame is also shown in its strip, the dataset-examples figure shows both of what its toggle
// picks between, and the maps are plain images. No request leaves the site.
//
// Markup contracts (figure kinds write these; the script only enhances them):
//
//   Zoom: an element with class "fv-zoom" is either a sprite frame
//     <span class="sprite fv-zoom" style="aspect-ratio: w / h"><img data-frame="x y w h"
//       data-label="shown above the enlarged frame" alt="…"></span>
//   or a plain <img class="fv-zoom" data-label="…">; the images of the "images" kind
//   (.fig-images .image img, labelled by their .label) zoom too. The script makes each one
//   focusable (role=button); hover (mouse, after a short rest of the pointer and never while the
//   wheel scrolls), tap (touch) or Enter/Space (keyboard) shows it enlarged in one popover kept
//   inside the viewport; Escape, leaving, moving the focus away or tapping elsewhere closes it.
//   The frames of one <figure> are one tab stop (roving tabindex): arrow keys move between them
//   (left/right in reading order, up/down to the nearest frame of the next row), Home and End
//   to the first and last. Frames inside an .fv-pan do not zoom (the map zooms as a whole).
//
//   Toggle: <div class="ex-toggle" role="group" hidden><button type="button" data-show="A"
//     aria-pressed="true">…</button>…</div> directly followed by <div class="examples"
//   data-show="A">. The script unhides the group; a button sets data-show on the next
//   .examples and aria-pressed on itself; the stylesheet shows what data-show names.
//
//   Pan and zoom: <div class="fv-pan" aria-label="what the map shows" [data-pan-max="8"]>
//     <div class="fv-pan-layer">…content, sized by the container's width…</div></div>
//   The layer gets `transform: translate(X%, Y%) scale(S)` (origin top left; percentages of
//   its own size, so the view survives resizes), bounded so that it always covers the
//   container (1 <= S <= data-pan-max, default 8). The script makes the container focusable,
//   wraps it in a <div class="fv-pan-wrap"> whose first child is a bar of +, − and reset
//   buttons (.fv-pan-controls, data-pan="in|out|reset"; over the map's corner and sticking to
//   the window's top on wide screens, a row above the map on phones) and sets data-pan-scale
//   on the container. Drag (mouse, pen, one finger) pans; pinch, and the wheel around the
//   pointer, zoom; double-click zooms in. Keys while the map has focus: arrows pan, + and −
//   zoom, 0 resets. The plain wheel zooms only once the map has focus (a click gives it) or
//   with Ctrl/⌘ held (a trackpad pinch), and a plain wheel that would zoom past the limits
//   (out at 1, in at the maximum) scrolls the page: scrolling past the map is never trapped.
//
//   Citation and footnote previews (.cite / .fnref > .preview, shown by the stylesheet on hover
//   and focus): the script moves a preview in from the viewport's edges, and on a touch screen
//   the first tap on a reference shows its preview, the second follows the link.
(function () {
  'use strict';
  var reduceMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)');
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
  // Keeps one visible tab stop in each figure's frames (set by the zoom's roving tab stops
  // below; the slider and the toggle change which frames are visible).
  var refreshStops = function () {};

  // Interpolation sliders: the range input picks the frame shown in the large view. A range
  // input already works with mouse, touch and keyboard (arrows, Home, End).
  document.querySelectorAll('.interp').forEach(function (fig) {
    var input = fig.querySelector('input[type=range]');
    var view = fig.querySelector('.interp-view');
    var frames = view.querySelectorAll('.frame');
    function show() {
      var k = Number(input.value);
      frames.forEach(function (img, i) { img.classList.toggle('on', i === k); });
      view.setAttribute('data-frame-shown', String(k));
      refreshStops();
    }
    input.addEventListener('input', show);
    input.addEventListener('change', show);
    show();
  });

  // ---- Zoom on a frame -------------------------------------------------------------------
  var pop = null;      // the one popover, made on first use
  var current = null;  // the element whose enlargement is shown
  var lastPointer = 'mouse';
  // Hover opens after the pointer rests HOVER_MS on a frame, and not before the wheel has been
  // still as long: a reader scrolling past a grid does not get a popover under the pointer.
  var HOVER_MS = 150;
  var hoverTimer = 0, hoverEl = null, lastWheel = -Infinity;
  window.addEventListener('wheel', function () { lastWheel = Date.now(); }, { passive: true, capture: true });
  function hoverStart(el) {
    clearTimeout(hoverTimer);
    hoverEl = el;
    hoverTimer = setTimeout(function tick() {
      if (hoverEl !== el) return;
      var still = Date.now() - lastWheel;
      if (still < HOVER_MS) { hoverTimer = setTimeout(tick, HOVER_MS - still); return; }
      openZoom(el);
    }, HOVER_MS);
  }
  function hoverEnd(el) {
    if (hoverEl === el) { clearTimeout(hoverTimer); hoverEl = null; }
  }

  function zoomImg(el) { return el.tagName === 'IMG' ? el : el.querySelector('img'); }

  function labelOf(el) {
    var img = zoomImg(el);
    var l = el.getAttribute('data-label') || (img && img.getAttribute('data-label'));
    if (!l) {
      var box = el.closest('.image, .cell');
      var lab = box && box.querySelector('.label');
      l = lab ? lab.textContent : '';
    }
    return l;
  }

  function closeZoom() {
    if (!current) return;
    current.setAttribute('aria-expanded', 'false');
    current = null;
    pop.hidden = true;
    pop.classList.remove('open');
    pop.querySelector('.fv-zoom-view').textContent = '';
  }

  function placeZoom() {
    if (!current) return;
    var r = current.getBoundingClientRect();
    var vw = document.documentElement.clientWidth, vh = window.innerHeight;
    if (r.bottom < 0 || r.top > vh) { closeZoom(); return; }
    var view = pop.querySelector('.fv-zoom-view');
    var text = pop.querySelector('.fv-zoom-text');
    var aspect = r.height > 0 ? r.width / r.height : 1;
    // 2.5 times the frame as shown, at least 12rem, never past the viewport (8 px margins and
    // room for the label underneath).
    // CHROME: the popover's padding and border around the image (6 px and 1 px a side in style.css).
    var CHROME = 14;
    var w = Math.floor(Math.min(Math.max(r.width * 2.5, 192), 560, vw - 16 - CHROME));
    pop.style.width = w + CHROME + 'px';
    var textH = text.offsetHeight + CHROME;
    if (w / aspect > vh - 16 - textH) w = Math.floor(Math.max(64, (vh - 16 - textH) * aspect));
    pop.style.width = w + CHROME + 'px';
    view.style.width = w + 'px';
    // Crisp pixels when a small image is blown up (feature visualizations are small renders);
    // smooth when the frame is already shown near its own size or is a drawing (SVG).
    var img = zoomImg(current);
    var fr = (img.getAttribute('data-frame') || '').split(' ').map(Number);
    var natural = fr.length === 4 ? fr[2] : img.naturalWidth;
    var svg = /\.svg($|\?)/i.test(img.getAttribute('src') || '');
    pop.classList.toggle('crisp', !svg && natural > 0 && w >= 1.5 * natural);
    var pw = pop.offsetWidth, ph = pop.offsetHeight;
    var left = clamp(r.left + r.width / 2 - pw / 2, 8, Math.max(8, vw - 8 - pw));
    var top = clamp(r.top + r.height / 2 - ph / 2, 8, Math.max(8, vh - 8 - ph));
    pop.style.left = Math.round(left) + 'px';
    pop.style.top = Math.round(top) + 'px';
  }

  function openZoom(el) {
    if (current === el) return;
    closeZoom();
    if (!pop) {
      pop = document.createElement('div');
      pop.className = 'fv-zoom-pop';
      // A visual copy: assistive technology already has the frame's alt text and label.
      pop.setAttribute('aria-hidden', 'true');
      pop.innerHTML = '<div class="fv-zoom-view"></div><div class="fv-zoom-text"><b></b><span></span></div>';
      pop.hidden = true;
      document.body.appendChild(pop);
    }
    current = el;
    el.setAttribute('aria-expanded', 'true');
    var copy = el.tagName === 'IMG' ? el.cloneNode(false) : el.cloneNode(true);
    copy.removeAttribute('tabindex');
    copy.removeAttribute('role');
    copy.removeAttribute('aria-expanded');
    copy.removeAttribute('id');
    copy.className = el.tagName === 'IMG' ? '' : 'sprite';
    copy.removeAttribute('width');
    copy.removeAttribute('height');
    var ci = zoomImg(copy);
    ci.removeAttribute('loading');
    ci.alt = '';
    var view = pop.querySelector('.fv-zoom-view');
    view.appendChild(copy);
    var img = zoomImg(el);
    pop.querySelector('.fv-zoom-text b').textContent = labelOf(el);
    pop.querySelector('.fv-zoom-text span').textContent = img.alt || '';
    pop.hidden = false;
    placeZoom();
    // The next frame starts the (optional) fade-in from the placed position.
    requestAnimationFrame(function () { if (current === el) pop.classList.add('open'); });
  }

  // Roving tab stops: the zoomable frames of a figure (or a lone frame) are one group with one
  // tab stop, the last frame focused; 210 frames were 210 stops.
  var groups = new Map();
  function groupOf(el) { return el.closest('figure') || el; }
  function shown(el) { return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'; }
  function members(g) { return groups.get(g).filter(shown); }
  function setStop(g, el) {
    groups.get(g).forEach(function (o) { o.setAttribute('tabindex', o === el ? '0' : '-1'); });
  }
  refreshStops = function () {
    groups.forEach(function (list, g) {
      var stop = list.filter(function (o) { return o.getAttribute('tabindex') === '0'; })[0];
      if (!stop || !shown(stop)) setStop(g, members(g)[0] || list[0]);
    });
  };
  // The frame an arrow key (or Home, End) moves to from el, or null.
  function nextFrame(el, key) {
    var list = members(groupOf(el)), i = list.indexOf(el);
    if (key === 'ArrowRight') return list[i + 1] || null;
    if (key === 'ArrowLeft') return i > 0 ? list[i - 1] : null;
    if (key === 'Home') return list[0];
    if (key === 'End') return list[list.length - 1];
    if (key !== 'ArrowDown' && key !== 'ArrowUp') return null;
    // Up and down: the nearest row in that direction, then the frame nearest in x.
    var down = key === 'ArrowDown', r = el.getBoundingClientRect(), cx = r.left + r.width / 2;
    var rows = list.map(function (o) {
      var q = o.getBoundingClientRect();
      return { el: o, gap: down ? q.top - r.bottom : r.top - q.bottom, dx: Math.abs(q.left + q.width / 2 - cx) };
    }).filter(function (c) { return c.el !== el && c.gap > -r.height / 2; });
    if (!rows.length) return null;
    var near = Math.min.apply(null, rows.map(function (c) { return c.gap; }));
    return rows.filter(function (c) { return c.gap < near + r.height / 2; })
      .sort(function (a, b) { return a.dx - b.dx; })[0].el;
  }

  var zoomables = [];
  document.querySelectorAll('.fv-zoom, .fig-images .image img').forEach(function (el) {
    if (el.closest('.fv-pan')) return;
    zoomables.push(el);
    var g = groupOf(el);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(el);
    el.setAttribute('tabindex', '-1');
    el.setAttribute('role', 'button');
    el.setAttribute('aria-expanded', 'false');
    el.classList.add('fv-zoomable');
    el.addEventListener('focus', function () { setStop(g, el); });
    el.addEventListener('pointerenter', function (ev) {
      lastPointer = ev.pointerType;
      if (ev.pointerType === 'mouse') hoverStart(el);
    });
    el.addEventListener('pointerleave', function (ev) {
      if (ev.pointerType !== 'mouse') return;
      hoverEnd(el);
      if (current === el) closeZoom();
    });
    el.addEventListener('pointerdown', function (ev) { lastPointer = ev.pointerType; });
    // A tap (touch, pen) toggles; a mouse already opened it by hovering.
    el.addEventListener('click', function () {
      if (lastPointer === 'mouse') return;
      if (current === el) closeZoom(); else openZoom(el);
    });
    el.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        if (current === el) closeZoom(); else openZoom(el);
      } else if (ev.key === 'Escape' && current === el) {
        ev.preventDefault();
        ev.stopPropagation();
        closeZoom();
      } else if (!ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        var to = nextFrame(el, ev.key);
        if (!to) return;
        ev.preventDefault();
        var wasOpen = current === el;
        to.focus(); // el's blur closes its enlargement; the new frame's is shown if el's was
        if (wasOpen) openZoom(to);
      }
    });
    // Focus moving on (Tab, a click elsewhere) closes the enlargement: it would cover the next
    // control. However the frame was opened (a mouse hover too: the focus left it all the same).
    el.addEventListener('blur', function () { if (current === el) closeZoom(); });
  });
  refreshStops();
  if (zoomables.length) {
    document.addEventListener('pointerdown', function (ev) {
      if (current && !current.contains(ev.target)) closeZoom();
    });
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closeZoom(); });
    window.addEventListener('scroll', placeZoom, { passive: true });
    window.addEventListener('resize', closeZoom);
  }

  // ---- Dataset examples / optimized images toggle ----------------------------------------
  document.querySelectorAll('.ex-toggle').forEach(function (group) {
    var target = group.nextElementSibling;
    if (!target || !target.classList.contains('examples')) return;
    var buttons = group.querySelectorAll('button[data-show]');
    buttons.forEach(function (b) {
      b.addEventListener('click', function () {
        target.setAttribute('data-show', b.getAttribute('data-show'));
        buttons.forEach(function (o) { o.setAttribute('aria-pressed', o === b ? 'true' : 'false'); });
        refreshStops();
      });
    });
    group.hidden = false;
  });

  // ---- Pan and zoom ----------------------------------------------------------------------
  document.querySelectorAll('.fv-pan').forEach(function (box, n) {
    var layer = box.querySelector('.fv-pan-layer');
    if (!layer) return;
    var max = Number(box.getAttribute('data-pan-max')) || 8;
    // The view: scale s, and the layer's offset (fx, fy) in fractions of its own size.
    var s = 1, fx = 0, fy = 0;

    box.setAttribute('tabindex', '0');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-roledescription', 'zoomable map');
    var help = document.createElement('p');
    help.className = 'fv-pan-help';
    help.id = 'fv-pan-help-' + n;
    help.textContent = 'Drag or use the arrow keys to move; pinch, the wheel (after a click, or with Ctrl), + and − to zoom; 0 resets.';
    var bar = document.createElement('div');
    bar.className = 'fv-pan-controls';
    bar.innerHTML = '<button type="button" data-pan="in" aria-label="Zoom in">+</button>'
      + '<button type="button" data-pan="out" aria-label="Zoom out">−</button>'
      + '<button type="button" data-pan="reset" aria-label="Reset the view">⟲</button>';
    // The bar sits before the map in a wrapper (see the stylesheet): outside the map's clipping,
    // so it can stick to the window's top over a tall map and sit above the map on a phone.
    var wrap = document.createElement('div');
    wrap.className = 'fv-pan-wrap';
    box.parentNode.insertBefore(wrap, box);
    wrap.appendChild(bar);
    wrap.appendChild(box);
    box.appendChild(help);
    box.setAttribute('aria-describedby', help.id);
    layer.querySelectorAll('img').forEach(function (img) { img.draggable = false; });

    function apply(animate) {
      s = clamp(s, 1, max);
      fx = clamp(fx, 1 - s, 0);
      fy = clamp(fy, 1 - s, 0);
      layer.classList.toggle('animate', !!animate && !(reduceMotion && reduceMotion.matches));
      layer.style.transform = s === 1 ? '' : 'translate(' + (fx * 100).toFixed(3) + '%, ' + (fy * 100).toFixed(3) + '%) scale(' + s.toFixed(4) + ')';
      box.setAttribute('data-pan-scale', s.toFixed(3));
      box.classList.toggle('is-zoomed', s > 1);
      bar.querySelector('[data-pan=in]').disabled = s >= max;
      bar.querySelector('[data-pan=out]').disabled = s <= 1;
      bar.querySelector('[data-pan=reset]').disabled = s === 1;
    }
    // Zoom by factor k keeping the point (u, v) (fractions of the container) where it is.
    function zoomAt(k, u, v, animate) {
      var s2 = clamp(s * k, 1, max);
      fx = u - (u - fx) * s2 / s;
      fy = v - (v - fy) * s2 / s;
      s = s2;
      apply(animate);
    }
    function local(ev) {
      var r = box.getBoundingClientRect();
      return { u: (ev.clientX - r.left) / r.width, v: (ev.clientY - r.top) / r.height };
    }

    bar.addEventListener('click', function (ev) {
      var b = ev.target.closest('button');
      if (!b) return;
      var a = b.getAttribute('data-pan');
      if (a === 'in') zoomAt(1.5, 0.5, 0.5, true);
      else if (a === 'out') zoomAt(1 / 1.5, 0.5, 0.5, true);
      else { s = 1; fx = 0; fy = 0; apply(true); }
    });
    box.addEventListener('keydown', function (ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      // Offsets are in container widths, so 0.1 is a tenth of what is visible at any zoom.
      var step = 0.1;
      var k = ev.key, moved = true;
      if (k === '+' || k === '=') zoomAt(1.5, 0.5, 0.5, true);
      else if (k === '-' || k === '_') zoomAt(1 / 1.5, 0.5, 0.5, true);
      else if (k === '0') { s = 1; fx = 0; fy = 0; apply(true); }
      else if (s > 1 && k === 'ArrowLeft') { fx += step; apply(true); }
      else if (s > 1 && k === 'ArrowRight') { fx -= step; apply(true); }
      else if (s > 1 && k === 'ArrowUp') { fy += step; apply(true); }
      else if (s > 1 && k === 'ArrowDown') { fy -= step; apply(true); }
      else moved = false;
      if (moved) ev.preventDefault();
    });
    box.addEventListener('wheel', function (ev) {
      var pinch = ev.ctrlKey || ev.metaKey;
      if (!(pinch || wrap.contains(document.activeElement))) {
        box.classList.add('hint');
        clearTimeout(box._hint);
        box._hint = setTimeout(function () { box.classList.remove('hint'); }, 1500);
        return;
      }
      var p = local(ev);
      var d = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
      var k = Math.exp(-clamp(d, -100, 100) / 300);
      // At the limit the plain wheel is the page's: out at scale 1 (the map is as small as it
      // gets), in at the maximum. A pinch (Ctrl) is kept from zooming the whole page.
      if (!pinch && ((k < 1 && s <= 1) || (k > 1 && s >= max))) return;
      ev.preventDefault();
      zoomAt(k, p.u, p.v, false);
    }, { passive: false });
    box.addEventListener('dblclick', function (ev) {
      if (ev.target.closest('.fv-pan-controls')) return;
      var p = local(ev);
      zoomAt(2, p.u, p.v, true);
    });

    // Pointers: one pans, two pinch (zoom about their midpoint, pan by its movement).
    var pts = new Map();
    var last = null;
    function gesture() {
      var a = Array.from(pts.values());
      if (a.length === 1) return { u: a[0].u, v: a[0].v, d: 0 };
      var du = a[0].u - a[1].u, dv = a[0].v - a[1].v;
      return { u: (a[0].u + a[1].u) / 2, v: (a[0].v + a[1].v) / 2, d: Math.hypot(du, dv) };
    }
    box.addEventListener('pointerdown', function (ev) {
      if (ev.target.closest('.fv-pan-controls') || (ev.pointerType === 'mouse' && ev.button !== 0)) return;
      // A single finger on the unzoomed map scrolls the page (touch-action: pan-y); pinch starts with two.
      pts.set(ev.pointerId, local(ev));
      box.setPointerCapture(ev.pointerId);
      last = gesture();
      box.classList.add('dragging');
    });
    box.addEventListener('pointermove', function (ev) {
      if (!pts.has(ev.pointerId)) return;
      pts.set(ev.pointerId, local(ev));
      var g = gesture();
      if (last && pts.size === 2 && last.d > 0 && g.d > 0) zoomAt(g.d / last.d, g.u, g.v, false);
      fx += g.u - last.u;
      fy += g.v - last.v;
      apply(false);
      last = g;
    });
    function up(ev) {
      if (!pts.delete(ev.pointerId)) return;
      last = pts.size ? gesture() : null;
      if (!pts.size) box.classList.remove('dragging');
    }
    box.addEventListener('pointerup', up);
    box.addEventListener('pointercancel', up);
    box.addEventListener('dragstart', function (ev) { ev.preventDefault(); });
    apply(false);
  });

  // ---- Citation and footnote previews ------------------------------------------------------
  // Each preview is moved in from the viewport's edges when it opens (on phones the stylesheet
  // makes it a sheet along the bottom instead, and the nudge has no effect there).
  document.querySelectorAll('.cite, .fnref').forEach(function (ref) {
    var p = ref.querySelector(':scope > .preview');
    if (!p) return;
    function fit() {
      p.style.removeProperty('--nudge');
      var r = p.getBoundingClientRect(), vw = document.documentElement.clientWidth;
      if (!r.width) return;
      var dx = r.left < 8 ? 8 - r.left : r.right > vw - 8 ? vw - 8 - r.right : 0;
      if (dx) p.style.setProperty('--nudge', Math.round(dx) + 'px');
    }
    ref.addEventListener('mouseenter', fit);
    ref.addEventListener('focusin', fit);
  });
  // Touch: the first tap on a reference focuses it, which shows its preview; a second tap on
  // the focused reference follows the link (the references have links back to the text).
  // (Whether it had the focus is taken at pointerdown: the tap itself focuses the link.)
  var REF = '.cite > a, .fnref > a';
  var tapType = '', tapHadFocus = false;
  document.addEventListener('pointerdown', function (ev) {
    tapType = ev.pointerType;
    var a = ev.target.closest && ev.target.closest(REF);
    tapHadFocus = !!a && document.activeElement === a;
  }, true);
  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest(REF);
    if (!a || tapType !== 'touch' || tapHadFocus) return;
    ev.preventDefault();
    a.focus();
  });

  // Escape closes a citation or footnote preview opened by keyboard focus.
  document.addEventListener('keydown', function (ev) {
    var a = document.activeElement;
    if (ev.key === 'Escape' && a && a.closest && a.closest('.cite, .fnref')) a.blur();
  });
})();
