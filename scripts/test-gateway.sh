#!/usr/bin/env bash
# The LLM gateway and the MCP server against real clients nobody here wrote (issue 21):
# installs the official `openai`, `anthropic` and `mcp` Python SDKs (pinned) into a venv
# cached outside the
# repository, starts the scripted loopback provider (warden-mock-llm) and
# `warden gateway` for a throwaway repository (configured by a user configuration file
# in a temporary XDG_CONFIG_HOME, the upstream key in an environment variable), plus a
# second workspace whose `.warden.toml` tightens the budget and the deny-list and a third
# with a tiny daily budget, then runs
# tests/gateway/test_sdks.py; then `warden mcp` in a third repository (a leaked key, a
# vulnerable pin, a misspelt package, a failing script) driven by the `mcp` client,
# tests/gateway/test_mcp.py, with warden-mock-registry as its package metadata API.
# Prints cargo's "test result:" line, which scripts/test.sh counts. Needs WARDEN_BIN and
# WARDEN_MOCK_LLM (the binaries of this checkout); WARDEN_MOCK_REGISTRY defaults to
# warden-mock-registry next to WARDEN_MOCK_LLM.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/vscode-env.sh
. scripts/vscode-env.sh # WARDEN_CI_CACHE, vscode_env_apt
: "${WARDEN_BIN:?the warden binary to test}" "${WARDEN_MOCK_LLM:?the warden-mock-llm binary}"
registry="${WARDEN_MOCK_REGISTRY:-$(dirname "$WARDEN_MOCK_LLM")/warden-mock-registry}"
[ -x "$registry" ] || { echo "test-gateway: no $registry (cargo build -p warden-mockllm)" >&2; exit 1; }

openai_version="${WARDEN_OPENAI_SDK_VERSION:-3.63.0}"
anthropic_version="${WARDEN_ANTHROPIC_SDK_VERSION:-2.17.0}"
mcp_version="${WARDEN_MCP_SDK_VERSION:-2.3.0}"
venv="$WARDEN_CI_CACHE/sdk-clients-openai-$openai_version-anthropic-$anthropic_version-mcp-$mcp_version"
have_sdks() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import openai, anthropic, mcp' 2>/dev/null
}
if ! have_sdks; then
  vscode_env_apt python3 python3-venv
  echo "test-gateway: installing openai $openai_version, anthropic $anthropic_version and mcp $mcp_version into $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "openai==$openai_version" "anthropic==$anthropic_version" "mcp==$mcp_version"
  have_sdks
fi

# The throwaway repositories below need git whether or not the venv was cached.
command -v git >/dev/null 2>&1 || vscode_env_apt git

work="$(mktemp -d)"
mock_pid=""
gw_pid=""
registry_pid=""
cleanup() {
  for p in $gw_pid $mock_pid $registry_pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

"$WARDEN_MOCK_LLM" 0 >"$work/mock.url" 2>"$work/mock.log" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.url" ] && break; sleep 0.1; done
mock_url="$(head -1 "$work/mock.url")"
[ -n "$mock_url" ] || { echo "test-gateway: the mock provider did not start" >&2; cat "$work/mock.log" >&2; exit 1; }

upstream_key="sk-upstream-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$work/config/warden" "$work/gw-alpha" "$work/gw-tight" "$work/gw-daily"
cat >"$work/config/warden/config.toml" <<TOML
system_prompt = "Never print secrets."

[llm]
provider = "mock"
model = "gpt-test"

[llm.providers.mock]
api = "openai"
base_url = "$mock_url"
api_key_env = "WARDEN_TEST_UPSTREAM_KEY"

[llm.providers.mockanthropic]
api = "anthropic"
base_url = "$mock_url"
api_key_env = "WARDEN_TEST_UPSTREAM_KEY"
model = "claude-test"

# USD per million tokens: the scripted model costs something, so a daily budget is spent.
[llm.prices.gpt-test]
input = 1000.0
output = 1000.0

[[llm.mux]]
glob = "claude-*"
action = "gateway"
provider = "mockanthropic"
TOML
cat >"$work/gw-tight/.warden.toml" <<'TOML'
# Tightening needs no trust: a smaller request budget, one more deny-list rule, and
# replies bringing in malicious packages refused.
[llm]
deny_list = ["launch codes"]

[llm.budget]
request_tokens = 100

[gateway]
block_malicious = true
TOML
cat >"$work/gw-daily/.warden.toml" <<'TOML'
# A daily budget of a thousandth of a cent: the first call spends it.
[llm.budget]
daily_usd = 0.00001
TOML
for d in gw-alpha gw-tight gw-daily; do
  git -C "$work/$d" init -q
  git -C "$work/$d" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m init
done
export XDG_CONFIG_HOME="$work/config" WARDEN_TEST_UPSTREAM_KEY="$upstream_key" WARDEN_OFFLINE=1
db="$work/warden.db"
# The bundled OSV fixtures (pilllow is malicious, requests 2.30.0 vulnerable).
"$WARDEN_BIN" --db "$db" db import fixtures/osv/PyPI >/dev/null
workspace_of() {
  "$WARDEN_BIN" --db "$db" workspaces "$work/$1" --json |
    "$venv/bin/python" -c 'import json,sys; print([w["name"] for w in map(json.loads, sys.stdin) if (w.get("root") or "").endswith(sys.argv[1])][0])' "$1"
}
tight="$(workspace_of gw-tight)"
daily="$(workspace_of gw-daily)"
# The package metadata API of the gateway and `warden mcp`: the bundled recorded answers
# on loopback (any other name is the API's "not found"); they are online only to it.
"$registry" fixtures/osv --metadata fixtures/metadata 0 >"$work/registry.json" 2>"$work/registry.log" &
registry_pid=$!
for _ in $(seq 100); do [ -s "$work/registry.json" ] && break; sleep 0.1; done
metadata_url="$("$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["metadata"])' <"$work/registry.json")" || {
  echo "test-gateway: warden-mock-registry did not start:" >&2
  cat "$work/registry.log" >&2
  exit 1
}

(cd "$work/gw-alpha" && WARDEN_OFFLINE=0 WARDEN_METADATA_URL="$metadata_url" exec "$WARDEN_BIN" --db "$db" gateway --json >"$work/gateway.json" 2>"$work/gateway.log") &
gw_pid=$!
for _ in $(seq 100); do [ -s "$work/gateway.json" ] && break; sleep 0.1; done
if [ ! -s "$work/gateway.json" ]; then
  echo "test-gateway: warden gateway did not start:" >&2
  cat "$work/gateway.log" >&2
  exit 1
fi
echo "test-gateway: warden gateway on $("$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["baseUrl"])' <"$work/gateway.json"), provider $mock_url"

# `warden mcp`'s repository: a leaked key, a vulnerable pin, a script that prints the
# key and fails on line 3.
secret="$("$venv/bin/python" -c 'import secrets; print("AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)))')"
mkdir -p "$work/mcp-ws/scripts"
printf 'import os\nAWS_ACCESS_KEY_ID = "%s"\n' "$secret" >"$work/mcp-ws/app.py"
printf 'requests==2.30.0\nreqeusts-toolbelt==1.0.0\n' >"$work/mcp-ws/requirements.txt"
printf 'KEY = "%s"\nprint("using", KEY)\nraise RuntimeError("no access")\n' "$secret" >"$work/mcp-ws/scripts/leak.py"
git -C "$work/mcp-ws" init -q

set +e
WARDEN_TEST_METADATA_URL="$metadata_url" WARDEN_TEST_MOCK_URL="$mock_url" WARDEN_TEST_GATEWAY="$(cat "$work/gateway.json")" WARDEN_TEST_DB="$db" \
  WARDEN_TEST_TIGHT_WORKSPACE="$tight" WARDEN_TEST_DAILY_WORKSPACE="$daily" WARDEN_TEST_UPSTREAM_KEY="$upstream_key" \
  WARDEN_TEST_MCP_REPO="$work/mcp-ws" WARDEN_TEST_MCP_SECRET="$secret" \
  "$venv/bin/python" -m unittest -v tests/gateway/test_sdks.py tests/gateway/test_mcp.py 2>"$work/result.txt"
status=$?
set -e
cat "$work/result.txt"
summary="$(awk '/^Ran [0-9]+ test/ { print $2 }' "$work/result.txt")"
failed="$(awk '/^FAILED \(/ { while (match($0, /(failures|errors)=[0-9]+/)) { split(substr($0, RSTART, RLENGTH), kv, "="); s += kv[2]; $0 = substr($0, RSTART + RLENGTH) } } END { print s + 0 }' "$work/result.txt")"
[ -n "$summary" ] || summary=0
if [ "$status" -ne 0 ]; then
  echo "test-gateway: the gateway's log:" >&2
  tail -40 "$work/gateway.log" >&2
  [ "$failed" -gt 0 ] || failed=1
fi
echo "test result: gateway and MCP SDK clients. $((summary - failed)) passed; $failed failed"
exit "$status"
