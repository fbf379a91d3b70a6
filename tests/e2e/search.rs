//! Workspace symbols and code search end to end: the start-up scan indexes the
//! repository; `workspace/symbol` answers fuzzy queries from the grammars' definitions;
//! `warden/search` finds substrings of identifiers, regular expressions and globs with
//! the matching line and context; an unsaved edit is searchable once it settles; no
//! secret is stored in the index; `warden search` on the command line brings the index
//! up to date with the disk (a deleted file drops out) and prints ripgrep-style lines.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
const ACCEPTED: &str = "AKIAZ7MNP2KDQ3EGRB4X";

fn search(s: &mut Server, params: Value) -> Value {
    s.request("warden/search", params).expect("warden/search")
}

fn symbols(s: &mut Server, query: &str) -> Vec<Value> {
    s.request("workspace/symbol", json!({"query": query}))
        .expect("workspace/symbol")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Asks until `check` holds (the index is written in the background), for 10 s.
fn eventually(s: &mut Server, mut check: impl FnMut(&mut Server) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check(s) {
        assert!(Instant::now() < deadline, "never happened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cli(root: &Path, db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(warden_bin())
        .arg("search")
        .args(args)
        .current_dir(root)
        .env("WARDEN_DB", db)
        .output()
        .expect("run warden search");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn symbols_and_search_over_the_indexed_workspace_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "proj");
    let py = format!(
        "import os\n\nKEY = \"{AWS}\"\nOLD = '{ACCEPTED}'  # warden:allow\n\nclass ConfigLoader:\n    def load_settings(self, path):\n        return open(path).read()\n"
    );
    std::fs::write(root.join("src/config_loader.py"), &py).unwrap();
    let rs = "pub struct Settings {\n    pub verbose: bool,\n}\n\npub fn parse_config_file(p: &str) -> Settings {\n    let _ = p;\n    Settings { verbose: false }\n}\n";
    std::fs::write(root.join("src/util.rs"), rs).unwrap();
    std::fs::write(
        root.join("notes.txt"),
        "remember: parse_config_file is slow\n",
    )
    .unwrap();
    let db = tmp.path().join("db/w.db");

    let mut s = Server::spawn(&db);
    s.settings = json!({"scan": {"onStartup": true}});
    s.initialize(&[&root], Value::Null);
    // Open before the scan: the scan leaves it to its buffer, which is indexed too.
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri(&root.join("src/config_loader.py")), "languageId": "python", "version": 1, "text": py}}),
    );
    // The index is built after the scan, from its listing, with its own progress.
    let indexed = s.wait_for("$/progress", |p| {
        p["value"]["kind"] == "end"
            && p["token"]
                .as_str()
                .is_some_and(|t| t.starts_with("warden/index/"))
    });
    let message = indexed["value"]["message"].as_str().unwrap();
    assert!(message.contains("read again"), "{message}");
    let py_uri = file_uri(&root.join("src/config_loader.py"));
    let rs_uri = file_uri(&root.join("src/util.rs"));

    // Symbols: fuzzy, with kinds, containers and the name's range.
    let found = symbols(&mut s, "cfgload");
    assert_eq!(found[0]["name"], "ConfigLoader", "{found:?}");
    assert_eq!(found[0]["kind"], 5, "a class");
    assert_eq!(found[0]["location"]["uri"], py_uri);
    assert_eq!(
        found[0]["location"]["range"]["start"],
        json!({"line": 5, "character": 6})
    );
    let found = symbols(&mut s, "load_settings");
    assert_eq!(found[0]["kind"], 6, "a method: {found:?}");
    assert_eq!(found[0]["containerName"], "ConfigLoader");
    let found = symbols(&mut s, "pcf");
    assert_eq!(found[0]["name"], "parse_config_file", "{found:?}");
    assert_eq!(found[0]["location"]["uri"], rs_uri);
    assert!(symbols(&mut s, "zzqx").is_empty());

    // Search: a substring inside identifiers, with its line, range and context.
    let r = search(&mut s, json!({"query": "onfig_fi"}));
    let hits = r["results"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "{r}");
    assert!(r["indexed"].as_bool().unwrap());
    let in_rs = hits
        .iter()
        .find(|h| h["path"] == "src/util.rs")
        .expect("util.rs");
    assert_eq!(in_rs["uri"], rs_uri);
    assert_eq!(in_rs["workspace"], "proj");
    assert_eq!(
        in_rs["range"],
        json!({"start": {"line": 4, "character": 14}, "end": {"line": 4, "character": 22}})
    );
    assert_eq!(
        in_rs["text"],
        "pub fn parse_config_file(p: &str) -> Settings {"
    );
    assert_eq!(in_rs["before"], json!([""]));
    assert_eq!(in_rs["after"], json!(["    let _ = p;"]));
    // A glob, a regular expression, smart case, a limit.
    let r = search(&mut s, json!({"query": "parse_config", "glob": "**/*.rs"}));
    assert_eq!(r["results"].as_array().unwrap().len(), 1, "{r}");
    let r = search(&mut s, json!({"query": r"def\s+load_\w+", "regex": true}));
    assert_eq!(r["results"][0]["path"], "src/config_loader.py", "{r}");
    assert_eq!(
        search(&mut s, json!({"query": "settings"}))["results"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        search(&mut s, json!({"query": "Settings"}))["results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = search(&mut s, json!({"query": "settings", "limit": 2}));
    assert_eq!(
        (
            r["results"].as_array().unwrap().len(),
            r["truncated"].as_bool()
        ),
        (2, Some(true))
    );
    let bad = s.request("warden/search", json!({"query": "(", "regex": true}));
    assert!(
        bad.unwrap_err()["message"]
            .as_str()
            .unwrap()
            .contains("invalid regular expression")
    );
    // Secrets are not in the index: their text is masked, found neither whole nor in part.
    for q in [AWS, ACCEPTED, "AKIA", "3EGRB4"] {
        let r = search(&mut s, json!({"query": q}));
        assert!(r["results"].as_array().unwrap().is_empty(), "{q}: {r}");
    }
    let r = search(&mut s, json!({"query": "KEY = "}));
    assert_eq!(
        r["results"][0]["text"],
        format!("KEY = \"{}\"", "*".repeat(20))
    );

    // An unsaved edit is searchable (and its new definition a symbol) once it settles.
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": rs_uri, "languageId": "rust", "version": 1, "text": rs}}),
    );
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": rs_uri, "version": 2},
               "contentChanges": [{"range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 0}},
                                   "text": "\nfn brand_new_helper() {}\n"}]}),
    );
    eventually(&mut s, |s| {
        !search(s, json!({"query": "brand_new"}))["results"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    assert_eq!(
        symbols(&mut s, "brandnew")[0]["location"]["range"]["start"]["line"],
        9
    );
    assert!(s.shutdown().success());

    // Nothing secret reached the database's index.
    let c = rusqlite::Connection::open(&db).unwrap();
    let bodies: String = c
        .query_row("SELECT group_concat(body, '') FROM search_text", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(bodies.contains("ConfigLoader"));
    assert!(!bodies.contains(AWS) && !bodies.contains(ACCEPTED));
    drop(c);

    // The command line: up to date with the disk first (the unsaved edit is gone and
    // a deleted file drops out), ripgrep's form, exit 1 without a match.
    std::fs::remove_file(root.join("notes.txt")).unwrap();
    let (code, out, err) = cli(&root, &db, &["parse_config_file"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "src/util.rs:5:8:pub fn parse_config_file(p: &str) -> Settings {\n",
        "{err}"
    );
    assert!(err.contains("1 removed"), "{err}");
    let (code, out, _) = cli(&root, &db, &["brand_new"]);
    assert_eq!(
        (code, out.as_str()),
        (1, ""),
        "the buffer's text was never saved"
    );
    let (code, out, err) = cli(
        &root,
        &db,
        &["-e", r"struct\s+\w+", "--json", "-g", "src/*"],
    );
    assert_eq!(code, 0, "{err}");
    let line: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["path"].as_str(), line["line"].as_u64()),
        (Some("src/util.rs"), Some(1))
    );
    let (code, _, err) = cli(&root, &db, &["-e", "("]);
    assert_eq!(code, 2, "{err}");
}
