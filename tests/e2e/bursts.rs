//! Edit bursts against the real binary: a client that sends hundreds of edits to a
//! 10,000-line file without waiting gets the diagnostics of the last version, while the
//! server analyses one version at a time per document (bounded threads), and the
//! message loop keeps answering requests in the middle of a burst.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// Threads of a process.
fn threads(pid: u32) -> usize {
    proc_status(pid, "Threads:") as usize
}

#[test]
fn a_burst_of_edits_is_analysed_one_version_at_a_time_and_ends_with_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let file = root.join("src/big.py");
    let text = python_module(10_000);
    let lines = text.lines().count();
    assert!(lines >= 8_000, "{lines} lines");
    std::fs::write(&file, &text).unwrap();
    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.settings = json!({"scan": {"onStartup": false}});
    s.initialize(&[&root], s.settings.clone());
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 1
    });
    let pid = s.pid();
    let idle_threads = threads(pid);

    const EDITS: i64 = 300;
    let mut most_threads = idle_threads;
    for n in 0..EDITS {
        let line = (n as usize * 7919) % (lines - 10) + 3;
        s.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": n + 2}, "contentChanges": [
                {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "#"}
            ]}),
        );
        if n % 25 == 0 {
            most_threads = most_threads.max(threads(pid));
        }
        // A request in the middle of the burst is answered.
        if n == EDITS / 2 {
            let list = s.request("warden/workspaces", json!({})).unwrap();
            assert!(list.as_array().is_some_and(|l| !l.is_empty()));
        }
    }
    // An unterminated string on the last version: its syntax error must be published.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": EDITS + 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "x = (\n"}
        ]}),
    );
    let last = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == EDITS + 2
    });
    // Older versions published before the last one are fine; none may follow it.
    s.forget_received();
    most_threads = most_threads.max(threads(pid));
    let syntax: Vec<&Value> = last["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["source"] == "warden" && d["code"].as_str().is_some_and(|c| c.starts_with("syntax"))
        })
        .collect();
    // The first phase may publish from the edited old tree; the re-parse of the last
    // version must follow with the error.
    if syntax.is_empty() {
        let reparsed = s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri
                && p["version"] == EDITS + 2
                && p["diagnostics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["code"].as_str().is_some_and(|c| c.starts_with("syntax")))
        });
        assert_eq!(reparsed["version"], EDITS + 2);
    }
    // One analysis at a time per document: no thread per edit (409 threads before).
    assert!(
        most_threads <= idle_threads + 8,
        "threads grew from {idle_threads} to {most_threads} during the burst"
    );
    // Nothing older is published after the last version.
    let later = s.take(
        "textDocument/publishDiagnostics",
        Duration::from_millis(500),
    );
    assert!(
        later
            .iter()
            .filter(|p| p["uri"] == uri)
            .all(|p| p["version"] == EDITS + 2),
        "{later:?}"
    );
    // The server's copy is the client's: every edit applied, in order.
    let doc = s
        .request("warden/debug/document", json!({"uri": uri}))
        .unwrap();
    assert_eq!(doc["version"], EDITS + 2);
    let hashes = doc["text"].as_str().unwrap().matches('#').count();
    assert_eq!(hashes as i64, EDITS);
    assert!(s.shutdown().success());
}

/// Long work does not take the message loop's turn: with more LLM actions streaming
/// than tower-lsp-server's default of four handlers at once, an edit is still analysed
/// and published, a hover answered and one action cancelled while all of them stream.
#[test]
fn edits_and_cancels_are_served_while_llm_actions_stream() {
    use warden_mockllm::{MockLlm, Script};
    let mock = MockLlm::start();
    // Each reply streams for several seconds.
    mock.set_default(Script {
        text: "word ".repeat(1500),
        chunk: 10,
        delay_ms: 15,
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let file = root.join("src/app.py");
    let text = "def f(x):\n    return x + 1\n\n\ndef g(y):\n    return y * 2\n";
    std::fs::write(&file, text).unwrap();
    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.settings = json!({"scan": {"onStartup": false}, "llm": {
        "provider": "local", "model": "m", "cache": false, "timeoutSeconds": 30,
        "providers": {"local": {"api": "openai", "baseUrl": mock.url}}}});
    s.initialize(&[&root], s.settings.clone());
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    const STREAMS: usize = 8;
    let ids: Vec<Value> = (0..STREAMS)
        .map(|i| {
            s.send_request(
                "workspace/executeCommand",
                json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "position": {"line": 1, "character": 4}, "requestId": format!("s{i}")}]}),
            )
        })
        .collect();
    for i in 0..STREAMS {
        let id = format!("s{i}");
        s.wait_for("warden/llmChunk", |p| p["requestId"] == id.as_str());
    }
    // All eight are streaming now. An edit with a syntax error is analysed and published.
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "x = (\n"}
        ]}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 2
    });
    s.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 1}}),
    )
    .unwrap();
    let cancelled = s
        .command("warden.llm.cancel", json!({"requestId": "s0"}))
        .unwrap();
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    let streaming = mock.requests().len();
    assert_eq!(streaming, STREAMS, "every action reached the provider");
    for i in 1..STREAMS {
        s.command("warden.llm.cancel", json!({"requestId": format!("s{i}")}))
            .unwrap();
    }
    // Every action ends cancelled: none had finished, so everything above was served
    // while all of them streamed.
    for id in ids {
        let err = s.response(id).unwrap_err();
        assert_eq!(err["code"], -32800, "{err}");
    }
    assert!(s.shutdown().success());
}

/// A minified bundle above `scan.maxFileSize` is checked line by line (its secrets on
/// normal lines still found) without building a syntax tree of it, which cost gigabytes.
#[test]
fn an_oversized_document_gets_line_checks_without_a_syntax_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let file = root.join("src/bundle.js");
    let mut text = String::from("const AWS = \"AKIAQ3EGRB4XY7MNP2KD\";\n");
    // 12 MB of minified code on one line.
    let unit =
        "function a(b){return b&&b.c?b.c(1,2,[3,4],{d:5}):null};var e=a({c:function(){return 6}});";
    while text.len() < 12 * 1024 * 1024 {
        text.push_str(unit);
    }
    text.push('\n');
    std::fs::write(&file, &text).unwrap();
    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.settings = json!({"scan": {"onStartup": false}});
    s.initialize(&[&root], s.settings.clone());
    let pid = s.pid();
    let before = proc_status(pid, "VmRSS:");
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "javascript", "version": 1, "text": text}}),
    );
    let d = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    assert!(
        d["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "aws-access-key-id"),
        "{d}"
    );
    let peak = proc_status(pid, "VmHWM:");
    // The text itself is held a few times over (the document, the message, the
    // analysis); a syntax tree of 12 MB of code would be hundreds of MB more.
    assert!(
        peak.saturating_sub(before) < 200 * 1024,
        "peak RSS grew by {} MB",
        peak.saturating_sub(before) / 1024
    );
    assert!(s.shutdown().success());
}

/// Closing large documents gives their memory back to the system: their syntax trees
/// (tens of MB each) were freed but stayed resident in the analysis threads' arenas,
/// so the server kept its peak size for the rest of the session.
#[test]
fn closing_large_documents_returns_their_memory() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.settings = json!({"scan": {"onStartup": false}});
    s.initialize(&[&root], s.settings.clone());
    let pid = s.pid();
    let base = proc_status(pid, "VmRSS:");
    // Not on disk: closing them publishes nothing from a rescan.
    let uris: Vec<String> = (0..3)
        .map(|i| file_uri(&root.join(format!("src/gen{i}.py"))))
        .collect();
    let text = python_module(20_000);
    for uri in &uris {
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri.as_str() && p["version"] == 1
        });
    }
    let open = proc_status(pid, "VmRSS:");
    let grown = open.saturating_sub(base);
    assert!(
        grown > 30 * 1024,
        "three trees should take memory: +{grown} kB"
    );
    for uri in &uris {
        s.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    // Wait for the state asserted: at most a quarter of the growth still resident.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut now = open;
    while std::time::Instant::now() < deadline {
        now = proc_status(pid, "VmRSS:");
        if now.saturating_sub(base) < grown / 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        now.saturating_sub(base) < grown / 4,
        "RSS {} MB before, {} MB open, {} MB after closing",
        base / 1024,
        open / 1024,
        now / 1024
    );
    // Still serving.
    let uri = &uris[0];
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri.as_str()
    });
    assert!(s.shutdown().success());
}
