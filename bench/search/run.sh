#!/usr/bin/env bash
# Workspace search benchmark, side by side with ripgrep: builds warden (release),
# installs ripgrep (Debian's package) when missing, builds a workspace of FILES (default
# 10,000) source files copied from the cargo registry's crate sources (real code nobody
# here wrote), then measures the index build (time, size), the incremental update after
# an edit, and search latency p50/p95 through `warden lsp`'s `warden/search`, against
# `rg` on the same queries; and checks warden's matching lines against rg's (the oracle).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v rg >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y ripgrep >/dev/null
fi
command -v git >/dev/null || { echo "bench/search: git is needed" >&2; exit 2; }
cargo build --release --locked -q -p warden-lsp --bin warden
python3 bench/search/run.py --warden "$PWD/target/release/warden" --files "${FILES:-10000}" "$@"
