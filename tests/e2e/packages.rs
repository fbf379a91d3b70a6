//! Package checks end to end on the bundled fixture projects: every manifest format and
//! lockfile, an import of a typosquat, the severities and advisory ids at the right
//! lines, hover, the upgrade edit (whose result the database no longer flags), the
//! remove action, an unreadable lockfile, and `packages.osvPaths` imported and
//! re-imported when its files change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// The fixture workspaces as git repositories under `base/ws`, and a database beside
/// them holding the fixture advisories.
fn fixtures(base: &Path) -> (PathBuf, PathBuf) {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ws = base.join("ws");
    let out = std::process::Command::new("bash")
        .arg(repo_root.join("scripts/fixtures.sh"))
        .arg(&ws)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = base.join("db/w.db");
    import_advisories(&db, &repo_root.join("fixtures/osv"));
    (std::fs::canonicalize(ws).unwrap(), db)
}

fn open_file(s: &mut Server, path: &Path, lang: &str) -> (String, String) {
    let uri = file_uri(path);
    let text = std::fs::read_to_string(path).unwrap();
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": 1, "text": text}}),
    );
    (uri, text)
}

fn diagnostics(s: &mut Server, uri: &str, version: i64) -> Vec<Value> {
    let mut d = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == version
    })["diagnostics"]
        .as_array()
        .unwrap()
        .clone();
    // A re-publish after the incremental re-parse may refine it.
    while let Some(p) = s.wait_for_within(
        Duration::from_millis(300),
        "textDocument/publishDiagnostics",
        |p| p["uri"] == uri && p["version"] == version,
    ) {
        d = p["diagnostics"].as_array().unwrap().clone();
    }
    d
}

/// `(line, code, severity)` of each diagnostic.
fn summary(d: &[Value]) -> Vec<(u64, String, i64)> {
    d.iter()
        .map(|d| {
            (
                d["range"]["start"]["line"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_owned(),
                d["severity"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn line_of(d: &[Value], code: &str) -> Value {
    d.iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {d:#?}"))
        .clone()
}

/// Byte offset of an LSP position in ASCII text.
fn offset(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap() as usize;
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    start + pos["character"].as_u64().unwrap() as usize
}

/// The text after applying a code action's single-document edit.
fn apply(text: &str, action: &Value) -> String {
    let change = &action["edit"]["documentChanges"][0];
    let mut edits = change["edits"].as_array().unwrap().clone();
    edits.sort_by_key(|e| std::cmp::Reverse(offset(text, &e["range"]["start"])));
    let mut out = text.to_owned();
    for e in edits {
        let (s, t) = (
            offset(text, &e["range"]["start"]),
            offset(text, &e["range"]["end"]),
        );
        out.replace_range(s..t, e["newText"].as_str().unwrap());
    }
    out
}

fn actions(s: &mut Server, uri: &str, d: &Value) -> Vec<Value> {
    s.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}),
    )
    .unwrap()
    .as_array()
    .cloned()
    .unwrap_or_default()
}

fn action(list: &[Value], prefix: &str) -> Value {
    list.iter()
        .find(|a| a["title"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no action {prefix:?} in {list:#?}"))
        .clone()
}

/// Applies the upgrade action for `code`, sends the new text, and returns the new
/// diagnostics and text.
fn upgrade(s: &mut Server, uri: &str, text: &str, code: &str, title: &str) -> (Vec<Value>, String) {
    let d = diagnostics_now(s, uri);
    let list = actions(s, uri, &line_of(&d, code));
    let up = action(&list, title);
    assert_eq!(
        up["edit"]["documentChanges"][0]["textDocument"]["version"],
        1
    );
    let new = apply(text, &up);
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": new}]}),
    );
    (diagnostics(s, uri, 2), new)
}

/// A file to open (folder, path, languageId) and its diagnostics (line, code, severity).
type Expectation<'a> = (&'a Path, &'a str, &'a str, &'a [(u64, &'a str, i64)]);

#[test]
fn fixture_projects_show_each_issue_and_upgrades_are_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, db) = fixtures(tmp.path());
    let (alpha, beta, gamma) = (ws.join("alpha"), ws.join("beta"), ws.join("gamma"));
    let mut s = Server::spawn(&db);
    s.initialize(&[&alpha, &beta, &gamma], Value::Null);
    s.wait_for("warden/workspacesChanged", |_| true);

    // Each fixture manifest (and a script importing a typosquat): (line, code, severity).
    let expect: [Expectation; 6] = [
        (
            &alpha,
            "requirements.txt",
            "pip-requirements",
            &[(0, "PYSEC-2023-74", 2), (1, "MAL-2023-1941", 1)],
        ),
        (
            &beta,
            "package.json",
            "json",
            &[
                (6, "MAL-2025-46969", 1),
                (7, "GHSA-29mw-wpgm-hmr9", 2),
                (10, "MAL-2025-46974", 1),
            ],
        ),
        (
            &gamma,
            "Cargo.toml",
            "toml",
            &[(6, "RUSTSEC-2020-0071", 2), (7, "RUSTSEC-2021-0003", 2)],
        ),
        (&gamma, "go.mod", "go.mod", &[(4, "GO-2023-1571", 2)]),
        (
            &gamma,
            "tools/pyproject.toml",
            "toml",
            &[(5, "PYSEC-2023-74", 2), (9, "PYSEC-2024-57", 2)],
        ),
        (
            &alpha,
            "scripts/4.00_train.py",
            "python",
            &[(3, "MAL-2023-2300", 1)],
        ),
    ];
    let mut opened = Vec::new();
    for (root, file, lang, want) in expect {
        let (uri, text) = open_file(&mut s, &root.join(file), lang);
        let d = diagnostics(&mut s, &uri, 1);
        let want: Vec<(u64, String, i64)> = want
            .iter()
            .map(|&(l, c, sev)| (l, c.to_owned(), sev))
            .collect();
        assert_eq!(summary(&d), want, "{file}");
        opened.push((uri, text, d));
    }
    let [
        (req, req_text, _),
        (pkg, pkg_text, d),
        (cargo, cargo_text, _),
        (gomod, go_text, _),
        _,
        (_, _, train),
    ] = opened.try_into().unwrap();
    let lodash = line_of(&d, "GHSA-29mw-wpgm-hmr9");
    let message = lodash["message"].as_str().unwrap();
    assert!(
        message.contains("lodash 4.17.15") && message.contains("locked in package-lock.json"),
        "{message}"
    );
    let related = lodash["relatedInformation"].as_array().unwrap();
    assert_eq!(related.len(), 3, "one entry per advisory: {related:#?}");
    assert!(related.iter().any(|r| {
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("GHSA-35jh-r3h4-6jhm (CVE-2021-23337)")
    }));
    let debug = line_of(&d, "MAL-2025-46974");
    assert!(
        debug["message"]
            .as_str()
            .unwrap()
            .contains("mocha brings in debug 4.4.2 (via mocha → debug"),
        "{debug:#?}"
    );

    assert_eq!(
        train[0]["range"]["start"]["character"], 7,
        "on the module name"
    );

    // Hover lists every advisory with affected and fixed versions and links.
    let hover = s
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": pkg}, "position": {"line": 7, "character": 8}}),
        )
        .unwrap();
    let md = hover["contents"]["value"].as_str().unwrap();
    for want in [
        "GHSA-35jh-r3h4-6jhm",
        "GHSA-p6mc-m468-83gw",
        "affected: < 4.17.21",
        "fixed: 4.17.21",
        "- <https://",
        "judged at `4.17.15`",
    ] {
        assert!(md.contains(want), "{want:?} in hover:\n{md}");
    }
    let none = s
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": pkg}, "position": {"line": 1, "character": 4}}),
        )
        .unwrap();
    assert!(none.is_null(), "{none}");

    // Upgrades keep the operator style and leave nothing the database flags.
    let (after, new) = upgrade(
        &mut s,
        &pkg,
        &pkg_text,
        "GHSA-29mw-wpgm-hmr9",
        "Upgrade lodash to 4.17.21",
    );
    assert!(new.contains("\"lodash\": \"^4.17.21\""), "{new}");
    assert!(
        !after
            .iter()
            .any(|d| d["message"].as_str().unwrap().contains("lodash")),
        "{after:#?}"
    );
    let (after, new) = upgrade(
        &mut s,
        &req,
        &req_text,
        "PYSEC-2023-74",
        "Upgrade requests to 2.31.0",
    );
    assert!(new.starts_with("requests==2.31.0\n"), "{new}");
    assert_eq!(summary(&after), [(1, "MAL-2023-1941".into(), 1)]);
    let (after, new) = upgrade(
        &mut s,
        &cargo,
        &cargo_text,
        "RUSTSEC-2020-0071",
        "Upgrade time to 0.2.23",
    );
    assert!(new.contains("time = \"0.2.23\""), "{new}");
    assert_eq!(summary(&after), [(7, "RUSTSEC-2021-0003".into(), 2)]);
    let (after, new) = upgrade(
        &mut s,
        &gomod,
        &go_text,
        "GO-2023-1571",
        "Upgrade golang.org/x/net to 0.7.0",
    );
    assert!(new.contains("require golang.org/x/net v0.7.0"), "{new}");
    assert!(after.is_empty(), "{after:#?}");

    // Removing a malicious dependency keeps the manifest valid.
    let pkg_now = s
        .request("warden/debug/document", json!({"uri": pkg}))
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = diagnostics_now(&mut s, &pkg);
    let remove = action(
        &actions(&mut s, &pkg, &line_of(&d, "MAL-2025-46969")),
        "Remove dependency chalk",
    );
    let removed = apply(&pkg_now, &remove);
    let json: Value = serde_json::from_str(&removed).expect("still JSON");
    assert!(json["dependencies"].get("chalk").is_none());
    assert_eq!(json["dependencies"]["lodash"], "^4.17.21");
    assert!(s.shutdown().success());
}

/// The diagnostics the server holds for a document now (from `warden/findings`, as
/// LSP diagnostics would carry them: range, code, severity).
fn diagnostics_now(s: &mut Server, uri: &str) -> Vec<Value> {
    let found = s
        .request("warden/findings", json!({"kind": "package"}))
        .unwrap();
    found["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["uri"] == uri)
        .map(|f| {
            json!({
                "range": f["range"],
                "code": f["rule"],
                "severity": match f["severity"].as_str() { Some("error") => 1, Some("warning") => 2, _ => 3 },
                "message": f["message"],
            })
        })
        .collect()
}

#[test]
fn unreadable_lockfile_is_reported_and_ranges_are_judged() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, db) = fixtures(tmp.path());
    let beta = ws.join("beta");
    std::fs::write(beta.join("package-lock.json"), "{ not json").unwrap();
    let mut s = Server::spawn(&db);
    s.initialize(&[&beta], Value::Null);
    s.wait_for("warden/workspacesChanged", |_| true);
    let (pkg, _) = open_file(&mut s, &beta.join("package.json"), "json");
    let d = diagnostics(&mut s, &pkg, 1);
    assert_eq!(
        summary(&d),
        [
            (0, "lockfile-unreadable".into(), 3),
            (6, "MAL-2025-46969".into(), 1),
            (7, "GHSA-29mw-wpgm-hmr9".into(), 3),
        ],
        "{d:#?}"
    );
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("package-lock.json cannot be used (not valid JSON")
    );
    assert!(s.shutdown().success());
}

#[test]
fn osv_paths_are_imported_and_reimported_when_they_change() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = repo(&base, "app");
    let osv = base.join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv/PyPI");
    std::fs::copy(
        fixtures.join("PYSEC-2023-74.json"),
        osv.join("PYSEC-2023-74.json"),
    )
    .unwrap();
    let mut s = Server::spawn(&base.join("db/w.db"));
    s.settings = json!({
        "scan": {"onStartup": false},
        "packages": {"osvPaths": [osv.display().to_string()], "osvPollSeconds": 1}
    });
    s.initialize(&[&root], Value::Null);
    let started = s.wait_for("warden/traceStarted", |p| p["name"] == "osv.import");
    assert_eq!(started["kind"], "index");
    let span = s.wait_for("warden/traceFinished", |p| p["id"] == started["id"]);
    assert_eq!(span["outcome"], "ok", "{span:#}");
    assert_eq!(
        span["output"]["byEcosystem"]["PyPI"]["added"], 1,
        "{span:#}"
    );
    let path = root.join("requirements.txt");
    std::fs::write(&path, "requests==2.30.0\npilllow\n").unwrap();
    let (uri, _) = open_file(&mut s, &path, "pip-requirements");
    let d = diagnostics(&mut s, &uri, 1);
    assert_eq!(summary(&d), [(0, "PYSEC-2023-74".into(), 2)]);
    // A new record in the folder is picked up by the poll, and open documents re-checked.
    std::fs::copy(
        fixtures.join("MAL-2023-1941.json"),
        osv.join("MAL-2023-1941.json"),
    )
    .unwrap();
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["diagnostics"].as_array().is_some_and(|d| d.len() == 2)
    });
    assert_eq!(
        summary(p["diagnostics"].as_array().unwrap()),
        [
            (0, "PYSEC-2023-74".into(), 2),
            (1, "MAL-2023-1941".into(), 1)
        ]
    );
    assert!(s.shutdown().success());
}

#[test]
fn warden_scan_reports_package_findings_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, db) = fixtures(tmp.path());
    let scan = |format: &str| {
        let out = std::process::Command::new(warden_bin())
            .args([
                "scan", "--format", format, "--checks", "packages", "alpha", "beta", "gamma",
            ])
            .current_dir(&ws)
            .env("WARDEN_DB", &db)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let rows: Vec<Value> = scan("json")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("alpha/requirements.txt", "MAL-2023-1941"),
        ("alpha/requirements.txt", "PYSEC-2023-74"),
        ("alpha/scripts/4.00_train.py", "MAL-2023-2300"),
        ("beta/package.json", "GHSA-29mw-wpgm-hmr9"),
        ("beta/package.json", "MAL-2025-46969"),
        ("beta/package.json", "MAL-2025-46974"),
        ("gamma/Cargo.toml", "RUSTSEC-2020-0071"),
        ("gamma/Cargo.toml", "RUSTSEC-2021-0003"),
        ("gamma/go.mod", "GO-2023-1571"),
        ("gamma/tools/pyproject.toml", "PYSEC-2023-74"),
        ("gamma/tools/pyproject.toml", "PYSEC-2024-57"),
    ];
    assert_eq!(got, want.map(|(p, r)| (p.to_owned(), r.to_owned())));
    assert!(rows.iter().all(|r| r["kind"] == "package"));
    let text = scan("text");
    assert!(
        text.contains("beta/package.json:11:5: error[MAL-2025-46974]: mocha brings in debug 4.4.2"),
        "{text}"
    );
    let sarif: Value = serde_json::from_str(&scan("sarif")).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), want.len());
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels.iter().filter(|l| **l == "error").count(),
        4,
        "{levels:?}"
    );
}

#[test]
fn a_missing_osv_path_is_one_clear_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = repo(&base, "app");
    let missing = base.join("no-such-osv");
    let mut s = Server::spawn(&base.join("db/w.db"));
    s.settings = json!({
        "scan": {"onStartup": false},
        "packages": {"osvPaths": [missing.display().to_string()], "osvPollSeconds": 1}
    });
    s.initialize(&[&root], Value::Null);
    let shown = s.wait_for("window/showMessage", |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot import packages.osvPaths"))
    });
    assert_eq!(shown["type"], 2, "a warning");
    assert!(shown["message"].as_str().unwrap().contains("no-such-osv"));
    // The poll does not repeat it while nothing changes, and the server keeps serving.
    let again = s.take("window/showMessage", Duration::from_millis(2500));
    assert!(again.is_empty(), "{again:#?}");
    assert!(!s.workspaces().is_empty());
    assert!(s.shutdown().success());
}
