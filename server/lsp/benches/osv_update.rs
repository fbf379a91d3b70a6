//! Advisory updates and metadata checks measured against loopback servers
//! (`warden_mockllm::mirror`): a mirror holding a copy of the OSV export in
//! `../shared/data/osv` (else `fixtures/osv`) with its `all.zip` files and a
//! `modified_id.csv` per ecosystem.
//! - `warden db update` of every ecosystem into a fresh database (the first download),
//!   side by side with the floor it cannot beat: `curl` fetching the same archives plus
//!   `warden db import` of them;
//! - the same update again (nothing changed: `304`s), and an incremental update after
//!   50 records changed;
//! - a 200-dependency `requirements.txt` through the real `warden lsp`: edit latency
//!   with package metadata off and on (answers cached after the first open).
//!
//! Run with `cargo bench -p warden-lsp --bench osv_update`; prints Markdown tables.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, bench_count, file_uri, import_advisories, repo, warden_bin};
use warden_mockllm::mirror::MockMirror;

const ECOSYSTEMS: [&str; 4] = ["PyPI", "npm", "crates.io", "Go"];
const DEPENDENCIES: usize = 200;

fn dataset() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = root.join("../shared/data/osv");
    if shared.join("PyPI/all.zip").is_file() {
        shared
    } else {
        root.join("fixtures/osv")
    }
}

/// The mirror's folder: per ecosystem the archive, its records one per file, and the
/// list of `<modified>,<id>`, newest first.
fn mirror_dir(data: &Path, dir: &Path) {
    for eco in ECOSYSTEMS {
        let to = dir.join(eco);
        std::fs::create_dir_all(&to).unwrap();
        let zip = data.join(eco).join("all.zip");
        if zip.is_file() {
            std::fs::copy(&zip, to.join("all.zip")).unwrap();
            let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
            for i in 0..archive.len() {
                let mut entry = archive.by_index(i).unwrap();
                let name = entry.name().rsplit('/').next().unwrap().to_owned();
                if !name.ends_with(".json") {
                    continue;
                }
                let mut body = Vec::new();
                entry.read_to_end(&mut body).unwrap();
                std::fs::write(to.join(name), body).unwrap();
            }
        } else {
            for f in std::fs::read_dir(data.join(eco)).unwrap().flatten() {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
        write_list(&to);
    }
}

fn write_list(dir: &Path) {
    let mut rows: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let v: Value = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            Some((
                v["modified"].as_str()?.to_owned(),
                v["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.cmp(a));
    let text: String = rows.iter().map(|(m, id)| format!("{m},{id}\n")).collect();
    std::fs::write(dir.join("modified_id.csv"), text).unwrap();
}

/// `warden db update` into `db`: (seconds, report).
fn update(db: &Path, mirror: &str, args: &[&str]) -> (f64, Value) {
    let started = Instant::now();
    let out = Command::new(warden_bin())
        .args(["db", "update", "--json", "--mirror", mirror])
        .args(args)
        .env("WARDEN_DB", db)
        .env_remove("WARDEN_OFFLINE")
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, serde_json::from_slice(&out.stdout).unwrap())
}

fn sum(report: &Value, field: &str) -> u64 {
    report["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_u64().unwrap_or(0))
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The floor: `curl` downloads the archives, `warden db import` imports them.
fn curl_and_import(m: &MockMirror, tmp: &Path, n: usize) -> Option<f64> {
    if Command::new("curl").arg("--version").output().is_err() {
        return None;
    }
    let mut times = Vec::new();
    for run in 0..n {
        let dir = tmp.join(format!("curl-{run}"));
        let started = Instant::now();
        for eco in ECOSYSTEMS {
            std::fs::create_dir_all(dir.join(eco)).unwrap();
            let ok = Command::new("curl")
                .args(["-sf", "-o"])
                .arg(dir.join(eco).join("all.zip"))
                .arg(format!("{}/{eco}/all.zip", m.osv_url()))
                .status()
                .unwrap()
                .success();
            assert!(ok, "curl {eco}");
        }
        import_advisories(&tmp.join(format!("curl-{run}.db")), &dir);
        times.push(started.elapsed().as_secs_f64());
    }
    Some(median(times))
}

/// A 200-dependency requirements file (180 with recorded answers, 20 the registry does
/// not have) and the recorded answers.
fn metadata_fixture(deps: &Path) -> String {
    let dir = deps.join("PYPI");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for i in 0..DEPENDENCIES {
        let name = format!("bench-package-{i}");
        text.push_str(&format!("{name}==1.0.{}\n", i % 7));
        if i % 10 == 9 {
            continue; // unknown
        }
        let versions: Vec<Value> = (0..7)
            .map(|p| {
                json!({"versionKey": {"system": "PYPI", "name": name, "version": format!("1.0.{p}")},
                       "publishedAt": "2024-01-02T03:04:05Z", "isDefault": p == 6,
                       "isDeprecated": p == 0})
            })
            .collect();
        std::fs::write(
            dir.join(format!("{name}.json")),
            json!({"packageKey": {"system": "PYPI", "name": name}, "versions": versions})
                .to_string(),
        )
        .unwrap();
    }
    text
}

/// Edit latencies (ms, sorted) of a manifest, after its first analysis settled with
/// `settled` diagnostics.
fn edits(s: &mut Server, path: &Path, text: &str, settled: impl Fn(&Value) -> bool) -> Vec<f64> {
    let uri = file_uri(path);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "pip-requirements", "version": 1, "text": text}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && settled(p)
    });
    let line = text.lines().count() - 1;
    let mut out = Vec::new();
    for n in 0..bench_count(200) {
        let version = n as i64 + 2;
        let change = json!({"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": " "});
        let started = Instant::now();
        s.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["version"] == version
        });
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        s.wait_for_within(
            Duration::from_millis(5),
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && p["version"] == version,
        );
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runs = bench_count(30).min(3);
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let data = dataset();
    let dir = base.join("mirror");
    mirror_dir(&data, &dir);
    let deps = base.join("deps");
    let requirements = metadata_fixture(&deps);
    let m = MockMirror::start_on(&dir, &deps, 0);
    let url = m.osv_url();
    let all: Vec<&str> = ECOSYSTEMS.to_vec();

    println!(
        "\n### Advisory updates from a loopback mirror: {}\n",
        data.display()
    );
    let mut first = Vec::new();
    let mut report = Value::Null;
    for run in 0..runs {
        let (secs, r) = update(&base.join(format!("first-{run}.db")), &url, &all);
        first.push(secs);
        report = r;
    }
    let floor = curl_and_import(&m, &base, runs);
    let db = base.join("first-0.db");
    let again = median(
        (0..runs)
            .map(|_| update(&db, &url, &[]).0)
            .collect::<Vec<_>>(),
    );
    let unchanged = median(
        (0..runs)
            .map(|_| update(&db, &url, &[]).0)
            .collect::<Vec<_>>(),
    );
    // 50 changed records in PyPI, then an update; three times, other records each time.
    let pypi = dir.join("PyPI");
    let mut ids: Vec<PathBuf> = std::fs::read_dir(&pypi)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    ids.sort();
    let mut incremental = Vec::new();
    let mut fetched = 0;
    for run in 0..runs {
        for p in ids.iter().skip(run * 50).take(50) {
            let mut v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            v["modified"] = format!("2099-01-01T00:00:{:02}Z", run).into();
            std::fs::write(p, v.to_string()).unwrap();
        }
        write_list(&pypi);
        let (secs, r) = update(&db, &url, &["PyPI"]);
        incremental.push(secs);
        fetched = sum(&r, "fetched");
    }
    println!("| update | time (median of {runs}) | records | downloaded |");
    println!("|---|---:|---:|---:|");
    println!(
        "| first download, 4 ecosystems (`warden db update`) | {:.2} s | {} | {:.1} MB |",
        median(first.clone()),
        sum(&report, "records"),
        sum(&report, "bytes") as f64 / 1e6
    );
    match floor {
        Some(f) => println!(
            "| the floor: `curl` of the 4 archives + `warden db import` | {f:.2} s ({:.2}x) | | |",
            median(first) / f
        ),
        None => println!("| the floor: curl not found, not measured | | | |"),
    }
    println!("| second update (lists changed: the first incremental) | {again:.3} s | | |");
    println!("| nothing changed (`304` for every list) | {unchanged:.3} s | | |");
    println!(
        "| 50 PyPI records changed (incremental) | {:.3} s | {fetched} fetched | |",
        median(incremental)
    );

    println!(
        "\n### Edit latency of a {DEPENDENCIES}-dependency requirements.txt, metadata off and on\n"
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
    let mut rows = Vec::new();
    for on in [false, true] {
        let db = base.join(format!("meta-{on}.db"));
        import_advisories(&db, &fixtures);
        let root = repo(&base, &format!("meta-{on}"));
        let mut s = Server::spawn_with(&db, &[("WARDEN_OFFLINE", "0")]);
        s.settings = json!({
            "scan": {"onStartup": false},
            "packages": {"update": false, "metadata": on, "metadataUrl": m.deps_url()}
        });
        s.initialize(&[&root], Value::Null);
        let path = root.join("requirements.txt");
        std::fs::write(&path, &requirements).unwrap();
        // Off: nothing to report. On: once every answer arrived, the unknown packages
        // (every tenth) and the pins of deprecated 1.0.0 (every seventh, unless unknown).
        let expected = if on {
            (0..DEPENDENCIES)
                .filter(|i| i % 10 == 9 || i % 7 == 0)
                .count()
        } else {
            0
        };
        let lat = edits(&mut s, &path, &requirements, |p| {
            p["diagnostics"].as_array().map_or(0, Vec::len) == expected
        });
        rows.push((on, pct(&lat, 0.5), pct(&lat, 0.9), pct(&lat, 0.99)));
        assert!(s.shutdown().success());
    }
    println!("| metadata | edit p50 | p90 | p99 |");
    println!("|---|---:|---:|---:|");
    for (on, p50, p90, p99) in &rows {
        println!(
            "| {} | {p50:.2} ms | {p90:.2} ms | {p99:.2} ms |",
            if *on { "on (answers cached)" } else { "off" }
        );
    }
    println!(
        "\nWith metadata on, an edit takes {:.2}x the time it takes with it off (p50).",
        rows[1].1 / rows[0].1
    );
}
