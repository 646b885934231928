#!/usr/bin/env bash
# publish: builds the article if needed, checks the site, and commits it to a branch of a git
# remote as one commit (the way Distill posts were served from a pages branch). Run by
# `make publish`; usable by hand from the project's directory:
#
#   REMOTE=URL|PATH [BRANCH=gh-pages] [FORCE=1] [CNAME=host] [SITE=DIR] bash pipeline/publish.sh [build.lua options]
#
# - The branch holds the site and nothing else: build/article/ (and build/atlas/ as atlas/ when
#   it was built), `.nojekyll`, and `CNAME` when CNAME is set. Its commit's message names the
#   source commit and the build. SITE=DIR publishes that directory instead of building.
# - Idempotent: when the site is the branch's tree already, nothing is committed (exit 0, one
#   line). An edit of one word commits only the files that changed.
# - Refuses, one line each, exit 1: a dirty working tree (unless FORCE=1), a failed build, a
#   site that fails the check (pipeline/js/site-check.js), a remote that cannot be reached or
#   rejects the push. A push changes one ref at once: the branch is the old commit or the new.
# Exit codes: 0 published or nothing to publish, 1 refused, 2 usage.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REMOTE=${REMOTE:-}
BRANCH=${BRANCH:-gh-pages}
FORCE=${FORCE:-}
CNAME=${CNAME:-}
SITE=${SITE:-}

die() { echo "publish: $1" >&2; exit "${2:-1}"; }
[ -n "$REMOTE" ] || die "REMOTE is not set (expected a git URL or path: make publish REMOTE=git@host:you/site.git)" 2
git check-ref-format --branch "$BRANCH" >/dev/null 2>&1 || die "BRANCH '$BRANCH' is not a valid branch name" 2
case $CNAME in *[!A-Za-z0-9.-]*) die "CNAME '$CNAME' is not a host name (expected letters, digits, '.' and '-')" 2 ;; esac

git rev-parse --git-dir >/dev/null 2>&1 || die "$(pwd) is not a git checkout (the published commit names its source commit)"
source_sha=$(git rev-parse HEAD 2>/dev/null) || die "$(pwd) has no commit yet (the published commit names its source commit)"
subject=$(git log -1 --format=%s)
dirty=$(git status --porcelain 2>/dev/null | head -1)
if [ -n "$dirty" ] && [ "$FORCE" != 1 ]; then
  die "the working tree has uncommitted changes ($(git status --porcelain | wc -l) paths, e.g. '${dirty:3}'): commit them, or FORCE=1 to publish anyway"
fi

# The site: built here (quiet when nothing changed), or given.
if [ -z "$SITE" ]; then
  lua5.4 "$ROOT/build.lua" "$@" || die "the build failed (above); nothing published"
  SITE=build/article
fi
[ -d "$SITE" ] || die "$SITE is not a directory (expected the built site)"
node "$ROOT/pipeline/js/site-check.js" "$SITE" >&2 || die "$SITE fails the site check (above); nothing published"
atlas=
if [ "$SITE" = build/article ] && [ -d build/atlas ]; then
  node "$ROOT/pipeline/js/site-check.js" build/atlas >&2 || die "build/atlas fails the site check (above); nothing published"
  atlas=build/atlas
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export GIT_DIR=$T/repo.git GIT_INDEX_FILE=$T/index
git init -q --bare "$GIT_DIR"
# What the branch holds now (nothing when it is new); an unreachable remote stops here.
heads=$(git ls-remote --heads "$REMOTE" "refs/heads/$BRANCH" 2>"$T/err") ||
  die "cannot reach $REMOTE: $(grep -v '^$' "$T/err" | tail -1)"
parent=
if [ -n "$heads" ]; then
  git fetch -q --depth=1 "$REMOTE" "refs/heads/$BRANCH" 2>"$T/err" ||
    die "cannot fetch $BRANCH from $REMOTE: $(grep -v '^$' "$T/err" | tail -1)"
  parent=$(git rev-parse FETCH_HEAD)
fi

mkdir "$T/site"
cp -R "$SITE/." "$T/site/"
# The article carries the atlas it links to (figure kind atlaslink) when it was built after it.
[ -n "$atlas" ] && [ ! -e "$T/site/atlas" ] && { mkdir "$T/site/atlas"; cp -R "$atlas/." "$T/site/atlas/"; }
: >"$T/site/.nojekyll"
[ -n "$CNAME" ] && printf '%s\n' "$CNAME" >"$T/site/CNAME"
GIT_WORK_TREE=$T/site git add -A . || die "cannot stage the site"
tree=$(git write-tree) || die "cannot write the site's tree"
if [ -n "$parent" ] && [ "$tree" = "$(git rev-parse "$parent^{tree}")" ]; then
  echo "publish: nothing changed; $BRANCH of $REMOTE stays at ${parent:0:12}" >&2
  exit 0
fi

files=$(git ls-tree -r "$tree" | wc -l)
changed=$files
[ -n "$parent" ] && changed=$(git diff-tree -r --name-only "$parent^{tree}" "$tree" | wc -l)
suffix=
[ -n "$dirty" ] && suffix=' with uncommitted changes (FORCE=1)'
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
msg="Publish ${source_sha:0:12}${subject:+: $subject}

Source: $source_sha$suffix
Build: build.lua, $files files, on $(uname -n) (${cpu:-unknown CPU}), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-$(git config user.name 2>/dev/null || echo 'fv publish')}
export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-$(git config user.email 2>/dev/null || echo 'publish@localhost')}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}
commit=$(git commit-tree "$tree" ${parent:+-p "$parent"} -m "$msg") || die "cannot commit the site"

# One ref, one push: the remote's branch is the old commit or this one, never half.
if ! git push -q "$REMOTE" "$commit:refs/heads/$BRANCH" 2>"$T/err"; then
  why=$(grep -E '^(remote: |error: | ! )' "$T/err" | grep -vE '^error: failed to push' | head -1 | sed 's/^remote: //; s/[[:space:]]*$//')
  die "$REMOTE rejected the push to $BRANCH: ${why:-$(tail -1 "$T/err")}; the branch is unchanged"
fi
echo "publish: ${commit:0:12} on $BRANCH of $REMOTE ($changed of $files files changed; source ${source_sha:0:12}$suffix)" >&2
