#!/usr/bin/env bash
# Runs on other engines, for real (issue 20, part 2). Starts, next to the engine
# scripts/docker-setup.sh provides:
#  - a second dockerd on a free loopback TCP port with --tlsverify and certificates made
#    here with openssl (a CA, a server certificate for 127.0.0.1/localhost, a client
#    certificate; and an unrelated CA with its own client certificate, for the "wrong
#    certificate" case), with its own data root, exec root (so its own containerd),
#    pid file, its own bridge (made here; `--bridge none` would make dockerd delete the
#    first engine's docker0) and no iptables rules, so it cannot disturb the first
#    engine;
#  - Podman's Docker-compatible service (`podman system service`) on a unix socket,
#    with its own storage under the temporary folder (Debian's podman, installed when
#    missing); when it cannot run here the reason is printed and recorded;
# loads the runner image into each with `docker save | docker load` (never a registry
# pull), then runs the `engines` end-to-end tests through cargo with
# WARDEN_TEST_TLS_ENGINE, WARDEN_TEST_TLS_CERTS, WARDEN_TEST_BAD_CERTS,
# WARDEN_TEST_PODMAN (or WARDEN_TEST_PODMAN_UNAVAILABLE=reason) and
# WARDEN_REQUIRE_ENGINES=1, so they fail rather than skip. Everything started here is
# stopped on exit. cargo's own "test result:" line is what scripts/test.sh counts.
# Options (environment): WARDEN_ENGINES_PROFILE (release | dev; default release),
# WARDEN_ENGINES_KEEP=1 keeps the temporary folder; WARDEN_ENGINES_HOLD=FILE writes the
# tests' environment to FILE instead of running them and keeps the engines up until FILE
# is deleted (`. FILE; cargo test ... -- engines` by hand meanwhile).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# shellcheck source=scripts/vscode-env.sh
. scripts/vscode-env.sh
export PATH="$PATH:/usr/sbin:/sbin"

image=warden-runner-python:bookworm
profile=${WARDEN_ENGINES_PROFILE:-release}

scripts/docker-setup.sh
vscode_env_apt openssl curl podman catatonit

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warden-engines.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  set +e +o pipefail
  # Podman's containers (none should be left) and their conmon monitors first.
  if [ -n "${podman_cmd:-}" ]; then
    $sudo "${podman[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
  fi
  for pid in "${pids[@]}"; do
    $sudo kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      $sudo kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    $sudo kill -9 "$pid" 2>/dev/null || true
  done
  # What they started and left behind (conmon waits minutes after an exec and runs
  # `podman container cleanup` when it ends), by pid: only processes whose command line
  # names this run's temporary folder; again until none is left (at most 10 s).
  # (The pattern spells dots as [.] so the grep never finds its own command line.)
  local left round m pat
  pat="$(printf '%s/' "$tmp" | sed 's/[.]/[.]/g')"
  for round in $(seq 10); do
    left=$(grep -l -a "$pat" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | grep -vx "$$")
    [ -z "$left" ] && break
    for pid in $left; do
      $sudo kill "$pid" 2>/dev/null
    done
    sleep 1
  done
  [ -n "${bridge:-}" ] && $sudo ip link del "$bridge" 2>/dev/null
  # The engines' mounts (containerd's, Podman's storage) go, then the folder.
  for round in 1 2 3; do
    [ -d "$tmp" ] || break
    grep -o " $tmp/[^ ]*" /proc/mounts | sort -r | while read -r m; do
      $sudo umount -l "$m" 2>/dev/null
    done
    if [ "${WARDEN_ENGINES_KEEP:-}" = 1 ]; then
      echo "test-engines: kept $tmp"
      break
    fi
    $sudo rm -rf "$tmp" 2>/dev/null
    [ -d "$tmp" ] && sleep 1
  done
  [ -d "$tmp" ] && [ "${WARDEN_ENGINES_KEEP:-}" != 1 ] && echo "test-engines: could not remove $tmp" >&2
  exit "$rc"
}
trap cleanup EXIT INT TERM

# ---- certificates ----
certs=$tmp/certs
mkdir -p "$certs/ca" "$certs/server" "$certs/client" "$certs/bad"
(
  cd "$certs"
  quiet() { "$@" >/dev/null 2>&1 || { echo "test-engines: failed: $*" >&2; exit 1; }; }
  ca() { # DIR NAME
    quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" \
      -keyout "$1/ca-key.pem" -out "$1/ca.pem" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  }
  leaf() { # CA_DIR OUT_DIR CN EXT
    quiet openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$2/key.pem" -out "$2/req.csr"
    printf '%s\n' "$4" >"$2/ext.cnf"
    quiet openssl x509 -req -in "$2/req.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" \
      -CAcreateserial -days 2 -extfile "$2/ext.cnf" -out "$2/cert.pem"
    rm -f "$2/req.csr" "$2/ext.cnf"
  }
  ca ca "warden test CA"
  leaf ca server "127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
  leaf ca client "warden test client" "extendedKeyUsage=clientAuth"
  cp ca/ca.pem client/ca.pem
  # The wrong certificate: a client certificate from a CA the engine never heard of
  # (beside the right ca.pem, so it is the engine that refuses).
  mkdir -p other
  ca other "unrelated CA"
  leaf other bad "intruder" "extendedKeyUsage=clientAuth"
  cp ca/ca.pem bad/ca.pem
  chmod 0600 client/key.pem bad/key.pem server/key.pem
)

# ---- the TLS dockerd ----
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
tls_engine="tcp://127.0.0.1:$port"
tls_docker=(docker -H "$tls_engine" --tlsverify --tlscacert "$certs/client/ca.pem"
  --tlscert "$certs/client/cert.pem" --tlskey "$certs/client/key.pem")
mkdir -p "$tmp/dockerd/data" "$tmp/dockerd/exec"
# Its own bridge on an unused private /24: dockerd given `--bridge none` removes the
# default docker0, which belongs to the first engine.
vscode_env_apt iproute2
bridge="wdntls$$"
subnet=""
for n in $(seq 200 250); do
  if ! ip -4 addr | grep -q " 172.31.$n\."; then
    subnet="172.31.$n"
    break
  fi
done
[ -n "$subnet" ] || { echo "test-engines: no free 172.31.x.0/24 for the second engine's bridge" >&2; exit 1; }
$sudo ip link add "$bridge" type bridge
$sudo ip addr add "$subnet.1/24" dev "$bridge"
$sudo ip link set "$bridge" up
echo "test-engines: starting a second dockerd with TLS at $tls_engine (log: $tmp/dockerd.log)"
$sudo dockerd \
  --host "$tls_engine" \
  --tlsverify --tlscacert "$certs/ca/ca.pem" --tlscert "$certs/server/cert.pem" --tlskey "$certs/server/key.pem" \
  --data-root "$tmp/dockerd/data" --exec-root "$tmp/dockerd/exec" --pidfile "$tmp/dockerd/docker.pid" \
  --bridge "$bridge" --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
  --userland-proxy=false --storage-driver overlay2 --log-level warn \
  >"$tmp/dockerd.log" 2>&1 &
pids+=($!)
up=""
for _ in $(seq 90); do
  if "${tls_docker[@]}" info >/dev/null 2>&1; then
    up=1
    break
  fi
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 1
done
if [ -z "$up" ]; then
  echo "test-engines: the TLS dockerd did not answer docker info; the end of its log:" >&2
  tail -30 "$tmp/dockerd.log" >&2 || true
  exit 1
fi
echo "test-engines: TLS engine $("${tls_docker[@]}" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
# A wrong client certificate must be refused by the engine itself (checked here with the
# docker CLI; the tests check warden's own message).
if docker -H "$tls_engine" --tlsverify --tlscacert "$certs/bad/ca.pem" --tlscert "$certs/bad/cert.pem" \
  --tlskey "$certs/bad/key.pem" info >/dev/null 2>&1; then
  echo "test-engines: the TLS engine accepted a client certificate from an unrelated CA" >&2
  exit 1
fi
echo "test-engines: loading $image into the TLS engine"
docker save "$image" | "${tls_docker[@]}" load -q

# ---- Podman ----
podman_engine=""
podman_reason=""
if ! command -v podman >/dev/null 2>&1; then
  podman_reason="podman is not installed and could not be installed"
else
  proot=$tmp/podman
  mkdir -p "$proot/root" "$proot/runroot" "$proot/tmp"
  pconf=$proot/containers.conf
  cat >"$pconf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$proot/events.log"
runtime = "runc"
tmp_dir = "$proot/tmp"
[containers]
init_path = "$(command -v catatonit || echo /usr/libexec/podman/catatonit)"
EOF
  podman=(env CONTAINERS_CONF="$pconf" podman --root "$proot/root" --runroot "$proot/runroot"
    --storage-driver overlay)
  podman_cmd=1
  sock=$proot/podman.sock
  echo "test-engines: starting podman system service at unix://$sock (log: $proot/service.log)"
  $sudo "${podman[@]}" system service --time=0 "unix://$sock" >"$proot/service.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 30); do
    [ -S "$sock" ] && curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 1
  done
  if ! curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    podman_reason="podman system service did not answer on its socket: $(tail -3 "$proot/service.log" | tr '\n' ' ')"
  elif ! docker save "$image" | $sudo "${podman[@]}" load -q >"$proot/load.log" 2>&1; then
    podman_reason="podman load of $image failed: $(tail -3 "$proot/load.log" | tr '\n' ' ')"
  else
    podman_engine="unix://$sock"
    echo "test-engines: Podman engine $(curl -s --unix-socket "$sock" http://d/version |
      python3 -c 'import json, sys; v = json.load(sys.stdin); print(v["Version"], "(API " + v["ApiVersion"] + ")")')"
  fi
fi
if [ -n "$podman_reason" ]; then
  echo "test-engines: Podman cannot run here: $podman_reason"
fi

# ---- the tests ----
test_env=(WARDEN_REQUIRE_ENGINES=1
  WARDEN_TEST_TLS_ENGINE="$tls_engine"
  WARDEN_TEST_TLS_CERTS="$certs/client"
  WARDEN_TEST_BAD_CERTS="$certs/bad"
  WARDEN_TEST_PODMAN="$podman_engine"
  WARDEN_TEST_PODMAN_UNAVAILABLE="$podman_reason")
if [ -n "${WARDEN_ENGINES_HOLD:-}" ]; then
  printf 'export %q\n' "${test_env[@]}" >"$WARDEN_ENGINES_HOLD"
  echo "test-engines: engines up; environment in $WARDEN_ENGINES_HOLD (delete it to stop them)"
  while [ -e "$WARDEN_ENGINES_HOLD" ]; do sleep 2; done
  exit 0
fi
flag=()
[ "$profile" = release ] && flag=(--release)
echo "test-engines: cargo test ${flag[*]} -p warden-lsp --test e2e -- engines"
env "${test_env[@]}" cargo test "${flag[@]}" --locked -p warden-lsp --test e2e -- engines 2>&1 | tee "$tmp/cargo.log"
status=${PIPESTATUS[0]}
cd "$repo"
exit "$status"
