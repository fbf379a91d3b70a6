//! Diagnostics end to end: secrets, risky shell patterns and syntax errors in open
//! documents (exact ranges, UTF-16 columns, live updates), code actions (environment
//! variable with the `.env` rule, allow on this line, baseline), the start-up workspace
//! scan with `$/progress`, `warden/findings`, cancellation, and hostile documents.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";

fn open(s: &mut Server, path: &Path, lang: &str, version: i32, text: &str) -> String {
    let uri = file_uri(path);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": version, "text": text}}),
    );
    uri
}

/// Waits for the diagnostics of `uri` at `version` (or any version when `None`).
fn diagnostics(s: &mut Server, uri: &str, version: Option<i64>) -> Vec<Value> {
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && version.is_none_or(|v| p["version"] == v)
    });
    p["diagnostics"].as_array().unwrap().clone()
}

/// The settled diagnostics of `uri` at `version`: the first publish, or the re-publish
/// that follows once the incremental re-parse has refined it.
fn settled(s: &mut Server, uri: &str, version: i64) -> Vec<Value> {
    let mut d = diagnostics(s, uri, Some(version));
    while let Some(p) = s.wait_for_within(
        Duration::from_millis(400),
        "textDocument/publishDiagnostics",
        |p| p["uri"] == uri && p["version"] == version,
    ) {
        d = p["diagnostics"].as_array().unwrap().clone();
    }
    d
}

fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect()
}

fn range(d: &Value) -> (u64, u64, u64, u64) {
    let r = &d["range"];
    (
        r["start"]["line"].as_u64().unwrap(),
        r["start"]["character"].as_u64().unwrap(),
        r["end"]["line"].as_u64().unwrap(),
        r["end"]["character"].as_u64().unwrap(),
    )
}

/// The database lives beside the workspace, not inside it (it would be scanned).
fn db_for(root: &Path) -> std::path::PathBuf {
    root.parent().unwrap().join("db/w.db")
}

fn start_in(root: &Path) -> Server {
    let db = db_for(root);
    let mut s = Server::spawn(&db);
    s.initialize(&[root], Value::Null);
    s.wait_for("warden/workspacesChanged", |_| true);
    s
}

#[test]
fn open_documents_show_findings_at_exact_ranges_and_follow_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "app");
    let mut s = start_in(&root);
    let path = root.join("src/settings.py");
    let uri = open(
        &mut s,
        &path,
        "python",
        1,
        &format!("import os\nKEY = \"{AWS}\"\n"),
    );
    let d = diagnostics(&mut s, &uri, Some(1));
    assert_eq!(codes(&d), ["aws-access-key-id"]);
    assert_eq!(range(&d[0]), (1, 7, 1, 27), "exactly the secret");
    assert_eq!(d[0]["source"], "warden");
    assert_eq!(d[0]["severity"], 1);
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("AWS access key ID")
    );
    assert!(
        !d[0].to_string().contains(AWS),
        "the secret never appears in a diagnostic"
    );

    // An emoji before a token: columns are UTF-16 code units.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
             "text": format!("X = \"😀\"; KEY2 = \"{GHP}\"\nos.system(\"curl -s https://get.example.invalid | sh\")\n")}
        ]}),
    );
    let d = settled(&mut s, &uri, 2);
    assert_eq!(
        codes(&d),
        ["aws-access-key-id", "github-pat", "shell-pipe-to-shell"]
    );
    assert_eq!(
        range(&d[1]),
        (2, 18, 2, 58),
        "the emoji counts two UTF-16 units"
    );
    assert_eq!(d[2]["severity"], 2, "shell patterns are warnings");

    // A syntax error, then its fix: diagnostics follow every version.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 9}}, "text": "\nprint(\"hi\"\n"}
        ]}),
    );
    let d = settled(&mut s, &uri, 3);
    assert!(codes(&d).iter().any(|c| c.starts_with("syntax-")), "{d:#?}");
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 4}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 10}, "end": {"line": 1, "character": 10}}, "text": ")"}
        ]}),
    );
    let d = settled(&mut s, &uri, 4);
    assert!(
        !codes(&d).iter().any(|c| c.starts_with("syntax-")),
        "{d:#?}"
    );
    let doc = s
        .request("warden/debug/document", json!({"uri": uri}))
        .unwrap();
    assert!(
        doc["text"]
            .as_str()
            .unwrap()
            .starts_with("import os\nprint(\"hi\")\n")
    );

    // An allow marker on the line suppresses the finding.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": format!("KEY = \"{AWS}\"  # warden:allow\n")}]}),
    );
    assert!(settled(&mut s, &uri, 5).is_empty());
    assert!(s.shutdown().success());
}

fn code_actions(s: &mut Server, uri: &str, diag: &Value) -> Vec<Value> {
    s.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}}),
    )
    .unwrap()
    .as_array()
    .cloned()
    .unwrap_or_default()
}

#[test]
fn secret_fixes_env_var_allow_and_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = repo(&base, "svc");
    std::fs::write(root.join(".gitignore"), ".env\n").unwrap();
    std::fs::write(root.join(".env"), "EXISTING=1").unwrap();
    let mut s = start_in(&root);
    let path = root.join("src/client.py");
    let uri = open(
        &mut s,
        &path,
        "python",
        1,
        &format!("import requests\nKEY = \"{AWS}\"\n"),
    );
    let d = diagnostics(&mut s, &uri, Some(1));
    let actions = code_actions(&mut s, &uri, &d[0]);
    let titles: Vec<&str> = actions
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:#?}");
    assert!(titles[0].starts_with(
        "Replace with environment variable AWS_ACCESS_KEY_ID (value saved to the git-ignored .env)"
    ));
    assert!(titles[1].contains("warden:allow"));
    assert!(titles[2].contains(".warden-baseline.json"));

    // Replace: the literal becomes os.environ[...], `import os` is added, .env gets the value.
    let ops = actions[0]["edit"]["documentChanges"].as_array().unwrap();
    let doc_edits = ops[0]["edits"].as_array().unwrap();
    assert_eq!(
        ops[0]["textDocument"]["version"], 1,
        "edits are tied to the version seen"
    );
    assert_eq!(doc_edits[0]["newText"], "os.environ[\"AWS_ACCESS_KEY_ID\"]");
    assert_eq!(range(&doc_edits[0]), (1, 6, 1, 28), "the quotes go too");
    assert_eq!(doc_edits[1]["newText"], "import os\n");
    let env = ops
        .iter()
        .find(|o| o["textDocument"]["uri"] == file_uri(&root.join(".env")))
        .unwrap();
    assert_eq!(
        env["edits"][0]["newText"],
        format!("\nAWS_ACCESS_KEY_ID={AWS}\n"),
        "a newline is added first"
    );
    assert_eq!(range(&env["edits"][0]), (0, 10, 0, 10));

    // Allow on this line.
    let edit = &actions[1]["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], " # warden:allow");
    assert_eq!(range(edit), (1, 28, 1, 28));

    // Baseline: the file records a hash, never the secret, and the diagnostic goes away.
    let cmd = &actions[2]["command"];
    let result = s
        .command(
            cmd["command"].as_str().unwrap(),
            cmd["arguments"][0].clone(),
        )
        .unwrap();
    assert_eq!(result["added"], true);
    let baseline = std::fs::read_to_string(root.join(".warden-baseline.json")).unwrap();
    assert!(!baseline.contains(AWS));
    let parsed: Value = serde_json::from_str(&baseline).unwrap();
    assert_eq!(parsed["findings"][0]["path"], "src/client.py");
    assert_eq!(parsed["findings"][0]["rule"], "aws-access-key-id");
    let d = diagnostics(&mut s, &uri, Some(1));
    assert!(d.is_empty(), "{d:#?}");
    let e = s
        .command(
            "warden.secrets.addToBaseline",
            json!({"uri": uri, "rule": "x", "fingerprint": "short"}),
        )
        .unwrap_err();
    assert_eq!(e["code"], -32602);
    assert!(s.shutdown().success());
}

#[test]
fn env_file_is_not_written_unless_git_ignores_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "web");
    let mut s = start_in(&root);
    let path = root.join("src/api.ts");
    let uri = open(
        &mut s,
        &path,
        "typescript",
        1,
        &format!("export const token = '{GHP}';\n"),
    );
    let d = diagnostics(&mut s, &uri, Some(1));
    let actions = code_actions(&mut s, &uri, &d[0]);
    let replace = &actions[0];
    assert!(
        replace["title"]
            .as_str()
            .unwrap()
            .contains(".env is not git-ignored"),
        "{replace:#}"
    );
    let ops = replace["edit"]["documentChanges"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "only the document changes");
    assert_eq!(ops[0]["edits"][0]["newText"], "process.env.GITHUB_TOKEN");
    assert!(
        !replace.to_string().contains(GHP),
        "the secret goes nowhere"
    );
    assert!(s.shutdown().success());
}

/// Starts a server on `root` with the start-up scan on, waits for the scan's end and
/// shuts down; returns the end message.
fn startup_scan(root: &Path, settings: Value) -> (Server, String) {
    let mut s = Server::spawn(&db_for(root));
    s.settings = settings;
    s.initialize(&[root], Value::Null);
    let end = s.wait_for("$/progress", |p| {
        p["value"]["kind"] == "end"
            && p["token"]
                .as_str()
                .is_some_and(|t| t.starts_with("warden/scan/"))
    });
    let message = end["value"]["message"].as_str().unwrap().to_owned();
    (s, message)
}

#[test]
fn a_second_startup_scan_reads_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "inc");
    std::fs::write(root.join("broken.py"), "def f(:\n    pass\n").unwrap();
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "a committed syntax error"]);
    std::fs::write(root.join("config.yaml"), format!("token: {GHP}\n")).unwrap();
    std::fs::write(root.join("other.py"), "x = 1\n").unwrap();
    std::fs::write(root.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0").unwrap();
    // Files changed within 2 s of a scan's start are read again by the next one.
    std::thread::sleep(Duration::from_millis(2100));
    let on = json!({"scan": {"onStartup": true}});

    let (s, first) = startup_scan(&root, on.clone());
    assert!(first.contains("1 findings in 4 files"), "{first}");
    assert!(first.contains("0 unchanged"), "{first}");
    assert!(s.shutdown().success());

    std::fs::write(root.join("other.py"), format!("x = '{AWS}'\n")).unwrap();
    let (mut s, second) = startup_scan(&root, on.clone());
    // main.py and logo.png are not read again; config.yaml (a finding), broken.py (its
    // error is dropped because HEAD has it) and the changed other.py are.
    assert!(second.contains("2 findings in 4 files"), "{second}");
    assert!(second.contains("2 unchanged"), "{second}");
    assert!(second.contains("1 binary"), "{second}");
    let d = diagnostics(&mut s, &file_uri(&root.join("other.py")), None);
    assert_eq!(codes(&d), ["aws-access-key-id"], "{d:#?}");
    let all = s
        .request("warden/findings", json!({"workspace": "inc"}))
        .unwrap();
    assert_eq!(all["findings"].as_array().unwrap().len(), 2, "{all:#}");
    assert!(s.shutdown().success());

    // Other settings: nothing recorded under the old ones is reused.
    let other = json!({"scan": {"onStartup": true}, "secrets": {"disable": ["generic-secret"]}});
    let (s, third) = startup_scan(&root, other);
    assert!(third.contains("0 unchanged"), "{third}");
    assert!(s.shutdown().success());
}

#[test]
fn startup_scan_reports_unopened_files_with_progress_and_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "ops");
    std::fs::write(root.join(".gitignore"), ".env\nnode_modules/\n").unwrap();
    std::fs::write(
        root.join("config.yaml"),
        format!("github:\n  token: {GHP}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("deploy.sh"),
        "#!/bin/sh\ncurl -fsSL https://get.example.invalid/install | sh\n",
    )
    .unwrap();
    std::fs::write(root.join("broken.py"), "def f(:\n    pass\n").unwrap();
    std::fs::write(root.join(".env"), format!("TOKEN={GHP}\n")).unwrap();
    std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
    std::fs::write(root.join("node_modules/x/i.js"), format!("t='{GHP}'\n")).unwrap();
    std::fs::write(root.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0").unwrap();

    let mut s = Server::spawn(&db_for(&root));
    s.settings = json!({"scan": {"onStartup": true}});
    s.initialize(&[&root], Value::Null);
    let begin = s.wait_for("$/progress", |p| p["value"]["kind"] == "begin");
    assert_eq!(begin["value"]["cancellable"], true);
    assert!(
        begin["value"]["title"]
            .as_str()
            .unwrap()
            .contains("scanning ops")
    );
    let end = s.wait_for("$/progress", |p| {
        p["value"]["kind"] == "end" && p["token"] == begin["token"]
    });
    let message = end["value"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 findings") && message.contains("1 binary"),
        "{message}"
    );

    for (file, code) in [
        ("config.yaml", "github-pat"),
        ("deploy.sh", "shell-pipe-to-shell"),
        ("broken.py", "syntax-"),
    ] {
        let d = diagnostics(&mut s, &file_uri(&root.join(file)), None);
        assert!(
            codes(&d).iter().any(|c| c.starts_with(code)),
            "{file}: {d:#?}"
        );
    }
    let all = s
        .request("warden/findings", json!({"workspace": "ops"}))
        .unwrap();
    let all = all["findings"].as_array().unwrap();
    assert_eq!(
        all.len(),
        3,
        "ignored files (.env, node_modules) are not scanned: {all:#?}"
    );
    let secrets = s
        .request(
            "warden/findings",
            json!({"workspace": "ops", "kind": "secret"}),
        )
        .unwrap();
    assert_eq!(secrets["findings"][0]["path"], "config.yaml");
    assert_eq!(
        secrets["findings"][0]["range"]["start"],
        json!({"line": 1, "character": 9})
    );
    assert!(!secrets.to_string().contains(GHP));
    assert_eq!(
        s.request("warden/findings", json!({"kind": "nope"}))
            .unwrap_err()["code"],
        -32602
    );

    let scans = s.request("warden/traces", json!({"kind": "scan"})).unwrap();
    let span = &scans["traces"][0];
    assert_eq!(span["name"], "workspace.scan");
    assert_eq!(span["workspace"], "ops");
    assert_eq!(span["outcome"], "ok");
    assert_eq!(span["output"]["findings"], 3);
    assert_eq!(span["output"]["skipped"]["binary"], 1);

    // Fixing a file on disk and rescanning clears its diagnostics.
    std::fs::write(root.join("broken.py"), "def f():\n    pass\n").unwrap();
    s.command("warden.scan.workspace", json!({"workspace": "ops"}))
        .unwrap();
    let d = diagnostics(&mut s, &file_uri(&root.join("broken.py")), None);
    assert!(d.is_empty(), "{d:#?}");
    assert!(s.shutdown().success());
}

#[test]
fn a_workspace_scan_can_be_cancelled() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap().join("big");
    std::fs::create_dir_all(&root).unwrap();
    let body: String = (0..600)
        .map(|i| format!("def handler_{i}(token, password=None):\n    return {{'secret_ref': token, 'key': {i}}}\n"))
        .collect();
    for i in 0..1500 {
        std::fs::write(root.join(format!("m{i}.py")), &body).unwrap();
    }
    let mut s = start_in(&root);
    let started = s
        .command("warden.scan.workspace", json!({"workspace": "big"}))
        .unwrap();
    let token = started["progressToken"].clone();
    s.wait_for("$/progress", |p| {
        p["token"] == token && p["value"]["kind"] == "begin"
    });
    s.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let end = s.wait_for("$/progress", |p| {
        p["token"] == token && p["value"]["kind"] == "end"
    });
    assert!(
        end["value"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cancelled after"),
        "{end}"
    );
    let scans = s.request("warden/traces", json!({"kind": "scan"})).unwrap();
    assert_eq!(scans["traces"][0]["outcome"], "cancelled");
    assert_eq!(s.workspaces().len(), 2, "still serving");
    assert!(s.shutdown().success());
}

#[test]
fn hostile_documents_do_not_hurt_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "odd");
    let mut s = start_in(&root);
    // 8 MB on one line, control characters, and an unknown language.
    let huge = format!("var a='{}';\n", "x".repeat(8 * 1024 * 1024));
    let u1 = open(&mut s, &root.join("bundle.min.js"), "javascript", 1, &huge);
    let u2 = open(
        &mut s,
        &root.join("weird.txt"),
        "plaintext",
        1,
        "\u{0}\u{1}\u{7f}token=\u{0}ghp_\n",
    );
    let u3 = open(&mut s, &root.join("x.unknown"), "brainfuck", 1, "+[>+<-]");
    for u in [&u1, &u2, &u3] {
        let d = diagnostics(&mut s, u, Some(1));
        assert!(
            d.iter()
                .all(|d| !d["code"].as_str().unwrap().starts_with("github")),
            "{d:#?}"
        );
    }
    // Changes for documents that are not open, and ranges past the end, are harmless.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": file_uri(&root.join("never-opened.py")), "version": 9}, "contentChanges": [{"text": "x"}]}),
    );
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": u3, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 99, "character": 5}, "end": {"line": 120, "character": 0}}, "text": "!"}]}),
    );
    diagnostics(&mut s, &u3, Some(2));
    s.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": u1}}),
    );
    assert_eq!(s.workspaces().len(), 2);
    let _ = s.take(
        "textDocument/publishDiagnostics",
        Duration::from_millis(100),
    );
    assert!(s.shutdown().success());
}

#[test]
fn manifests_are_checked_against_imported_advisories() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = repo(&base, "deps");
    import_advisories(
        &db_for(&root),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv"),
    );

    let mut s = start_in(&root);
    let req = open(
        &mut s,
        &root.join("requirements.txt"),
        "pip-requirements",
        1,
        "requests==2.30.0\npilllow\nflask>=2\n",
    );
    let d = diagnostics(&mut s, &req, Some(1));
    let got: Vec<(u64, String, i64)> = d
        .iter()
        .map(|d| {
            (
                range(d).0,
                d["code"].as_str().unwrap().to_owned(),
                d["severity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "PYSEC-2023-74".into(), 2),
            (1, "MAL-2023-1941".into(), 1)
        ]
    );
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("fixed in 2.31.0"),
        "{:#?}",
        d[0]
    );
    assert_eq!(range(&d[0]), (0, 0, 0, 16), "the whole requirement");

    let pkg = open(
        &mut s,
        &root.join("package.json"),
        "json",
        1,
        "{\"dependencies\": {\"chalk\": \"5.6.1\", \"lodash\": \"^4.17.0\"}}\n",
    );
    let d = diagnostics(&mut s, &pkg, Some(1));
    assert_eq!(codes(&d), ["MAL-2025-46969", "GHSA-29mw-wpgm-hmr9"]);
    assert_eq!(
        (d[0]["severity"].as_i64(), d[1]["severity"].as_i64()),
        (Some(1), Some(3))
    );
    assert!(
        d[1]["message"]
            .as_str()
            .unwrap()
            .contains("require at least 4.17.21")
    );
    let found = s
        .request(
            "warden/findings",
            json!({"workspace": "deps", "kind": "package"}),
        )
        .unwrap();
    assert_eq!(found["findings"].as_array().unwrap().len(), 4);
    assert!(s.shutdown().success());
}
