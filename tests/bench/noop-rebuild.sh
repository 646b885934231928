# BENCH noop-rebuild: `build.lua` with nothing changed, against Hugo building the same Markdown
# from scratch. Goal: ours under 0.2 s.
. "$ROOT/tests/bench/site_lib.sh"
ours=$(cd "$W/ours" && mean_time 10 lua5.4 "$ROOT/build.lua")
peer=$(mean_time 5 hugo_build)
printf 'BENCH noop-rebuild ours=%.3fs peer=%.3fs ratio=%.1f\n' "$ours" "$peer" "$(echo "$peer / $ours" | bc -l)"
