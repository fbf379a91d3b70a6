//! Edit latency: time from a `didChange` on a 10,000-line Python file to the
//! `publishDiagnostics` for that version, through the real `warden lsp` binary: the
//! first publish (secrets final, syntax from the edited previous tree) and the final
//! one (after the incremental re-parse, when it changed anything). Compares incremental
//! (ranged) edits with full-document sync side by side. Run with
//! `cargo bench -p warden-lsp --bench edit_latency`; prints a Markdown table.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, bench_count, file_uri, python_module, repo};

const LINES: usize = 10_000;
/// Edits measured per mode (a tenth under `WARDEN_BENCH_SMOKE`).
fn edits() -> usize {
    bench_count(300)
}

fn document() -> String {
    let mut text = python_module(LINES);
    text.push_str("AWS = \"AKIAQ3EGRB4XY7MNP2KD\"\n");
    text
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

struct Samples {
    first: Vec<f64>,
    last: Vec<f64>,
}

fn measure(full_sync: bool) -> Samples {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "bench");
    let mut s = Server::spawn(&tmp.path().join("w.db"));
    s.initialize(&[&root], Value::Null);
    let uri = file_uri(&root.join("src/big.py"));
    let mut text = document();
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 1
    });
    let mut first = Vec::with_capacity(edits());
    let mut last = Vec::with_capacity(edits());
    for n in 0..edits() {
        let version = n as i64 + 2;
        // Type one character into a line spread over the file.
        let line = (n * 7919) % (LINES - 20) + 3;
        let change = if full_sync {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let edited = format!("{}#", lines[line]);
            lines[line] = &edited;
            text = lines.join("\n");
            json!({"text": text})
        } else {
            json!({"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "#"})
        };
        let started = Instant::now();
        s.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["version"] == version
        });
        let t1 = started.elapsed().as_secs_f64() * 1000.0;
        first.push(t1);
        // A second publish for the same version follows when the re-parse changed the
        // syntax diagnostics; without one, the first was already final.
        let again = s.wait_for_within(
            Duration::from_millis(250),
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && p["version"] == version,
        );
        last.push(match again {
            Some(_) => started.elapsed().as_secs_f64() * 1000.0,
            None => t1,
        });
    }
    assert!(s.shutdown().success());
    for v in [&mut first, &mut last] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    Samples { first, last }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let incremental = measure(false);
    let full = measure(true);
    println!(
        "\n### Edit latency: didChange -> publishDiagnostics, {LINES}-line Python file, {} edits\n",
        edits()
    );
    println!("| sync | publish | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for (name, s) in [
        ("incremental (ranged edits)", &incremental),
        ("full document", &full),
    ] {
        for (which, v) in [("first", &s.first), ("final (after re-parse)", &s.last)] {
            println!(
                "| {name} | {which} | {:.2} | {:.2} | {:.2} | {:.2} |",
                percentile(v, 0.5),
                percentile(v, 0.9),
                percentile(v, 0.99),
                v[v.len() - 1]
            );
        }
    }
    println!(
        "\nfull-document sync / incremental, p50 of the final publish: {:.2}x",
        percentile(&full.last, 0.5) / percentile(&incremental.last, 0.5)
    );
}
