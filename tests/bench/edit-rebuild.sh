# BENCH edit-rebuild: `build.lua` after a one-word edit of the article (only the page job runs:
# cmark, KaTeX for every formula, the template), against Hugo building the same Markdown from
# scratch. Goal: ours under 0.5 s.
. "$ROOT/tests/bench/site_lib.sh"
edit_and_build() {
  # Alternate one word, so that every run is a real edit.
  if grep -q 'Between the pixels' "$W/ours/content/article.md"; then
    sed -i 's/Between the pixels/Between its pixels/' "$W/ours/content/article.md"
  else
    sed -i 's/Between its pixels/Between the pixels/' "$W/ours/content/article.md"
  fi
  (cd "$W/ours" && lua5.4 "$ROOT/build.lua")
}
ours=$(mean_time 5 edit_and_build)
peer=$(mean_time 5 hugo_build)
printf 'BENCH edit-rebuild ours=%.3fs peer=%.3fs ratio=%.1f\n' "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)"
