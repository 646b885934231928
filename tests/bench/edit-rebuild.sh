# BENCH edit-rebuild: `build.lua` after a one-word edit of the article (only the page job runs:
# cmark, KaTeX's remembered formulas, the template; then the site's swap), each timed run the
# mean of 5 builds, against Hugo building the same Markdown from scratch (the mean of 5). The
# minimum of BENCH_RUNS runs each, interleaved (tests/bench/bench_lib.sh); the INFO line gives
# the CPU and the spread. Goal: ratio >= 1.
. "$ROOT/tests/bench/site_lib.sh"
. "$ROOT/tests/bench/bench_lib.sh"
# The warm-up linked the entries in just now: the hash memo remembers a file only once it is a
# few seconds old (pipeline/driver/fs.lua, racily clean files), so wait that long once.
sleep 3
edit_and_build() {
  # A word never written before, so that every build is a real edit (two alternating words
  # would both be in the cache after two builds).
  sed -i -E "s/Between the pixels( e[0-9]+)?/Between the pixels e$(date +%s%N)/" "$W/ours/content/article.md"
  (cd "$W/ours" && lua5.4 "$ROOT/build.lua")
}
# An edit must run the page job and nothing else, or the timing measures something else.
out=$(edit_and_build 2>&1)
case $out in *" cached, 1 run)"*) ;; *) echo "bench: an edit did not run exactly one job: $out" >&2; exit 1 ;; esac
o=(); p=()
for _ in $(seq "$BENCH_RUNS"); do
  x=$(mean_time 5 edit_and_build); [ -n "$x" ] || exit 1; o+=("$x")
  x=$(mean_time 5 hugo_build); [ -n "$x" ] || exit 1; p+=("$x")
done
# CPU seconds, ours and the peer's, once more each (the minimum of BENCH_RUNS, interleaved).
oc=(); pc=()
for _ in $(seq "$BENCH_RUNS"); do
  x=$(mean_cpu 5 edit_and_build); [ -n "$x" ] || exit 1; oc+=("$x")
  x=$(mean_cpu 5 hugo_build); [ -n "$x" ] || exit 1; pc+=("$x")
done
ours=$(bench_min "${o[@]}")
peer=$(bench_min "${p[@]}")
printf 'BENCH edit-rebuild ours=%.3fs peer=%.3fs ratio=%.2f\n' "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)"
bench_info edit-rebuild lua+fv-page "ours=$(bench_range "${o[@]}")s" "peer=$(bench_range "${p[@]}")s" \
  "cpu_ours=$(bench_min "${oc[@]}")s" "cpu_peer=$(bench_min "${pc[@]}")s" \
  "cpu_ratio=$(echo "$(bench_min "${pc[@]}") / $(bench_min "${oc[@]}")" | bc -l | xargs printf '%.2f')"
