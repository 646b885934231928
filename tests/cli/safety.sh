# Safety of the page: author-supplied text (front matter, captions, figure labels and alt text,
# BibTeX fields) reaches the HTML only escaped; links run no script; no path leaves the project.
# Decisions (see also tests/bad/README.md):
# - Raw HTML is passed through only from the article (content/article.md, trusted); in captions
#   (figures/*.lua) it is shown as text.
# - Every URL the page takes goes through one check (pipeline/page/url.h): a Markdown link or
#   image (body, footnotes, captions) must be http(s), mailto or relative; a front matter
#   url/affiliation_url and a BibTeX url must be http(s) or mailto; a BibTeX doi must be a DOI.
#   Anything else (javascript:, vbscript:, data:, file:, however spelled) is refused, naming
#   the file and line: nothing is silently emptied or dropped.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=quiet
P=$TMPDIR_T/site
cp -r "$ROOT/tests/fixtures/site" "$P"
rm -rf "$P/.cache" "$P/build"
build() { (cd "$P" && lua5.4 "$ROOT/build.lua" "$@"); }

# Every field gets the payloads, each behind its own marker (F1..F12) so that each is checked.
X='<script>alert(1)</script> "onerror=alert(1) x="'
XL=${X//\"/\\\"} # for Lua and front matter double-quoted strings
cat >"$P/content/article.md" <<MD
---
title: "F1 $XL"
description: F2 $X
date: 2024-02-29
authors:
  - name: "F3 $XL"
    url: https://example.org/ada
    affiliation: F4 $X
    affiliation_url: https://example.org
---

## Section

Citations [@olah2017] and [@erhan2009]; {{ref pair}}; a note[^one].
Links: [L7](https://example.org/ok)
[L8](#section) [L9](images/x.png) [L10](mailto:a@example.org)

Raw <abbr title="kept">HTML</abbr> is allowed in the article.

{{figure pair}}

[^one]: A note with [L11](https://example.org/note).
MD
cat >"$P/content/references.bib" <<BIB
@article{olah2017,
  author = {F5 $X, Ada and Mordvintsev, Alexander},
  title = {F6 $X},
  journal = {F7 $X},
  year = 2017
}
@misc{erhan2009,
  author = {Erhan, Dumitru},
  title = {F8 $X},
  year = {2009},
  url = {https://example.org/ok}
}
BIB
cat >"$P/figures/pair.lua" <<LUA
return {
  kind = "images",
  title = "F9 $XL",
  caption = "F10 $XL raw <b>HTML</b>",
  images = {
    { src = "images/gradient.png", alt = "F11 $XL", label = "F12 $XL" },
  },
}
LUA
run_cmd build
expect_eq "the site with payloads builds" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | head -3
H=$P/build/article/index.html
E='&lt;script&gt;alert(1)&lt;/script&gt; &quot;onerror=alert(1) x=&quot;'
# F9 (the manifest's title) appears only in the recipes appendix, which this site does not have.
for f in 1 2 3 4 5 6 7 8 11 12; do
  grep -qF "F$f $E" "$H" && t_ok "field F$f is published escaped" || t_fail "field F$f is published escaped" "$(grep -o "F$f [^<]*" "$H" | head -2)"
done
# The caption is Markdown: smart quotes turn the payload's quotes into curly ones (still text).
grep -qF 'F10 &lt;script&gt;alert(1)&lt;/script&gt; “onerror=alert(1) x=”' "$H" && t_ok "the caption is published as text" || t_fail "the caption is published as text" "$(grep -o 'F10 [^<]*' "$H")"
expect_eq "no <script> element" 0 "$(grep -ci '<script' "$H")"
expect_eq "no attribute breakout" 0 "$(grep -ciE '"onerror=|<[^>]* onerror=' "$H")"
expect_eq "no javascript:, vbscript: or data: link" "" "$(grep -oiE '(href|src)="[[:space:]]*(javascript|vbscript|data):[^"]*"' "$H")"
grep -q '<a href="https://example.org/ok">L7</a>' "$H" && grep -q '<a href="#section">L8</a>' "$H" &&
  grep -q '<a href="images/x.png">L9</a>' "$H" && grep -q '<a href="mailto:a@example.org">L10</a>' "$H" &&
  t_ok "http(s), anchor, relative and mailto links are kept" || t_fail "http(s), anchor, relative and mailto links are kept"
grep -q '<abbr title="kept">HTML</abbr>' "$H" && t_ok "raw HTML from content/ is kept" || t_fail "raw HTML from content/ is kept"
grep -q 'raw &lt;b&gt;HTML&lt;/b&gt;' "$H" && t_ok "raw HTML in a caption is text" || t_fail "raw HTML in a caption is text"
grep -q 'class="ref-link" href="https://example.org/ok"' "$H" && t_ok "an http BibTeX url is linked" || t_fail "an http BibTeX url is linked"

# Links that could run script: each is refused with the file and line (the article's link line
# is 15, the footnote's 22, the caption's line 4 of the manifest, the bib's url line 5).
for f in content/article.md content/references.bib figures/pair.lua; do cp "$P/$f" "$TMPDIR_T/${f##*/}.saved"; done
link_case() { # NAME FILE SED WANT
  sed -i "$3" "$P/$2"
  expect_fail "$1 is refused" "$4" build
  cp "$TMPDIR_T/${2##*/}.saved" "$P/$2"
}
A=content/article.md
W='(expected an http(s) or mailto: URL, or a relative link)'
link_case "javascript: link" $A 's#\[L7\](https://example.org/ok)#[L1](javascript:alert(1))#' "$A:15: link to 'javascript:alert(1)' $W"
link_case "mixed-case scheme" $A 's#\[L7\](https://example.org/ok)#[L2](JaVaScRiPt:alert(1))#' "$A:15: link to 'JaVaScRiPt:alert(1)' $W"
link_case "vbscript: link" $A 's#\[L7\](https://example.org/ok)#[L3](vbscript:x)#' "$A:15: link to 'vbscript:x' $W"
link_case "data: link" $A 's#\[L7\](https://example.org/ok)#[L4](data:text/html,x)#' "$A:15: link to 'data:text/html,x' $W"
link_case "space before the scheme" $A 's#\[L7\](https://example.org/ok)#[L5](< javascript:alert(1)>)#' "$A:15: link to 'javascript:alert(1)' $W"
link_case "autolink" $A 's#\[L7\](https://example.org/ok)#<javascript:alert(1)>#' "$A:15: link to 'javascript:alert(1)' $W"
link_case "javascript: image" $A 's#\[L7\](https://example.org/ok)#![L6](javascript:alert(1))#' "$A:15: image to 'javascript:alert(1)' $W"
link_case "entity in the scheme" $A 's#\[L7\](https://example.org/ok)#[L6](java\&Tab;script:alert(1))#' "$A:15: link to 'java\\x09script:alert(1)' $W"
link_case "link in a footnote" $A 's#\[L11\](https://example.org/note)#[L11](javascript:alert(1))#' "$A:22: link to 'javascript:alert(1)' $W"
link_case "link in a caption" figures/pair.lua 's#raw <b>HTML</b>#[L12](javascript:alert(1)) raw#' "figures/pair.lua:4: link to 'javascript:alert(1)' $W"
link_case "BibTeX url" content/references.bib 's#year = 2017#year = 2017,\n  url = {javascript:alert(1)}#' \
  "content/references.bib:6: entry 'olah2017': field 'url': 'javascript:alert(1)' is not a link (expected an http(s) or mailto: URL)"
link_case "BibTeX doi" content/references.bib 's#year = 2017#year = 2017,\n  doi = {javascript:alert(1)}#' \
  "content/references.bib:6: entry 'olah2017': field 'doi': 'javascript:alert(1)' is not a DOI"

# Front matter links: anything but http(s) or mailto is refused, naming the line.
for k in url affiliation_url; do
  cp "$P/content/article.md" "$TMPDIR_T/saved.md"
  sed -i "0,/^    $k: .*/s##    $k: javascript:alert(1)#" "$P/content/article.md"
  line=$(grep -n "^    $k: javascript" "$P/content/article.md" | cut -d: -f1)
  expect_fail "front matter $k javascript: is refused" \
    "content/article.md:$line: front matter: author field '$k': 'javascript:alert(1)' is not a link (expected an http(s) or mailto: URL)" build
  cp "$TMPDIR_T/saved.md" "$P/content/article.md"
done

# No path from a manifest may leave the project. The images kind's src is the only path field
# of the kinds (pipeline/kinds/*.lua); a recipe's model cannot be named in a manifest at all
# (the driver supplies the verified model), in any kind or cell; a manifest that is a symlink out
# is refused too. (The catalogue tests/bad/ has the exact lines of the images cases.)
cp "$P/figures/pair.lua" "$TMPDIR_T/pair.lua"
path_case() { # NAME SRC WANT [SETUP]
  cp "$TMPDIR_T/pair.lua" "$P/figures/pair.lua"
  [ -n "${4:-}" ] && (cd "$P" && eval "$4")
  sed -i "s#images/gradient.png#$2#" "$P/figures/pair.lua"
  expect_fail "images src: $1" "field 'images[1].src': $3" build
  rm -f "$P/content/images/out" "$P/content/images/link.png"
}
path_case "../ out of the project" "../../x.png" "path leaves the project"
path_case "../ out of content" "../figures/x.png" "path leaves content/"
path_case "../ inside, then out" "images/../../../x.png" "path leaves the project"
path_case "absolute" "/etc/x.png" "absolute paths are not allowed"
path_case "backslash" 'images\\\\x.png' "invalid character '\\' in path (expected '/' between names)"
path_case "symlinked folder" "images/out/x.png" "path leads outside the project through a symbolic link" "ln -s /usr/share content/images/out"
path_case "symlinked file" "images/link.png" "path leads outside the project through a symbolic link" "ln -s /etc/hostname content/images/link.png"
cp "$TMPDIR_T/pair.lua" "$P/figures/pair.lua"
K=$ROOT/tests/fixtures/kinds/figures
model_case() { # NAME FILE SED
  cp "$K/$2" "$P/figures/$2"
  sed -i "$3" "$P/figures/$2"
  expect_fail "recipe model path refused: $1" "model': unknown recipe field" build
  rm -f "$P/figures/$2"
}
model_case "grid figure" g.lua 's#size = 64, steps = 8#size = 64, model = "/etc/passwd", steps = 8#'
model_case "grid cell" g.lua 's#recipe = { objectives = { { kind = "channel", channel = 1#recipe = { model = { json = "../../x.json" }, objectives = { { kind = "channel", channel = 1#'
model_case "progress" p.lua 's#size = 64, steps = 8#size = 64, model = "../x", steps = 8#'
model_case "interpolation" i.lua 's#size = 64, steps = 8#size = 64, model = "../x", steps = 8#'
model_case "channels" c.lua 's#size = 64, steps = 8#size = 64, model = "../x", steps = 8#'
model_case "examples" x.lua 's#k = 4#k = 4, recipe = { model = "../x" }#'
ln -s /etc/hostname "$P/figures/evil.lua"
expect_fail "a manifest that is a symlink out" "figures/evil.lua: path leads outside the project through a symbolic link" build
rm -f "$P/figures/evil.lua"
# templates/assets/ follows the same rule (the refused links are tests/bad/172-175): a link that
# stays inside the project is published as the file it leads to.
ln -s ../../content/images/mark.svg "$P/templates/assets/mark.svg"
run_cmd build
expect_eq "an asset linked inside the project is published" "0 $(cat "$P/content/images/mark.svg")" \
  "$T_RC $(cat "$P/build/article/assets/mark.svg" 2>&1)"
rm -f "$P/templates/assets/mark.svg"
run_cmd build
expect_eq "the site builds again once the bad inputs are gone" 0 "$T_RC"
finish
