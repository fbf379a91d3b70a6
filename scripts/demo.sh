#!/usr/bin/env bash
# The main job on the bundled fixtures: build warden, register the fixture workspaces,
# drive one editor session over LSP (diagnostics, a workspace scan, package fixes and an
# LLM rewrite against a loopback provider included), scan
# the fixtures from the command line (text and SARIF), then list the workspaces and
# show the traces.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p warden-lsp -p warden-mockllm
bin="$PWD/target/release/warden"
# Outside this repository, so the fixture folders are not inside its git work tree.
work="${WARDEN_DEMO_DIR:-${TMPDIR:-/tmp}/warden-demo}"
scripts/fixtures.sh "$work"
export WARDEN_DB="$work/warden.db"

echo
echo "== $("$bin" --version)"
echo "== the package-advisory database: importing the bundled OSV subset (fixtures/osv)"
"$bin" db import fixtures/osv
"$bin" db stats
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
python3 scripts/lsp_session.py "$bin" "$work/alpha" "$work/beta" "$work/gamma" "$work/notes"
echo
echo "== warden scan (secrets, risky shell patterns, syntax errors, package advisories) on the fixture workspaces"
(cd "$work" && "$bin" scan alpha beta gamma notes --fail-on never)
echo
echo "== SARIF for code scanning: $work/warden.sarif"
(cd "$work" && "$bin" scan alpha beta gamma --format sarif --fail-on never > warden.sarif 2>/dev/null)
python3 -c "import json,sys; d=json.load(open('$work/warden.sarif')); print('SARIF', d['version'], len(d['runs'][0]['results']), 'results')"
echo
echo "== warden workspaces"
"$bin" workspaces
echo
echo "== warden traces"
"$bin" traces --limit 20
