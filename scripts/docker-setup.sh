#!/usr/bin/env bash
# Makes a Docker engine available for warden's sandboxed runs and builds the runner
# images. Checks each part the way it is used, never only the client: when no engine
# answers `docker info` (and DOCKER_HOST does not point elsewhere), the engine's own
# binaries (dockerd, containerd, runc) must be there, else Debian's docker.io is
# installed; then dockerd is started and waited for until `docker info` answers. A
# `docker` client alone (as on a fresh machine of this project's kind) is not an engine.
# debootstrap is installed when missing, then scripts/runner-images.sh builds the images
# (no registry pull). Needs root (or sudo) only for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

apt_install() {
  echo "docker-setup: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

# An executable by name on PATH or in the sbin folders (root's PATH may lack them).
have() { PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin" command -v "$1" >/dev/null 2>&1; }

engine_answers() { have docker && docker info >/dev/null 2>&1; }

missing=()
have debootstrap || missing+=(debootstrap)
if ! engine_answers; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "docker-setup: DOCKER_HOST=$DOCKER_HOST does not answer (docker info failed)" >&2
    exit 1
  fi
  # The engine itself, not the client: dockerd needs containerd and runc beside it.
  for b in dockerd containerd runc docker; do
    if ! have "$b"; then
      missing+=(docker.io)
      break
    fi
  done
fi
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

if ! engine_answers; then
  for b in dockerd containerd runc; do
    have "$b" || { echo "docker-setup: $b is still missing after installing docker.io" >&2; exit 1; }
  done
  log=/var/log/warden-dockerd.log
  [ -w /var/log ] || log="${TMPDIR:-/tmp}/warden-dockerd.log"
  dockerd_bin=$(PATH="$PATH:/usr/sbin:/sbin" command -v dockerd)
  echo "docker-setup: starting $dockerd_bin (log: $log)"
  $sudo sh -c "nohup '$dockerd_bin' >'$log' 2>&1 &"
  for _ in $(seq 60); do
    engine_answers && break
    sleep 1
  done
  if ! engine_answers; then
    echo "docker-setup: dockerd did not answer within 60 s; the end of $log:" >&2
    tail -20 "$log" >&2 || true
    exit 1
  fi
fi
echo "docker-setup: engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), client $(docker version --format '{{.Client.Version}}')"
scripts/runner-images.sh
