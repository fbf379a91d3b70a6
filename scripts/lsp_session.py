#!/usr/bin/env python3
"""Drives one editor-like LSP session against `warden lsp`: opens the given folders
(which starts a workspace scan with progress), prints the diagnostics it publishes,
opens a package.json to show a dependency's hover and fixes, reads the workspaces, sets
and reads a system prompt, activates a workspace, and counts the live trace
notifications. Usage: lsp_session.py WARDEN_BIN FOLDER..."""
import json
import os
import subprocess
import sys


def main() -> int:
    binary, folders = sys.argv[1], sys.argv[2:]
    env = {**os.environ, "WARDEN_LOG": os.environ.get("WARDEN_LOG", "warn")}
    proc = subprocess.Popen([binary, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    next_id = 0
    notes = []

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
                result = [None] if msg["method"] == "workspace/configuration" else None
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
            print(f"  fix for [{d['code']}]: {a['title']}")


if __name__ == "__main__":
    sys.exit(main())
