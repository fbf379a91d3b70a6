//! Worktree collisions end to end: a file with uncommitted changes in two worktrees of
//! a repository gets a warning naming the other worktree and its branch, with the
//! other copy as related information and a code action whose client-side command
//! opens the diff; it comes and goes on save and on the poll (for changes made in the
//! worktree the editor does not have open), on real `git worktree`s.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const CODE: &str = "worktree-collision";

fn collision(p: &Value) -> Option<Value> {
    p["diagnostics"]
        .as_array()?
        .iter()
        .find(|d| d["code"] == CODE)
        .cloned()
}

#[test]
fn a_file_changed_in_two_worktrees_is_flagged_until_one_side_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let main = repo(dir.path(), "app");
    let agent = dir.path().join("app-agent");
    git(
        &main,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "agent/fix",
            agent.to_str().unwrap(),
        ],
    );
    let agent = std::fs::canonicalize(agent).unwrap();
    let file = main.join("src/main.py");
    std::fs::write(&file, "print('mine')\n").unwrap();
    let uri = file_uri(&file);
    let other_uri = file_uri(&agent.join("src/main.py"));

    let mut s = Server::spawn(&dir.path().join("w.db"));
    s.initialize(&[&main], json!({}));
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "print('mine')\n"}}),
    );
    let first = s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    assert!(
        collision(&first).is_none(),
        "only one copy changed: {first}"
    );

    // The agent changes its copy; the editor never sees it saved: the poll finds it.
    std::fs::write(agent.join("src/main.py"), "print('agent')\n").unwrap();
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && collision(p).is_some()
    });
    let d = collision(&p).unwrap();
    assert_eq!(d["severity"], 2, "a warning: {d}");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("agent/fix"), "{message}");
    assert!(message.contains(agent.to_str().unwrap()), "{message}");
    assert_eq!(d["relatedInformation"][0]["location"]["uri"], other_uri);

    let actions = s
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": {"uri": uri},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                "context": {"diagnostics": [d]},
            }),
        )
        .unwrap();
    let compare = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["command"]["command"] == "warden.worktrees.compare")
        .unwrap_or_else(|| panic!("no compare action: {actions}"));
    assert!(compare["title"].as_str().unwrap().contains("agent/fix"));
    let args = &compare["command"]["arguments"][0];
    assert_eq!(args["uri"], uri);
    assert_eq!(args["otherUri"], other_uri);
    assert_eq!(args["branch"], "agent/fix");

    // This copy back to its committed text and saved: no collision.
    git(&main, &["checkout", "--", "src/main.py"]);
    s.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && collision(p).is_none()
    });
    // Changed and saved again: back.
    std::fs::write(&file, "print('mine again')\n").unwrap();
    s.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && collision(p).is_some()
    });
    // The agent commits: its copy has nothing uncommitted, and the poll clears ours.
    git(&agent, &["commit", "-q", "-am", "agent's fix"]);
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && collision(p).is_none()
    });
    // Nothing else is published while nothing changes (the poll republishes on change only).
    let quiet = s.take("textDocument/publishDiagnostics", Duration::from_secs(5));
    assert!(quiet.is_empty(), "{quiet:?}");
    s.shutdown();
}
