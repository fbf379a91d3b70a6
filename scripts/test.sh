#!/usr/bin/env bash
# Every test: formatting, lints, unit tests and end-to-end tests against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
