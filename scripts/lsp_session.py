#!/usr/bin/env python3
"""Drives one editor-like LSP session against `warden lsp`: opens the given folders
(which starts a workspace scan with progress), prints the diagnostics it publishes,
opens a package.json to show a dependency's hover and fixes, reads the workspaces, sets
and reads a system prompt, activates a workspace, and counts the live trace
notifications. With WARDEN_DEMO_LLM_URL set (a `warden-mock-llm` base URL), it also asks
for an LLM rewrite of a line holding an AWS key and shows that the key never reached the
provider, the usage, and the free repeat from the cache.
Usage: lsp_session.py WARDEN_BIN FOLDER..."""
import json
import os
import subprocess
import sys
import urllib.request


def main() -> int:
    binary, folders = sys.argv[1], sys.argv[2:]
    env = {**os.environ, "WARDEN_LOG": os.environ.get("WARDEN_LOG", "warn")}
    proc = subprocess.Popen([binary, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    next_id = 0
    notes = []
    edits = []
    llm_url = os.environ.get("WARDEN_DEMO_LLM_URL")
    settings = {"llm": {"provider": "demo", "model": "gpt-4o-mini",
                        "providers": {"demo": {"api": "openai", "baseUrl": llm_url}}}} if llm_url else None

    def send(msg):
        body = json.dumps(msg).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()

    def read():
        length = 0
        while True:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("warden exited unexpectedly")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(proc.stdout.read(length))

    def request(method, params):
        nonlocal next_id
        next_id += 1
        send({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params})
        while True:
            msg = read()
            if "method" in msg and "id" in msg:  # a request from the server
                result = None
                if msg["method"] == "workspace/configuration":
                    result = [settings]
                elif msg["method"] == "workspace/applyEdit":
                    edits.append(msg["params"]["edit"])
                    result = {"applied": True}
                send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            elif "method" in msg:
                notes.append(msg)
            elif msg.get("id") == next_id:
                if "error" in msg:
                    raise SystemExit(f"{method} failed: {msg['error']['message']}")
                return msg["result"]

    def command(name, args):
        return request("workspace/executeCommand", {"command": name, "arguments": [args]})

    uris = [{"uri": "file://" + f, "name": f.rsplit("/", 1)[-1]} for f in folders]
    caps = {"workspace": {"configuration": True, "workspaceFolders": True}, "window": {"workDoneProgress": True}}
    init = request("initialize", {"processId": None, "rootUri": None, "capabilities": caps,
                                  "workspaceFolders": uris})
    send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    print(f"initialized: {init['serverInfo']['name']} {init['serverInfo']['version']}, "
          f"{len(init['capabilities']['executeCommandProvider']['commands'])} commands")
    # The start-up scan: wait for every progress that began to end.
    def progress(kind):
        return [n for n in notes if n["method"] == "$/progress" and n["params"]["value"]["kind"] == kind]
    while not progress("begin") or len(progress("end")) < len(progress("begin")):
        request("warden/workspaces", {})
    for end in progress("end"):
        print(f"  scan finished: {end['params']['value']['message']}")
    for n in notes:
        if n["method"] == "textDocument/publishDiagnostics":
            for d in n["params"]["diagnostics"]:
                path = n["params"]["uri"].split("/", 3)[-1]
                start = d["range"]["start"]
                print(f"  diagnostic /{path}:{start['line'] + 1}:{start['character'] + 1} [{d['code']}] {d['message'][:70]}")
    beta = next((f for f in folders if f.endswith("/beta")), None)
    if beta:
        show_package_fixes(beta, send, request, notes)
    alpha = next((f for f in folders if f.endswith("/alpha")), None)
    if alpha and llm_url:
        show_llm_rewrite(alpha, llm_url, send, request, command, notes, edits)
    for ws in request("warden/workspaces", {}):
        print(f"  workspace {ws['name']:<8} open={ws['open']!s:<5} branch={ws['branch']} "
              f"prompt from {ws['systemPromptSource']}")
    command("warden.workspace.setSystemPrompt",
            {"name": "beta", "prompt": "You write small, well-tested Node.js scripts."})
    shown = command("warden.workspace.showSystemPrompt", {"name": "alpha"})
    print(f"  alpha's prompt ({shown['source']}): {shown['prompt'][:60]}...")
    active = command("warden.workspace.activate", {"name": "alpha"})
    print(f"  active workspace: {active['name']}")
    request("shutdown", None)
    send({"jsonrpc": "2.0", "method": "exit"})
    proc.wait(timeout=10)
    kinds = [n["method"] for n in notes]
    print(f"  live notifications: {kinds.count('warden/traceStarted')} traceStarted, "
          f"{kinds.count('warden/traceFinished')} traceFinished, "
          f"{kinds.count('warden/workspacesChanged')} workspacesChanged")
    return 0


def show_package_fixes(folder, send, request, notes):
    """Opens package.json, hovers the lodash dependency and lists its fixes."""
    path = folder + "/package.json"
    uri = "file://" + path
    text = open(path).read()
    send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri, "languageId": "json", "version": 1, "text": text}}})

    def published():
        return [n for n in notes if n["method"] == "textDocument/publishDiagnostics"
                and n["params"]["uri"] == uri and n["params"].get("version") == 1]
    while not published():
        request("warden/workspaces", {})
    diagnostics = published()[-1]["params"]["diagnostics"]
    line = next(i for i, l in enumerate(text.splitlines()) if '"lodash"' in l)
    hover = request("textDocument/hover", {"textDocument": {"uri": uri},
                                           "position": {"line": line, "character": 6}})
    print("  hover on lodash in beta/package.json:")
    for l in hover["contents"]["value"].splitlines()[:8]:
        print(f"    | {l}")
    for d in diagnostics:
        actions = request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": d["range"],
                                                      "context": {"diagnostics": [d]}}) or []
        for a in actions:
            if not a["title"].endswith("with LLM") and "with LLM:" not in a["title"]:
                print(f"  fix for [{d['code']}]: {a['title']}")


def show_llm_rewrite(folder, llm_url, send, request, command, notes, edits):
    """Rewrites the line holding an AWS key through the loopback provider."""
    path = folder + "/scripts/3.00_upload.py"
    uri = "file://" + path
    text = open(path).read()
    key = "AKIAQ3EGRB4XY7MNP2KD"
    line = next(i for i, l in enumerate(text.splitlines()) if key in l)
    send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}})
    script = {"text": "Added a type annotation.\n```python\nAWS_ACCESS_KEY_ID: str = \"__WARDEN_SECRET_1__\"\n```\n",
              "chunk": 4}
    post = urllib.request.Request(llm_url.rsplit("/v1", 1)[0] + "/_script", json.dumps(script).encode(),
                                  {"content-type": "application/json"})
    urllib.request.urlopen(post).read()
    args = {"uri": uri, "range": {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}},
            "instruction": "add a type annotation", "requestId": "demo-rewrite"}
    result = command("warden.llm.rewrite", args)
    chunks = [n for n in notes if n["method"] == "warden/llmChunk" and n["params"]["requestId"] == "demo-rewrite"]
    print(f"  LLM rewrite of scripts/3.00_upload.py:{line + 1}: {len(chunks)} streamed chunks, "
          f"applied={result['applied']}, {result['tokens']['input']} input / {result['tokens']['output']} output tokens, "
          f"${result['costUsd']:.6f}")
    for change in edits[-1]["documentChanges"]:
        for e in change["edits"]:
            print(f"    edit at line {e['range']['start']['line'] + 1}: {e['newText'].rstrip()}")
    log = json.loads(urllib.request.urlopen(llm_url.rsplit("/v1", 1)[0] + "/_requests").read())
    sent = log[-1]["body"]
    print(f"  the provider received {len(sent)} bytes; the key is in them: {key in sent}; "
          f"the placeholder is: {'__WARDEN_SECRET_1__' in sent}")
    again = command("warden.llm.rewrite", args)
    log2 = json.loads(urllib.request.urlopen(llm_url.rsplit("/v1", 1)[0] + "/_requests").read())
    print(f"  the same request again: cached={again['cached']}, cost ${again['costUsd']:.6f}, "
          f"requests sent {len(log2) - len(log)}")
    usage = request("warden/usage", {"groupBy": "action"})
    for row in usage["rows"]:
        print(f"  usage {row['key']}: {row['requests']} requests, cache-hit rate {row['cacheHitRate']:.0%}, "
              f"{row['tokensInput']} input tokens, ${row['costUsd']:.6f}")


if __name__ == "__main__":
    sys.exit(main())
