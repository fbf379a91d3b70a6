#!/usr/bin/env bash
# OpenTelemetry export against a real backend (issue 20, part 1): installs Arize Phoenix
# (PyPI `arize-phoenix`, pinned) into a venv cached outside the repository, starts it on
# free loopback ports with authentication on (a random admin token, also what warden
# sends), SQLite storage in a temporary folder and its telemetry off, waits until its
# health check answers and its OTLP/HTTP endpoint refuses a request without the token,
# then runs the `otel` end-to-end tests through cargo with WARDEN_TEST_PHOENIX_URL,
# WARDEN_TEST_PHOENIX_TOKEN and WARDEN_REQUIRE_PHOENIX=1 (they fail rather than skip).
# Phoenix binds its unused OTLP/gRPC port to every interface; tests/otel/phoenix_serve.py
# moves it to loopback. Phoenix is stopped on exit. cargo's own "test result:" line is
# what scripts/test.sh counts.
# Options (environment): WARDEN_OTEL_PROFILE (dev | release; default dev, the profile
# scripts/test.sh builds), WARDEN_PHOENIX_VERSION, WARDEN_OTEL_HOLD=FILE writes the
# tests' environment to FILE and keeps Phoenix up until FILE is deleted (the benchmark
# and hand runs use it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
# shellcheck source=scripts/vscode-env.sh
. scripts/vscode-env.sh # WARDEN_CI_CACHE, vscode_env_apt

version="${WARDEN_PHOENIX_VERSION:-20.26.1}"
venv="$WARDEN_CI_CACHE/phoenix-$version"
have_phoenix() {
  [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("arize-phoenix") != sys.argv[1])' "$version" 2>/dev/null
}
if ! have_phoenix; then
  # Debian's own interpreter (a pyenv or other python3 on PATH may lack venv).
  vscode_env_apt python3 python3-venv curl
  echo "test-otel: installing arize-phoenix $version into $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "arize-phoenix==$version"
  have_phoenix
fi
command -v curl >/dev/null 2>&1 || vscode_env_apt curl

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work="$(mktemp -d)"
port="$(free_port)"
grpc_port="$(free_port)"
token="warden-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
secret="jwt-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
echo "test-otel: starting Phoenix $version on 127.0.0.1:$port (log: $work/phoenix.log)"
PHOENIX_WORKING_DIR="$work" PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$port" \
  PHOENIX_GRPC_PORT="$grpc_port" PHOENIX_TELEMETRY_ENABLED=false \
  PHOENIX_ENABLE_AUTH=true PHOENIX_SECRET="$secret" PHOENIX_ADMIN_SECRET="$token" \
  "$venv/bin/python" tests/otel/phoenix_serve.py >"$work/phoenix.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 120); do
  curl -sf -o /dev/null "$url/healthz" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if ! curl -sf -o /dev/null "$url/healthz"; then
  echo "test-otel: Phoenix did not answer; the end of its log:" >&2
  tail -30 "$work/phoenix.log" >&2
  exit 1
fi
# The way it is used: OTLP/HTTP refuses a request without the token.
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/x-protobuf' --data-binary '' "$url/v1/traces")"
if [ "$code" != 401 ]; then
  echo "test-otel: Phoenix answered $code to an unauthenticated export (expected 401)" >&2
  exit 1
fi
env_file="$work/env"
cat >"$env_file" <<EOF
export WARDEN_TEST_PHOENIX_URL=$url
export WARDEN_TEST_PHOENIX_TOKEN=$token
export WARDEN_REQUIRE_PHOENIX=1
EOF
if [ -n "${WARDEN_OTEL_HOLD:-}" ]; then
  cp "$env_file" "$WARDEN_OTEL_HOLD"
  echo "test-otel: Phoenix is up; environment in $WARDEN_OTEL_HOLD (delete it to stop)"
  while [ -f "$WARDEN_OTEL_HOLD" ]; do sleep 1; done
  exit 0
fi
profile=()
[ "${WARDEN_OTEL_PROFILE:-dev}" = release ] && profile=(--release)
# shellcheck disable=SC1090
. "$env_file"
cargo test --locked "${profile[@]}" -p warden-lsp --test e2e -- otel --test-threads=2
