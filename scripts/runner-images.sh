#!/usr/bin/env bash
# Builds warden's local runner images from Debian packages, without any registry pull:
# `debootstrap --variant=minbase` into a temporary folder (from the Debian mirror this
# machine's apt already uses), then `docker import`. Idempotent: an existing image built
# from the same package list (its `warden.packages` label) is kept unless --rebuild is
# given. Images:
#   warden-runner-python:<suite>  python3 with its standard library (and sh)
#   warden-runner-node:<suite>    node (and sh)
set -euo pipefail
rebuild=0
[ "${1:-}" = "--rebuild" ] && rebuild=1
export PATH="$PATH:/usr/sbin:/sbin"
command -v debootstrap >/dev/null || { echo "runner-images: debootstrap is missing (scripts/docker-setup.sh installs it)" >&2; exit 2; }
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "runner-images: no Debian mirror found in the apt sources" >&2; exit 2; }
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

build() {
  local image=$1 include=$2
  local have
  have=$(docker image inspect -f '{{index .Config.Labels "warden.packages"}}' "$image" 2>/dev/null || true)
  if [ $rebuild = 0 ] && [ "$have" = "$include" ]; then
    echo "runner-images: $image exists"
    return
  fi
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  echo "runner-images: building $image ($include) from $suite"
  debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$mirror" >"$dir.log" 2>&1 \
    || { tail -20 "$dir.log" >&2; rm -f "$dir.log"; return 1; }
  rm -f "$dir.log"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  # An unprivileged user for the sandbox (uid 1000) and the folders runs use.
  chroot "$dir" /usr/sbin/useradd --uid 1000 --create-home --shell /bin/sh runner
  mkdir -p "$dir/work" "$dir/out"
  chown 1000:1000 "$dir/work" "$dir/out"
  tar -C "$dir" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /work' -c 'USER 1000:1000' \
    -c "LABEL warden.packages=$include" \
    - "$image" >/dev/null
  echo "runner-images: $image $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1048576}')"
}

build "warden-runner-python:$suite" python3
build "warden-runner-node:$suite" nodejs
