#!/usr/bin/env bash
# Run latency through warden vs `docker run --rm` with the same image and limits:
# builds warden (release), makes sure the engine and runner images are there, then runs
# the `runs` bench of warden-sandbox (WARDEN_BENCH_RUNS runs each, default 20).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/docker-setup.sh
cargo build --release --locked -p warden-lsp
WARDEN_BIN="$PWD/target/release/warden" cargo bench --locked -p warden-sandbox --bench runs
