#!/usr/bin/env bash
# Set-up run by `make article`, `make test` and `make bench`: makes sure every Debian package in
# pipeline/deps/debian.txt (plus debian-bench.txt with --bench) and every npm package pinned in
# package-lock.json is present. Installs what is missing when run as root; otherwise prints the
# exact command to run and stops. Quiet when nothing is missing.
#
# Exit codes: 0 ready, 1 something is missing and could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(pipeline/deps/debian.txt)
[ "${1:-}" = --bench ] && lists+=(pipeline/deps/debian-bench.txt)

wanted=$(sed -e 's/#.*//' "${lists[@]}" | awk 'NF { print $1 }')
# One dpkg-query for all of them: it prints "<package> install ok installed" for each one that is
# fully installed.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null | awk '$4 == "installed" { print $1 }')
missing=()
for p in $wanted; do
  # "package|command": satisfied when the command is on PATH (node and npm may come from
  # another source than Debian, e.g. NodeSource, whose nodejs already bundles npm).
  if [ "${p#*|}" != "$p" ]; then
    command -v "${p#*|}" >/dev/null 2>&1 && continue
    p=${p%%|*}
  fi
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this, then try again:  sudo apt-get update && sudo $cmd" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine has no package lists yet; a stale list fails with 404s, so refresh first.
  apt-get update -qq >&2 || { echo "setup: apt-get update failed" >&2; exit 1; }
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/fv-setup-apt.log 2>&1; then
    tail -20 /tmp/fv-setup-apt.log >&2
    echo "setup: apt-get install failed (log: /tmp/fv-setup-apt.log)" >&2
    exit 1
  fi
fi

# npm packages, pinned by package-lock.json, installed into ./node_modules. The stamp holds the
# lockfile's hash so that a changed lockfile reinstalls and an unchanged one costs nothing.
stamp=node_modules/.fv-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages (package-lock.json)" >&2
  if ! npm ci --no-audit --no-fund --loglevel=error >/tmp/fv-setup-npm.log 2>&1; then
    tail -20 /tmp/fv-setup-npm.log >&2
    echo "setup: npm ci failed (log: /tmp/fv-setup-npm.log)" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
fi
