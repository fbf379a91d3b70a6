#!/usr/bin/env bash
# Installs what building and testing warden needs on a fresh Debian machine, skipping
# packages that are already there. Needs root (or sudo) only when something is missing.
set -euo pipefail

# golang-go: Go's standard library sources and gofmt, the corpus and the judge of the
# syntax-error test (bench/syntax/run.py) and of the server's Go syntax errors.
packages=(git build-essential pkg-config python3 ca-certificates golang-go)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; warden needs a Rust toolchain (1.85 or newer) on PATH" >&2
  exit 1
fi
echo "setup: ok ($(cargo --version))"
