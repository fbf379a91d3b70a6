//! Package checks measured: importing the whole OSV dataset in `../shared/data/osv`
//! (time, database size, re-import), then a 200-dependency `requirements.txt` and
//! `package.json` through the real `warden lsp` binary (open and edit to
//! `publishDiagnostics`, with a cold and a warm advisory cache), `warden scan` of one
//! such manifest, and the server's memory while serving. Falls back to
//! `fixtures/osv` when the shared dataset is absent. Run with
//! `cargo bench -p warden-lsp --bench packages`; prints Markdown tables.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use std::collections::HashMap;

use support::{Server, bench_count, file_uri, import_advisories, repo, warden_bin};
use warden_analysis::packages::manifest::Kind;
use warden_analysis::packages::osv::Record;
use warden_analysis::packages::{Ecosystem, Records};

const DEPENDENCIES: usize = 200;
/// Edits per manifest (a tenth under `WARDEN_BENCH_SMOKE`).
fn edit_count() -> usize {
    bench_count(200)
}

fn dataset() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/data/osv");
    if shared.is_dir() {
        shared
    } else {
        root.join("fixtures/osv")
    }
}

fn import(db: &Path, data: &Path) -> f64 {
    let started = Instant::now();
    import_advisories(db, data);
    started.elapsed().as_secs_f64()
}

/// Package names with advisories (most of them) and without, per ecosystem.
fn names(db: &Path, ecosystem: &str, n: usize) -> Vec<String> {
    let store = warden_store::Store::open(db).unwrap();
    let eco = ecosystem.to_owned();
    let mut with: Vec<String> = store
        .call_blocking(move |c| {
            let mut st = c.prepare(
                "SELECT DISTINCT name FROM advisory_packages WHERE ecosystem = ?1 ORDER BY name LIMIT ?2",
            )?;
            let rows = st.query_map(rusqlite::params![eco, n as i64], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .unwrap();
    with.truncate(n * 3 / 4);
    while with.len() < n {
        with.push(format!("no-advisories-{}", with.len()));
    }
    with
}

/// A manifest of `names`: a third pinned, a third ranges, a third unconstrained.
fn manifest(kind: &str, names: &[String]) -> String {
    let spec = |i: usize| match i % 3 {
        0 => ("==1.0.0", "1.0.0"),
        1 => (">=0.1", "^0.1.0"),
        _ => ("", "*"),
    };
    match kind {
        "requirements" => names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}{}\n", spec(i).0))
            .collect(),
        _ => {
            let body: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("    \"{n}\": \"{}\"", spec(i).1))
                .collect();
            format!(
                "{{\n  \"name\": \"bench\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n",
                body.join(",\n")
            )
        }
    }
}

/// `manifest::check` alone, in this process, with every record already loaded and
/// prepared (what an edit costs once the server's advisory cache is warm): p50 ms.
fn in_process(db: &Path, eco: Ecosystem, kind: Kind, text: &str) -> f64 {
    let store = warden_store::Store::open(db).unwrap();
    let manifest = warden_analysis::packages::manifest::parse(kind, text);
    let mut records: HashMap<String, Records> = HashMap::new();
    for dep in &manifest.dependencies {
        let name = eco.normalize_name(&dep.name);
        let (e, n) = (eco.as_str().to_owned(), name.clone());
        let list: Vec<Record> = store
            .call_blocking(move |c| warden_store::advisories::for_package(c, &e, &n))
            .unwrap()
            .iter()
            .map(|j| serde_json::from_str::<Record>(j).unwrap())
            .inspect(Record::prepare)
            .collect();
        records.insert(name, list.into());
    }
    let empty: Records = Vec::new().into();
    let lookup =
        |_: Ecosystem, name: &str| records.get(name).cloned().unwrap_or_else(|| empty.clone());
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            let parsed = warden_analysis::packages::manifest::parse(kind, text);
            let (findings, _) =
                warden_analysis::packages::manifest::check(text, &parsed, None, &lookup);
            std::hint::black_box(findings);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    percentile(&times, 0.5)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Latency {
    name: &'static str,
    cold_ms: f64,
    diagnostics: usize,
    edits: Vec<f64>,
}

fn serve(
    s: &mut Server,
    root: &Path,
    name: &'static str,
    file: &str,
    lang: &str,
    text: &str,
) -> Latency {
    let path = root.join(file);
    std::fs::write(&path, text).unwrap();
    let uri = file_uri(&path);
    let started = Instant::now();
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": 1, "text": text}}),
    );
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 1
    });
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    let diagnostics = p["diagnostics"].as_array().map_or(0, Vec::len);
    let lines = text.lines().count();
    let mut edits = Vec::with_capacity(edit_count());
    for n in 0..edit_count() {
        let version = n as i64 + 2;
        // Type a space at the end of the last line (a change that keeps the manifest valid).
        let line = lines - 1;
        let change = json!({"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": " "});
        let started = Instant::now();
        s.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["version"] == version
        });
        edits.push(started.elapsed().as_secs_f64() * 1000.0);
        // Drain a possible second publish for the same version.
        s.wait_for_within(
            Duration::from_millis(5),
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && p["version"] == version,
        );
    }
    edits.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Latency {
        name,
        cold_ms,
        diagnostics,
        edits,
    }
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let db = base.join("db/w.db");
    let data = dataset();
    let first = import(&db, &data);
    let again = import(&db, &data);
    let db_mb = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;

    let root = repo(&base, "bench");
    let pypi = names(&db, "PyPI", DEPENDENCIES);
    let npm = names(&db, "npm", DEPENDENCIES);
    let requirements = manifest("requirements", &pypi);
    let package_json = manifest("package", &npm);

    let pure = [
        (
            "requirements.txt",
            in_process(&db, Ecosystem::PyPI, Kind::Requirements, &requirements),
        ),
        (
            "package.json",
            in_process(&db, Ecosystem::Npm, Kind::PackageJson, &package_json),
        ),
    ];

    let mut s = Server::spawn(&db);
    s.initialize(&[&root], Value::Null);
    s.wait_for("warden/workspacesChanged", |_| true);
    let idle = rss_kb(s.pid());
    let results = [
        serve(
            &mut s,
            &root,
            "requirements.txt",
            "requirements.txt",
            "pip-requirements",
            &requirements,
        ),
        serve(
            &mut s,
            &root,
            "package.json",
            "package.json",
            "json",
            &package_json,
        ),
    ];
    let serving = rss_kb(s.pid());
    assert!(s.shutdown().success());

    std::fs::write(root.join("requirements.txt"), &requirements).unwrap();
    let mut scans: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let out = Command::new(warden_bin())
                .args(["scan", "--checks", "packages", "--format", "json"])
                .arg(root.join("requirements.txt"))
                .env("WARDEN_DB", &db)
                .output()
                .unwrap();
            assert!(out.status.code().is_some_and(|c| c <= 1));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    scans.sort_by(|a, b| a.partial_cmp(b).unwrap());

    println!("\n### OSV import: {}\n", data.display());
    println!("| run | time s | database MB |");
    println!("|---|---:|---:|");
    println!("| first import | {first:.2} | {db_mb:.1} |");
    println!("| re-import (unchanged) | {again:.2} | |");
    println!(
        "\n### {DEPENDENCIES}-dependency manifests through `warden lsp` ({} edits each)\n",
        edit_count()
    );
    println!(
        "| manifest | diagnostics | open (cold cache) ms | edit p50 ms | edit p90 ms | edit p99 ms | max ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.name,
            r.diagnostics,
            r.cold_ms,
            percentile(&r.edits, 0.5),
            percentile(&r.edits, 0.9),
            percentile(&r.edits, 0.99),
            r.edits[r.edits.len() - 1]
        );
    }
    println!("\n`manifest::check` alone (parse + check, records loaded and prepared, 50 runs):");
    for (name, p50) in pure {
        println!("- {name}: p50 {p50:.2} ms");
    }
    println!(
        "\n`warden scan` of the {DEPENDENCIES}-dependency requirements.txt (new process each time, 5 runs): median {:.1} ms",
        percentile(&scans, 0.5)
    );
    println!(
        "\nserver memory: {:.1} MB RSS after start-up, {:.1} MB RSS serving both manifests (peak {:.1} MB)",
        idle.0 as f64 / 1024.0,
        serving.0 as f64 / 1024.0,
        serving.1 as f64 / 1024.0
    );
}
