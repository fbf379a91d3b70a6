#!/usr/bin/env python3
"""False syntax errors on valid code nobody here wrote, judged by each language's own
parser. For each language: `warden scan DIR --checks syntax` over a corpus available
offline, then every file warden flags goes to the judge; a flagged file the judge
accepts is a false alarm (each of its syntax findings counts), one it rejects is a real
error. Files warden does not flag need no judging.

Corpora and judges:
- Rust: the cargo registry's crate sources; judge `rustfmt --emit stdout` (edition 2021,
  then 2024: a file either accepts is valid).
- Python: the interpreter's standard library (with site-packages); judge `ast.parse` in
  this interpreter.
- Bash: the shell scripts in /usr/bin (sh/bash shebang, copied with a `.sh` name so the
  scan reads them as shell); judge `bash -n`.
- JavaScript/TypeScript: the `.js`/`.mjs`/`.cjs`/`.ts`/`.d.ts` files under a
  node_modules folder (the VS Code extension's after `npm ci`); judge TypeScript's own
  parser (`ts.createSourceFile`, syntactic diagnostics only), from that folder.
- Go: the Go standard library when Debian's `golang-go` is installed; judge `gofmt -e`.

With `--mutants N`, measures the other side, missed errors: N files of each corpus the
judge accepts get one punctuation byte deleted; of those mutants the judge rejects,
every one warden reports no syntax error in is a missed error. This is what a fast
path (a parser that accepts a file so tree-sitter need not parse it) could cost.

Prints a Markdown table. With `--baseline FILE` exits non-zero when a language the
baseline names has more false errors than it says (CI); `--write-baseline FILE` records
the counts (then keep in it only the languages whose corpus is pinned).
Usage: run.py --warden BIN [--node-modules DIR] [--only rust,python,...] [--baseline F]
       run.py --warden BIN --mutants N [--only ...]
"""
import argparse
import ast
import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def warden_scan(warden, root):
    """{file: [findings]} of syntax findings under root, and the seconds and MB scanned."""
    start = time.perf_counter()
    p = subprocess.run([warden, "scan", ".", "--checks", "syntax", "--format", "json", "--fail-on", "never"],
                       cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode not in (0, 1):
        raise SystemExit(f"warden scan {root} failed ({p.returncode}): {p.stderr[-2000:]}")
    flagged = {}
    for line in p.stdout.splitlines():
        if line.strip():
            f = json.loads(line)
            if f.get("kind") == "syntax":
                flagged.setdefault(os.path.join(root, f["path"]), []).append(f)
    scanned = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    return flagged, elapsed, scanned


def judge_python(path):
    with open(path, "rb") as f:
        src = f.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(src, path)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def judge_rust(path):
    for edition in ("2021", "2024", "2018"):
        p = subprocess.run(["rustfmt", "--edition", edition, "--emit", "stdout", path],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return True
    return False


def judge_bash(path):
    return subprocess.run(["bash", "-n", path], capture_output=True).returncode == 0


def judge_go(path):
    return subprocess.run(["gofmt", "-e", "-l", path], capture_output=True).returncode == 0


TS_JUDGE = r"""
const ts = require(process.argv[1]);
const fs = require('fs');
const files = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = {};
for (const f of files) {
  const kind = /\.tsx$/.test(f) ? ts.ScriptKind.TSX : /\.jsx$/.test(f) ? ts.ScriptKind.JSX
    : /\.(m|c)?js$/.test(f) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  try {
    const sf = ts.createSourceFile(f, fs.readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, false, kind);
    out[f] = sf.parseDiagnostics.length === 0;
  } catch (e) {
    out[f] = false;
  }
}
process.stdout.write(JSON.stringify(out));
"""


def judge_ts_all(files, node_modules):
    ts = os.path.abspath(os.path.join(node_modules, "typescript"))
    p = subprocess.run(["node", "-e", TS_JUDGE, ts], input=json.dumps(files), capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"TypeScript judge failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def bash_corpus(tmp):
    """/usr/bin scripts with a sh/bash shebang, copied as NAME.sh."""
    out = os.path.join(tmp, "usr-bin-sh")
    os.makedirs(out, exist_ok=True)
    for path in sorted(glob.glob("/usr/bin/*")):
        try:
            if not os.path.isfile(path) or os.path.getsize(path) > 2_000_000:
                continue
            with open(path, "rb") as f:
                head = f.readline(200)
        except OSError:
            continue
        if head.startswith(b"#!") and any(s in head for s in (b"/sh", b"bash")):
            shutil.copyfile(path, os.path.join(out, os.path.basename(path) + ".sh"))
    return out


def registry_sources():
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    dirs = sorted(glob.glob(os.path.join(home, "registry", "src", "*")))
    return dirs[0] if dirs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warden", required=True)
    ap.add_argument("--node-modules", help="a node_modules folder holding typescript")
    ap.add_argument("--only", default="rust,python,bash,javascript,go")
    ap.add_argument("--baseline", help="fail when a language has more false errors than this JSON says")
    ap.add_argument("--write-baseline", help="write the false-error counts as JSON")
    ap.add_argument("--mutants", type=int, help="count missed errors on N broken copies per language")
    args = ap.parse_args()
    warden = os.path.abspath(args.warden)
    only = args.only.split(",")
    tmp = tempfile.mkdtemp(prefix="warden-syntax-corpus-")
    corpora = []  # (language, root, extensions, judge or None for batch TS)
    if "rust" in only and shutil.which("rustfmt") and registry_sources():
        corpora.append(("rust", registry_sources(), (".rs",), judge_rust))
    if "python" in only:
        corpora.append(("python", sysconfig.get_paths()["stdlib"], (".py",), judge_python))
    if "bash" in only:
        corpora.append(("bash", bash_corpus(tmp), (".sh",), judge_bash))
    if "javascript" in only and args.node_modules and os.path.isdir(os.path.join(args.node_modules, "typescript")):
        corpora.append(("javascript", os.path.abspath(args.node_modules),
                        (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"), None))
    if "go" in only and shutil.which("gofmt"):
        goroot = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True).stdout.strip()
        if goroot:
            corpora.append(("go", os.path.join(goroot, "src"), (".go",), judge_go))
    if args.mutants:
        mutants(warden, corpora, args.mutants, args.node_modules, tmp)
        if os.environ.get("KEEP_MUTANTS"):
            print(f"# mutants kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    rows = {}
    for lang, root, exts, judge in corpora:
        flagged, elapsed, scanned = warden_scan(warden, root)
        flagged = {f: v for f, v in flagged.items() if f.endswith(exts)}
        if judge is None:
            verdicts = judge_ts_all(sorted(flagged), args.node_modules)
        else:
            verdicts = {f: judge(f) for f in flagged}
        false_files = [f for f in flagged if verdicts.get(f)]
        rows[lang] = {
            "files": sum(1 for _ in walk(root, exts)),
            "flagged": len(flagged),
            "false_files": len(false_files),
            "false_errors": sum(len(flagged[f]) for f in false_files),
            "real_files": len(flagged) - len(false_files),
            "seconds": round(elapsed, 1),
            "scanned": scanned,
            "examples": sorted(false_files)[:5],
        }
        print(f"# {lang}: {rows[lang]['false_errors']} false errors in {rows[lang]['false_files']} files "
              f"({scanned})", file=sys.stderr, flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print("\n### False syntax errors on valid code (judged by each language's own parser)\n")
    print("| language | files | flagged by warden | judge accepts (false alarm) | false errors | judge rejects (real) |")
    print("|---|---:|---:|---:|---:|---:|")
    for lang, r in rows.items():
        print(f"| {lang} | {r['files']} | {r['flagged']} | {r['false_files']} | {r['false_errors']} | {r['real_files']} |")
    for lang, r in rows.items():
        for e in r["examples"]:
            print(f"<!-- {lang} false alarm: {e} -->")
    counts = {lang: r["false_errors"] for lang, r in rows.items()}
    if args.write_baseline:
        with open(args.write_baseline, "w") as f:
            json.dump(counts, f, indent=2, sort_keys=True)
            f.write("\n")
    if args.baseline:
        with open(args.baseline) as f:
            base = json.load(f)
        # Only the languages the baseline names: their corpora are pinned (Cargo.lock,
        # the extension's package-lock.json, the interpreter); /usr/bin differs between
        # machines, so Bash is reported, not checked.
        worse = {l: (n, base[l]) for l, n in counts.items() if l in base and n > base[l]}
        if worse:
            for l, (n, b) in worse.items():
                print(f"syntax corpus: {l}: {n} false errors, baseline {b}", file=sys.stderr)
            sys.exit(1)
        print("syntax corpus: no language has more false errors than its baseline", file=sys.stderr)


PUNCTUATION = b"()[]{}:;,=.\"'"


def mutants(warden, corpora, n, node_modules, tmp):
    """Missed errors on n broken copies per language (see the module's docstring)."""
    import random
    rows = {}
    for lang, root, exts, judge in corpora:
        rng = random.Random(17)
        files = sorted(walk(root, exts))
        rng.shuffle(files)
        out = os.path.join(tmp, "mutants", lang)
        os.makedirs(out, exist_ok=True)
        written = []
        for path in files:
            if len(written) >= n * 2:  # about half of them stay broken per judge
                break
            try:
                with open(path, "rb") as f:
                    src = f.read()
            except OSError:
                continue
            if not 0 < len(src) <= 100_000 or (judge is not None and not judge(path)):
                continue
            spots = [i for i, b in enumerate(src) if b in PUNCTUATION]
            if not spots:
                continue
            i = rng.choice(spots)
            ext = os.path.splitext(path)[1] if not path.endswith(".d.ts") else ".d.ts"
            target = os.path.join(out, f"{len(written)}{ext}")
            with open(target, "wb") as f:
                f.write(src[:i] + src[i + 1:])
            written.append(target)
        if judge is None:
            verdicts = judge_ts_all(written, node_modules)
        else:
            verdicts = {f: judge(f) for f in written}
        broken = [f for f in written if not verdicts.get(f)][:n]
        for f in set(written) - set(broken):
            os.remove(f)
        flagged, _, _ = warden_scan(warden, out)
        missed = [f for f in broken if f not in flagged]
        rows[lang] = (len(broken), len(missed))
        for f in missed[:int(os.environ.get("SHOW_MISSED", "0"))]:
            print(f"<!-- {lang} missed: {f} -->")

        print(f"# {lang}: {len(missed)} of {len(broken)} broken copies without a syntax error", file=sys.stderr, flush=True)
    print("\n### Missed syntax errors on broken copies of valid code (one punctuation byte deleted)\n")
    print("| language | copies the judge rejects | warden reports no error | recall |")
    print("|---|---:|---:|---:|")
    for lang, (broken, missed) in rows.items():
        recall = 100.0 * (broken - missed) / broken if broken else float("nan")
        print(f"| {lang} | {broken} | {missed} | {recall:.2f}% |")


def walk(root, exts):
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for f in files:
            if f.endswith(exts):
                yield os.path.join(dirpath, f)


if __name__ == "__main__":
    main()
