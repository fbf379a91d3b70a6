//! Advisory data that keeps itself current, against a real HTTP server on loopback
//! (`warden_mockllm::mirror`, serving the fixture records in the OSV export's layout),
//! never the internet:
//! - `warden db update`: a first full download, an incremental one with a changed and
//!   a withdrawn record, `304`s, a truncated download resumed, a `500`, a slow server,
//!   a damaged archive and the size limit, each leaving the previous data intact;
//! - the server: a fresh install shows a manifest's advisories with no manual step; no
//!   data and updates off is one information diagnostic with *Download advisories now*;
//!   a failing mirror is said once, with what is kept, and retried.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use warden_mockllm::mirror::{Fault, MockMirror};

use crate::support::*;

/// A copy of the fixture records (`<Ecosystem>/<ID>.json`) served by a new mirror.
fn mirror(base: &Path) -> MockMirror {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
    let dir = base.join("mirror");
    for eco in std::fs::read_dir(&src).unwrap().flatten() {
        let to = dir.join(eco.file_name());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(eco.path()).unwrap().flatten() {
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    MockMirror::start(&dir)
}

/// `warden db update ARGS` with the database `db`: (exit code, stdout JSON, stderr).
fn update(db: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(warden_bin())
        .args(["db", "update", "--json"])
        .args(args)
        .env("WARDEN_DB", db)
        .env_remove("WARDEN_OFFLINE")
        .env_remove("WARDEN_OSV_MIRROR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eco<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ecosystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ecosystem"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

fn stats(db: &Path) -> Vec<Value> {
    let out = Command::new(warden_bin())
        .args(["db", "stats", "--json"])
        .env("WARDEN_DB", db)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn records_of(db: &Path, name: &str) -> u64 {
    stats(db)
        .iter()
        .find(|s| s["ecosystem"] == name)
        .map_or(0, |s| s["advisories"].as_u64().unwrap())
}

/// Sets a record's `modified` (and optionally `withdrawn`) in the mirror's folder.
fn touch_record(m: &MockMirror, eco: &str, id: &str, modified: &str, withdrawn: bool) {
    let path = m.dir().join(eco).join(format!("{id}.json"));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["modified"] = modified.into();
    if withdrawn {
        v["withdrawn"] = modified.into();
    }
    std::fs::write(&path, v.to_string()).unwrap();
}

fn requests_to(m: &MockMirror, suffix: &str) -> Vec<warden_mockllm::mirror::Request> {
    m.requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

#[test]
fn db_update_downloads_then_fetches_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mirror(tmp.path());
    let db = tmp.path().join("db/w.db");
    let url = m.osv_url();

    let (code, r, err) = update(&db, &["PyPI", "npm", "--mirror", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(eco(&r, "PyPI")["mode"], "full");
    assert_eq!(eco(&r, "PyPI")["added"], 5);
    assert_eq!(eco(&r, "npm")["added"], 7);
    assert_eq!(records_of(&db, "PyPI"), 5);
    let s = stats(&db);
    let pypi = s.iter().find(|s| s["ecosystem"] == "PyPI").unwrap();
    assert_eq!(
        pypi["mirror"],
        format!("{}/osv", m.base),
        "stored without the token"
    );
    assert!(pypi["currentAsOf"].as_str().is_some(), "{pypi:#}");

    // Nothing changed: the list is asked for with its validator and answered `304`.
    let (code, r, err) = update(&db, &["--mirror", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(eco(&r, "PyPI")["mode"], "incremental", "{r:#}");
    let (code, r, _) = update(&db, &["--mirror", &url]);
    assert_eq!(code, 0);
    assert_eq!(eco(&r, "PyPI")["mode"], "unchanged", "{r:#}");
    assert_eq!(eco(&r, "npm")["mode"], "unchanged", "{r:#}");
    let lists = requests_to(&m, "PyPI/modified_id.csv");
    assert_eq!(lists.last().unwrap().status, 304);
    assert!(
        lists
            .last()
            .unwrap()
            .headers
            .iter()
            .any(|(k, _)| k == "if-none-match")
    );

    // A changed record and a withdrawn one: only they are fetched.
    touch_record(&m, "PyPI", "PYSEC-2023-74", "2030-01-01T00:00:00Z", false);
    touch_record(&m, "PyPI", "MAL-2023-1941", "2030-01-02T00:00:00Z", true);
    let before = m.requests().len();
    let (code, r, err) = update(&db, &["PyPI", "--mirror", &url]);
    assert_eq!(code, 0, "{err}");
    let p = eco(&r, "PyPI");
    assert_eq!(p["mode"], "incremental", "{r:#}");
    assert_eq!(p["updated"], 1, "{r:#}");
    assert_eq!(p["withdrawn"], 1, "{r:#}");
    assert_eq!(p["records"], 4, "{r:#}");
    let fetched: Vec<String> = m.requests()[before..]
        .iter()
        .filter(|r| r.path.ends_with(".json"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    let mut fetched = fetched;
    fetched.sort();
    // Only the two changed: the record modified at the cursor (the newest applied
    // before) is stored as listed and not fetched again.
    assert_eq!(fetched, ["MAL-2023-1941.json", "PYSEC-2023-74.json"]);
    assert!(
        requests_to(&m, "PyPI/all.zip").len() == 1,
        "no second archive"
    );
    assert_eq!(records_of(&db, "PyPI"), 4);

    // A listed record the mirror does not serve yet (a 404 while it syncs) is asked for
    // again by the next update, even once newer records were applied.
    let late = json!({"id": "PYSEC-9999-1", "modified": "2031-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "late-package"}, "versions": ["1.0"]}]});
    std::fs::write(m.dir().join("PyPI/PYSEC-9999-1.json"), late.to_string()).unwrap();
    touch_record(&m, "PyPI", "PYSEC-2024-57", "2032-01-01T00:00:00Z", false);
    m.fault(Fault {
        path_contains: "PYSEC-9999-1.json".into(),
        status: Some(404),
        times: 1,
        ..Fault::default()
    });
    let (code, r, err) = update(&db, &["PyPI", "--mirror", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(eco(&r, "PyPI")["missing"], 1, "{r:#}");
    assert_eq!(records_of(&db, "PyPI"), 4);
    let (code, r, err) = update(&db, &["PyPI", "--mirror", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(eco(&r, "PyPI")["added"], 1, "{r:#}");
    assert_eq!(records_of(&db, "PyPI"), 5);

    // Another mirror starts over with its archive.
    let (code, r, _) = update(&db, &["PyPI", "--mirror", &format!("{url}/")]);
    assert_eq!(code, 0);
    assert_ne!(
        eco(&r, "PyPI")["mode"],
        "full",
        "a trailing slash is the same mirror"
    );

    // The span holds the counts.
    let out = Command::new(warden_bin())
        .args(["traces", "--kind", "index", "--json"])
        .env("WARDEN_DB", &db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("osv.update"), "{text}");
    assert!(
        !text.contains(&m.token),
        "the mirror's token stays out of traces: {text}"
    );
}

#[test]
fn failed_downloads_keep_the_previous_data_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mirror(tmp.path());
    let db = tmp.path().join("db/w.db");
    let url = m.osv_url();

    // Cut short: nothing stored; the next attempt resumes where it stopped.
    m.fault(Fault {
        path_contains: "npm/all.zip".into(),
        truncate_at: Some(1000),
        times: 1,
        ..Fault::default()
    });
    let (code, r, _) = update(&db, &["npm", "--mirror", &url]);
    assert_eq!(code, 1, "{r:#}");
    let e = eco(&r, "npm");
    assert_eq!(e["mode"], "failed");
    assert!(e["error"].as_str().unwrap().contains("all.zip"), "{e:#}");
    assert_eq!(records_of(&db, "npm"), 0);
    let (code, r, err) = update(&db, &["npm", "--mirror", &url]);
    assert_eq!(code, 0, "{err} {r:#}");
    assert_eq!(eco(&r, "npm")["added"], 7);
    let zips = requests_to(&m, "npm/all.zip");
    let resumed = zips.last().unwrap();
    assert_eq!(resumed.status, 206, "{zips:#?}");
    assert!(
        resumed
            .headers
            .iter()
            .any(|(k, v)| k == "range" && v == "bytes=1000-"),
        "{resumed:#?}"
    );

    // A 500 on the list: the data is kept, the exit code says so.
    touch_record(&m, "npm", "MAL-2025-46969", "2031-01-01T00:00:00Z", true);
    m.fault(Fault {
        path_contains: "npm/modified_id.csv".into(),
        status: Some(500),
        times: 1,
        ..Fault::default()
    });
    let (code, r, _) = update(&db, &["npm", "--mirror", &url]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "npm")["error"].as_str().unwrap().contains("500"),
        "{r:#}"
    );
    assert_eq!(records_of(&db, "npm"), 7);

    // A record that fails mid-update: none of the update is stored.
    m.fault(Fault {
        path_contains: "npm/MAL-2025-46969.json".into(),
        status: Some(503),
        times: 1,
        ..Fault::default()
    });
    let (code, _, _) = update(&db, &["npm", "--mirror", &url]);
    assert_eq!(code, 1);
    assert_eq!(
        records_of(&db, "npm"),
        7,
        "the withdrawal waits for a whole update"
    );

    // A slow server: given up after the timeout, data kept.
    m.fault(Fault {
        path_contains: "npm/modified_id.csv".into(),
        delay_ms: 5000,
        times: 1,
        ..Fault::default()
    });
    let (code, r, _) = update(&db, &["npm", "--mirror", &url, "--timeout", "1"]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "npm")["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{r:#}"
    );
    assert_eq!(records_of(&db, "npm"), 7);

    // And then it goes through.
    let (code, r, _) = update(&db, &["npm", "--mirror", &url]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(eco(&r, "npm")["withdrawn"], 1);
    assert_eq!(records_of(&db, "npm"), 6);
}

#[test]
fn damaged_and_oversized_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let m = mirror(tmp.path());
    let db = tmp.path().join("db/w.db");
    let url = m.osv_url();
    // Over the size limit (0 MiB): refused.
    let (code, r, _) = update(&db, &["Go", "--mirror", &url, "--max-mb", "0"]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "Go")["error"].as_str().unwrap().contains("limit"),
        "{r:#}"
    );
    // An archive that is not a zip: refused before anything is stored.
    m.fault(Fault {
        path_contains: "Go/all.zip".into(),
        body: Some("<html>not a zip</html>".into()),
        times: 1,
        ..Fault::default()
    });
    let (code, r, _) = update(&db, &["Go", "--mirror", &url]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "Go")["error"]
            .as_str()
            .unwrap()
            .contains("not a readable zip"),
        "{r:#}"
    );
    assert_eq!(records_of(&db, "Go"), 0);
    // A bad record inside a good archive is counted; the rest are imported.
    std::fs::write(m.dir().join("Go").join("not-a-record.json"), "{").unwrap();
    let (code, r, _) = update(&db, &["Go", "--mirror", &url]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(eco(&r, "Go")["invalid"], 1, "{r:#}");
    assert_eq!(records_of(&db, "Go"), 2);
    // No such mirror: a clear error, nothing stored.
    let (code, r, _) = update(&db, &["crates.io", "--mirror", &format!("{url}/missing")]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "crates.io")["error"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{r:#}"
    );
    // A wrong token is refused by the server.
    let wrong = url.replacen(&m.token, "wrong", 1);
    let (code, r, _) = update(&db, &["crates.io", "--mirror", &wrong]);
    assert_eq!(code, 1);
    assert!(
        eco(&r, "crates.io")["error"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{r:#}"
    );
    // Offline: nothing at all.
    let out = Command::new(warden_bin())
        .args(["db", "update", "PyPI", "--mirror", &url])
        .env("WARDEN_DB", &db)
        .env("WARDEN_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARDEN_OFFLINE"));
}

/// A server whose settings point at the mirror, with downloads allowed.
fn online(db: &Path, settings: Value) -> Server {
    let mut s = Server::spawn_with(
        db,
        &[
            ("WARDEN_OFFLINE", "0"),
            ("WARDEN_DEBUG_OSV_RETRY_MS", "500"),
        ],
    );
    s.settings = settings;
    s
}

fn open(s: &mut Server, path: &Path, lang: &str) -> String {
    let uri = file_uri(path);
    let text = std::fs::read_to_string(path).unwrap();
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": 1, "text": text}}),
    );
    uri
}

fn codes(p: &Value) -> Vec<String> {
    let mut c: Vec<String> = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_owned())
        .collect();
    c.sort();
    c
}

#[test]
fn a_fresh_install_shows_a_manifests_advisories_with_no_manual_step() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let m = mirror(&base);
    let root = repo(&base, "app");
    let req = root.join("requirements.txt");
    std::fs::write(&req, "requests==2.30.0\npilllow\n").unwrap();
    let mut s = online(
        &base.join("db/w.db"),
        json!({"scan": {"onStartup": false}, "packages": {"osvMirror": m.osv_url()}}),
    );
    s.initialize(&[&root], Value::Null);
    let uri = open(&mut s, &req, "pip-requirements");
    let started = s.wait_for("warden/traceStarted", |p| p["name"] == "osv.update");
    let span = s.wait_for("warden/traceFinished", |p| p["id"] == started["id"]);
    assert_eq!(span["outcome"], "ok", "{span:#}");
    assert_eq!(
        span["output"]["ecosystems"][0]["ecosystem"], "PyPI",
        "{span:#}"
    );
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && codes(p).contains(&"MAL-2023-1941".to_owned())
    });
    assert_eq!(codes(&p), ["MAL-2023-1941", "PYSEC-2023-74"], "{p:#}");
    // Only the ecosystem of the manifest seen was downloaded.
    assert!(requests_to(&m, "npm/all.zip").is_empty());
    assert!(s.shutdown().success());
}

#[test]
fn no_data_is_one_information_diagnostic_with_a_download_action() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let m = mirror(&base);
    let root = repo(&base, "app");
    let req = root.join("requirements.txt");
    std::fs::write(&req, "requests==2.30.0\npilllow\n").unwrap();
    let mut s = online(
        &base.join("db/w.db"),
        json!({"scan": {"onStartup": false},
               "packages": {"osvMirror": m.osv_url(), "update": false}}),
    );
    s.initialize(&[&root], Value::Null);
    let uri = open(&mut s, &req, "pip-requirements");
    let p = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    let d = p["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{p:#}");
    assert_eq!(d[0]["code"], "advisories-missing");
    assert_eq!(d[0]["severity"], 3, "information");
    assert_eq!(d[0]["range"]["start"]["line"], 0);
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("No PyPI advisory data")
    );
    let actions = s
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": d[0]["range"], "context": {"diagnostics": [d[0]]}}),
        )
        .unwrap();
    let download = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Download PyPI advisories now")
        .unwrap_or_else(|| panic!("{actions:#}"))
        .clone();
    let cmd = &download["command"];
    let r = s
        .command(
            cmd["command"].as_str().unwrap(),
            cmd["arguments"][0].clone(),
        )
        .unwrap();
    assert!(r["progressToken"].as_str().is_some(), "{r:#}");
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && codes(p).contains(&"MAL-2023-1941".to_owned())
    });
    assert_eq!(codes(&p), ["MAL-2023-1941", "PYSEC-2023-74"], "{p:#}");
    let shown = s.wait_for("window/showMessage", |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("advisories updated"))
    });
    assert_eq!(shown["type"], 3);
    assert!(s.shutdown().success());
}

#[test]
fn a_failing_mirror_is_said_once_and_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let m = mirror(&base);
    m.fault(Fault {
        path_contains: "PyPI/all.zip".into(),
        status: Some(500),
        times: 3,
        ..Fault::default()
    });
    let root = repo(&base, "app");
    let req = root.join("requirements.txt");
    std::fs::write(&req, "pilllow\n").unwrap();
    let mut s = online(
        &base.join("db/w.db"),
        json!({"scan": {"onStartup": false}, "packages": {"osvMirror": m.osv_url()}}),
    );
    s.initialize(&[&root], Value::Null);
    let uri = open(&mut s, &req, "pip-requirements");
    let shown = s.wait_for("window/showMessage", |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot download PyPI advisories"))
    });
    let text = shown["message"].as_str().unwrap();
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(text.contains("no PyPI data yet"), "{text}");
    assert!(
        !text.contains(&m.token),
        "the mirror's token is not shown: {text}"
    );
    // Retried with backoff (0.5 s, 1 s, 2 s here) until the mirror answers; said once.
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && codes(p).contains(&"MAL-2023-1941".to_owned())
    });
    assert_eq!(codes(&p), ["MAL-2023-1941"]);
    assert_eq!(requests_to(&m, "PyPI/all.zip").len(), 4);
    let again: Vec<Value> = s
        .take("window/showMessage", Duration::from_millis(200))
        .into_iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot download"))
        })
        .collect();
    assert!(again.is_empty(), "{again:#?}");
    assert!(s.shutdown().success());
}
