# Black-box tests of the fv-page and fv-asset command lines: help, usage errors, exit codes,
# bad input as one line, and nothing written on failure.
. "$ROOT/tests/cli/lib.sh"
F=$ROOT/tests/fixtures/site
page() { "$BIN/fv-page" --article "$1" --bib "$F/content/references.bib" --figures "$ROOT/tests/fixtures/page/figures.json" \
  --template "$F/templates/page.html" --katex "$ROOT/pipeline/js/katex-render.js" --out "$TMPDIR_T/out"; }

expect_ok "fv-page --help" "$BIN/fv-page" --help
case $T_OUT in *"usage: fv-page"*) t_ok "help text" ;; *) t_fail "help text" ;; esac
expect_fail "fv-page without arguments" "usage: fv-page" "$BIN/fv-page"
expect_eq "usage exit code" 2 "$T_RC"
expect_fail "fv-page unknown option" "fv-page: unknown option --bogus" "$BIN/fv-page" --bogus x

expect_ok "fv-page builds the fixture" page "$F/content/article.md"
cmp -s "$TMPDIR_T/out/index.html" "$ROOT/tests/fixtures/page/golden.html" && t_ok "fv-page output is the golden page" || t_fail "fv-page output is the golden page"

rm -rf "$TMPDIR_T/out"
cp "$F/content/article.md" "$TMPDIR_T/a.md"
sed -i 's/\[@erhan2009\]\./[@missing]./' "$TMPDIR_T/a.md"
expect_fail "unknown key in a footnote" "a.md:32: unknown citation key 'missing'" page "$TMPDIR_T/a.md"
expect_eq "bad input exit code" 1 "$T_RC"
expect_eq "one line on stderr" 1 "$(printf '%s\n' "$T_ERR" | grep -c .)"
[ -e "$TMPDIR_T/out/index.html" ] && t_fail "nothing written on bad input" || t_ok "nothing written on bad input"
printf -- '---\ntitle: x\n' >"$TMPDIR_T/b.md"
expect_fail "unclosed front matter" "b.md:2: front matter is not closed" page "$TMPDIR_T/b.md"
expect_fail "missing article" "nothere.md: cannot open" page "$TMPDIR_T/nothere.md"
printf '{"figures": {"pair": {"kind": "images"}}}' >"$TMPDIR_T/f.json"
expect_fail "figures.json missing field" "f.json: figures.pair: field 'source' missing" \
  "$BIN/fv-page" --article "$F/content/article.md" --figures "$TMPDIR_T/f.json" --template "$F/templates/page.html" --out "$TMPDIR_T/out"
cp "$F/templates/page.html" "$TMPDIR_T/t.html"
echo '{{titel}}' >>"$TMPDIR_T/t.html"
expect_fail "unknown template variable" "t.html:20: unknown variable 'titel'" \
  "$BIN/fv-page" --article "$F/content/article.md" --bib "$F/content/references.bib" --figures "$ROOT/tests/fixtures/page/figures.json" --template "$TMPDIR_T/t.html" --out "$TMPDIR_T/out"

# Pipe tables: cells are the article's inline Markdown (citations, math, code), `:` aligns, `\|`
# is a bar in a cell; a table inside fenced code stays code; a row of the wrong width is one line.
awk 'NR==1, /^---$/ && NR > 1' "$F/content/article.md" >"$TMPDIR_T/tab.md"
cat >>"$TMPDIR_T/tab.md" <<'MD'

Before.

| technique | what it does | cited |
| :-- | :-: | --: |
| L1 | pulls *pixels* to grey, `a\|b` | [@erhan2009] |
| TV | $x^2$ | none |

```
| not | a table |
| --- | --- |
```
MD
rm -rf "$TMPDIR_T/out"
expect_ok "fv-page renders a pipe table" page "$TMPDIR_T/tab.md"
got=$(tr -d '\n' <"$TMPDIR_T/out/index.html")
case $got in
  *'<div class="md-table"><table><thead><tr><th style="text-align: left">technique</th><th style="text-align: center">what it does</th><th style="text-align: right">cited</th></tr></thead><tbody><tr><td style="text-align: left">L1</td><td style="text-align: center">pulls <em>pixels</em> to grey, <code>a|b</code></td><td style="text-align: right"><span class="cite">[<a href="#ref-erhan2009" id="cite-erhan2009">'*) t_ok "table: header, alignment, inline Markdown, escaped bar, citation" ;;
  *) t_fail "table: header, alignment, inline Markdown, escaped bar, citation" ;;
esac
case $got in *'<td style="text-align: center"><span class="katex">'*) t_ok "table: math in a cell" ;; *) t_fail "table: math in a cell" ;; esac
case $got in *'<pre><code>| not | a table |'*) t_ok "table: fenced code left alone" ;; *) t_fail "table: fenced code left alone" ;; esac
n=$(grep -n '^| TV' "$TMPDIR_T/tab.md" | cut -d: -f1)
sed -i 's/^| TV | \$x^2\$ | none |$/| TV | two |/' "$TMPDIR_T/tab.md"
rm -rf "$TMPDIR_T/out"
expect_fail "table row of the wrong width" "tab.md:$n: table row has 2 cells (expected 3, as the delimiter row below the header)" page "$TMPDIR_T/tab.md"
[ -e "$TMPDIR_T/out/index.html" ] && t_fail "nothing written for a bad table" || t_ok "nothing written for a bad table"

expect_ok "fv-asset --help" "$BIN/fv-asset" --help
expect_fail "fv-asset usage" "usage: fv-asset" "$BIN/fv-asset" one
expect_ok "fv-asset publishes a PNG" "$BIN/fv-asset" "$F/content/images/gradient.png" "$TMPDIR_T" g.png
expect_eq "fv-asset sidecar" '{"format": "png", "width": 24, "height": 24, "bytes": '"$(stat -c %s "$F/content/images/gradient.png")"'}' "$(cat "$TMPDIR_T/g.png.json")"
head -c 50 "$F/content/images/gradient.png" >"$TMPDIR_T/cut.png"
expect_fail "fv-asset truncated PNG" "cut.png: corrupt PNG (file is truncated)" "$BIN/fv-asset" "$TMPDIR_T/cut.png" "$TMPDIR_T" c.png
[ -e "$TMPDIR_T/c.png" ] && t_fail "fv-asset writes nothing on bad input" || t_ok "fv-asset writes nothing on bad input"
finish
