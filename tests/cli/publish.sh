# Publishing (pipeline/publish.sh, `make publish`) to a bare git repository on the local disk,
# and the site check (pipeline/js/site-check.js) it runs first:
#  - the test article (--quick) published: the branch holds exactly the site's files plus
#    .nojekyll; its commit names the source commit;
#  - published again: no new commit, one line, exit 0;
#  - one word edited: one commit touching only index.html;
#  - a broken internal link planted in a copy of the site: refused, remote unchanged;
#  - a push rejected by a pre-receive hook: one line, exit 1, remote unchanged;
#  - a dirty working tree, a failed build: refused; CNAME; usage.
. "$ROOT/tests/cli/lib.sh"
export FV_PROGRESS=lines
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@localhost GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@localhost

P=$TMPDIR_T/p R=$TMPDIR_T/remote.git
mkdir -p "$P"
cp -r "$ROOT/content" "$ROOT/figures" "$ROOT/templates" "$P/"
printf '.cache/\nbuild/\n' >"$P/.gitignore"
(cd "$P" && git init -q && git add -A && git commit -qm "The article")
git init -q --bare "$R"
pub() { (cd "$P" && REMOTE="$R" "$@" bash "$ROOT/pipeline/publish.sh" --quick); }
branch_files() { git --git-dir="$R" ls-tree -r --name-only gh-pages | sort; }
tip() { git --git-dir="$R" rev-parse -q --verify refs/heads/gh-pages; }

# --- first publication
run_cmd pub env
expect_eq "publish the test article" 0 "$T_RC"
[ "$T_RC" -ne 0 ] && printf '%s\n' "$T_ERR" | tail -5
want=$( (cd "$P/build/article" && find . -type f | sed 's|^\./||'; echo .nojekyll) | sort)
expect_eq "the branch has exactly the site's files and .nojekyll" "$want" "$(branch_files)"
git --git-dir="$R" show gh-pages:index.html | cmp -s - "$P/build/article/index.html" &&
  t_ok "the published index.html is the built one" || t_fail "the published index.html is the built one"
src=$(cd "$P" && git rev-parse HEAD)
git --git-dir="$R" log -1 --format=%B gh-pages | grep -q "^Source: $src$" &&
  t_ok "the commit names the source commit" || t_fail "the commit names the source commit" "$(git --git-dir="$R" log -1 --format=%B gh-pages)"
git --git-dir="$R" log -1 --format=%B gh-pages | grep -q "^Build: build.lua, [0-9]* files, on " &&
  t_ok "... and the build" || t_fail "... and the build"
first=$(tip)

# --- again: nothing to commit
run_cmd pub env
expect_eq "publishing again succeeds" 0 "$T_RC"
case $T_ERR in *"publish: nothing changed; gh-pages of $R stays at ${first:0:12}"*) t_ok "... with one line: nothing changed" ;;
  *) t_fail "... with one line: nothing changed" "$T_ERR" ;; esac
expect_eq "... and no new commit" "$first" "$(tip)"

# --- one word: one commit, only index.html
sed -i '0,/ network / s// model /' "$P/content/article.md"
(cd "$P" && git commit -qam "One word")
run_cmd pub env
expect_eq "an edit of one word publishes" 0 "$T_RC"
expect_eq "... one new commit" "$first" "$(git --git-dir="$R" rev-parse gh-pages~1)"
expect_eq "... touching only index.html" "index.html" "$(git --git-dir="$R" diff --name-only gh-pages~1 gh-pages)"
second=$(tip)

# --- the site check: a broken internal link in a copy of the site is refused
cp -r "$P/build/article" "$TMPDIR_T/copy"
sed -i '0,/href="#/ s//href="#no-such-anchor-/' "$TMPDIR_T/copy/index.html"
run_cmd pub env SITE="$TMPDIR_T/copy"
expect_eq "a broken internal link: refused (exit 1)" 1 "$T_RC"
printf '%s' "$T_ERR" | grep -qE "copy/index.html:[0-9]+: link \"#no-such-anchor-[^\"]*\": no element with id" &&
  t_ok "... the check names the file, the line and the anchor" || t_fail "... the check names the file, the line and the anchor" "$T_ERR"
case $T_ERR in *"fails the site check (above); nothing published"*) t_ok "... nothing published" ;; *) t_fail "... nothing published" "$T_ERR" ;; esac
expect_eq "... remote unchanged" "$second" "$(tip)"
# Each kind of fault the check knows, in a copy: a missing file, an external request.
cp -r "$P/build/article" "$TMPDIR_T/copy2"
printf '<img src="figures/none.png" alt="x"><script src="https://cdn.example/x.js"></script>\n' >>"$TMPDIR_T/copy2/index.html"
printf 'body { background: url(//cdn.example/bg.png) }\n' >>"$TMPDIR_T/copy2/assets/style.css"
run_cmd node "$ROOT/pipeline/js/site-check.js" "$TMPDIR_T/copy2"
expect_eq "site check: faults found (exit 1)" 1 "$T_RC"
case $T_OUT in *'<img src> "figures/none.png": no such file in the site'*) t_ok "... a missing image" ;; *) t_fail "... a missing image" "$T_OUT" ;; esac
case $T_OUT in *'<script src> "https://cdn.example/x.js" is loaded from outside the site'*) t_ok "... an external script" ;; *) t_fail "... an external script" "$T_OUT" ;; esac
case $T_OUT in *'style.css:'*'CSS url() "//cdn.example/bg.png" is loaded from outside the site'*) t_ok "... an external url() in CSS" ;; *) t_fail "... an external url() in CSS" "$T_OUT" ;; esac
run_cmd node "$ROOT/pipeline/js/site-check.js" "$P/build/article"
expect_eq "site check: the built article is sound" 0 "$T_RC"

# --- a push the remote rejects: one line, exit 1, remote unchanged
printf '#!/bin/sh\necho "pushes are closed today" >&2\nexit 1\n' >"$R/hooks/pre-receive"
chmod +x "$R/hooks/pre-receive"
sed -i '0,/ model / s// network /' "$P/content/article.md"
(cd "$P" && git commit -qam "Back")
run_cmd pub env
expect_eq "a rejected push: exit 1" 1 "$T_RC"
expect_eq "... one line" "publish: $R rejected the push to gh-pages: pushes are closed today; the branch is unchanged" "$(printf '%s' "$T_ERR" | grep '^publish:')"
expect_eq "... remote unchanged" "$second" "$(tip)"
rm "$R/hooks/pre-receive"

# --- refusals: a dirty tree, a failed build, no REMOTE
echo "draft" >>"$P/content/article.md"
run_cmd pub env
expect_eq "a dirty working tree: refused" 1 "$T_RC"
case $T_ERR in *"publish: the working tree has uncommitted changes"*"FORCE=1 to publish anyway"*) t_ok "... saying so" ;; *) t_fail "... saying so" "$T_ERR" ;; esac
expect_eq "... remote unchanged" "$second" "$(tip)"
(cd "$P" && git checkout -q content/article.md)
printf 'return { kind = "nosuch" }\n' >"$P/figures/broken.lua"
(cd "$P" && git add -A && git commit -qm "Broken figure")
run_cmd pub env
expect_eq "a failed build: refused" 1 "$T_RC"
case $T_ERR in *"figures/broken.lua"*"publish: the build failed (above); nothing published"*) t_ok "... its error, then one line" ;;
  *) t_fail "... its error, then one line" "$T_ERR" ;; esac
expect_eq "... remote unchanged" "$second" "$(tip)"
(cd "$P" && git rm -q figures/broken.lua && git commit -qm "Fixed")
run_cmd pub env CNAME=fv.example.org
expect_eq "CNAME: published" 0 "$T_RC"
expect_eq "... the branch has CNAME" "fv.example.org" "$(git --git-dir="$R" show gh-pages:CNAME)"
expect_eq "... and .nojekyll" "" "$(git --git-dir="$R" show gh-pages:.nojekyll)"
expect_fail "no REMOTE: usage" "publish: REMOTE is not set" sh -c "cd '$P' && REMOTE= bash '$ROOT/pipeline/publish.sh'"
expect_eq "... exit 2" 2 "$T_RC"
expect_fail "an unreachable remote" "publish: cannot reach $TMPDIR_T/nowhere.git" \
  sh -c "cd '$P' && REMOTE='$TMPDIR_T/nowhere.git' bash '$ROOT/pipeline/publish.sh' --quick"

finish
