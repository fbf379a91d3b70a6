//! Fix until green end to end, against the real sandbox (Docker) and the scripted
//! loopback provider: a failed run's diagnostic offers *Fix until it runs*; the loop
//! asks the model, runs each fixed copy from memory (the file is not written), goes on
//! while it fails and stops when it runs; each round is a span holding its `llm` and
//! `run` spans; no secret reaches the provider; accepting applies the fix as an edit;
//! the same loop again replays its rounds from the cache without asking the model.
//! Skips without a Docker engine unless `WARDEN_REQUIRE_DOCKER` is set.

use std::time::Duration;

use serde_json::{Value, json};
use warden_mockllm::{MockLlm, Script};

use crate::runs::docker;
use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";

fn script(body: &str) -> String {
    format!(
        "\"\"\"Averages.\"\"\"\n\nKEY = \"{AWS}\"\n\n\ndef mean(xs):\n    return sum(xs) / {body}\n\n\nprint(mean([1, 2, 3]))\n"
    )
}

/// The model's reply: the whole file, the secret as the placeholder it was sent as.
fn reply(body: &str) -> String {
    let file = script(body).replace(AWS, "__WARDEN_SECRET_1__");
    format!("Divide by the list's length.\n\n```python\n{file}```\n")
}

/// A repository whose `scripts/mean.py` fails (a NameError), a server whose LLM is
/// `mock`, with `env`, and the script open; returns the server, the file, its URI and
/// its text.
fn open_broken(
    base: &std::path::Path,
    mock: &MockLlm,
    env: &[(&str, &str)],
) -> (Server, std::path::PathBuf, String, String) {
    let root = repo(base, "proj");
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    let file = root.join("scripts/mean.py");
    let broken = script("count");
    std::fs::write(&file, &broken).unwrap();
    let mut s = Server::spawn_with(&base.join("db/w.db"), env);
    s.settings = json!({
        "scan": {"onStartup": false},
        "llm": {
            "provider": "local", "model": "gpt-test",
            "providers": {"local": {"api": "openai", "baseUrl": mock.url, "apiKeyEnv": "WARDEN_TEST_LLM_KEY"}},
        }
    });
    s.initialize(&[&root], s.settings.clone());
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": broken}}),
    );
    (s, file, uri, broken)
}

fn rounds_of(s: &mut Server, request_id: &str) -> (Vec<Value>, Value) {
    let finished = s.wait_for("warden/fixFinished", |p| p["requestId"] == request_id);
    let rounds = s
        .take("warden/fixRound", Duration::from_millis(200))
        .into_iter()
        .filter(|p| p["requestId"] == request_id)
        .map(|p| p["round"].clone())
        .collect();
    (rounds, finished)
}

#[test]
fn fix_until_green_runs_fixed_copies_until_one_runs_then_replays_from_the_cache() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, file, uri, broken) = open_broken(
        dir.path(),
        &mock,
        &[("WARDEN_TEST_LLM_KEY", "sk-test-do-not-leak-42")],
    );

    // The script fails; its diagnostic offers the loop.
    s.command("warden.run", json!({"uri": uri})).unwrap();
    let failed = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri
            && p["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["code"] == "run-failed")
    });
    let diag = failed["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "run-failed")
        .unwrap()
        .clone();
    assert!(
        diag["message"].as_str().unwrap().contains("NameError"),
        "{diag}"
    );
    let actions = s
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}}),
        )
        .unwrap();
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["command"]["command"] == "warden.llm.fixUntilGreen")
        .unwrap_or_else(|| panic!("no fix-until-green action: {actions}"))
        .clone();

    // Round 1's fix still fails; round 2's runs.
    mock.push(Script::text(reply("len(ys)")));
    mock.push(Script::text(reply("len(xs)")));
    let started = s
        .command(
            "warden.llm.fixUntilGreen",
            action["command"]["arguments"][0].clone(),
        )
        .unwrap();
    let id = started["requestId"].as_str().unwrap().to_owned();
    let (rounds, done) = rounds_of(&mut s, &id);
    assert_eq!(done["green"], true, "{done}");
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert_eq!(rounds[0]["outcome"], "failing");
    assert_eq!(rounds[0]["runStatus"], "failed");
    assert!(
        rounds[0]["message"].as_str().unwrap().contains("NameError"),
        "{}",
        rounds[0]
    );
    assert_eq!(rounds[1]["outcome"], "green");
    assert!(rounds.iter().all(|r| r["cached"] == false));
    assert_eq!(done["original"].as_str().unwrap(), broken);
    assert_eq!(
        done["fixed"].as_str().unwrap(),
        script("len(xs)"),
        "the secret is back in the fix"
    );

    // The model saw the failure (the traceback, secrets masked) and never the secret.
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0]
            .body
            .contains("NameError: name 'count' is not defined"),
        "{}",
        sent[0].body
    );
    assert!(sent[1].body.contains("NameError: name 'ys' is not defined"));
    assert!(sent.iter().all(|r| !r.body.contains(AWS)));
    // Nothing was written: the file and the document are as they were.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
    assert!(
        s.server_requests
            .iter()
            .all(|r| r["method"] != "workspace/applyEdit")
    );

    // The rounds are spans holding their llm and run spans.
    let spans = s.request("warden/traces", json!({"limit": 200})).unwrap()["traces"]
        .as_array()
        .cloned()
        .unwrap();
    let round_spans: Vec<&Value> = spans
        .iter()
        .filter(|sp| sp["name"] == "fix.round")
        .collect();
    assert_eq!(round_spans.len(), 2, "{spans:?}");
    for r in &round_spans {
        let kids: Vec<&str> = spans
            .iter()
            .filter(|sp| sp["parentId"] == r["id"])
            .map(|sp| sp["kind"].as_str().unwrap())
            .collect();
        assert!(kids.contains(&"llm") && kids.contains(&"run"), "{kids:?}");
    }

    // Accepting applies the diff to the document.
    let accepted = s
        .command("warden.llm.fixAccept", json!({"requestId": id}))
        .unwrap();
    assert_eq!(accepted["applied"], true, "{accepted}");
    let edit = s
        .server_requests
        .iter()
        .find(|r| r["method"] == "workspace/applyEdit")
        .expect("an edit")
        .clone();
    let text = edit.to_string();
    assert!(
        text.contains("len(xs)") && !text.contains(AWS),
        "a minimal edit: {text}"
    );
    let again = s.command("warden.llm.fixAccept", json!({"requestId": id}));
    assert!(again.is_err(), "answered once");

    // The same loop on the same text replays both rounds from the cache.
    let started = s
        .command("warden.llm.fixUntilGreen", json!({"uri": uri}))
        .unwrap();
    let id2 = started["requestId"].as_str().unwrap().to_owned();
    let (rounds, done) = rounds_of(&mut s, &id2);
    assert_eq!(done["green"], true, "{done}");
    assert_eq!(rounds.len(), 2);
    assert!(rounds.iter().all(|r| r["cached"] == true), "{rounds:?}");
    assert_eq!(done["fixed"].as_str().unwrap(), script("len(xs)"));
    assert_eq!(mock.requests().len(), 2, "the model was not asked again");
    let discarded = s
        .command("warden.llm.fixDiscard", json!({"requestId": id2}))
        .unwrap();
    assert_eq!(discarded["discarded"], true);
    assert!(s.shutdown().success());
}

#[test]
fn a_loop_is_cancelled_while_the_model_thinks_and_nothing_is_left_to_accept() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, _, uri, _) = open_broken(dir.path(), &mock, &[("WARDEN_TEST_LLM_KEY", "sk-test")]);
    // The provider sends its headers, then nothing: the round waits on the model.
    mock.push(Script {
        stall: true,
        ..Script::default()
    });
    let started = s
        .command(
            "warden.llm.fixUntilGreen",
            json!({"uri": uri, "maxRounds": 2}),
        )
        .unwrap();
    let id = started["requestId"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while mock.requests().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the model was never asked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let cancelled = s
        .command("warden.llm.cancel", json!({"requestId": id}))
        .unwrap();
    assert_eq!(cancelled["cancelled"], true);
    let (rounds, done) = rounds_of(&mut s, &id);
    assert_eq!(done["green"], false);
    assert_eq!(done["stopped"], "cancelled", "{done}");
    assert!(done["fixed"].is_null());
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0]["outcome"], "cancelled");
    let accept = s.command("warden.llm.fixAccept", json!({"requestId": id}));
    assert!(accept.is_err(), "nothing waits to be accepted");
    let spans = s
        .request("warden/traces", json!({"kind": "command", "limit": 50}))
        .unwrap()["traces"]
        .as_array()
        .cloned()
        .unwrap();
    let top = spans
        .iter()
        .find(|sp| sp["name"] == "warden.llm.fixUntilGreen")
        .expect("the loop's span");
    assert_eq!(top["outcome"], "cancelled", "{top}");
    assert!(s.shutdown().success());
}

#[test]
fn without_an_engine_the_loop_stops_before_asking_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    let (mut s, _, uri, _) = open_broken(
        dir.path(),
        &mock,
        &[
            ("WARDEN_TEST_LLM_KEY", "sk-test"),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    let started = s
        .command("warden.llm.fixUntilGreen", json!({"uri": uri}))
        .unwrap();
    let id = started["requestId"].as_str().unwrap().to_owned();
    let (rounds, done) = rounds_of(&mut s, &id);
    let stopped = done["stopped"].as_str().unwrap();
    assert!(
        stopped.contains("the sandbox could not run the script"),
        "{done}"
    );
    assert!(rounds.is_empty() && done["fixed"].is_null());
    assert!(
        mock.requests().is_empty(),
        "the model is not asked to fix an engine"
    );
    assert!(s.shutdown().success());
}
