//! LLM actions end to end: the real binary against the scripted loopback provider
//! (`warden-mockllm`), which records every request. Secrets never reach it and come
//! back restored (also split across chunks), edits are minimal and respect user edits,
//! the cache makes a repeat free and keeps only replies that were used (`noCache`
//! asks again), usage and history add up and count each call as soon as it answers
//! (the row committed, `since` in any UTC offset), failures and guardrails refuse
//! clearly, cancellation closes the connection, and snapshots stay fresh.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use warden_mockllm::{MockLlm, Script};

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";

const FETCH_PY: &str = "import os\nimport requests\n\n\ndef fetch(url):\n    key = \"AKIAQ3EGRB4XY7MNP2KD\"\n    token = \"ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt\"\n    return requests.get(url, headers={\"k\": key, \"t\": token})\n\n\ndef add(a, b):\n    return a + b\n";

fn settings(mock: &MockLlm, api: &str, model: &str) -> Value {
    json!({
        "scan": {"onStartup": false},
        "llm": {
            "provider": "local",
            "model": model,
            "providers": {"local": {"api": api, "baseUrl": mock.url, "apiKeyEnv": "WARDEN_TEST_LLM_KEY"}},
            "timeoutSeconds": 3,
            "maxRetries": 2,
        }
    })
}

/// A repository with `scripts/fetch.py`, a server on it and the file open.
fn setup(base: &Path, mock: &MockLlm, api: &str, model: &str) -> (Server, PathBuf, String) {
    let root = repo(base, "proj");
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    let file = root.join("scripts/fetch.py");
    std::fs::write(&file, FETCH_PY).unwrap();
    let mut s = Server::spawn_with(
        &base.join("db/w.db"),
        &[("WARDEN_TEST_LLM_KEY", "sk-test-do-not-leak-42")],
    );
    s.settings = settings(mock, api, model);
    s.initialize(&[&root], s.settings.clone());
    let uri = open(&mut s, &file, FETCH_PY, "python");
    (s, root, uri)
}

fn open(s: &mut Server, path: &Path, text: &str, lang: &str) -> String {
    let uri = file_uri(path);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": 1, "text": text}}),
    );
    // Analysis done: the document is known to the server.
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    uri
}

/// Tells the server its settings changed and serves its `workspace/configuration` pull.
fn reconfigure(s: &mut Server) {
    s.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    s.take("warden/none", Duration::from_millis(400));
}

fn range(l1: u32, l2: u32) -> Value {
    json!({"start": {"line": l1, "character": 0}, "end": {"line": l2, "character": 0}})
}

/// Applies LSP text edits (ASCII text, so UTF-16 units are bytes).
fn apply(text: &str, edits: &[Value]) -> String {
    let off = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + p["character"].as_u64().unwrap() as usize
    };
    let mut edits: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                off(&e["range"]["start"]),
                off(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_owned();
    for (s, e, t) in edits {
        out.replace_range(s..e, &t);
    }
    out
}

fn apply_edit_requests(s: &mut Server) -> Vec<Value> {
    s.server_requests
        .drain(..)
        .filter(|r| r["method"] == "workspace/applyEdit")
        .map(|r| r["params"]["edit"].clone())
        .collect()
}

fn spans(s: &mut Server, kind: &str) -> Vec<Value> {
    s.request("warden/traces", json!({"kind": kind, "limit": 100}))
        .unwrap()["traces"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn rewrite_keeps_the_key_which_never_leaves_and_a_repeat_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    // 3-byte chunks: every placeholder arrives split across several chunks.
    mock.set_default(Script {
        chunk: 3,
        ..Script::text(
            "Now reads nothing new.\n```python\n{{target}}    # checked by warden\n```\n",
        )
    });
    let (mut s, _root, uri) = setup(dir.path(), &mock, "openai", "gpt-4o-mini");
    let args = json!({"uri": uri, "range": range(4, 8), "instruction": "add a comment", "requestId": "r1"});
    let first = s.command("warden.llm.rewrite", args.clone()).unwrap();

    // The provider saw placeholders only, and the key from the environment variable.
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let body = &reqs[0].body;
    assert!(!body.contains(AWS) && !body.contains(GHP), "{body}");
    assert!(body.contains("__WARDEN_SECRET_1__") && body.contains("__WARDEN_SECRET_2__"));
    assert!(body.contains("add a comment") && body.contains("\"model\":\"gpt-4o-mini\""));
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer sk-test-do-not-leak-42")
    );

    // The reply comes back restored, streamed in order, and the edit is minimal.
    assert_eq!(first["applied"], true, "{first}");
    assert_eq!(first["cached"], false);
    let text = first["text"].as_str().unwrap();
    assert!(
        text.contains(AWS) && text.contains(GHP) && !text.contains("__WARDEN"),
        "{text}"
    );
    let chunks = s.take("warden/llmChunk", Duration::from_millis(200));
    let streamed: String = chunks
        .iter()
        .filter(|c| c["requestId"] == "r1")
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, text);
    assert!(chunks.len() > 10, "streamed in many pieces");
    let edits = apply_edit_requests(&mut s);
    assert_eq!(edits.len(), 1);
    let doc_edit = &edits[0]["documentChanges"][0];
    assert_eq!(doc_edit["textDocument"]["version"], 1);
    let hunks = doc_edit["edits"].as_array().unwrap();
    assert_eq!(hunks.len(), 1, "one inserted line: {hunks:?}");
    assert_eq!(hunks[0]["range"]["start"]["line"], 8);
    let expected = FETCH_PY.replace("token})\n", "token})\n    # checked by warden\n");
    assert_eq!(apply(FETCH_PY, hunks), expected);

    // Progress with a cancel button, begun and ended.
    let progress = s.take("$/progress", Duration::from_millis(100));
    let mine: Vec<&Value> = progress
        .iter()
        .filter(|p| p["token"] == "warden/llm/r1")
        .collect();
    assert_eq!(mine.first().unwrap()["value"]["kind"], "begin");
    assert_eq!(mine.first().unwrap()["value"]["cancellable"], true);
    assert_eq!(mine.last().unwrap()["value"]["kind"], "end");

    // Usage: the provider's counts, priced as gpt-4o-mini.
    let input = body.len() as u64 / 4;
    let usage = s
        .request("warden/usage", json!({"groupBy": "action"}))
        .unwrap();
    let row = &usage["rows"][0];
    assert_eq!(
        (row["key"].as_str(), row["requests"].as_u64()),
        (Some("rewrite"), Some(1))
    );
    assert_eq!(row["tokensInput"], input);
    assert_eq!(first["tokens"]["input"], input);
    let cost = row["costUsd"].as_f64().unwrap();
    assert!(cost > 0.0 && (cost - first["costUsd"].as_f64().unwrap()).abs() < 1e-12);

    // The same request again: nothing sent, answered from the cache, free.
    let again = s.command("warden.llm.rewrite", args).unwrap();
    assert_eq!(mock.requests().len(), 1, "nothing sent the second time");
    assert_eq!(again["cached"], true);
    assert_eq!(again["text"], first["text"]);
    assert_eq!(again["costUsd"], 0.0);
    let total = &s.request("warden/usage", json!({})).unwrap()["total"];
    assert_eq!(
        (total["requests"].as_u64(), total["cacheHits"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(total["cacheHitRate"], 0.5);
    assert!((total["costUsd"].as_f64().unwrap() - cost).abs() < 1e-12);

    // Traces: the command span holds the guards and the llm span with tokens and cost.
    let llm = spans(&mut s, "llm");
    assert_eq!(llm.len(), 2);
    let called = llm
        .iter()
        .find(|sp| sp["output"]["cached"] == false)
        .unwrap();
    assert_eq!(called["tokens"]["input"], input);
    assert!(called["costUsd"].as_f64().unwrap() > 0.0);
    let parent = called["parentId"].as_str().unwrap();
    let commands = spans(&mut s, "command");
    let cmd = commands.iter().find(|c| c["id"] == parent).unwrap();
    assert_eq!(cmd["name"], "warden.llm.rewrite");
    let guards = s
        .request("warden/traces", json!({"parentId": parent}))
        .unwrap()["traces"]
        .as_array()
        .unwrap()
        .clone();
    let mut names: Vec<&str> = guards.iter().map(|g| g["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "guard.denyList",
            "guard.exclude",
            "guard.packages",
            "guard.redact",
            "local/gpt-4o-mini"
        ]
    );
    let redact = guards.iter().find(|g| g["name"] == "guard.redact").unwrap();
    assert_eq!(redact["output"]["secretsRedacted"], 2);

    // History: redacted prompt and reply, HEAD and file hash.
    let page = s
        .request("warden/interactions", json!({"limit": 1}))
        .unwrap();
    let i = &page["interactions"][0];
    assert_eq!(
        (i["cacheHit"].as_bool(), i["action"].as_str()),
        (Some(true), Some("rewrite"))
    );
    assert!(page["nextCursor"].is_string());
    let older = s
        .request("warden/interactions", json!({"cursor": page["nextCursor"]}))
        .unwrap();
    let i = &older["interactions"][0];
    assert!(
        i["prompt"]
            .as_str()
            .unwrap()
            .contains("__WARDEN_SECRET_1__")
    );
    assert!(
        i["response"]
            .as_str()
            .unwrap()
            .contains("__WARDEN_SECRET_1__")
    );
    assert_eq!(i["head"].as_str().map(str::len), Some(40));
    assert_eq!(i["fileHash"].as_str().map(str::len), Some(64));
    let stderr = s.stderr();
    assert!(s.shutdown().success());

    // Nothing secret reached the log or the database files.
    for needle in [AWS, GHP, "sk-test-do-not-leak-42"] {
        assert!(!stderr.contains(needle), "log holds {needle}");
        for entry in std::fs::read_dir(dir.path().join("db")).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "database holds {needle}"
            );
        }
    }
}

#[test]
fn anthropic_explain_streams_then_cancel_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    mock.push(Script::text(
        "`fetch` calls the URL with two credentials: __WARDEN_SECRET_1__ and more.",
    ));
    let (mut s, _root, uri) = setup(dir.path(), &mock, "anthropic", "claude-sonnet-4");
    let r = s
        .command(
            "warden.llm.explain",
            json!({"uri": uri, "position": {"line": 5, "character": 4}}),
        )
        .unwrap();
    let req = &mock.requests()[0];
    assert!(req.path.ends_with("/messages"));
    assert_eq!(req.header("x-api-key"), Some("sk-test-do-not-leak-42"));
    assert!(
        req.body.contains("\"system\""),
        "Anthropic takes the system prompt apart"
    );
    assert!(!req.body.contains(AWS));
    assert!(
        r["text"].as_str().unwrap().contains(AWS),
        "restored in the explanation"
    );
    assert_eq!(r["applied"], Value::Null);
    assert!(r["tokens"]["output"].as_u64().unwrap() > 0);
    assert!(
        r["costUsd"].as_f64().unwrap() > 0.0,
        "claude-sonnet-4 is priced"
    );
    assert!(
        apply_edit_requests(&mut s).is_empty(),
        "explain never edits"
    );

    // A slow reply, cancelled after its first chunk.
    mock.push(Script {
        chunk: 2,
        delay_ms: 40,
        ..Script::text("x".repeat(400))
    });
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "range": range(10, 12), "requestId": "slow"}]}),
    );
    s.wait_for("warden/llmChunk", |p| p["requestId"] == "slow");
    // The cancel answers once the request has ended (its answer comes first) and is
    // recorded: the llm span and the interaction are there right away.
    let cancel = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.cancel", "arguments": [{"requestId": "slow"}]}),
    );
    let err = s.response(id).unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    let c = s.response(cancel).unwrap();
    assert_eq!(c["cancelled"], true);
    let llm = spans(&mut s, "llm");
    assert_eq!(llm[0]["outcome"], "cancelled");
    let i = &s
        .request("warden/interactions", json!({"limit": 1}))
        .unwrap()["interactions"][0];
    assert_eq!(
        (i["requestId"].as_str(), i["outcome"].as_str()),
        (Some("slow"), Some("cancelled"))
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mock.closed_early(), 1, "the HTTP stream was dropped");
    let again = s
        .command("warden.llm.cancel", json!({"requestId": "slow"}))
        .unwrap();
    assert_eq!(again["cancelled"], false);

    // `$/cancelRequest` aborts the same way, and the call is still recorded.
    mock.push(Script {
        chunk: 2,
        delay_ms: 40,
        ..Script::text("y".repeat(400))
    });
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "range": range(9, 12), "requestId": "slow2"}]}),
    );
    s.wait_for("warden/llmChunk", |p| p["requestId"] == "slow2");
    s.notify("$/cancelRequest", json!({"id": id}));
    let err = s.response(id).unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mock.closed_early(), 2);
    let commands = spans(&mut s, "command");
    let aborted = commands
        .iter()
        .find(|c| c["input"]["requestId"] == "slow2")
        .unwrap();
    assert_eq!(aborted["outcome"], "cancelled");
    let page = s.request("warden/interactions", json!({})).unwrap();
    let outcomes: Vec<(&str, &str)> = page["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["requestId"].as_str().unwrap(),
                i["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes[..2],
        [("slow2", "cancelled"), ("slow", "cancelled")]
    );
    assert!(s.shutdown().success());
}

#[test]
fn failures_and_guardrails_refuse_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, root, uri) = setup(dir.path(), &mock, "openai", "m");
    let explain = json!({"uri": uri, "range": range(10, 12)});
    let message = |e: Value| e["message"].as_str().unwrap().to_owned();

    // 500 three times: two retries, then an error naming the provider.
    for _ in 0..3 {
        mock.push(Script::status(500));
    }
    let e = message(
        s.command("warden.llm.explain", explain.clone())
            .unwrap_err(),
    );
    assert!(e.contains("local") && e.contains("HTTP 500"), "{e}");
    assert_eq!(mock.requests().len(), 3);
    // 401 names the environment variable, without its value.
    mock.push(Script::status(401));
    let e = message(
        s.command("warden.llm.explain", explain.clone())
            .unwrap_err(),
    );
    assert!(
        e.contains("WARDEN_TEST_LLM_KEY") && !e.contains("sk-test"),
        "{e}"
    );
    // A malformed stream.
    mock.push(Script {
        malformed: true,
        ..Script::text("Hello there, friend")
    });
    let e = message(
        s.command("warden.llm.explain", explain.clone())
            .unwrap_err(),
    );
    assert!(e.contains("malformed"), "{e}");
    // A stall hits the timeout.
    mock.push(Script {
        stall: true,
        ..Script::default()
    });
    let e = message(
        s.command("warden.llm.explain", explain.clone())
            .unwrap_err(),
    );
    assert!(e.contains("stalled") || e.contains("timed out"), "{e}");
    // An edit whose reply has no code block changes nothing.
    mock.push(Script::text("I would rather not."));
    let e = message(
        s.command(
            "warden.llm.rewrite",
            json!({"uri": uri, "range": range(10, 12), "instruction": "x"}),
        )
        .unwrap_err(),
    );
    assert!(e.contains("no code block"), "{e}");
    let sent = mock.requests().len();

    // Excluded files are never sent.
    let env_file = root.join(".env.local");
    std::fs::write(&env_file, "TOKEN=abc\n").unwrap();
    let env_uri = open(&mut s, &env_file, "TOKEN=abc\n", "dotenv");
    let e = message(
        s.command(
            "warden.llm.explain",
            json!({"uri": env_uri, "range": range(0, 1)}),
        )
        .unwrap_err(),
    );
    assert!(
        e.contains("warden.llm.exclude") && e.contains(".env*"),
        "{e}"
    );

    // The deny-list refuses, naming the rule.
    s.settings["llm"]["denyList"] = json!(["drop\\s+table"]);
    reconfigure(&mut s);
    let sql = root.join("scripts/wipe.py");
    let sql_text = "def wipe(db):\n    db.execute(\"DROP TABLE users\")\n";
    std::fs::write(&sql, sql_text).unwrap();
    let sql_uri = open(&mut s, &sql, sql_text, "python");
    let e = message(
        s.command(
            "warden.llm.explain",
            json!({"uri": sql_uri, "range": range(0, 2)}),
        )
        .unwrap_err(),
    );
    assert!(e.contains("warden.llm.denyList[0]"), "{e}");
    let denied = spans(&mut s, "guard")
        .into_iter()
        .find(|g| g["name"] == "guard.denyList" && g["outcome"] == "error")
        .unwrap();
    assert!(denied["error"].as_str().unwrap().contains("drop"));

    // No model: the message names the setting.
    s.settings["llm"]["model"] = Value::Null;
    reconfigure(&mut s);
    let e = message(s.command("warden.llm.explain", explain).unwrap_err());
    assert!(e.contains("warden.llm.model"), "{e}");
    assert_eq!(mock.requests().len(), sent, "refused requests send nothing");

    // Bad arguments.
    let e = message(
        s.command(
            "warden.llm.rewrite",
            json!({"uri": uri, "instruction": "x"}),
        )
        .unwrap_err(),
    );
    assert!(e.contains("non-empty range"), "{e}");
    let e = message(
        s.command("warden.llm.fix", json!({"uri": "file:///nope.py"}))
            .unwrap_err(),
    );
    assert!(e.contains("not open"), "{e}");
    assert!(s.shutdown().success());
}

#[test]
fn edits_follow_user_changes_refuse_conflicts_and_confirm_malicious_packages() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, root, uri) = setup(dir.path(), &mock, "openai", "m");
    let osv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
    import_advisories(&dir.path().join("db/w.db"), &osv);
    // Each request below must reach the provider.
    s.settings["llm"]["cache"] = json!(false);
    reconfigure(&mut s);
    let documented = "Added it.\n```python\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n```\n";

    // Docstring: one inserted line, the function found from the cursor.
    mock.push(Script::text(documented));
    let r = s
        .command(
            "warden.llm.docstring",
            json!({"uri": uri, "position": {"line": 11, "character": 6}}),
        )
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let e = apply_edit_requests(&mut s);
    let hunks = e[0]["documentChanges"][0]["edits"].as_array().unwrap();
    assert_eq!(hunks.len(), 1);
    assert_eq!(hunks[0]["range"], range(11, 11));
    assert_eq!(
        hunks[0]["newText"],
        "    \"\"\"Return the sum of a and b.\"\"\"\n"
    );

    // The user adds two lines at the top while the reply streams: the edit moves down.
    mock.push(Script {
        delay_ms: 30,
        chunk: 8,
        ..Script::text(documented)
    });
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.docstring", "arguments": [{"uri": uri, "position": {"line": 11, "character": 6}, "requestId": "moved"}]}),
    );
    s.wait_for("warden/llmChunk", |p| p["requestId"] == "moved");
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": range(0, 0), "text": "#!/usr/bin/env python3\n# tool\n"}]}),
    );
    let r = s.response(id).unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let e = apply_edit_requests(&mut s);
    let change = &e[0]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 2);
    assert_eq!(change["edits"][0]["range"], range(13, 13));

    // The user rewrites the line the reply changes, meanwhile: refused, nothing applied.
    mock.push(Script {
        delay_ms: 30,
        chunk: 8,
        ..Script::text("```python\ndef add(a, b):\n    return int(a) + int(b)\n```\n")
    });
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.rewrite", "arguments": [{"uri": uri, "range": range(12, 14), "instruction": "accept strings", "requestId": "clash"}]}),
    );
    s.wait_for("warden/llmChunk", |p| p["requestId"] == "clash");
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3},
               "contentChanges": [{"range": {"start": {"line": 13, "character": 0}, "end": {"line": 14, "character": 0}}, "text": "    return b + a\n"}]}),
    );
    let r = s.response(id).unwrap();
    assert_eq!(r["applied"], false);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("overlaps your edits"),
        "{r}"
    );
    assert!(apply_edit_requests(&mut s).is_empty());

    // A reply importing a malicious package needs confirmation.
    let evil =
        "Use tensorflow.\n```python\nimport tensorfllow\ndef add(a, b):\n    return a + b\n```\n";
    mock.push(Script::text(evil));
    let args = json!({"uri": uri, "range": range(12, 14), "instruction": "use tensorflow"});
    let r = s.command("warden.llm.rewrite", args.clone()).unwrap();
    assert_eq!(r["applied"], false);
    assert!(
        r["message"].as_str().unwrap().contains("tensorfllow"),
        "{r}"
    );
    let asked: Vec<Value> = s.server_requests.drain(..).collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["method"], "window/showMessageRequest");
    assert!(
        asked[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("MAL-2023-2300")
    );
    s.message_choice = Some("Apply anyway".into());
    mock.push(Script::text(evil));
    let r = s.command("warden.llm.rewrite", args).unwrap();
    assert_eq!(
        (r["applied"].as_bool(), r["cached"].as_bool()),
        (Some(true), Some(false))
    );
    let packages = spans(&mut s, "guard")
        .into_iter()
        .find(|g| g["name"] == "guard.packages" && g["outcome"] == "error")
        .unwrap();
    assert!(
        packages["input"]["packages"]
            .to_string()
            .contains("PyPI:tensorfllow")
    );
    s.server_requests.clear();

    // Tests go to tests/test_fetch.py, created.
    mock.push(Script::text("```python\nfrom scripts.fetch import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n```\n"));
    let r = s
        .command(
            "warden.llm.tests",
            json!({"uri": uri, "position": {"line": 13, "character": 6}}),
        )
        .unwrap();
    assert_eq!(r["applied"], true, "{r}");
    let e = apply_edit_requests(&mut s);
    let ops = e[0]["documentChanges"].as_array().unwrap();
    let test_uri = file_uri(&root.join("tests/test_fetch.py"));
    assert_eq!(ops[0]["kind"], "create");
    assert_eq!(ops[0]["uri"], test_uri.as_str());
    assert!(
        ops[1]["edits"][0]["newText"]
            .as_str()
            .unwrap()
            .starts_with("from scripts.fetch import add")
    );
    let prompt = mock.requests().last().unwrap().body.clone();
    assert!(prompt.contains("pytest") && prompt.contains("tests/test_fetch.py"));
    assert!(s.shutdown().success());
}

#[test]
fn snapshot_is_fresh_and_code_actions_offer_llm_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, root, uri) = setup(dir.path(), &mock, "openai", "m");
    git(&root, &["add", "."]);
    git(&root, &["commit", "-qm", "fetch"]);
    let snap = s
        .request("warden/snapshot", json!({"workspace": "proj"}))
        .unwrap();
    let md = snap["markdown"].as_str().unwrap();
    assert!(
        md.contains("## scripts/fetch.py") && md.contains("__WARDEN_SECRET_1__"),
        "{md}"
    );
    assert!(!md.contains(AWS) && !md.contains(GHP));
    assert_eq!(
        (snap["dirty"].as_bool(), snap["cached"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(snap["head"].as_str().unwrap(), head(&root));
    assert_eq!(snap["secretsRedacted"], 2);
    let again = s
        .request("warden/snapshot", json!({"workspace": "proj"}))
        .unwrap();
    assert_eq!(again["cached"], true);
    std::fs::write(root.join("scripts/fetch.py"), format!("{FETCH_PY}# more\n")).unwrap();
    let changed = s
        .request("warden/snapshot", json!({"workspace": "proj"}))
        .unwrap();
    assert_eq!(
        (changed["cached"].as_bool(), changed["dirty"].as_bool()),
        (Some(false), Some(true))
    );

    // Code actions: a fix per diagnostic in the context, explain, docstring, tests.
    let diag = json!({"range": range(5, 6), "message": "Leaked AWS key", "source": "other-linter"});
    let actions = s
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": range(5, 6), "context": {"diagnostics": [diag]}}),
        )
        .unwrap();
    let titles: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    for t in [
        "Fix with LLM: Leaked AWS key",
        "Explain with LLM",
        "Add docstring with LLM",
        "Write tests with LLM",
    ] {
        assert!(titles.contains(&t), "{titles:?}");
    }
    let fix = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Fix with LLM: Leaked AWS key")
        .unwrap();
    assert_eq!(fix["command"]["command"], "warden.llm.fix");
    // Running it sends the diagnostic and the enclosing function.
    mock.push(Script::text("```python\n{{target}}```\n"));
    let r = s
        .command("warden.llm.fix", fix["command"]["arguments"][0].clone())
        .unwrap();
    assert_eq!(r["message"], "the reply changes nothing");
    let body = mock.requests().last().unwrap().body.clone();
    assert!(
        body.contains("[other-linter] Leaked AWS key (line 6)") && body.contains("def fetch(url):")
    );
    assert!(s.shutdown().success());
}

#[test]
fn usage_and_history_see_each_call_as_soon_as_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, _root, uri) = setup(dir.path(), &mock, "openai", "gpt-4o-mini");
    mock.push(Script::text("```python\n{{target}}    # checked\n```\n"));
    let rewrite = s
        .command(
            "warden.llm.rewrite",
            json!({"uri": uri, "range": range(10, 12), "instruction": "comment", "requestId": "rw"}),
        )
        .unwrap();
    assert_eq!(rewrite["applied"], true, "{rewrite}");
    mock.push(Script::text("`add` returns the sum."));
    let explain = s
        .command(
            "warden.llm.explain",
            json!({"uri": uri, "range": range(10, 12), "requestId": "ex"}),
        )
        .unwrap();
    assert_eq!(explain["cached"], false);

    // Asked right away, with the server still running: both calls, their cost, history.
    let usage = s
        .request("warden/usage", json!({"groupBy": "action"}))
        .unwrap();
    let total = &usage["total"];
    assert_eq!(total["requests"], 2, "{usage}");
    let cost = rewrite["costUsd"].as_f64().unwrap() + explain["costUsd"].as_f64().unwrap();
    assert!(cost > 0.0);
    assert!(
        (total["costUsd"].as_f64().unwrap() - cost).abs() < 1e-12,
        "{usage}"
    );
    let keys: Vec<&str> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["explain", "rewrite"]);
    let proj = s
        .request("warden/usage", json!({"workspace": "proj"}))
        .unwrap();
    assert_eq!(proj["total"]["requests"], 2, "{proj}");
    let page = s.request("warden/interactions", json!({})).unwrap();
    let seen: Vec<(&str, &str, &str)> = page["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["requestId"].as_str().unwrap(),
                i["action"].as_str().unwrap(),
                i["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [("ex", "explain", "ok"), ("rw", "rewrite", "ok")]);

    // `since` in another UTC offset means that instant: a minute ago in UTC+2 counts
    // both calls (compared as text it would be two hours ahead and count none), a
    // minute ahead in UTC-5 none.
    let at = |minutes: i64, hours: i8| {
        let t = time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
        t.to_offset(time::UtcOffset::from_hms(hours, 0, 0).unwrap())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    for (since, requests) in [(at(-1, 2), 2), (at(1, -5), 0), (at(-1, 0), 2)] {
        let u = s.request("warden/usage", json!({"since": since})).unwrap();
        assert_eq!(u["total"]["requests"], requests, "since {since}: {u}");
    }
    let e = s
        .request("warden/usage", json!({"since": "yesterday"}))
        .unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("RFC 3339"), "{e}");

    // The row is committed before the command answers, not merely queued: another
    // connection to the database (another warden on it, the CLI) sees it at once, even
    // when the database was busy while the reply streamed.
    let db = dir.path().join("db/w.db");
    mock.push(Script {
        chunk: 4,
        delay_ms: 20,
        ..Script::text("`fetch` sends two credentials.")
    });
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "range": range(4, 8), "requestId": "busy"}]}),
    );
    s.wait_for("warden/llmChunk", |p| p["requestId"] == "busy");
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        lock.execute_batch("COMMIT").unwrap();
    });
    let r = s.response(id).unwrap();
    assert_eq!(r["cached"], false, "{r}");
    let other = rusqlite::Connection::open(&db).unwrap();
    let rows: i64 = other
        .query_row(
            "SELECT COUNT(*) FROM llm_interactions WHERE request_id = 'busy' AND outcome = 'ok'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        rows, 1,
        "the interaction is in the database when the command answers"
    );
    holder.join().unwrap();
    let total = &s.request("warden/usage", json!({})).unwrap()["total"];
    assert_eq!(total["requests"], 3, "{total}");
    assert!(s.shutdown().success());
}

/// `(requests the provider received, the command's answer)` for one call.
fn call(s: &mut Server, mock: &MockLlm, command: &str, args: &Value) -> (usize, Value) {
    let r = s
        .command(command, args.clone())
        .unwrap_or_else(|e| json!({"error": e}));
    (mock.requests().len(), r)
}

#[test]
fn only_used_replies_are_cached_and_no_cache_asks_again() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, _root, uri) = setup(dir.path(), &mock, "openai", "m");
    let osv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
    import_advisories(&dir.path().join("db/w.db"), &osv);
    let error = |r: &Value| r["error"]["message"].as_str().unwrap_or("").to_owned();

    // A reply with no code block fails, and is not replayed: the same request reaches
    // the provider again (and this time its reply is applied).
    let rewrite = json!({"uri": uri, "range": range(10, 12), "instruction": "annotate"});
    mock.push(Script::text("I would rather not."));
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &rewrite);
    assert!(error(&r).contains("no code block"), "{r}");
    assert_eq!(sent, 1);
    mock.push(Script::text(
        "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```\n",
    ));
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &rewrite);
    assert_eq!(sent, 2, "the failed reply was not cached: {r}");
    assert_eq!(
        (r["applied"].as_bool(), r["cached"].as_bool()),
        (Some(true), Some(false)),
        "{r}"
    );
    // That one was used: the same request again is a cache hit (and applied again, as
    // the test client does not change its text).
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &rewrite);
    assert_eq!((sent, r["cached"].as_bool()), (2, Some(true)), "{r}");

    // A reply that changes nothing, or that the editor refuses, is not cached either.
    let fix = json!({"uri": uri, "diagnostic": {"range": range(11, 12), "message": "too simple"}});
    mock.push(Script::text("```python\n{{target}}```\n"));
    let (sent, r) = call(&mut s, &mock, "warden.llm.fix", &fix);
    assert_eq!(
        (sent, r["message"].as_str()),
        (3, Some("the reply changes nothing"))
    );
    s.apply_edits = false;
    mock.push(Script::text("```python\n{{target}}# why\n```\n"));
    let (sent, r) = call(&mut s, &mock, "warden.llm.fix", &fix);
    assert_eq!((sent, r["applied"].as_bool()), (4, Some(false)), "{r}");
    s.apply_edits = true;
    mock.push(Script::text("```python\n{{target}}# why\n```\n"));
    let (sent, r) = call(&mut s, &mock, "warden.llm.fix", &fix);
    assert_eq!(
        (sent, r["applied"].as_bool(), r["cached"].as_bool()),
        (5, Some(true), Some(false)),
        "{r}"
    );

    // An explanation shown is cached; noCache asks the provider anyway, and the new
    // reply replaces the cached one.
    let explain = json!({"uri": uri, "range": range(4, 8)});
    mock.push(Script::text("It fetches."));
    let (sent, first) = call(&mut s, &mock, "warden.llm.explain", &explain);
    assert_eq!((sent, first["cached"].as_bool()), (6, Some(false)));
    let (sent, hit) = call(&mut s, &mock, "warden.llm.explain", &explain);
    assert_eq!((sent, hit["cached"].as_bool()), (6, Some(true)));
    assert_eq!(hit["text"], "It fetches.");
    let mut retry = explain.clone();
    retry["noCache"] = json!(true);
    mock.push(Script::text("It fetches a URL with two keys."));
    let (sent, fresh) = call(&mut s, &mock, "warden.llm.explain", &retry);
    assert_eq!(
        (sent, fresh["cached"].as_bool()),
        (7, Some(false)),
        "{fresh}"
    );
    assert_eq!(fresh["text"], "It fetches a URL with two keys.");
    assert!(fresh["costUsd"].as_f64().unwrap() >= 0.0);
    let (sent, hit) = call(&mut s, &mock, "warden.llm.explain", &explain);
    assert_eq!(
        (sent, hit["cached"].as_bool(), hit["text"].as_str()),
        (7, Some(true), Some("It fetches a URL with two keys.")),
        "the retried reply refreshed the cache"
    );
    let commands = spans(&mut s, "command");
    assert_eq!(commands[1]["input"]["noCache"], true, "{}", commands[1]);

    // A cached reply that is not used again is forgotten: here the user discards a
    // reply bringing in a malicious package that was applied before.
    let evil = json!({"uri": uri, "range": range(10, 12), "instruction": "use tensorflow"});
    let reply = "```python\nimport tensorfllow\ndef add(a, b):\n    return a + b\n```\n";
    s.message_choice = Some("Apply anyway".into());
    mock.push(Script::text(reply));
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &evil);
    assert_eq!((sent, r["applied"].as_bool()), (8, Some(true)), "{r}");
    s.message_choice = None;
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &evil);
    assert_eq!(
        (sent, r["cached"].as_bool(), r["applied"].as_bool()),
        (8, Some(true), Some(false)),
        "{r}"
    );
    mock.push(Script::text(reply));
    let (sent, r) = call(&mut s, &mock, "warden.llm.rewrite", &evil);
    assert_eq!((sent, r["cached"].as_bool()), (9, Some(false)), "{r}");

    // Every call is in the history, cache hits marked.
    let page = s
        .request("warden/interactions", json!({"limit": 100}))
        .unwrap();
    let hits: Vec<bool> = page["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|i| i["cacheHit"].as_bool().unwrap())
        .collect();
    assert_eq!(
        hits,
        [
            false, false, true, false, false, false, false, true, false, true, false, true, false
        ]
    );
    assert!(s.shutdown().success());
}
