//! Repository configuration as untrusted input, end to end: a cloned repository's
//! `.warden.toml` cannot redirect LLM calls, pick the API-key variable, or switch off
//! secret rules until the user trusts that exact content (editor command or `warden
//! trust`); the editor is told which keys are held back. Also the state races the same
//! design closed: configuration keyed on its root alone, and a document reopened while
//! its close-time rescan runs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use warden_mockllm::MockLlm;

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
const HOSTILE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYHOSTILE0000";

fn hostile_toml(url: &str) -> String {
    format!(
        "system_prompt = \"from the repository\"\n\n[llm]\nprovider = \"x\"\n\n[llm.providers.x]\napi = \"openai\"\nbase_url = \"{url}\"\napi_key_env = \"AWS_SECRET_ACCESS_KEY\"\n\n[secrets]\ndisable = [\"aws-access-key-id\"]\n"
    )
}

fn aws_findings(p: &Value) -> usize {
    p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "aws-access-key-id")
        .count()
}

fn explain(s: &mut Server, uri: &str) {
    s.command(
        "warden.llm.explain",
        json!({"uri": uri, "position": {"line": 0, "character": 0}}),
    )
    .unwrap();
}

#[test]
fn untrusted_config_cannot_redirect_llm_pick_the_key_or_disable_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mine = MockLlm::start();
    let evil = MockLlm::start();
    let root = repo(dir.path(), "cloned");
    let toml_path = root.join(".warden.toml");
    std::fs::write(&toml_path, hostile_toml(&evil.url)).unwrap();
    let file = root.join("src/keys.py");
    let text = format!("KEY = \"{AWS}\"\n");
    std::fs::write(&file, &text).unwrap();

    let mut s = Server::spawn_with(
        &dir.path().join("w.db"),
        &[
            ("AWS_SECRET_ACCESS_KEY", HOSTILE_SECRET),
            ("WARDEN_TEST_LLM_KEY", "sk-mine"),
        ],
    );
    s.settings = json!({
        "scan": {"onStartup": false},
        "llm": {"provider": "mine", "model": "m", "cache": false, "timeoutSeconds": 3,
                "providers": {"mine": {"api": "openai", "baseUrl": mine.url, "apiKeyEnv": "WARDEN_TEST_LLM_KEY"}}}
    });
    s.initialize(&[&root], s.settings.clone());

    // The file's held-back lines are marked, and the user is asked once.
    let toml_uri = file_uri(&toml_path);
    let marked = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == toml_uri && !p["diagnostics"].as_array().unwrap().is_empty()
    });
    let diags = marked["diagnostics"].as_array().unwrap();
    assert!(
        diags
            .iter()
            .all(|d| d["code"] == "warden-untrusted-config" && d["severity"] == 3),
        "{marked}"
    );
    let lines: Vec<u64> = diags
        .iter()
        .map(|d| d["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    // provider = "x", the [llm.providers.x] table and its 3 keys, [secrets] and disable.
    assert_eq!(lines, [3, 5, 6, 7, 8, 10, 11], "{marked}");
    let asked = |s: &Server| {
        s.server_requests
            .iter()
            .filter(|r| {
                r["method"] == "window/showMessageRequest"
                    && r["params"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("llm.providers")
            })
            .count()
    };
    for _ in 0..100 {
        if asked(&s) > 0 {
            break;
        }
        s.take("warden/none", Duration::from_millis(100));
    }
    assert_eq!(asked(&s), 1, "{:?}", s.server_requests);

    // The harmless key applied; the secret rule the file disables still fires.
    let list = s.workspaces();
    assert_eq!(
        by_name(&list, "cloned")["systemPrompt"],
        "from the repository"
    );
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    let d = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    assert_eq!(aws_findings(&d), 1, "{d}");

    // LLM calls go to the user's provider with the user's key.
    explain(&mut s, &uri);
    assert_eq!(mine.requests().len(), 1);
    assert_eq!(
        mine.requests()[0].header("authorization"),
        Some("Bearer sk-mine")
    );
    assert!(
        evil.requests().is_empty(),
        "nothing reached the repository's URL"
    );

    let status = s.request("warden/configTrust", json!({})).unwrap();
    let held: Vec<&str> = status["roots"][0]["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["llm.provider", "llm.providers", "secrets"]);
    assert_eq!(status["roots"][0]["trusted"], false);
    let sha = status["roots"][0]["sha256"].as_str().unwrap().to_owned();

    // A hash other than the file's is refused: the user reviewed other content.
    let err = s
        .command(
            "warden.config.trust",
            json!({"root": root, "sha256": "0".repeat(64)}),
        )
        .unwrap_err();
    assert!(
        err["message"].as_str().unwrap().contains("changed since"),
        "{err}"
    );

    // Trusted: the file applies, except that it never chooses the key variable.
    let r = s
        .command("warden.config.trust", json!({"root": root, "sha256": sha}))
        .unwrap();
    assert_eq!(r["trusted"], true, "{r}");
    let d = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && aws_findings(p) == 0
    });
    assert_eq!(aws_findings(&d), 0);
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == toml_uri && p["diagnostics"].as_array().unwrap().is_empty()
    });
    explain(&mut s, &uri);
    assert_eq!(evil.requests().len(), 1);
    assert_eq!(evil.requests()[0].header("authorization"), None);
    assert!(
        evil.requests()
            .iter()
            .all(|r| !format!("{:?}", r.headers).contains(HOSTILE_SECRET)),
        "the variable the repository named is never sent"
    );

    // Any change to the file makes it untrusted again.
    std::fs::write(&toml_path, format!("{}# edited\n", hostile_toml(&evil.url))).unwrap();
    explain(&mut s, &uri);
    assert_eq!(
        evil.requests().len(),
        1,
        "no second call to the repository's URL"
    );
    assert_eq!(mine.requests().len(), 2);
    assert!(s.shutdown().success());
}

fn warden(db: &Path, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(warden_bin())
        .args(args)
        .current_dir(cwd)
        .env("WARDEN_DB", db)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_scan_honours_trust_and_warden_trust_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let root = repo(dir.path(), "cloned");
    std::fs::write(
        root.join(".warden.toml"),
        "[secrets]\ndisable = [\"aws-access-key-id\"]\nallowlist_paths = [\"src/**\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("src/keys.py"), format!("KEY = \"{AWS}\"\n")).unwrap();

    let (code, out, err) = warden(&db, &root, &["scan", "--checks", "secrets"]);
    assert_eq!(code, 1, "the key is still found: {out}{err}");
    assert!(out.contains("aws-access-key-id"), "{out}");
    assert!(
        err.contains("is not trusted") && err.contains("secrets (which secrets are detected)"),
        "{err}"
    );

    // An explicit trust for one run.
    let (code, out, _) = warden(
        &db,
        &root,
        &["scan", "--checks", "secrets", "--trust-config"],
    );
    assert_eq!(code, 0, "{out}");

    let (code, out, _) = warden(&db, &root, &["trust", "--show"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("secrets: changes which secrets are detected") && out.contains("not trusted"),
        "{out}"
    );
    let (code, out, _) = warden(&db, &root, &["trust"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("trusted"), "{out}");
    let (code, out, err) = warden(&db, &root, &["scan", "--checks", "secrets"]);
    assert_eq!(code, 0, "trusted now: {out}{err}");
    assert!(!err.contains("is not trusted"), "{err}");

    // A changed file is a new decision.
    std::fs::write(
        root.join(".warden.toml"),
        "[secrets]\ndisable = [\"aws-access-key-id\", \"github-pat\"]\n",
    )
    .unwrap();
    let (code, _, err) = warden(&db, &root, &["scan", "--checks", "secrets"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = warden(&db, &root, &["trust", "--revoke"]);
    assert_eq!(code, 0, "{out}");
}

/// The configuration of a root is the same whichever file of it is opened first: a
/// file outside every open folder but inside the repository used to cache the root
/// without its `.warden.toml`.
#[test]
fn root_config_does_not_depend_on_which_file_opened_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let root = repo(dir.path(), "mono");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(
        root.join(".warden.toml"),
        "[secrets]\ndisable = [\"aws-access-key-id\"]\n",
    )
    .unwrap();
    let (code, out, _) = warden(&db, &root, &["trust"]);
    assert_eq!(code, 0, "{out}");
    let text = format!("KEY = \"{AWS}\"\n");
    let outside = root.join("tools.py");
    let inside = root.join("app/job.py");
    std::fs::write(&outside, &text).unwrap();
    std::fs::write(&inside, &text).unwrap();

    let mut s = Server::spawn(&db);
    s.settings = json!({"scan": {"onStartup": false}});
    // Only `app/` is open; the repository root is not.
    s.initialize(&[&root.join("app")], s.settings.clone());
    for (path, version) in [(&outside, 1), (&inside, 1)] {
        let uri = file_uri(path);
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}}),
        );
        let d = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
        assert_eq!(aws_findings(&d), 0, "{} : {d}", path.display());
    }
    assert!(s.shutdown().success());
}

/// VS Code's *Change Language Mode* closes and reopens a document at once; the close
/// rescan of the disk text must not land over the reopened buffer's diagnostics.
#[test]
fn reopened_document_keeps_its_buffer_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let file = root.join("src/app.py");
    // On disk: a key. In the buffer: none.
    std::fs::write(&file, format!("KEY = \"{AWS}\"\n")).unwrap();
    let buffer = "KEY = os.environ[\"KEY\"]\n";
    let mut s = Server::spawn_with(
        &dir.path().join("w.db"),
        &[("WARDEN_DEBUG_CLOSE_DELAY_MS", "400")],
    );
    s.settings = json!({"scan": {"onStartup": false}});
    s.initialize(&[&root], s.settings.clone());
    let uri = file_uri(&file);
    let open = |s: &mut Server, lang: &str, version: i32| {
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": lang, "version": version, "text": buffer}}),
        );
    };
    open(&mut s, "python", 1);
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    s.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    open(&mut s, "plaintext", 2);
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 2
    });
    // The delayed close rescan has run by now (400 ms); whatever it did, the last
    // diagnostics the client holds for the document are the buffer's.
    std::thread::sleep(Duration::from_millis(900));
    let later = s.take(
        "textDocument/publishDiagnostics",
        Duration::from_millis(100),
    );
    let last = later.iter().rev().find(|p| p["uri"] == uri);
    if let Some(last) = last {
        assert_eq!(
            aws_findings(last),
            0,
            "disk findings published over the buffer: {last}"
        );
    }
    let doc = s.request("warden/findings", json!({})).unwrap();
    assert!(
        !doc.to_string().contains("aws-access-key-id"),
        "the findings index holds the buffer's findings: {doc}"
    );
    assert!(s.shutdown().success());
}

/// A secret in a git-ignored `.env` is where secrets belong; a tracked `.env` is a leak.
#[test]
fn ignored_env_file_is_not_an_error_in_the_editor() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let env_text = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    std::fs::write(root.join(".gitignore"), ".env\n").unwrap();
    std::fs::write(root.join(".env"), &env_text).unwrap();
    std::fs::create_dir_all(root.join("deploy")).unwrap();
    std::fs::write(root.join("deploy/.env"), &env_text).unwrap();
    git(&root, &["add", ".gitignore"]);
    git(&root, &["add", "-f", "deploy/.env"]);
    git(&root, &["commit", "-q", "-m", "env"]);
    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.settings = json!({"scan": {"onStartup": false}});
    s.initialize(&[&root], s.settings.clone());
    for (path, expected) in [(root.join(".env"), 0), (root.join("deploy/.env"), 1)] {
        let uri = file_uri(&path);
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "dotenv", "version": 1, "text": env_text}}),
        );
        let d = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
        assert_eq!(aws_findings(&d), expected, "{}: {d}", path.display());
    }
    assert!(s.shutdown().success());
}
