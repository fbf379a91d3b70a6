#!/usr/bin/env python3
"""Runs warden, kingfisher, betterleaks and detect-secrets on the same corpus in one
run: throughput (MB/s, median of N runs) single- and multi-threaded, ratios against
warden, and recall / false positives on the labelled corpus (fixtures/secrets).
Prints a Markdown section for bench/RESULTS.md.
Also recall and false positives per context (fixtures/secrets/contexts), and recall per
provider family (the rule file a labelled secret's rule is defined in).
Usage: run.py --warden BIN --venv DIR --corpus DIR [--runs 3] [--contexts-only]"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "secrets"))


def tools(warden, venv):
    b = os.path.join(venv, "bin")
    return {
        "warden": {
            "cmd": lambda d, t, out: [warden, "scan", d, "--checks", "secrets", "--format", "json", "--fail-on", "never"],
            "env": lambda t: {"RAYON_NUM_THREADS": str(t)},
        },
        "kingfisher": {
            "cmd": lambda d, t, out: [f"{b}/kingfisher", "scan", d, "--no-validate", "--format", "jsonl", "-q", "-j", str(t), "--no-update-check"],
            "env": lambda t: {},
        },
        "betterleaks": {
            "cmd": lambda d, t, out: [f"{b}/betterleaks", d, "--no-banner", "--jsonl", "-l", "error", "-j", str(t), "--exit-code", "0"],
            "env": lambda t: {"GOMAXPROCS": str(t)},
        },
        "detect-secrets": {
            "cmd": lambda d, t, out: [f"{b}/detect-secrets", "scan", "--all-files", d],
            "env": lambda t: {},
        },
    }


def run(tool, spec, target, threads, cwd=None):
    env = dict(os.environ, **spec["env"](threads))
    start = time.perf_counter()
    p = subprocess.run(spec["cmd"](target, threads, None), env=env, capture_output=True, text=True, cwd=cwd)
    elapsed = time.perf_counter() - start
    return elapsed, p


def locations(tool, stdout, base):
    """(relative path, 1-based line) of every finding a tool printed."""
    out = set()
    if tool == "detect-secrets":
        data = json.loads(stdout or "{}")
        for path, items in data.get("results", {}).items():
            for it in items:
                out.add((os.path.normpath(path), it["line_number"]))
        return out
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        if tool == "warden":
            path, ln = d["path"], d["line"]
        elif tool == "kingfisher":
            f = d.get("finding", {})
            path, ln = f.get("path"), f.get("line")
        else:
            loc = d.get("finding", {}).get("location", {})
            path, ln = loc.get("path"), loc.get("start_line")
        if path is None or ln is None:
            continue
        out.add((os.path.normpath(path), int(ln)))
    return out


RULES = os.path.normpath(os.path.join(HERE, "..", "..", "server", "analysis", "rules", "secrets"))


def families():
    """rule id -> provider family (the rule file it is defined in: `cloud`, `ai`, ...)."""
    out = {}
    for name in sorted(os.listdir(RULES)):
        if name.endswith(".toml"):
            with open(os.path.join(RULES, name)) as f:
                for line in f:
                    if line.startswith("id = "):
                        out[line.split('"')[1]] = name[:-5]
    return out


def recall(tool, spec):
    """(hits, labelled, false positives, {family: [labelled, hits]}) on fixtures/secrets."""
    labels = {}
    with open(os.path.join(FIXTURES, "labels.tsv")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            path, ln, rule = line.rstrip("\n").split("\t")
            labels[(os.path.normpath(path), int(ln))] = rule
    found = set()
    for sub in ("positives", "negatives"):
        # Run from the corpus folder on a relative target so every tool prints
        # "positives/<file>" style paths.
        _, p = run(tool, spec, sub, 2, cwd=FIXTURES)
        found |= locations(tool, p.stdout, FIXTURES)
    family = families()
    by_family = {}
    for loc, rule in labels.items():
        row = by_family.setdefault(family.get(rule, "?"), [0, 0])
        row[0] += 1
        row[1] += loc in found
    hits = len(set(labels) & found)
    fps = len(found - set(labels))
    return hits, len(labels), fps, by_family


def print_families(rows):
    names = [t for t in rows if "recall" in rows[t]]
    print("\n### Secrets recall by provider family (`fixtures/secrets`, three per rule)\n")
    print("| family | labelled | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    fams = sorted({f for t in names for f in rows[t]["recall"][3]})
    for fam in fams:
        lab = rows[names[0]]["recall"][3].get(fam, [0, 0])[0]
        cells = [f"{rows[t]['recall'][3].get(fam, [0, 0])[1]} ({100 * rows[t]['recall'][3].get(fam, [0, 0])[1] / max(lab, 1):.0f}%)" for t in names]
        print(f"| {fam} | {lab} | " + " | ".join(cells) + " |")


def context_recall(tool, spec):
    """Per context of fixtures/secrets/contexts: (labelled, found, false positives).
    A false positive is a finding in a negatives file, or in a positives file at a
    line that holds no planted secret."""
    base = os.path.join(FIXTURES, "contexts")
    labels = {}
    with open(os.path.join(base, "labels.tsv")) as f:
        for line in f:
            if not line.startswith("#"):
                path, ln, ctx = line.rstrip("\n").split("\t")
                labels[(os.path.normpath(path), int(ln))] = ctx
    table = {ctx: [0, 0, 0] for ctx in labels.values()}
    for ctx in labels.values():
        table[ctx][0] += 1
    for sub in ("positive", "negative"):
        _, p = run(tool, spec, sub, 2, cwd=base)
        for path, ln in locations(tool, p.stdout, base):
            ctx = path.split(os.sep)[1] if path.count(os.sep) >= 2 else "?"
            if (path, ln) in labels:
                table[ctx][1] += 1
            else:
                table.setdefault(ctx, [0, 0, 0])[2] += 1
    return table


def print_contexts(per_tool):
    names = list(per_tool)
    print("\n### Secrets recall by context (`fixtures/secrets/contexts`)\n")
    print("Found / labelled, and false positives (findings on negatives or on unlabelled lines).\n")
    print("| context | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    contexts = sorted({c for t in per_tool.values() for c in t})
    totals = {n: [0, 0, 0] for n in names}
    for c in contexts:
        cells = []
        for n in names:
            lab, hit, fp = per_tool[n].get(c, [0, 0, 0])
            totals[n] = [a + b for a, b in zip(totals[n], (lab, hit, fp))]
            cells.append(f"{hit}/{lab}" + (f", {fp} FP" if fp else ""))
        print(f"| {c} | " + " | ".join(cells) + " |")
    print("| **all** | " + " | ".join(f"**{h}/{l} ({100 * h / max(l, 1):.0f}%), {fp} FP**" for l, h, fp in totals.values()) + " |")


def size_of(d):
    total = 0
    for root, _, files in os.walk(d):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warden", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default="warden,kingfisher,betterleaks,detect-secrets")
    ap.add_argument("--contexts-only", action="store_true", help="only the recall-by-context table")
    args = ap.parse_args()
    specs = {k: v for k, v in tools(os.path.abspath(args.warden), os.path.abspath(args.venv)).items()
             if k in args.tools.split(",")}
    print_contexts({t: context_recall(t, spec) for t, spec in specs.items() if t != "detect-secrets"})
    if args.contexts_only:
        return
    args.corpus = os.path.abspath(args.corpus)
    mb = size_of(args.corpus) / 1e6
    cores = os.cpu_count() or 1
    rows = {}
    for tool, spec in specs.items():
        rows[tool] = {}
        for threads in (1, cores):
            if tool == "detect-secrets" and threads == 1:
                continue  # no thread option: it uses every core by default
            times = []
            # detect-secrets needs minutes per 100 MB: one run.
            for _ in range(1 if tool == "detect-secrets" else args.runs):
                t, p = run(tool, spec, args.corpus, threads)
                if p.returncode not in (0, 1, 200, 205):
                    raise SystemExit(f"{tool} failed ({p.returncode}): {p.stderr[-2000:]}")
                times.append(t)
            rows[tool][threads] = statistics.median(times)
            print(f"# {tool} threads={threads}: {rows[tool][threads]:.2f}s ({mb / rows[tool][threads]:.1f} MB/s)", flush=True)
        rows[tool]["recall"] = recall(tool, spec)
    w1, wn = rows.get("warden", {}).get(1), rows.get("warden", {}).get(cores)
    date = time.strftime("%Y-%m-%d")
    print(f"\n### Secrets scanning throughput ({date})\n")
    print(f"Corpus: {mb:.0f} MB of generated source (`bench/secrets/gen_corpus.py`), {platform.machine()}, {cores} cores, "
          f"median of {args.runs} runs (detect-secrets: one run). Recall: labelled corpus `fixtures/secrets` (any rule at the labelled line).\n")
    print("| tool | 1 thread MB/s | warden is x faster | " + f"{cores} threads MB/s | warden is x faster | recall | false positives |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    fmt = lambda t: f"{mb / t:.1f}" if t else "n/a"
    ratio = lambda t, w: f"{t / w:.2f}" if t and w else "n/a"
    for tool, r in rows.items():
        hits, n, fps, _ = r["recall"]
        print(f"| {tool} | {fmt(r.get(1))} | {ratio(r.get(1), w1)} | {fmt(r.get(cores))} | {ratio(r.get(cores), wn)} | {hits}/{n} ({100 * hits / n:.0f}%) | {fps} |")
    print_families(rows)


if __name__ == "__main__":
    main()
