#!/usr/bin/env bash
# Tests the VS Code extension: unit tests (node's test runner, plus a settings check
# against the real server) and end-to-end scenarios in real VS Code: code-server from npm
# with the packaged .vsix installed by --install-extension, driven by playwright-core in
# Debian's Chromium. Installs what it needs when missing (Debian packages, Node 24 and
# code-server from npm, cached in ${XDG_CACHE_HOME:-$HOME/.cache}/warden-ci).
#
# The server is $WARDEN_BIN, else target/debug/warden; the LLM scenarios run against the
# scripted loopback provider $WARDEN_MOCK_LLM, else target/debug/warden-mock-llm; the
# package-data scenarios against the loopback OSV mirror and metadata API
# $WARDEN_MOCK_REGISTRY, else warden-mock-registry next to $WARDEN_MOCK_LLM when that is
# set, else target/debug/warden-mock-registry (all built when missing;
# the end-to-end harness starts them on free ports and stops them at the end). Two
# sessions, one after the other: e2e/vscode.e2e.test.ts with every server offline
# (WARDEN_OFFLINE=1: the fixtures' advisories are imported), and
# e2e/packages.e2e.test.ts, whose server downloads, but only from the loopback registry
# (its URLs in the settings and in WARDEN_OSV_MIRROR / WARDEN_METADATA_URL). Nothing here
# reaches the internet. Screenshots of every step and the logs go to $WARDEN_VSCODE_OUT
# (default target/vscode-test; the second session's in its packages/ folder); the
# fixture workspaces and the temporary databases live in $WARDEN_VSCODE_WORK (default
# ${TMPDIR:-/tmp}/warden-vscode-e2e; the second session's in ...-packages), outside this
# repository. The run scenarios need
# a Docker engine and the runner images; without them they are skipped with the reason
# printed, unless WARDEN_REQUIRE_DOCKER is set. WARDEN_VSCODE_ONLY=PATTERN runs only the
# end-to-end tests whose names match (node's --test-name-pattern), for working on one
# scenario; CI leaves it unset. Ends with one line
# "vscode: N passed, M failed" (", K skipped" when some were); exits non-zero when a
# test failed.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${WARDEN_VSCODE_OUT:-$here/target/vscode-test}"
work="${WARDEN_VSCODE_WORK:-${TMPDIR:-/tmp}/warden-vscode-e2e}"
start=$SECONDS
phase() { echo "test-vscode: $1 ($((SECONDS - start)) s)"; }

# shellcheck source=vscode-env.sh
source "$here/scripts/vscode-env.sh"
# unzip and binutils (readelf): the packaging scenario reads the .vsix and its binary.
vscode_env_apt ca-certificates git chromium unzip binutils curl # curl: the gateway test's terminal call
vscode_env_node
vscode_env_code_server
phase "Node $(node --version), code-server $WARDEN_CODE_SERVER_VERSION, $(chromium --version 2>/dev/null | head -n1)"

bin="${WARDEN_BIN:-$here/target/debug/warden}"
mock="${WARDEN_MOCK_LLM:-$here/target/debug/warden-mock-llm}"
# The registry is a binary of the same package as the mock LLM: next to WARDEN_MOCK_LLM
# when that is given.
registry="${WARDEN_MOCK_REGISTRY:-}"
if [ -z "$registry" ] && [ -n "${WARDEN_MOCK_LLM:-}" ]; then
  registry="$(dirname "$WARDEN_MOCK_LLM")/warden-mock-registry"
fi
registry="${registry:-$here/target/debug/warden-mock-registry}"
if [ ! -x "$bin" ] || [ ! -x "$mock" ] || [ ! -x "$registry" ]; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  build=()
  if [ ! -x "$bin" ]; then
    build+=(-p warden-lsp --bin warden)
    bin="$here/target/debug/warden"
  fi
  if [ ! -x "$mock" ] || [ ! -x "$registry" ]; then
    build+=(-p warden-mockllm)
    [ -x "$mock" ] || { build+=(--bin warden-mock-llm); mock="$here/target/debug/warden-mock-llm"; }
    [ -x "$registry" ] || { build+=(--bin warden-mock-registry); registry="$here/target/debug/warden-mock-registry"; }
  fi
  echo "test-vscode: building ${build[*]}"
  (cd "$here" && cargo build --locked "${build[@]}")
fi
WARDEN_BIN="$(realpath "$bin")"
WARDEN_MOCK_LLM="$(realpath "$mock")"
WARDEN_MOCK_REGISTRY="$(realpath "$registry")"
# The server never downloads from the internet here: the first session is offline; the
# package-data session sets WARDEN_OFFLINE=0 for its own code-server and points every
# download at its loopback registry.
WARDEN_OFFLINE=1
export WARDEN_BIN WARDEN_MOCK_LLM WARDEN_MOCK_REGISTRY WARDEN_OFFLINE
"$here/scripts/build-vscode.sh"
phase "built the .vsix"

only=()
[ -n "${WARDEN_VSCODE_ONLY:-}" ] && only=(--test-name-pattern "$WARDEN_VSCODE_ONLY")
rm -rf "$out"
mkdir -p "$out"
cd "$here/editors/vscode"
status=0
node --test --test-reporter=spec test/*.test.ts 2>&1 | tee "$out/unit.log" || status=1
phase "unit tests done"
CODE_SERVER="$CODE_SERVER" WARDEN_MOCK_LLM="$WARDEN_MOCK_LLM" WARDEN_VSIX="$PWD/dist/warden.vsix" E2E_WORK="$work" E2E_OUT="$out" \
  node --test --test-reporter=spec --test-timeout=180000 "${only[@]}" e2e/vscode.e2e.test.ts 2>&1 | tee "$out/e2e.log" || status=1
phase "end-to-end tests done; screenshots and logs in $out"
CODE_SERVER="$CODE_SERVER" WARDEN_VSIX="$PWD/dist/warden.vsix" E2E_WORK="$work-packages" E2E_OUT="$out/packages" \
  node --test --test-reporter=spec --test-timeout=180000 "${only[@]}" e2e/packages.e2e.test.ts 2>&1 | tee "$out/e2e-packages.log" || status=1
phase "package-data end-to-end tests done; screenshots and logs in $out/packages"

# node's spec reporter ends each run with "ℹ pass N" and "ℹ fail M".
sum() { awk -v key="$1" '$1 == "ℹ" && $2 == key { n += $3 } END { print n + 0 }' "$out/unit.log" "$out/e2e.log" "$out/e2e-packages.log"; }
passed="$(sum pass)"
failed="$(sum fail)"
if ((status != 0 && failed == 0)); then
  failed=1 # a run that broke before reporting counts as a failure
fi
skipped="$(sum skipped)"
if ((skipped > 0)); then
  echo "vscode: $passed passed, $failed failed, $skipped skipped"
else
  echo "vscode: $passed passed, $failed failed"
fi
((failed == 0))
