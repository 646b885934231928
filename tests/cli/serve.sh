# `make serve` (pipeline/serve.sh) on a copy of the fixture project: serves the site on
# 127.0.0.1, and an edit of the article rebuilds it and changes the key the live page polls.
. "$ROOT/tests/cli/lib.sh"
P=$TMPDIR_T/p
mkdir -p "$P/pipeline"
cp -r "$ROOT/tests/fixtures/site/." "$P/"
# serve.sh runs build.lua from its own folder's parent: give the copy links to the real ones.
ln -s "$ROOT/pipeline"/* "$P/pipeline/" 2>/dev/null
rm "$P/pipeline/serve.sh" && cp "$ROOT/pipeline/serve.sh" "$P/pipeline/serve.sh"
ln -s "$ROOT/build.lua" "$P/build.lua"
mkdir -p "$P/build" && ln -s "$ROOT/build/$VARIANT" "$P/build/$VARIANT"
ln -s "$ROOT/node_modules" "$P/node_modules"
PORT=$((20000 + RANDOM % 20000))
(cd "$P" && PORT=$PORT exec bash pipeline/serve.sh >"$TMPDIR_T/serve.log" 2>&1) &
pid=$!
get() { curl -s --max-time 2 "http://127.0.0.1:$PORT/$1"; }
for _ in $(seq 50); do get key.txt >/dev/null && break; sleep 0.2; done
case $(get article/index.html) in *"A small &lt;test&gt; article"*) t_ok "serves the article" ;; *) t_fail "serves the article" "$(cat "$TMPDIR_T/serve.log")" ;; esac
case $(get index.html) in *"key.txt"*) t_ok "serves the live wrapper" ;; *) t_fail "serves the live wrapper" ;; esac
k1=$(get key.txt)
sed -i 's/Same title, distinct id./Same title, edited while serving./' "$P/content/article.md"
k2=$k1
for _ in $(seq 50); do k2=$(get key.txt); [ "$k2" != "$k1" ] && break; sleep 0.2; done
[ "$k2" != "$k1" ] && t_ok "an edit rebuilds and changes the key" || t_fail "an edit rebuilds and changes the key" "$(cat "$TMPDIR_T/serve.log")"
case $(get article/index.html) in *"edited while serving"*) t_ok "the rebuilt page is served" ;; *) t_fail "the rebuilt page is served" ;; esac
ss -ltn | grep -q "127.0.0.1:$PORT " && t_ok "binds to 127.0.0.1 only" || t_fail "binds to 127.0.0.1 only" "$(ss -ltn)"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
sleep 0.3
pgrep -f "webfsd .* -p $PORT" >/dev/null && t_fail "stopping serve stops the server" || t_ok "stopping serve stops the server"
finish
