#!/usr/bin/env bash
# Differential tests of warden's version requirements (server/analysis/src/packages/
# requirement.rs) against each ecosystem's reference implementation: the `semver` crate
# for Cargo (a dev-dependency, judged inside the test), node-semver for npm and
# Python's `packaging` for PyPI. tests/oracles/npm.js and tests/oracles/pypi.py have the
# oracles judge generated cases (plus node-semver's own fixture inputs) and write tables
# to $WARDEN_ORACLE_TABLES (default target/oracles); then
# `cargo test -p warden-analysis --test oracles` compares warden with them, with
# WARDEN_REQUIRE_ORACLES=1 so that a missing table fails instead of being skipped.
#
# Installs what it needs when missing, cached in ${XDG_CACHE_HOME:-$HOME/.cache}/warden-ci
# (override with WARDEN_CI_CACHE), never in this repository: Node 24 (as
# scripts/vscode-env.sh does); node-semver from editors/vscode/node_modules/semver, else
# the version editors/vscode/package-lock.json locks, from npm; Debian's python3-venv,
# and `packaging` $WARDEN_PACKAGING_VERSION (default 26.4) from PyPI in a virtual
# environment. Prints one line per ecosystem, "oracles: <ecosystem> N cases, M agree",
# and cargo's "test result:" line; exits non-zero on any disagreement.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

# shellcheck source=vscode-env.sh
source "$here/scripts/vscode-env.sh" # WARDEN_CI_CACHE, vscode_env_apt, vscode_env_node
tables="${WARDEN_ORACLE_TABLES:-$here/target/oracles}"
mkdir -p "$tables"

# ---- npm: node-semver ----
vscode_env_node
semver_dir="$here/editors/vscode/node_modules/semver"
if [ ! -f "$semver_dir/package.json" ]; then
  semver_version="$(node -e '
    const lock = require(process.argv[1]);
    process.stdout.write(lock.packages["node_modules/semver"].version)' \
    "$here/editors/vscode/package-lock.json")"
  cache="$WARDEN_CI_CACHE/node-semver-$semver_version"
  semver_dir="$cache/node_modules/semver"
  if [ ! -f "$semver_dir/package.json" ]; then
    command -v npm >/dev/null 2>&1 || vscode_env_apt npm
    echo "test-oracles: installing semver $semver_version into $cache"
    rm -rf "$cache.tmp"
    mkdir -p "$cache.tmp"
    npm install --prefix "$cache.tmp" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error "semver@$semver_version" >/dev/null
    rm -rf "$cache"
    mv "$cache.tmp" "$cache"
  fi
fi
node tests/oracles/npm.js "$semver_dir" "$tables/npm.json"

# ---- PyPI: packaging ----
packaging_version="${WARDEN_PACKAGING_VERSION:-26.4}"
venv="$WARDEN_CI_CACHE/py-packaging-$packaging_version"
have_packaging() {
  [ -x "$venv/bin/python" ] &&
    [ "$("$venv/bin/python" -c 'import packaging; print(packaging.__version__)' 2>/dev/null)" = "$packaging_version" ]
}
if ! have_packaging; then
  # Debian's own interpreter (a pyenv or other python3 on PATH may lack venv).
  vscode_env_apt python3 python3-venv
  echo "test-oracles: installing packaging $packaging_version into $venv"
  # A venv records its own path, so it is made where it lives; a half-made one fails
  # the check above next time and is made again.
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "packaging==$packaging_version"
  have_packaging
fi
"$venv/bin/python" tests/oracles/pypi.py "$tables/pypi.json"

# ---- compare ----
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
WARDEN_ORACLE_TABLES="$tables" WARDEN_REQUIRE_ORACLES=1 \
  cargo test --locked -p warden-analysis --test oracles -- --nocapture --test-threads=1 \
  >"$log" 2>&1 || status=$?
if ((status != 0)); then
  cat "$log"
fi
grep -oE '(oracles|checker): .*' "$log" | grep -vE 'oracles: [^ ]+\.json absent' || true
grep -E '^test result:' "$log" || echo "test-oracles: the comparison did not run (status $status)"
exit "$status"
