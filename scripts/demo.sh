#!/usr/bin/env bash
# The main job on the bundled fixtures: build warden, register the fixture workspaces,
# drive one editor session over LSP (diagnostics, a workspace scan, package fixes and an
# LLM rewrite against a loopback provider included), scan
# the fixtures from the command line (text and SARIF), run fixture scripts in the
# hardened Docker sandbox (a succeeding one with an artifact, a failing one whose
# traceback points at its line), then list the workspaces, the runs and the traces,
# and package the VS Code extension with this warden inside
# (editors/vscode/dist/warden-<platform>.vsix, for `code --install-extension`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A Docker engine and the runner images for sandboxed runs (skipped with a reason when
# impossible here, unless WARDEN_REQUIRE_DOCKER is set).
docker_ok=1
if ! scripts/docker-setup.sh; then
  [ -n "${WARDEN_REQUIRE_DOCKER:-}" ] && { echo "demo: WARDEN_REQUIRE_DOCKER is set but the Docker set-up failed" >&2; exit 1; }
  docker_ok=0
  echo "demo: no Docker engine; the sandboxed-run part is skipped"
fi
cargo build --release --locked -p warden-lsp -p warden-mockllm
bin="$PWD/target/release/warden"
# Outside this repository, so the fixture folders are not inside its git work tree.
work="${WARDEN_DEMO_DIR:-${TMPDIR:-/tmp}/warden-demo}"
scripts/fixtures.sh "$work"
export WARDEN_DB="$work/warden.db"

echo
echo "== $("$bin" --version)"
echo "== the package-advisory database: downloaded from an OSV mirror (here warden-mock-registry"
echo "   serving the bundled subset, fixtures/osv, on loopback; by default the OSV project's export)"
registry_log="$work/mock-registry.json"
target/release/warden-mock-registry fixtures/osv > "$registry_log" &
registry_pid=$!
for _ in $(seq 50); do [ -s "$registry_log" ] && break; sleep 0.1; done
mirror="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["osv"])' "$registry_log")"
"$bin" db update PyPI npm crates.io Go --mirror "$mirror"
echo "   again: only what changed since (modified_id.csv), here nothing"
"$bin" db update --mirror "$mirror"
kill $registry_pid 2>/dev/null || true
"$bin" db stats
# The editor session below must not download: the data is current, and nothing leaves
# this machine.
export WARDEN_OFFLINE=1
echo "== registering the fixture folders, as an editor opening them would"
"$bin" workspaces "$work/alpha" "$work/beta" "$work/gamma" "$work/notes"
echo
echo "== a scripted loopback LLM provider (warden-mock-llm), standing in for Ollama/OpenRouter"
llm_log="$work/mock-llm.url"
target/release/warden-mock-llm > "$llm_log" &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$llm_log" ] && break; sleep 0.1; done
export WARDEN_DEMO_LLM_URL="$(head -1 "$llm_log")"
echo "   $WARDEN_DEMO_LLM_URL"
echo
echo "== an editor session over LSP (scripts/lsp_session.py)"
WARDEN_DEMO_DOCKER=$docker_ok python3 scripts/lsp_session.py "$bin" "$work/alpha" "$work/beta" "$work/gamma" "$work/notes"
echo
echo "== warden scan (secrets, risky shell patterns, syntax errors, package advisories) on the fixture workspaces"
(cd "$work" && "$bin" scan alpha beta gamma notes --fail-on never)
echo
echo "== SARIF for code scanning: $work/warden.sarif"
(cd "$work" && "$bin" scan alpha beta gamma --format sarif --fail-on never > warden.sarif 2>/dev/null)
python3 -c "import json,sys; d=json.load(open('$work/warden.sarif')); print('SARIF', d['version'], len(d['runs'][0]['results']), 'results')"
echo
if [ "$docker_ok" = 1 ]; then
  echo "== warden run: a fixture script in the hardened sandbox (no network, read-only root, 256 MiB, 0.5 CPU, 64 pids, 30 s)"
  "$bin" run "$work/alpha/scripts/1.00_fetch.py" -- /out/rows.jsonl
  echo
  echo "== warden run: a failing script; its traceback becomes a finding on the failing line"
  "$bin" run "$work/alpha/scripts/4.00_train.py" || echo "   (exit code $?: the script failed, as planted)"
  echo
  echo "== warden runs"
  "$bin" runs --limit 5
  echo
fi
echo "== warden workspaces"
"$bin" workspaces
echo
echo "== warden traces"
"$bin" traces --limit 20
echo
echo "== the VS Code extension, with this warden bundled (scripts/build-vscode.sh --bundle-server)"
WARDEN_BIN="$bin" scripts/build-vscode.sh --bundle-server
echo "   install it: code --install-extension $PWD/editors/vscode/dist/warden-<platform>.vsix (the file named above)"
echo "   Neovim: add $PWD/editors/nvim to 'runtimepath' (see editors/nvim/README.md, :help warden)"
