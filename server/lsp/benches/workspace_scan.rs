//! Large workspaces through the real `warden lsp` binary: the start-up scan of a folder
//! of real code (by default the cargo registry's crate sources, about 11,600 files):
//! - first scan (empty database): seconds and MB/s with all checks, and resident
//!   memory when the scan ends and once the server is idle; then the search index's
//!   update that follows the scan (seconds after the scan's end, resident memory);
//!   `WARDEN_BENCH_NO_INDEX=1` for builds without the index, and `WARDEN_BENCH_BIN`
//!   runs another build side by side;
//! - the same with edits: latency (didChange to publishDiagnostics, p50/p99) on a
//!   10,000-line Python file edited every 20 ms while the scan runs;
//! - second start-up of the same workspace (same database, nothing changed): seconds;
//! - third start-up after touching 1% of the files;
//! - MB/s per check with `warden scan --checks C` (the same scanner, headless).
//!
//! Run with `cargo bench -p warden-lsp --bench workspace_scan`; `WARDEN_BENCH_WORKSPACE`
//! names another folder. Prints Markdown tables.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, bench_count, file_uri, proc_status, python_module, warden_bin};

/// The cargo registry's unpacked crate sources (the largest index folder).
fn registry_sources() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .max_by_key(|p| walk(p, &mut |_| {}))
}

/// Calls `f` on each regular file under `dir` (symbolic links not followed); returns
/// how many there were.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> usize {
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            n += walk(&e.path(), f);
        } else if t.is_file() {
            f(&e.path());
            n += 1;
        }
    }
    n
}

fn rss_mb(pid: u32) -> f64 {
    proc_status(pid, "VmRSS:") as f64 / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn is_scan_end(p: &Value) -> bool {
    p["token"]
        .as_str()
        .is_some_and(|t| t.starts_with("warden/scan/"))
        && p["value"]["kind"] == "end"
}

/// The end of the search index's update, which follows the scan (not in builds before
/// the index: `WARDEN_BENCH_NO_INDEX=1` for those).
fn is_index_end(p: &Value) -> bool {
    p["token"]
        .as_str()
        .is_some_and(|t| t.starts_with("warden/index/"))
        && p["value"]["kind"] == "end"
}

struct Startup {
    secs: f64,
    end_message: String,
    rss_end: f64,
    /// Seconds from the scan's end to the index's, and the RSS then.
    index_secs: f64,
    rss_index: f64,
    index_message: String,
    rss_idle: f64,
    edits_ms: Vec<f64>,
}

/// Starts the server on `root` with the start-up scan on and waits for the scan's end;
/// with `edit`, a 10,000-line Python document outside the workspace is opened and, once
/// its diagnostics are in, edited every 20 ms until the scan ends.
fn startup(db: &Path, root: &Path, scratch: &Path, edit: bool) -> Startup {
    let mut s = Server::spawn(db);
    let settings = json!({"scan": {"onStartup": true}});
    s.settings = settings.clone();
    let doc = scratch.join("edited.py");
    let uri = file_uri(&doc);
    let started = Instant::now();
    s.initialize(&[root], settings);
    let mut edits_ms = Vec::new();
    let end = if edit {
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": python_module(10_000)}}),
        );
        s.wait_for_within(
            Duration::from_secs(60),
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && p["version"] == 1,
        )
        .expect("diagnostics of the opened document");
        let mut version = 1;
        loop {
            if let Some(end) =
                s.wait_for_within(Duration::from_millis(20), "$/progress", is_scan_end)
            {
                break end;
            }
            version += 1;
            let line = (version as usize * 7919) % 9_980 + 3;
            let sent = Instant::now();
            s.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [
                    {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "#"}
                ]}),
            );
            s.wait_for_within(
                Duration::from_secs(60),
                "textDocument/publishDiagnostics",
                |p| p["uri"] == uri && p["version"] == version,
            )
            .expect("diagnostics of the edit");
            edits_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        }
    } else {
        s.wait_for_within(Duration::from_secs(600), "$/progress", is_scan_end)
            .expect("the scan ends")
    };
    let secs = started.elapsed().as_secs_f64();
    let rss_end = rss_mb(s.pid());
    let (index_secs, rss_index, index_message) =
        if std::env::var_os("WARDEN_BENCH_NO_INDEX").is_some() {
            (f64::NAN, f64::NAN, String::new())
        } else {
            let end = s
                .wait_for_within(Duration::from_secs(900), "$/progress", is_index_end)
                .expect("the index update ends");
            (
                started.elapsed().as_secs_f64() - secs,
                rss_mb(s.pid()),
                end["value"]["message"].as_str().unwrap_or("").to_owned(),
            )
        };
    if edit {
        s.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    // Idle: the memory trims after scans and closes have run.
    std::thread::sleep(Duration::from_secs(5));
    let rss_idle = rss_mb(s.pid());
    eprintln!(
        "idle: {:.1} MB anonymous, {:.1} MB file-backed",
        proc_status(s.pid(), "RssAnon:") as f64 / 1024.0,
        proc_status(s.pid(), "RssFile:") as f64 / 1024.0
    );
    let end_message = end["value"]["message"].as_str().unwrap_or("").to_owned();
    s.shutdown();
    edits_ms.sort_by(f64::total_cmp);
    Startup {
        secs,
        end_message,
        rss_end,
        index_secs,
        rss_index,
        index_message,
        rss_idle,
        edits_ms,
    }
}

fn main() {
    let root = std::env::var_os("WARDEN_BENCH_WORKSPACE")
        .map(PathBuf::from)
        .or_else(registry_sources)
        .expect("no workspace: set WARDEN_BENCH_WORKSPACE or build once (cargo registry)");
    let root = std::fs::canonicalize(root).unwrap();
    // A copy, so the third start-up can touch files without changing the original.
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("ws");
    // A smoke run (CI, debug build) scans 20 of the folder's subfolders.
    let sources: Vec<PathBuf> = if std::env::var_os("WARDEN_BENCH_SMOKE").is_some() {
        std::fs::create_dir_all(&work).unwrap();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs.truncate(20);
        dirs
    } else {
        vec![root.clone()]
    };
    for source in &sources {
        let dest = if sources.len() == 1 {
            work.clone()
        } else {
            work.join(source.file_name().unwrap())
        };
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(source)
            .arg(&dest)
            .status()
            .unwrap();
        assert!(status.success(), "copying the workspace");
    }
    // Files changed within 2 s of a scan's start are read again by the next scan.
    std::thread::sleep(Duration::from_secs(2));
    let mut bytes = 0u64;
    let files = walk(&work, &mut |p| {
        bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    });
    println!(
        "workspace: {} ({files} files, {:.1} MB)\n",
        root.display(),
        bytes as f64 / 1e6
    );

    let db = tmp.path().join("w.db");

    let rounds = bench_count(30).min(3);
    let first = startup(&db, &work, tmp.path(), false);
    let edited_db = tmp.path().join("edited.db");
    let edited = startup(&edited_db, &work, tmp.path(), true);
    let second: Vec<Startup> = (0..rounds)
        .map(|_| startup(&db, &work, tmp.path(), false))
        .collect();
    // Touch 1% of the files (a new mtime, the same contents) and start again.
    let mut i = 0usize;
    walk(&work, &mut |p| {
        i += 1;
        if i.is_multiple_of(100) {
            let f = std::fs::File::options().append(true).open(p).unwrap();
            f.set_modified(std::time::SystemTime::now()).unwrap();
        }
    });
    let touched = startup(&db, &work, tmp.path(), false);
    // MB/s of what the scan read (binary and oversized files are skipped).
    let mb: f64 = first
        .end_message
        .split_once(" files (")
        .and_then(|(_, rest)| rest.split_once(" MB)"))
        .and_then(|(n, _)| n.parse().ok())
        .expect("the scan's end message gives MB");

    println!(
        "| start-up | scan s | MB/s | RSS at scan end MB | index s (after the scan) | RSS at index end MB | RSS idle MB | edits during scan | edit p50 ms | edit p99 ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, r: &Startup| {
        println!(
            "| {name} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {} | {:.2} | {:.2} |",
            r.secs,
            mb / r.secs,
            r.rss_end,
            r.index_secs,
            r.rss_index,
            r.rss_idle,
            r.edits_ms.len(),
            percentile(&r.edits_ms, 0.5),
            percentile(&r.edits_ms, 0.99),
        )
    };
    row("first (empty database)", &first);
    row("first, editing meanwhile", &edited);
    for (n, r) in second.iter().enumerate() {
        row(&format!("second, run {}", n + 1), r);
    }
    row("after touching 1% of the files", &touched);
    println!("\nfirst scan: {}", first.end_message);
    println!("second scan: {}", second[0].end_message);
    println!("touched: {}\n", touched.end_message);
    println!("first index: {}", first.index_message);
    println!("second index: {}", second[0].index_message);

    println!("| `warden scan --checks` | s | MB/s |");
    println!("|---|---:|---:|");
    for checks in [
        "secrets",
        "shell",
        "syntax",
        "packages",
        "secrets,shell,syntax,packages",
    ] {
        let started = Instant::now();
        let out = std::process::Command::new(warden_bin())
            .args([
                "scan",
                "--fail-on",
                "never",
                "--format",
                "json",
                "--checks",
                checks,
            ])
            .arg(&work)
            .env("WARDEN_DB", &db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let secs = started.elapsed().as_secs_f64();
        println!("| {checks} | {secs:.2} | {:.1} |", mb / secs);
    }
}
