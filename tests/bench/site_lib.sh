# Shared by the rebuild benchmarks: a copy of the article project and the same Markdown as a
# Hugo site (Debian's hugo, front matter unchanged: Hugo reads YAML front matter too).
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/ours"
cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$W/ours/"
# Warm start from the project's own cache when `make article` has filled it (hard links: cache
# entries are never written in place, only renamed in or removed): keys name no paths, so the
# warm-up build finds every entry instead of rendering every figure again.
if [ -d "$ROOT/.cache/objects" ]; then
  mkdir -p "$W/ours/.cache"
  # (a plain copy where the temporary folder is on another file system)
  cp -al "$ROOT/.cache/objects" "$W/ours/.cache/" 2>/dev/null || cp -a "$ROOT/.cache/objects" "$W/ours/.cache/"
fi
(cd "$W/ours" && lua5.4 "$ROOT/build.lua" >/dev/null 2>&1) || { echo "bench: warm-up build failed" >&2; exit 1; }

mkdir -p "$W/hugo/content" "$W/hugo/layouts/_default"
printf 'baseURL = "http://localhost/"\ndisableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]\n[markup.goldmark.renderer]\nunsafe = true\n' >"$W/hugo/config.toml"
cp "$ROOT/content/article.md" "$W/hugo/content/article.md"
printf '<!DOCTYPE html><html><head><title>{{ .Title }}</title></head><body>{{ .Content }}</body></html>\n' >"$W/hugo/layouts/_default/single.html"
printf '<!DOCTYPE html><html><body>{{ range .Pages }}{{ .Title }}{{ end }}</body></html>\n' >"$W/hugo/layouts/_default/list.html"

now() { date +%s.%N; }
# mean seconds of N runs of a command
mean_time() {
  local n=$1; shift
  local t0 t1
  t0=$(now)
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; exit 1; }; done
  t1=$(now)
  echo "($t1 - $t0) / $n" | bc -l
}
# mean CPU seconds (user + system, of every process it started) of N runs of a command: on a
# shared machine wall time favours a program of many threads (the scheduler shares the cores
# out by thread), so the INFO lines give this too. Run it in $(...): a fresh shell's count.
mean_cpu() {
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; exit 1; }; done
  times >"$W/times" # a builtin into a file: no subshell, whose own count would start at zero
  tail -n 1 "$W/times" | awk -v n="$n" '{
    split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.4f\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) / n }'
}
hugo_build() { rm -rf "$W/hugo/public"; hugo --quiet --source "$W/hugo" --destination "$W/hugo/public"; }
