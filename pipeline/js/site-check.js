#!/usr/bin/env node
// site-check: what a published site must hold, checked on its files as a browser would read
// them: every page parsed by parse5 (the WHATWG HTML parser), every CSS file and <style> read by
// a small CSS tokenizer (strings, comments, url() and @import).
//
//   node pipeline/js/site-check.js SITE_DIR
//
// Checks: every internal link and `#anchor` resolves (the file exists; the id or name exists in
// it); every file a page or a style sheet loads (src, srcset, poster, data, link href, url(),
// @import) exists inside the site; nothing is loaded from outside (http:, https:, //host, or any
// other scheme but data:). Links to other sites (<a href="https://…">) are navigations, not
// requests, and are allowed, as are mailto:.
// Prints one line per problem, "FILE:LINE: what (expected …)", then a count.
// Exit codes: 0 the site is sound, 1 problems found, 2 usage or unreadable site.
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require('parse5');

const site = process.argv[2];
if (!site || process.argv.length > 3) {
  process.stderr.write('usage: node site-check.js SITE_DIR\n');
  process.exit(2);
}
let root;
try {
  root = fs.realpathSync(site);
  if (!fs.statSync(root).isDirectory()) throw new Error('not a directory');
} catch (e) {
  process.stderr.write(`site-check: ${site}: ${e.message} (expected the site's directory)\n`);
  process.exit(2);
}

const problems = [];
const say = (file, line, msg) => problems.push(`${path.join(site, file)}:${line}: ${msg}`);

function walk(dir, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(path.relative(root, p));
  }
  return out;
}
const files = walk(root, []).sort();
const exists = new Set(files);

// What a reference is: external (a request leaving the site), data:, an anchor, or a file.
function classify(ref) {
  const r = ref.trim();
  if (r.startsWith('//')) return { kind: 'external' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(r);
  if (scheme) {
    const s = scheme[1].toLowerCase();
    if (s === 'data') return { kind: 'data' };
    if (s === 'http' || s === 'https') return { kind: 'external' };
    if (s === 'mailto') return { kind: 'mailto' };
    return { kind: 'scheme', scheme: s };
  }
  const hash = r.indexOf('#');
  const q = r.search(/[?#]/);
  const p = q < 0 ? r : r.slice(0, q);
  return { kind: 'local', path: p, frag: hash < 0 ? null : r.slice(hash + 1) };
}

// A local path relative to `from` (a file of the site) → the site file it names, or null when
// it leaves the site.
function target(from, p) {
  let dec;
  try { dec = decodeURIComponent(p); } catch (e) { dec = p; }
  if (dec === '') return from;
  const abs = path.normalize(path.join(path.dirname(from), dec));
  if (abs.startsWith('..') || path.isAbsolute(abs)) return null;
  let t = abs;
  if (dec.endsWith('/') || (!exists.has(t) && exists.has(path.join(t, 'index.html')))) t = path.join(t, 'index.html');
  return t;
}

const ids = new Map(); // page -> Set of ids and names
const links = []; // { from, line, ref, frag, file, link } checked once every page is read

// A resource that must be in the site (loaded, not navigated to).
function resource(from, line, ref, what) {
  const c = classify(ref);
  if (c.kind === 'data') return;
  if (c.kind === 'external' || c.kind === 'mailto' || c.kind === 'scheme') {
    say(from, line, `${what} "${ref}" is loaded from outside the site (expected a file inside it)`);
    return;
  }
  const t = target(from, c.path);
  if (t === null) say(from, line, `${what} "${ref}" leaves the site (expected a file inside it)`);
  else if (!exists.has(t)) say(from, line, `${what} "${ref}": no such file in the site`);
}

// CSS: url(...) and @import, outside comments, from a small tokenizer.
function cssRefs(text) {
  const out = [];
  let i = 0, line = 1;
  const n = text.length;
  const count = (a, b) => { for (let k = a; k < b; k++) if (text[k] === '\n') line++; };
  while (i < n) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      count(i, end); i = end; continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      count(i, j); i = j + 1; continue;
    }
    if (c === '@' && /^@import\b/i.test(text.slice(i, i + 8))) {
      const m = /^@import\s*(?:url\(\s*)?(["']?)([^"')\s;]*)\1/i.exec(text.slice(i));
      if (m) out.push({ ref: m[2], line, what: '@import' });
      i += 7; continue;
    }
    if ((c === 'u' || c === 'U') && /^url\(/i.test(text.slice(i, i + 4)) && !/[\w-]/.test(text[i - 1] || '')) {
      let j = i + 4;
      while (/\s/.test(text[j] || '')) j++;
      let ref = '';
      const q = text[j];
      if (q === '"' || q === "'") {
        let k = j + 1;
        while (k < n && text[k] !== q) { ref += text[k] === '\\' ? text[++k] : text[k]; k++; }
        j = k + 1;
      } else {
        while (j < n && text[j] !== ')' && !/\s/.test(text[j])) ref += text[j++];
      }
      out.push({ ref, line, what: 'url()' });
      count(i, j); i = j; continue;
    }
    if (c === '\n') line++;
    i++;
  }
  return out;
}

function checkCss(from, text, baseLine) {
  for (const r of cssRefs(text)) resource(from, baseLine + r.line - 1, r.ref, `CSS ${r.what}`);
}

// Elements and attributes that load something, by element (null: any element).
const LOADS = {
  img: ['src'], script: ['src'], iframe: ['src'], embed: ['src'], audio: ['src'], video: ['src', 'poster'],
  source: ['src'], track: ['src'], input: ['src'], object: ['data'], image: ['href', 'xlink:href'],
  use: ['href', 'xlink:href'], feImage: ['href', 'xlink:href'],
};
const LINK_LOADS = new Set(['stylesheet', 'icon', 'preload', 'prefetch', 'modulepreload', 'manifest',
  'apple-touch-icon', 'mask-icon', 'shortcut']);

function attrs(el) {
  const m = {};
  for (const a of el.attrs || []) m[a.prefix ? `${a.prefix}:${a.name}` : a.name] = a.value;
  return m;
}
const lineOf = (el, name) => {
  const loc = el.sourceCodeLocation;
  if (!loc) return 0;
  return (name && loc.attrs && loc.attrs[name] ? loc.attrs[name].startLine : loc.startLine) || 0;
};

function checkPage(file) {
  const html = fs.readFileSync(path.join(root, file), 'utf8');
  const doc = parse(html, { sourceCodeLocationInfo: true });
  const seen = new Set();
  ids.set(file, seen);
  const stack = [doc];
  while (stack.length) {
    const el = stack.pop();
    if (el.content) stack.push(el.content); // <template>
    for (const ch of el.childNodes || []) stack.push(ch);
    if (!el.tagName) continue;
    const a = attrs(el);
    if (a.id) seen.add(a.id);
    if (el.tagName === 'a' && a.name) seen.add(a.name);
    for (const name of LOADS[el.tagName] || []) {
      if (a[name] !== undefined) resource(file, lineOf(el, name), a[name], `<${el.tagName} ${name}>`);
    }
    for (const name of ['srcset', 'imagesrcset']) {
      if (a[name] === undefined) continue;
      for (const part of a[name].split(',')) {
        const u = part.trim().split(/\s+/)[0];
        if (u) resource(file, lineOf(el, name), u, `<${el.tagName} ${name}>`);
      }
    }
    if (el.tagName === 'link' && a.href !== undefined) {
      const rels = (a.rel || '').toLowerCase().split(/\s+/);
      if (rels.some((r) => LINK_LOADS.has(r))) resource(file, lineOf(el, 'href'), a.href, `<link rel="${a.rel}">`);
    }
    if (a.style) checkCss(file, a.style, lineOf(el, 'style'));
    if (el.tagName === 'style') {
      const text = (el.childNodes || []).map((t) => t.value || '').join('');
      checkCss(file, text, lineOf(el));
    }
    if ((el.tagName === 'a' || el.tagName === 'area') && a.href !== undefined) {
      links.push({ from: file, line: lineOf(el, 'href'), ref: a.href });
    }
  }
}

let pages = 0;
for (const f of files) {
  if (/\.html?$/i.test(f)) { checkPage(f); pages++; }
  else if (/\.css$/i.test(f)) checkCss(f, fs.readFileSync(path.join(root, f), 'utf8'), 1);
  // An SVG file opened by itself is a document too: parsed the same way (as foreign content),
  // nothing in it may load from outside.
  else if (/\.svg$/i.test(f)) checkPage(f);
}

for (const l of links) {
  const c = classify(l.ref);
  if (c.kind === 'external' || c.kind === 'mailto' || c.kind === 'data') continue;
  if (c.kind === 'scheme') { say(l.from, l.line, `link "${l.ref}" uses ${c.scheme}: (expected a page of the site, http(s): or mailto:)`); continue; }
  const t = target(l.from, c.path);
  if (t === null) { say(l.from, l.line, `link "${l.ref}" leaves the site (expected a file inside it)`); continue; }
  if (!exists.has(t)) { say(l.from, l.line, `link "${l.ref}": no such file in the site`); continue; }
  if (c.frag) {
    let frag;
    try { frag = decodeURIComponent(c.frag); } catch (e) { frag = c.frag; }
    const there = ids.get(t);
    if (there && !there.has(frag)) say(l.from, l.line, `link "${l.ref}": no element with id "${frag}" in ${t}`);
  }
}

for (const p of problems) process.stdout.write(p + '\n');
if (problems.length) {
  process.stdout.write(`site-check: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${site} (${pages} pages, ${files.length} files)\n`);
  process.exit(1);
}
process.exit(0);
