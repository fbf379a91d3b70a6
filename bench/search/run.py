#!/usr/bin/env python3
"""Workspace search benchmark (see run.sh): warden's FTS5 trigram index vs ripgrep.

1. A workspace of N real source files: the cargo registry's crate sources, in path
   order, text files of known kinds up to 1 MiB, no hidden paths (rg skips those by
   default), copied into a git repository.
2. Index build: `warden search` on a fresh database (the command brings the index up
   to date first and prints how long that took); three fresh databases, the median;
   the database's size after a checkpoint.
3. Incremental update after an edit: one file changed on disk, `warden search` again
   (it lists and stats every file and reads the changed one); five edits, the median.
4. Search latency: `warden lsp` on the workspace, `warden/search` requests timed by this
   client (round trip over stdio, limit 200, one context line), ROUNDS per query; and
   `rg -S -n` (with `-F` for literals) on the same queries, wall time per process.
5. The oracle: for every query, the (path, line) pairs warden returns at limit 5000
   against rg's; differences are listed.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = {".rs", ".toml", ".md", ".c", ".h", ".py", ".js", ".ts", ".go", ".sh", ".json", ".yml", ".yaml", ".txt"}

QUERIES = [
    ("HashMap", False),
    ("unwrap_or_else", False),
    ("fn new(", False),
    ("impl Display for", False),
    ("serde_json", False),
    ("eserializ", False),  # inside identifiers
    ("Rfc3339", False),
    ("TODO", False),
    ("deprecated", False),
    ("from_utf8_lossy", False),
    ("io", False),  # two characters: no trigram, every file is read
    (r"fn\s+\w+_mut\(", True),
    (r"impl<T> \w+ for", True),
    (r"\bunsafe\s+fn\b", True),
    (r"(read|write)_all", True),
]


def corpus(dest: Path, count: int) -> tuple[int, int]:
    registry = Path.home() / ".cargo" / "registry" / "src"
    n = size = 0
    for index in sorted(registry.iterdir()):
        for path in sorted(index.rglob("*")):
            if n == count:
                return n, size
            rel = path.relative_to(index)
            if any(p.startswith(".") for p in rel.parts) or path.suffix not in KINDS:
                continue
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
                continue
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            n += 1
            size += path.stat().st_size
    return n, size


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
                        "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"})


def cli_update(warden, ws, db):
    """Runs `warden search` for a string no file has; returns the update's milliseconds."""
    t = time.perf_counter()
    out = subprocess.run([warden, "search", "zq_no_file_has_this_zq", "--limit", "1"], cwd=ws,
                         env={**os.environ, "WARDEN_DB": str(db)}, capture_output=True, text=True)
    wall = (time.perf_counter() - t) * 1000
    line = next((l for l in out.stderr.splitlines() if "indexed" in l and " of " in l), "")
    ms = float(line.rsplit(" in ", 1)[1].split()[0]) if line else 0.0
    return ms, wall, line


def db_size(db: Path) -> int:
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


class Lsp:
    def __init__(self, warden, db, folder):
        env = {**os.environ, "WARDEN_DB": str(db), "WARDEN_LOG": "warn"}
        self.p = subprocess.Popen([warden, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.next = 0
        self.request("initialize", {"processId": None, "rootUri": None,
                                    "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
                                    "workspaceFolders": [{"uri": folder.as_uri(), "name": folder.name}]})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self):
        length = 0
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit("warden lsp exited")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def request(self, method, params):
        self.next += 1
        self.send({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params})
        while True:
            msg = self.read()
            if "method" in msg and "id" in msg:
                result = [{"scan": {"onStartup": False}, "packages": {"metadata": False}}] if msg["method"] == "workspace/configuration" else None
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            elif msg.get("id") == self.next:
                if "error" in msg:
                    raise SystemExit(f"{method}: {msg['error']}")
                return msg["result"]

    def close(self):
        self.request("shutdown", None)
        self.send({"jsonrpc": "2.0", "method": "exit"})
        self.p.wait(10)


def rg(ws, q, regex):
    args = ["rg", "-S", "-n", "--no-heading", "--color", "never"] + ([] if regex else ["-F"]) + ["--", q, "."]
    t = time.perf_counter()
    out = subprocess.run(args, cwd=ws, capture_output=True, text=True)
    ms = (time.perf_counter() - t) * 1000
    lines = set()
    for l in out.stdout.splitlines():
        path, line, _ = l.split(":", 2)
        lines.add((path.removeprefix("./"), int(line)))
    return ms, lines


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warden", required=True)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", "20")))
    ap.add_argument("--queries-only", action="store_true", help="reuse the last run's workspace and index; measure the queries only")
    ap.add_argument("--work", default=os.environ.get("WARDEN_BENCH_WORK", os.path.join(tempfile.gettempdir(), "warden-search-bench")))
    a = ap.parse_args()
    work = Path(a.work)
    ws = work / "ws"
    if not (ws / ".git").exists() or len(list((ws).rglob("*"))) < a.files:
        shutil.rmtree(work, ignore_errors=True)
        ws.mkdir(parents=True)
        n, size = corpus(ws, a.files)
        git(ws, "init", "-q", "-b", "main")
        git(ws, "add", ".")
        git(ws, "commit", "-q", "-m", "corpus")
    files = subprocess.run(["git", "ls-files"], cwd=ws, capture_output=True, text=True).stdout.split()
    size = sum((ws / f).stat().st_size for f in files)
    print(f"workspace: {len(files)} files, {size / 1e6:.1f} MB at {ws}")

    builds, db = [], work / "db2" / "w.db"
    for i in range(0 if a.queries_only else 3):
        db = work / f"db{i}" / "w.db"
        shutil.rmtree(db.parent, ignore_errors=True)
        db.parent.mkdir(parents=True)
        ms, wall, line = cli_update(a.warden, ws, db)
        builds.append(ms)
        print(f"index build {i + 1}: {line.strip()} (process {wall:.0f} ms)")
    if a.queries_only:
        return queries(a, ws, db)
    size_db = db_size(db)
    with sqlite3.connect(db) as c:
        n_files, n_symbols = c.execute("SELECT (SELECT COUNT(*) FROM search_files), (SELECT COUNT(*) FROM search_symbols)").fetchone()
    print(f"index build: median {statistics.median(builds):.0f} ms; database {size_db / 1e6:.1f} MB "
          f"({size_db / size:.2f}x the text) for {n_files} files, {n_symbols} symbols")

    updates = []
    for i in range(5):
        f = ws / files[(i * 997) % len(files)]
        with open(f, "a") as fh:
            fh.write(f"\n// edited {i}\n")
        ms, wall, line = cli_update(a.warden, ws, db)
        updates.append(ms)
        print(f"after an edit: {line.strip()} (process {wall:.0f} ms)")
    git(ws, "checkout", "--", ".")
    cli_update(a.warden, ws, db)
    print(f"incremental update after an edit: median {statistics.median(updates):.0f} ms")
    return queries(a, ws, db)


def queries(a, ws, db):
    lsp = Lsp(a.warden, db, ws)
    rows, mismatches = [], []
    for q, regex in QUERIES:
        lat = []
        for _ in range(a.rounds):
            t = time.perf_counter()
            r = lsp.request("warden/search", {"query": q, "regex": regex, "limit": 200, "context": 1})
            lat.append((time.perf_counter() - t) * 1000)
        full = lsp.request("warden/search", {"query": q, "regex": regex, "limit": 5000, "context": 0})
        mine = {(h["path"], h["range"]["start"]["line"] + 1) for h in full["results"]}
        rg_lat, theirs = [], set()
        for _ in range(max(3, a.rounds // 4)):
            ms, theirs = rg(ws, q, regex)
            rg_lat.append(ms)
        same = mine == theirs or full["truncated"] and mine <= theirs
        if not same:
            mismatches.append((q, sorted(theirs - mine)[:5], sorted(mine - theirs)[:5]))
        rows.append((q, regex, len(r["results"]), len(theirs), full["indexed"], pct(lat, 50), pct(lat, 95),
                     pct(rg_lat, 50), pct(rg_lat, 95), same))
    lsp.close()

    print()
    print("| query | lines (warden limit 200 / rg all) | narrowed by the index | warden p50 / p95 ms | rg p50 / p95 ms | rg ÷ warden (p50) | same lines as rg |")
    print("|---|---:|:-:|---:|---:|---:|:-:|")
    for q, regex, n, m, idx, p50, p95, r50, r95, same in rows:
        shown = f"`{q}`" + (" (regex)" if regex else "")
        print(f"| {shown} | {n} / {m} | {'yes' if idx else 'no'} | {p50:.1f} / {p95:.1f} | {r50:.1f} / {r95:.1f} | {r50 / p50:.1f}x | {'yes' if same else 'NO'} |")
    all_w = [r[5] for r in rows]
    all_r = [r[7] for r in rows]
    print(f"\nmedian over queries: warden p50 {statistics.median(all_w):.1f} ms, rg p50 {statistics.median(all_r):.1f} ms")
    for q, missing, extra in mismatches:
        print(f"differs from rg on {q!r}: rg only {missing}; warden only {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
