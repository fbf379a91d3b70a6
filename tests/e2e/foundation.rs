//! Foundation: workspaces from git repositories, workspace commands and their errors,
//! persistence across restarts, live trace notifications, trace paging, text sync, and
//! a server that survives panics and malformed input.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    db: std::path::PathBuf,
    alpha: std::path::PathBuf,
    beta: std::path::PathBuf,
    plain: std::path::PathBuf,
}

/// Two git repositories (beta opened through two sub-folders) and one plain folder.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let alpha = repo(&root, "alpha");
    let beta = repo(&root, "beta");
    std::fs::create_dir_all(beta.join("docs")).unwrap();
    let plain = root.join("notes");
    std::fs::create_dir_all(&plain).unwrap();
    Fixture {
        db: root.join("db/warden.db"),
        _tmp: tmp,
        alpha,
        beta,
        plain,
    }
}

fn start(f: &Fixture) -> Server {
    let mut s = Server::spawn(&f.db);
    s.initialize(
        &[
            &f.alpha,
            &f.beta.join("src"),
            &f.beta.join("docs"),
            &f.plain,
        ],
        Value::Null,
    );
    s
}

#[test]
fn initialize_maps_folders_to_repository_workspaces() {
    let f = fixture();
    let mut s = Server::spawn(&f.db);
    let init = s.initialize(
        &[
            &f.alpha,
            &f.beta.join("src"),
            &f.beta.join("docs"),
            &f.plain,
        ],
        Value::Null,
    );
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(
        caps["workspace"]["workspaceFolders"]["changeNotifications"],
        true
    );
    let commands: Vec<&str> = caps["executeCommandProvider"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "warden.workspace.list",
        "warden.workspace.activate",
        "warden.workspace.rename",
        "warden.workspace.archive",
        "warden.workspace.restore",
        "warden.workspace.delete",
        "warden.workspace.setSystemPrompt",
        "warden.workspace.showSystemPrompt",
    ] {
        assert!(commands.contains(&c), "{c} not advertised");
    }

    let changed = s.wait_for("warden/workspacesChanged", |_| true);
    assert_eq!(changed["active"], "default");
    let list = s.workspaces();
    let names: Vec<&str> = list.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["default", "alpha", "beta", "notes"],
        "two beta folders are one workspace"
    );

    let alpha = by_name(&list, "alpha");
    assert_eq!(alpha["root"], f.alpha.display().to_string());
    assert_eq!(alpha["remote"], "https://example.invalid/alpha.git");
    assert_eq!(alpha["branch"], "main");
    assert_eq!(alpha["head"], head(&f.alpha));
    assert_eq!(alpha["open"], true);
    assert_eq!(alpha["active"], false);
    assert_eq!(alpha["archived"], false);
    assert!(alpha["createdAt"].as_str().unwrap().ends_with('Z'));

    let notes = by_name(&list, "notes");
    assert_eq!(notes["remote"], Value::Null);
    assert_eq!(notes["head"], Value::Null);
    assert_eq!(by_name(&list, "default")["active"], true);

    // Files belong to their folder's workspace; files elsewhere to the active one.
    let of = |s: &mut Server, p: &std::path::Path| {
        s.request("warden/workspaceFor", json!({"uri": file_uri(p)}))
            .unwrap()["name"]
            .clone()
    };
    assert_eq!(of(&mut s, &f.beta.join("docs/readme.md")), "beta");
    assert_eq!(
        of(&mut s, std::path::Path::new("/tmp/elsewhere.py")),
        "default"
    );
    assert!(s.shutdown().success());
}

#[test]
fn folders_added_and_removed_live() {
    let f = fixture();
    let mut s = Server::spawn(&f.db);
    s.initialize(&[&f.alpha], Value::Null);
    s.wait_for("warden/workspacesChanged", |_| true);

    s.command("warden.workspace.activate", json!({"name": "alpha"}))
        .unwrap();
    s.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [{"uri": file_uri(&f.beta), "name": "beta"}], "removed": []}}),
    );
    let changed = s.wait_for("warden/workspacesChanged", |p| {
        p["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "beta")
    });
    assert_eq!(
        by_name(changed["workspaces"].as_array().unwrap(), "beta")["open"],
        true
    );

    s.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [], "removed": [{"uri": file_uri(&f.alpha), "name": "alpha"}]}}),
    );
    let changed = s.wait_for("warden/workspacesChanged", |p| {
        by_name(p["workspaces"].as_array().unwrap(), "alpha")["open"] == false
    });
    assert_eq!(
        changed["active"], "default",
        "the removed workspace is no longer active"
    );
    // Its history stays: the activate command span is still there under alpha.
    let traces = s
        .request("warden/traces", json!({"workspace": "alpha"}))
        .unwrap();
    assert!(
        traces["traces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "warden.workspace.activate"),
        "{traces:#}"
    );
    let index = s
        .request("warden/traces", json!({"kind": "index"}))
        .unwrap();
    assert!(
        index["traces"].as_array().unwrap().len() >= 3,
        "one index span per folder change"
    );
    assert!(s.shutdown().success());
}

#[test]
fn workspace_commands_and_their_errors() {
    let f = fixture();
    let mut s = start(&f);
    let code = |e: &Value| e["code"].as_i64().unwrap();
    let msg = |e: &Value| e["message"].as_str().unwrap().to_owned();

    let list = s.command("warden.workspace.list", json!({})).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4);

    // activate
    let a = s
        .command("warden.workspace.activate", json!({"name": "beta"}))
        .unwrap();
    assert_eq!(a["active"], true);
    let e = s
        .command("warden.workspace.activate", json!({"name": "nope"}))
        .unwrap_err();
    assert_eq!(code(&e), -32602);
    assert!(msg(&e).contains("no workspace named \"nope\""), "{e}");

    // rename, with every kind of bad name
    let r = s
        .command(
            "warden.workspace.rename",
            json!({"name": "notes", "newName": "journal"}),
        )
        .unwrap();
    assert_eq!(r["name"], "journal");
    for (args, needle) in [
        (json!({"name": "alpha", "newName": ""}), "empty"),
        (
            json!({"name": "alpha", "newName": "x".repeat(65)}),
            "limit is 64",
        ),
        (
            json!({"name": "alpha", "newName": "beta"}),
            "already exists",
        ),
        (
            json!({"name": "ghost", "newName": "z"}),
            "no workspace named",
        ),
        (
            json!({"name": "default", "newName": "z"}),
            "cannot be renamed",
        ),
        (json!({"name": "alpha"}), "missing field `newName`"),
    ] {
        let e = s
            .command("warden.workspace.rename", args.clone())
            .unwrap_err();
        assert_eq!(code(&e), -32602, "{args}");
        assert!(msg(&e).contains(needle), "{args}: {e}");
    }

    // archive / restore; archiving the active workspace falls back to default
    let ar = s
        .command("warden.workspace.archive", json!({"name": "beta"}))
        .unwrap();
    assert_eq!(ar["archived"], true);
    let list = s.workspaces();
    assert_eq!(by_name(&list, "default")["active"], true);
    let e = s
        .command("warden.workspace.activate", json!({"name": "beta"}))
        .unwrap_err();
    assert!(msg(&e).contains("restore it"), "{e}");
    let rs = s
        .command("warden.workspace.restore", json!({"name": "beta"}))
        .unwrap();
    assert_eq!(rs["archived"], false);

    // system prompt
    let e = s
        .command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "alpha", "prompt": ""}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("empty"), "{e}");
    let e = s
        .command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "alpha", "prompt": "p".repeat(16_001)}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("limit is 16000"), "{e}");
    let set = s
        .command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "alpha", "prompt": "Answer in haiku."}),
        )
        .unwrap();
    assert_eq!(
        set,
        json!({"name": "alpha", "prompt": "Answer in haiku.", "source": "command"})
    );
    let shown = s
        .command(
            "warden.workspace.showSystemPrompt",
            json!({"name": "alpha"}),
        )
        .unwrap();
    assert_eq!(shown["prompt"], "Answer in haiku.");
    assert_eq!(
        by_name(&s.workspaces(), "alpha")["systemPrompt"],
        "Answer in haiku."
    );

    // delete: confirm required; open workspaces refused; unknown names refused
    let e = s
        .command("warden.workspace.delete", json!({"name": "journal"}))
        .unwrap_err();
    assert!(msg(&e).contains("confirm"), "{e}");
    let e = s
        .command(
            "warden.workspace.delete",
            json!({"name": "journal", "confirm": false}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("confirm"), "{e}");
    let e = s
        .command(
            "warden.workspace.delete",
            json!({"name": "alpha", "confirm": true}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("open in the editor"), "{e}");
    s.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [], "removed": [{"uri": file_uri(&f.plain), "name": "notes"}]}}),
    );
    let gone = s
        .command(
            "warden.workspace.delete",
            json!({"name": "journal", "confirm": true}),
        )
        .unwrap();
    assert_eq!(gone, json!({"deleted": "journal"}));
    assert!(s.workspaces().iter().all(|w| w["name"] != "journal"));

    // argument shape errors and unknown commands
    let e = s
        .request(
            "workspace/executeCommand",
            json!({"command": "warden.workspace.activate", "arguments": ["beta"]}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("one JSON object argument"), "{e}");
    let e = s
        .command(
            "warden.workspace.activate",
            json!({"name": "beta", "extra": 1}),
        )
        .unwrap_err();
    assert!(msg(&e).contains("unknown field"), "{e}");
    let e = s.command("warden.nope", json!({})).unwrap_err();
    assert_eq!(code(&e), -32602);

    // Nothing changed by the failures: the names are exactly what the successes left.
    let names: Vec<String> = s
        .workspaces()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["default", "alpha", "beta"]);
    assert!(s.shutdown().success());
}

#[test]
fn system_prompt_survives_a_restart_and_respects_precedence() {
    let f = fixture();
    std::fs::write(
        f.beta.join(".warden.toml"),
        "system_prompt = \"from the repository\"\n",
    )
    .unwrap();
    let settings = json!({"systemPrompt": "from the editor"});

    let mut s = Server::spawn(&f.db);
    s.settings = settings.clone();
    s.initialize(&[&f.alpha, &f.beta, &f.plain], settings.clone());
    let list = s.workspaces();
    assert_eq!(by_name(&list, "alpha")["systemPromptSource"], "settings");
    assert_eq!(
        by_name(&list, "beta")["systemPrompt"],
        "from the repository"
    );
    assert_eq!(by_name(&list, "beta")["systemPromptSource"], "file");
    s.command(
        "warden.workspace.setSystemPrompt",
        json!({"name": "beta", "prompt": "from a command"}),
    )
    .unwrap();
    assert!(s.shutdown().success());

    let mut s = Server::spawn(&f.db);
    s.settings = settings.clone();
    s.initialize(&[&f.alpha, &f.beta], settings);
    let shown = s
        .command("warden.workspace.showSystemPrompt", json!({"name": "beta"}))
        .unwrap();
    assert_eq!(
        shown,
        json!({"name": "beta", "prompt": "from a command", "source": "command"})
    );
    // Clearing the command's prompt falls back to the repository file.
    let cleared = s
        .command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "beta", "prompt": null}),
        )
        .unwrap();
    assert_eq!(cleared["source"], "file");

    // Editing .warden.toml and saving it reloads the overlay.
    std::fs::write(f.beta.join(".warden.toml"), "systemPrompt = \"edited\"\n").unwrap();
    s.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": file_uri(&f.beta.join(".warden.toml"))}}),
    );
    s.wait_for("warden/workspacesChanged", |p| {
        by_name(p["workspaces"].as_array().unwrap(), "beta")["systemPrompt"] == "edited"
    });
    // A broken file is a warning naming the file, and the overlay is dropped.
    std::fs::write(
        f.beta.join(".warden.toml"),
        "systemPrompt = \"unterminated\n",
    )
    .unwrap();
    s.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": file_uri(&f.beta.join(".warden.toml")), "type": 2}]}),
    );
    let warn = s.wait_for("window/showMessage", |p| p["type"] == 2);
    assert!(
        warn["message"]
            .as_str()
            .unwrap()
            .contains(".warden.toml:1:"),
        "{warn}"
    );
    assert!(s.shutdown().success());
}

#[test]
fn every_command_is_a_span_with_live_notifications() {
    let f = fixture();
    let mut s = start(&f);
    s.wait_for("warden/workspacesChanged", |_| true);
    s.take("warden/traceStarted", Duration::from_millis(200));
    s.take("warden/traceFinished", Duration::ZERO);

    s.command(
        "warden.workspace.setSystemPrompt",
        json!({"name": "alpha", "prompt": "keep it short"}),
    )
    .unwrap();
    let started = s.wait_for("warden/traceStarted", |p| {
        p["name"] == "warden.workspace.setSystemPrompt"
    });
    assert_eq!(started["kind"], "command");
    assert_eq!(started["workspace"], "alpha");
    assert_eq!(
        started["input"]["prompt"],
        json!({"chars": 13}),
        "prompts are summarized, not copied"
    );
    assert!(started.get("finishedAt").is_none());
    let id = started["id"].clone();
    let finished = s.wait_for("warden/traceFinished", |p| p["id"] == id);
    assert_eq!(finished["outcome"], "ok");
    assert!(finished["latencyMs"].is_u64());

    let _ = s
        .command("warden.workspace.activate", json!({"name": "missing"}))
        .unwrap_err();
    let started = s.wait_for("warden/traceStarted", |p| {
        p["name"] == "warden.workspace.activate"
    });
    let id = started["id"].clone();
    let finished = s.wait_for("warden/traceFinished", |p| p["id"] == id);
    assert_eq!(finished["outcome"], "error");
    assert!(finished["error"].as_str().unwrap().contains("missing"));

    // The stored span matches what was published.
    let page = s
        .request("warden/traces", json!({"kind": "command", "limit": 1}))
        .unwrap();
    let newest = &page["traces"][0];
    assert_eq!(newest["id"], id);
    assert_eq!(newest["outcome"], "error");
    assert!(page["nextCursor"].is_string());
    assert!(s.shutdown().success());
}

#[test]
fn traces_page_with_limit_one_until_exhausted() {
    let f = fixture();
    let mut s = start(&f);
    for name in ["alpha", "beta", "notes", "default"] {
        s.command("warden.workspace.activate", json!({"name": name}))
            .unwrap();
    }
    let all = s.request("warden/traces", json!({"limit": 500})).unwrap();
    let expected: Vec<Value> = all["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert!(
        expected.len() >= 5,
        "four commands and the folder index span"
    );
    assert_eq!(all["nextCursor"], Value::Null);

    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = s
            .request("warden/traces", json!({"limit": 1, "cursor": cursor}))
            .unwrap();
        let traces = page["traces"].as_array().unwrap();
        assert_eq!(traces.len(), 1);
        seen.push(traces[0]["id"].clone());
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(seen.len() <= expected.len(), "paging does not terminate");
    }
    assert_eq!(seen, expected, "newest first, each span exactly once");

    // Filters and bad parameters.
    let beta = s
        .request("warden/traces", json!({"workspace": "beta"}))
        .unwrap();
    assert!(
        beta["traces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["workspace"] == "beta")
    );
    for bad in [
        json!({"workspace": "ghost"}),
        json!({"cursor": "garbage"}),
        json!({"limit": 0}),
        json!({"kind": "weird"}),
        json!({"limit": "ten"}),
    ] {
        let e = s.request("warden/traces", bad.clone()).unwrap_err();
        assert_eq!(e["code"], -32602, "{bad}: {e}");
    }
    let capped = s
        .request("warden/traces", json!({"limit": 100000}))
        .unwrap();
    assert!(capped["traces"].as_array().unwrap().len() <= 500);
    assert!(s.shutdown().success());
}

#[test]
fn panics_and_malformed_requests_do_not_kill_the_server() {
    let f = fixture();
    let mut s = start(&f);
    let e = s.request("warden/debug/panic", json!({})).unwrap_err();
    assert_eq!(e["code"], -32603);
    assert!(
        e["message"].as_str().unwrap().contains("still running"),
        "{e}"
    );
    assert_eq!(s.workspaces().len(), 4, "still serving after a panic");

    // Not JSON at all: a parse error, then business as usual.
    s.send_raw(b"{this is not json");
    let e = s.response(Value::Null).unwrap_err();
    assert_eq!(e["code"], -32700);
    // Well-formed JSON with the wrong param types.
    let e = s
        .request("warden/workspaceFor", json!({"uri": 42}))
        .unwrap_err();
    assert_eq!(e["code"], -32602);
    let e = s
        .request("warden/workspaceFor", json!({"uri": "::not a uri::"}))
        .unwrap_err();
    assert_eq!(e["code"], -32602);
    let e = s.request("warden/unknownMethod", json!({})).unwrap_err();
    assert_eq!(e["code"], -32601);
    // Notifications with garbage params are dropped without an answer or a crash.
    s.notify("textDocument/didChange", json!({"nonsense": true}));
    s.notify("workspace/didChangeWorkspaceFolders", json!(17));
    assert!(s.is_running());
    assert_eq!(s.workspaces().len(), 4);
    assert!(s.shutdown().success());
}

#[test]
fn incremental_text_sync_keeps_the_server_copy_exact() {
    let f = fixture();
    let mut s = start(&f);
    let uri = file_uri(&f.alpha.join("src/main.py"));
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 'é😀'\nprint(x)\n"}}),
    );
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 8}}, "text": "!"},
            {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 5}}, "text": "len"}
        ]}),
    );
    let doc = s
        .request("warden/debug/document", json!({"uri": uri}))
        .unwrap();
    assert_eq!(
        doc["text"], "x = 'é😀!'\nlen(x)\n",
        "UTF-16 columns: the emoji counts two"
    );
    assert_eq!(doc["version"], 2);
    s.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    assert!(
        s.request("warden/debug/document", json!({"uri": uri}))
            .is_err()
    );
    assert!(s.shutdown().success());
}

#[test]
fn two_servers_share_one_database() {
    let f = fixture();
    let mut one = Server::spawn(&f.db);
    one.initialize(&[&f.alpha], Value::Null);
    let mut two = Server::spawn(&f.db);
    two.initialize(&[&f.beta], Value::Null);
    for i in 0..10 {
        one.command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "alpha", "prompt": format!("one {i}")}),
        )
        .unwrap();
        two.command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "beta", "prompt": format!("two {i}")}),
        )
        .unwrap();
    }
    let list = one.workspaces();
    assert_eq!(
        by_name(&list, "beta")["systemPrompt"],
        "two 9",
        "sees the other window's writes"
    );
    assert_eq!(
        by_name(&list, "beta")["open"],
        false,
        "open only in the other window"
    );
    let list = two.workspaces();
    assert_eq!(by_name(&list, "alpha")["systemPrompt"], "one 9");
    // Both windows' spans are stored, none interrupted while both are alive.
    let page = two
        .request("warden/traces", json!({"kind": "command", "limit": 500}))
        .unwrap();
    let traces = page["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 20);
    assert!(traces.iter().all(|t| t["outcome"] == "ok"));
    assert!(one.shutdown().success());
    assert!(two.shutdown().success());
}

#[test]
fn unusable_database_is_reported_and_the_server_keeps_serving() {
    let f = fixture();
    std::fs::create_dir_all(f.db.parent().unwrap()).unwrap();
    std::fs::write(&f.db, vec![0x5a; 4096]).unwrap();
    let mut s = Server::spawn(&f.db);
    s.initialize(&[&f.alpha], Value::Null);
    let err = s.wait_for("window/showMessage", |p| p["type"] == 1);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains(&f.db.display().to_string()), "{message}");
    assert!(message.contains("in-memory"), "{message}");
    // Everything still works, in memory.
    let set = s
        .command(
            "warden.workspace.setSystemPrompt",
            json!({"name": "alpha", "prompt": "temp"}),
        )
        .unwrap();
    assert_eq!(set["prompt"], "temp");
    assert_eq!(
        std::fs::read(&f.db).unwrap(),
        vec![0x5a; 4096],
        "the broken file is left untouched"
    );
    assert!(s.shutdown().success());
}

#[test]
fn invalid_settings_warn_by_key_and_use_defaults() {
    let f = fixture();
    let mut s = Server::spawn(&f.db);
    s.settings = json!({"trace": {"live": "sometimes"}, "colour": "blue"});
    s.initialize(&[&f.alpha], Value::Null);
    let warn = s.wait_for("window/showMessage", |p| p["type"] == 2);
    let message = warn["message"].as_str().unwrap();
    assert!(message.contains("warden.trace.live"), "{message}");
    assert!(message.contains("warden.colour"), "{message}");
    // trace.live fell back to its default (on): command spans are still published.
    s.command("warden.workspace.list", json!({})).unwrap();
    s.wait_for("warden/traceFinished", |_| true);

    // Turning live traces off through didChangeConfiguration stops the notifications.
    s.settings = json!({"trace": {"live": false}});
    s.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    s.wait_for("warden/workspacesChanged", |_| true);
    s.take("warden/traceStarted", Duration::from_millis(200));
    s.command("warden.workspace.list", json!({})).unwrap();
    assert!(
        s.take("warden/traceStarted", Duration::from_millis(300))
            .is_empty()
    );
    assert!(s.shutdown().success());
}

#[test]
fn spans_of_a_killed_server_become_interrupted() {
    let f = fixture();
    let mut s = start(&f);
    // A span that is still running when the process dies (kill -9).
    s.send_request("warden/debug/hold", json!({"ms": 60_000}));
    let started = s.wait_for("warden/traceStarted", |p| p["name"] == "debug.hold");
    s.kill();

    let mut s = Server::spawn(&f.db);
    s.initialize(&[&f.alpha], Value::Null);
    let page = s.request("warden/traces", json!({"limit": 500})).unwrap();
    let held = page["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == started["id"])
        .cloned()
        .expect("the span was persisted when it started");
    assert_eq!(held["outcome"], "interrupted");
    assert!(held["finishedAt"].is_string());
    assert!(s.shutdown().success());
}

#[test]
fn exit_does_not_wait_for_handlers_blocked_on_the_client() {
    let f = fixture();
    let mut s = Server::spawn(&f.db);
    // This client never answers workspace/configuration or client/registerCapability,
    // so the `initialized` handler is still waiting when `exit` arrives.
    s.answer_server = false;
    s.initialize(&[&f.alpha], Value::Null);
    let started = std::time::Instant::now();
    assert!(s.shutdown().success());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "exit waited for the client"
    );
}
