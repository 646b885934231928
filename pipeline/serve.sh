#!/usr/bin/env bash
# `make serve`: serves the article on http://HOST:PORT/ with Debian's webfs, rebuilds it when a
# file under content/, figures/ or templates/ changes, and reloads the page in the browser.
#
# The published site stays exactly what `make article` makes (no reload code inside it): the
# server's root is build/serve/, holding a small wrapper page that shows the article in a frame
# and reloads that frame, keeping its scroll position, when the site's key file changes.
# Environment: PORT (default 8000), HOST (default 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
VARIANT=${VARIANT:-release}
export VARIANT

lua5.4 build.lua || echo "serve: the build failed; fix the file named above, the page will reload" >&2
root=build/serve
mkdir -p "$root"
ln -sfn ../article "$root/article"
cp build/.article.key "$root/key.txt" 2>/dev/null || echo none >"$root/key.txt"
cat >"$root/index.html" <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>article (live)</title>
<style>html,body,iframe{margin:0;border:0;width:100%;height:100%;display:block}</style></head>
<body><iframe id="a" src="article/index.html" title="The article"></iframe>
<script>
// Polls the site's key; when a rebuild publishes a new version, reloads the frame in place.
let key = null;
const frame = document.getElementById('a');
async function poll() {
  try {
    const k = (await (await fetch('key.txt', { cache: 'no-store' })).text()).trim();
    if (key !== null && k !== key) {
      const y = frame.contentWindow.scrollY;
      frame.addEventListener('load', () => frame.contentWindow.scrollTo(0, y), { once: true });
      frame.contentWindow.location.reload();
    }
    key = k;
  } catch (e) { /* the server restarts or the build runs: try again */ }
  setTimeout(poll, 700);
}
poll();
</script></body></html>
HTML

webfsd -F -4 -i "$HOST" -p "$PORT" -r "$root" -f index.html -j -e 0 &
server=$!
watcher=
trap 'kill $server $watcher 2>/dev/null; exit 0' INT TERM EXIT
echo "serve: http://$HOST:$PORT/  (Ctrl-C stops; edits under content/, figures/, templates/ rebuild)" >&2

# The watcher runs in the background and is waited for, so that a signal stops us at once
# (bash runs traps only between foreground commands).
while :; do
  inotifywait -qq -r -e close_write,create,delete,move content figures templates &
  watcher=$!
  wait "$watcher" || { [ $? -gt 128 ] && exit 0; }
  sleep 0.1 # let an editor finish writing its batch of files
  if lua5.4 build.lua; then
    cp build/.article.key "$root/key.txt.tmp" && mv "$root/key.txt.tmp" "$root/key.txt"
  else
    echo "serve: the build failed; the page keeps the last good version" >&2
  fi
done
