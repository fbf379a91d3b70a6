#!/usr/bin/env bash
# Every test: formatting, lints, unit tests and end-to-end tests against the real binary,
# then the editor tests (Neovim plugin in real headless Neovim, VS Code extension in real
# VS Code through code-server).
# Always ends with one line "tests: N passed, M failed" summing every test binary and
# editor (a failed format check, lint or build counts as one failed test), then exits
# non-zero when anything failed. Set-up failures (installs) exit at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# A step that failed outside a test runner: counted as one failed test.
step() {
  local name=$1
  shift
  if ! "$@"; then
    echo "test: $name failed" | tee -a "$log"
    echo "step-failed: $name" >>"$log"
    status=1
  fi
}
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# Library, binary and integration-test targets (benchmarks run with `cargo bench`).
# pipefail gives cargo's status; a failure is counted from its own summary lines.
cargo test --workspace --locked --lib --bins --tests 2>&1 | tee -a "$log" || status=1
# Version requirements against each ecosystem's reference implementation (the semver
# crate, node-semver, Python's packaging): generated cases judged by the oracles.
scripts/test-oracles.sh 2>&1 | tee -a "$log" || status=1
# Runs on other engines for real: a second dockerd over TLS on loopback, Podman's
# Docker-compatible service (the dev build made above).
WARDEN_ENGINES_PROFILE=dev scripts/test-engines.sh 2>&1 | tee -a "$log" || status=1
# Span export against a real OpenTelemetry backend (Arize Phoenix, on loopback with a
# token, installed into a cached venv).
scripts/test-otel.sh 2>&1 | tee -a "$log" || status=1
# Every benchmark once, cut down (WARDEN_BENCH_SMOKE: a tenth of the counts; 2 runs per
# sandbox path), in the dev profile: proves each still works and prints its figures.
# `cargo bench` runs only the benchmark targets (`cargo test --benches` would run every
# unit test again). No timing is asserted; bench/RESULTS.md comes from release runs.
step "benchmarks (smoke)" env WARDEN_BENCH_SMOKE=1 WARDEN_BENCH_RUNS=2 \
  cargo bench --workspace --locked --profile dev
# The SDK and editor tests drive the binaries of this checkout.
if cargo build --locked -p warden-lsp -p warden-mockllm --bins; then
  # The LLM gateway driven by the official OpenAI and Anthropic SDKs (cached venv).
  WARDEN_BIN="$PWD/target/debug/warden" WARDEN_MOCK_LLM="$PWD/target/debug/warden-mock-llm" \
    scripts/test-gateway.sh 2>&1 | tee -a "$log" || status=1
  WARDEN_BIN="$PWD/target/debug/warden" WARDEN_MOCK_LLM="$PWD/target/debug/warden-mock-llm" \
    scripts/test-nvim.sh 2>&1 | tee -a "$log" || status=1
  WARDEN_BIN="$PWD/target/debug/warden" WARDEN_MOCK_LLM="$PWD/target/debug/warden-mock-llm" \
    scripts/test-vscode.sh 2>&1 | tee -a "$log" || status=1
else
  echo "step-failed: cargo build (the editor tests did not run)" >>"$log"
  status=1
fi
# False syntax errors on valid code nobody here wrote (the cargo registry's crate
# sources, the interpreter's standard library, the extension's node_modules, /usr/bin
# shell scripts), judged by each language's own parser: fails when a language has more
# than bench/syntax/baseline.json says. Needs the release build (scripts/demo.sh made it).
step "syntax corpus" bash -c 'cargo build --release --locked -p warden-lsp -q &&
  python3 bench/syntax/run.py --warden target/release/warden \
    --node-modules editors/vscode/node_modules --baseline bench/syntax/baseline.json'
awk -v status="$status" '
     /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^(nvim|vscode): [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
     /^step-failed:/ { f += 1 }
     END { if (status != 0 && f == 0) f = 1; printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
