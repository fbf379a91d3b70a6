#!/usr/bin/env bash
# Makes a Docker engine available for warden's sandboxed runs and builds the runner
# images: installs Debian's docker.io and debootstrap when missing, starts dockerd when
# no engine answers (unless DOCKER_HOST points elsewhere), waits until `docker info`
# answers, then runs scripts/runner-images.sh (no registry pull). Needs root (or sudo)
# only for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  echo "docker-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "docker-setup: DOCKER_HOST=$DOCKER_HOST does not answer (docker info failed)" >&2
    exit 1
  fi
  log=/var/log/warden-dockerd.log
  [ -w /var/log ] || log="${TMPDIR:-/tmp}/warden-dockerd.log"
  echo "docker-setup: starting dockerd (log: $log)"
  $sudo sh -c "nohup dockerd >'$log' 2>&1 &"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "docker-setup: dockerd did not answer within 60 s; the end of $log:" >&2
    tail -20 "$log" >&2 || true
    exit 1
  fi
fi
echo "docker-setup: engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
scripts/runner-images.sh
