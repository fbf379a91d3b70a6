#!/usr/bin/env bash
# Every test: formatting, lints, unit tests and end-to-end tests against the real binary,
# then the editor tests (Neovim plugin in real headless Neovim, VS Code extension in real
# VS Code through code-server).
# Ends with one line "tests: N passed, M failed" summing every test binary and editor.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Library, binary and integration-test targets (benchmarks run with `cargo bench`).
cargo test --workspace --locked --lib --bins --tests 2>&1 | tee "$log"
# The editor tests drive the binaries of this checkout.
cargo build --locked -p warden-lsp -p warden-mockllm --bins
status=0
WARDEN_BIN="$PWD/target/debug/warden" WARDEN_MOCK_LLM="$PWD/target/debug/warden-mock-llm" \
  scripts/test-nvim.sh 2>&1 | tee -a "$log" || status=$?
WARDEN_BIN="$PWD/target/debug/warden" WARDEN_MOCK_LLM="$PWD/target/debug/warden-mock-llm" \
  scripts/test-vscode.sh 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^(nvim|vscode): [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
