//! Sandboxed runs end to end against the real Docker engine: `warden run` / `warden
//! runs` from a terminal, and over LSP `warden.run` with live output, cancel, failures
//! as diagnostics, history, search, statistics, the script catalog, run-all groups
//! and orphan reaping after the server is killed. Without an engine they skip with a
//! printed reason unless `WARDEN_REQUIRE_DOCKER` is set, when they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

/// Whether a Docker engine answers (skipping, or failing when one is required).
pub fn docker() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("WARDEN_REQUIRE_DOCKER").is_none(),
            "WARDEN_REQUIRE_DOCKER is set but no Docker engine answers (docker version failed)"
        );
        eprintln!("SKIPPED: no Docker engine answers and WARDEN_REQUIRE_DOCKER is unset");
    }
    ok
}

/// A repository with `scripts/` holding `files`.
fn project(base: &Path, files: &[(&str, &str)]) -> PathBuf {
    let root = repo(base, "proj");
    for (p, text) in files {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "scripts"]);
    root
}

fn warden(db: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(warden_bin())
        .args(args)
        .current_dir(dir)
        .env("WARDEN_DB", db)
        .output()
        .expect("run warden")
}

const FAILING: &str = "\"\"\"Divide things.\"\"\"\n\n\ndef f(x):\n    return 1 / x\n\n\nprint('before', flush=True)\nf(0)\n";

#[test]
fn cli_run_streams_records_and_points_at_the_failing_line() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        &[
            (
                "scripts/1_ok.py",
                "import sys\nprint('args', sys.argv[1:])\nprint(open(sys.argv[1]).read().strip())\nopen('/out/r.txt', 'w').write('res')\n",
            ),
            ("scripts/2_bad.py", FAILING),
            ("data/in.txt", "hello input\n"),
        ],
    );
    let db = dir.path().join("db/w.db");
    let ok = warden(
        &db,
        &root,
        &[
            "run",
            "scripts/1_ok.py",
            "--input",
            "data/in.txt",
            "--",
            "--x",
        ],
    );
    let (out, err) = (
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr),
    );
    assert!(ok.status.success(), "{out}\n{err}");
    assert_eq!(out, "args ['/work/input/in.txt', '--x']\nhello input\n");
    assert!(
        err.contains("scripts/1_ok.py: succeeded") && err.contains("r.txt (3 B)"),
        "{err}"
    );

    let bad = warden(&db, &root, &["run", "scripts/2_bad.py"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(err.contains("ZeroDivisionError: division by zero"), "{err}");
    assert!(
        err.contains(
            "scripts/2_bad.py:5:1: error[warden-run]: ZeroDivisionError: division by zero"
        ),
        "{err}"
    );
    // The traceback names the workspace file, not the script's path in the container.
    assert!(
        err.contains("  File \"scripts/2_bad.py\", line 5, in f\n"),
        "{err}"
    );
    assert!(!err.contains("/work/2_bad.py"), "{err}");

    let list = warden(&db, &root, &["runs", "--json"]);
    let runs: Vec<Value> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["path"], "scripts/2_bad.py");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["head"], head(&root));
    assert_eq!(runs[1]["status"], "succeeded");
    assert_eq!(runs[1]["input"], "in.txt");
    assert_eq!(runs[1]["artifacts"][0]["path"], "r.txt");
    assert_eq!(runs[1]["limits"]["memoryMb"], 256);
    let table = String::from_utf8_lossy(&warden(&db, &root, &["runs"]).stdout).into_owned();
    assert!(
        table.contains("scripts/2_bad.py") && table.contains("failed"),
        "{table}"
    );

    // No engine: a clear error naming what was tried, exit 2.
    let none = Command::new(warden_bin())
        .args(["run", "scripts/1_ok.py"])
        .current_dir(&root)
        .env("WARDEN_DB", &db)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(none.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unix:///nonexistent/docker.sock") && err.contains("DOCKER_HOST"),
        "{err}"
    );
}

/// A server on `root` with `settings` merged over the test defaults.
fn server(base: &Path, root: &Path, env: &[(&str, &str)], extra: Value) -> Server {
    let mut s = Server::spawn_with(&base.join("db/w.db"), env);
    let mut settings = json!({"scan": {"onStartup": false}});
    if let (Some(o), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    s.settings = settings;
    s.initialize(&[root], s.settings.clone());
    s
}

fn open(s: &mut Server, path: &Path, text: &str) -> String {
    let uri = file_uri(path);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    uri
}

/// Waits for a run's end; returns `(runFinished params, its runOutput params)`.
fn finished(s: &mut Server, run_id: &str) -> (Value, Vec<Value>) {
    let done = s
        .wait_for_within(
            std::time::Duration::from_secs(60),
            "warden/runFinished",
            |p| p["runId"] == run_id,
        )
        .unwrap_or_else(|| panic!("run {run_id} did not finish; stderr:\n{}", s.stderr()));
    let out = s
        .take("warden/runOutput", std::time::Duration::from_millis(50))
        .into_iter()
        .filter(|o| o["runId"] == run_id)
        .collect();
    (done, out)
}

fn text_of(out: &[Value], stream: &str) -> String {
    out.iter()
        .filter(|o| o["stream"] == stream)
        .map(|o| o["chunk"].as_str().unwrap())
        .collect()
}

fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn containers_of(run_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=warden.run={run_id}"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn lsp_run_streams_live_in_order_and_is_recorded_with_its_version() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), &[("scripts/live.py", "print('on disk')\n")]);
    let mut s = server(dir.path(), &root, &[], json!({}));
    // Unsaved text runs, not the file on disk.
    let text = "import sys, time\nfor i in range(3):\n    print(f'line {i}', flush=True)\n    print(f'err {i}', file=sys.stderr, flush=True)\n    time.sleep(0.4)\nprint('done')\n";
    let uri = open(&mut s, &root.join("scripts/live.py"), text);
    let t0 = std::time::Instant::now();
    let r = s.command("warden.run", json!({"uri": uri})).unwrap();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "answers at once"
    );
    let run_id = r["runId"].as_str().unwrap().to_owned();
    s.wait_for("warden/runOutput", |p| p["runId"] == run_id.as_str());
    let first = std::time::Instant::now();
    let (done, out) = finished(&mut s, &run_id);
    assert!(
        first.elapsed() > std::time::Duration::from_millis(600),
        "output arrived while it ran"
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["exitCode"], 0);
    assert_eq!(done["truncated"], false);
    assert_eq!(done["path"], "scripts/live.py");
    assert!(done["message"].is_null());
    // Everything, in order (the first chunk was consumed by wait_for above).
    let seqs: Vec<u64> = out.iter().map(|o| o["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let stdout = format!("line 0\n{}", text_of(&out, "stdout"));
    assert!(
        stdout == "line 0\nline 1\nline 2\ndone\n" || stdout.ends_with("line 1\nline 2\ndone\n"),
        "{stdout}"
    );
    assert!(text_of(&out, "stderr").ends_with("err 1\nerr 2\n"));

    // History with the version that ran.
    let runs = s.request("warden/runs", json!({"uri": uri})).unwrap();
    let rec = &runs["runs"][0];
    assert_eq!(rec["runId"], run_id);
    assert_eq!(
        rec["contentHash"],
        sha256(text),
        "the unsaved text is the version"
    );
    assert_eq!(rec["head"], head(&root));
    assert_eq!(rec["dirty"], false);
    assert_eq!(rec["image"], "warden-runner-python:bookworm");
    assert_eq!(rec["limits"]["pids"], 64);
    assert_eq!(rec["status"], "succeeded");
    let log = s
        .request("warden/runLog", json!({"runId": run_id}))
        .unwrap();
    assert_eq!(log["stdout"], "line 0\nline 1\nline 2\ndone\n");
    assert_eq!(log["stderr"], "err 0\nerr 1\nerr 2\n");
    assert!(
        s.request("warden/runLog", json!({"runId": "nope"}))
            .is_err()
    );

    // The run span is a child of the command span and carries image, limits, status.
    let spans = s.request("warden/traces", json!({"kind": "run"})).unwrap();
    let run_span = &spans["traces"][0];
    assert_eq!(run_span["name"], "scripts/live.py");
    assert_eq!(run_span["input"]["image"], "warden-runner-python:bookworm");
    assert_eq!(run_span["input"]["limits"]["memoryMb"], 256);
    assert_eq!(run_span["output"]["status"], "succeeded");
    let parent = s
        .request("warden/traces", json!({"kind": "command"}))
        .unwrap()["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "warden.run")
        .cloned()
        .unwrap();
    assert_eq!(run_span["parentId"], parent["id"]);
    assert_eq!(parent["outcome"], "ok");
    assert!(containers_of(&run_id).is_empty());
}

#[test]
fn lsp_failure_is_a_diagnostic_until_success_or_change_and_cancel_works() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = "\"\"\"Invert a number read from the input.\"\"\"\nimport sys\n\nn = int(open(sys.argv[1]).read())\nprint(1 / n)\n";
    let root = project(
        dir.path(),
        &[
            ("scripts/inv.py", script),
            ("zero.txt", "0\n"),
            ("two.txt", "2\n"),
        ],
    );
    let mut s = server(dir.path(), &root, &[], json!({}));
    let uri = open(&mut s, &root.join("scripts/inv.py"), script);
    let run = |s: &mut Server, input: &str| -> Value {
        let r = s
            .command("warden.run", json!({"uri": uri, "input": input}))
            .unwrap();
        finished(s, r["runId"].as_str().unwrap()).0
    };
    let is_run_diag = |p: &Value| {
        p["diagnostics"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["source"] == "warden-run"))
    };
    let r = s
        .command("warden.run", json!({"uri": uri, "input": "zero.txt"}))
        .unwrap();
    let (done, out) = finished(&mut s, r["runId"].as_str().unwrap());
    assert_eq!(done["status"], "failed");
    assert_eq!(done["message"], "exited with code 1");
    // Streamed and stored, the traceback names the workspace file (the runtime printed
    // the script's path in the container).
    let frame = "  File \"scripts/inv.py\", line 5, in <module>\n";
    let streamed = text_of(&out, "stderr");
    assert!(streamed.contains(frame), "{streamed}");
    let log = s
        .request("warden/runLog", json!({"runId": done["runId"]}))
        .unwrap();
    let stored = log["stderr"].as_str().unwrap();
    assert!(stored.contains(frame), "{stored}");
    assert!(!stored.contains("/work/inv.py"), "{stored}");
    let diags = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && is_run_diag(p)
    });
    let d = diags["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "warden-run")
        .unwrap();
    assert_eq!(d["message"], "ZeroDivisionError: division by zero");
    assert_eq!(d["range"]["start"], json!({"line": 4, "character": 0}));
    assert_eq!(d["range"]["end"], json!({"line": 4, "character": 12}));
    assert_eq!(d["severity"], 1);

    // The next successful run clears it.
    assert_eq!(run(&mut s, "two.txt")["status"], "succeeded");
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && !is_run_diag(p)
    });

    // So does a change of the file.
    assert_eq!(run(&mut s, "zero.txt")["status"], "failed");
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && is_run_diag(p)
    });
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"text": format!("{script}# edited\n")}]}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && !is_run_diag(p)
    });

    // Cancel mid-run.
    let sleepy = root.join("scripts/sleepy.py");
    std::fs::write(
        &sleepy,
        "import time\nprint('started', flush=True)\ntime.sleep(60)\n",
    )
    .unwrap();
    let r = s
        .command(
            "warden.run",
            json!({"uri": file_uri(&sleepy), "runId": "sleepy-1"}),
        )
        .unwrap();
    assert_eq!(r["runId"], "sleepy-1");
    s.wait_for("warden/runOutput", |p| p["runId"] == "sleepy-1");
    let t = std::time::Instant::now();
    let c = s
        .command("warden.run.cancel", json!({"runId": "sleepy-1"}))
        .unwrap();
    assert_eq!(c["cancelled"], true);
    let (done, _) = finished(&mut s, "sleepy-1");
    assert_eq!(done["status"], "cancelled");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert!(containers_of("sleepy-1").is_empty());
    let c = s
        .command("warden.run.cancel", json!({"runId": "sleepy-1"}))
        .unwrap();
    assert_eq!(c["cancelled"], false);

    // History filters, output search with context, statistics.
    let failed = s
        .request("warden/runs", json!({"status": "failed"}))
        .unwrap();
    assert_eq!(failed["runs"].as_array().unwrap().len(), 2);
    let page = s.request("warden/runs", json!({"limit": 2})).unwrap();
    let next = page["nextCursor"].as_str().unwrap().to_owned();
    let rest = s
        .request("warden/runs", json!({"limit": 2, "cursor": next}))
        .unwrap();
    assert_eq!(rest["runs"].as_array().unwrap().len(), 2);
    assert!(
        s.request("warden/runs", json!({"status": "bogus"}))
            .is_err()
    );
    let hits = s
        .request(
            "warden/runSearch",
            json!({"workspace": "proj", "pattern": "Zero.*zero", "context": 1}),
        )
        .unwrap();
    let h = &hits["hits"][0];
    assert_eq!(h["stream"], "stderr");
    assert_eq!(h["text"], "ZeroDivisionError: division by zero");
    assert_eq!(h["before"].as_array().unwrap().len(), 1);
    assert_eq!(hits["hits"].as_array().unwrap().len(), 2);
    assert!(
        s.request("warden/runSearch", json!({"pattern": "("}))
            .is_err()
    );
    let stats = s
        .request("warden/runStats", json!({"workspace": "proj"}))
        .unwrap();
    let inv = stats["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "scripts/inv.py")
        .unwrap()
        .clone();
    assert_eq!(
        (inv["runs"].as_u64(), inv["succeeded"].as_u64()),
        (Some(3), Some(1))
    );
    assert!((inv["successRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert!(inv["p50Ms"].as_u64().unwrap() > 0 && inv["p95Ms"].as_u64() >= inv["p50Ms"].as_u64());
}

#[test]
fn lsp_run_all_groups_overlap_inside_and_not_across_with_progress_and_catalog() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let timed = |doc: &str| {
        format!(
            "\"\"\"{doc}\"\"\"\nimport time\nprint('start', time.time(), flush=True)\ntime.sleep(1.5)\nprint('end', time.time())\n"
        )
    };
    let root = project(
        dir.path(),
        &[
            ("scripts/1.01_fetch.py", &timed("Fetch the data.")),
            ("scripts/1.02_prepare.py", &timed("Prepare it.")),
            ("scripts/2_train.py", &timed("Train.")),
            (
                "scripts/report.py",
                "# warden: order=3.5\n# Write the report\nprint('report')\n",
            ),
            ("scripts/notes.txt", "not a script\n"),
            ("other/ignored.py", "print('outside run.scripts')\n"),
        ],
    );
    std::fs::write(root.join("scripts/2_train.py"), timed("Train, edited.")).unwrap();
    let mut s = server(dir.path(), &root, &[], json!({}));
    let cat = s
        .request("warden/scripts", json!({"workspace": "proj"}))
        .unwrap();
    let list = cat["scripts"].as_array().unwrap();
    let paths: Vec<&str> = list.iter().map(|x| x["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "scripts/1.01_fetch.py",
            "scripts/1.02_prepare.py",
            "scripts/2_train.py",
            "scripts/report.py"
        ]
    );
    assert_eq!(list[0]["name"], "Fetch the data.");
    assert_eq!(list[0]["order"], "1.01");
    assert_eq!(list[0]["group"], 1);
    assert_eq!(list[0]["commit"], head(&root));
    assert_eq!(list[0]["dirty"], false);
    assert_eq!(list[2]["dirty"], true, "edited on disk");
    assert_eq!(list[3]["name"], "Write the report");
    assert_eq!(list[3]["order"], "3.5");
    assert!(list[0]["lastStatus"].is_null());

    let r = s
        .command("warden.runAll", json!({"workspace": "proj"}))
        .unwrap();
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].as_array().unwrap().len(), 2);
    let token = r["progressToken"].as_str().unwrap().to_owned();
    let ids: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.as_array()
                .unwrap()
                .iter()
                .map(|p| p["runId"].as_str().unwrap().to_owned())
        })
        .collect();
    let mut spans = std::collections::HashMap::new();
    for id in &ids {
        let (done, _) = finished(&mut s, id);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["batchId"], r["batchId"]);
        let log = s.request("warden/runLog", json!({"runId": id})).unwrap();
        let nums: Vec<f64> = log["stdout"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        spans.insert(log["path"].as_str().unwrap().to_owned(), nums);
    }
    let (a, b, c) = (
        &spans["scripts/1.01_fetch.py"],
        &spans["scripts/1.02_prepare.py"],
        &spans["scripts/2_train.py"],
    );
    assert!(
        a[0] < b[1] && b[0] < a[1],
        "members of group 1 overlap: {a:?} {b:?}"
    );
    assert!(
        c[0] >= a[1] && c[0] >= b[1],
        "group 2 starts after group 1 ends: {c:?}"
    );
    let progress = s.take("$/progress", std::time::Duration::from_millis(300));
    let mine: Vec<&Value> = progress
        .iter()
        .filter(|p| p["token"] == token.as_str())
        .collect();
    assert_eq!(mine[0]["value"]["kind"], "begin");
    assert_eq!(mine[0]["value"]["cancellable"], true);
    assert!(
        mine.iter()
            .any(|p| p["value"]["message"] == "4/4 scripts (group 3)")
    );
    assert_eq!(mine.last().unwrap()["value"]["kind"], "end");
    assert_eq!(mine.last().unwrap()["value"]["message"], "4 succeeded");

    let cat = s
        .request("warden/scripts", json!({"workspace": "proj"}))
        .unwrap();
    assert!(
        cat["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["lastStatus"] == "succeeded")
    );

    // Cancelling the progress stops the whole batch.
    let r = s
        .command("warden.runAll", json!({"workspace": "proj"}))
        .unwrap();
    let token = r["progressToken"].as_str().unwrap().to_owned();
    let first = r["groups"][0][0]["runId"].as_str().unwrap().to_owned();
    s.wait_for("warden/runOutput", |p| p["runId"] == first.as_str());
    s.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let (done, _) = finished(&mut s, &first);
    assert_eq!(done["status"], "cancelled");
    let end = s.wait_for("$/progress", |p| {
        p["token"] == token.as_str() && p["value"]["kind"] == "end"
    });
    assert!(
        end["value"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{end}"
    );
    let later = r["groups"][1][0]["runId"].as_str().unwrap();
    assert!(
        s.take("warden/runFinished", std::time::Duration::from_millis(300))
            .iter()
            .all(|f| f["runId"] != later),
        "group 2 never ran"
    );
}

#[test]
fn orphaned_containers_are_reaped_after_the_server_is_killed() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        &[(
            "scripts/long.py",
            "import time\nprint('up', flush=True)\ntime.sleep(120)\n",
        )],
    );
    let mut s = server(dir.path(), &root, &[], json!({}));
    let uri = file_uri(&root.join("scripts/long.py"));
    s.command("warden.run", json!({"uri": uri, "runId": "orphan-e2e"}))
        .unwrap();
    s.wait_for("warden/runOutput", |p| p["runId"] == "orphan-e2e");
    s.kill(); // SIGKILL: no clean-up
    assert_eq!(
        containers_of("orphan-e2e").len(),
        1,
        "left behind by the dead server"
    );
    let mut s2 = server(dir.path(), &root, &[], json!({}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !containers_of("orphan-e2e").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphan was not reaped; stderr:\n{}",
            s2.stderr()
        );
        // Serves the server's own requests (settings) while waiting.
        s2.take("warden/none", std::time::Duration::from_millis(100));
    }
    assert!(s2.is_running());
}

#[test]
fn an_unreachable_engine_is_a_clear_error_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        &[("scripts/a.py", "print(1)\n"), ("notes.txt", "text\n")],
    );
    let mut s = server(
        dir.path(),
        &root,
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        json!({}),
    );
    let uri = file_uri(&root.join("scripts/a.py"));
    let r = s.command("warden.run", json!({"uri": uri})).unwrap();
    let (done, _) = finished(&mut s, r["runId"].as_str().unwrap());
    assert_eq!(done["status"], "error");
    let msg = done["message"].as_str().unwrap();
    assert!(
        msg.contains("unix:///nonexistent/docker.sock") && msg.contains("DOCKER_HOST"),
        "{msg}"
    );
    let shown = s.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(
        shown["message"]
            .as_str()
            .unwrap()
            .contains("could not run scripts/a.py")
    );
    assert!(!s.workspaces().is_empty(), "still serving");
    // Bad arguments are refused before anything runs.
    let e = s
        .command("warden.run", json!({"uri": "file:///nope/x.py"}))
        .unwrap_err();
    assert!(
        e["message"].as_str().unwrap().contains("cannot read"),
        "{e}"
    );
    let e = s
        .command(
            "warden.run",
            json!({"uri": file_uri(&root.join("notes.txt"))}),
        )
        .unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("no runner"), "{e}");
    assert_eq!(s.shutdown().code(), Some(0));
}

#[test]
fn lsp_run_all_stops_after_a_failed_group_when_asked() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        &[
            ("scripts/1_bad.sh", "echo failing\nexit 3\n"),
            ("scripts/1_good.py", "print('fine')\n"),
            ("scripts/2_next.js", "console.log('never')\n"),
        ],
    );
    let mut s = server(dir.path(), &root, &[], json!({}));
    let r = s
        .command(
            "warden.runAll",
            json!({"workspace": "proj", "stopOnFailure": true}),
        )
        .unwrap();
    let token = r["progressToken"].as_str().unwrap().to_owned();
    let bad = r["groups"][0][0]["runId"].as_str().unwrap().to_owned();
    assert_eq!(r["groups"][0][0]["path"], "scripts/1_bad.sh");
    let next = r["groups"][1][0]["runId"].as_str().unwrap().to_owned();
    let (done, out) = finished(&mut s, &bad);
    assert_eq!(done["status"], "failed");
    assert_eq!(done["exitCode"], 3);
    assert_eq!(text_of(&out, "stdout"), "failing\n");
    let end = s.wait_for("$/progress", |p| {
        p["token"] == token.as_str() && p["value"]["kind"] == "end"
    });
    let msg = end["value"]["message"].as_str().unwrap();
    assert!(
        msg.contains("stopped after group 1 failed (2/3 ran)"),
        "{msg}"
    );
    assert!(
        s.take("warden/runFinished", std::time::Duration::from_millis(300))
            .iter()
            .all(|f| f["runId"] != next.as_str())
    );
    let c = s
        .command("warden.run.cancel", json!({"runId": next}))
        .unwrap();
    assert_eq!(c["cancelled"], false, "nothing left registered");
}

/// A window reload or a restart forgets published diagnostics; the store does not. The
/// last failed run of each script is published again at start-up, without the script
/// being opened, while its text is still the one that ran.
#[test]
fn a_failed_run_is_a_diagnostic_again_after_a_restart_until_the_script_changes() {
    if !docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first = "import sys\n\nprint(1 / 0)\n";
    let second = "\"\"\"Fails too.\"\"\"\nraise SystemExit(int('x'))\n";
    let root = project(
        dir.path(),
        &[("scripts/first.py", first), ("scripts/second.py", second)],
    );
    let is_run_diag = |p: &Value| {
        p["diagnostics"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["source"] == "warden-run"))
    };
    let (first_uri, second_uri) = (
        file_uri(&root.join("scripts/first.py")),
        file_uri(&root.join("scripts/second.py")),
    );
    let mut s = server(dir.path(), &root, &[], json!({}));
    for (uri, path) in [
        (&first_uri, "scripts/first.py"),
        (&second_uri, "scripts/second.py"),
    ] {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        open(&mut s, &root.join(path), &text);
        let r = s.command("warden.run", json!({"uri": uri})).unwrap();
        assert_eq!(
            finished(&mut s, r["runId"].as_str().unwrap()).0["status"],
            "failed"
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == *uri && is_run_diag(p)
        });
    }
    s.shutdown();

    // Restarted, nothing opened: both failures are back where they were.
    let mut s = server(dir.path(), &root, &[], json!({}));
    let back = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == first_uri && is_run_diag(p)
    });
    let d = &back["diagnostics"].as_array().unwrap()[0];
    assert_eq!(d["message"], "ZeroDivisionError: division by zero");
    assert_eq!(d["range"]["start"], json!({"line": 2, "character": 0}));
    assert_eq!(d["code"], "run-failed");
    assert!(d["data"]["runId"].is_string(), "{d}");
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == second_uri && is_run_diag(p)
    });
    s.shutdown();

    // first.py changed on disk since it ran: its lines may have moved, so its failure
    // is not published; second.py's (published after it, in run order) still is.
    std::fs::write(root.join("scripts/first.py"), format!("\n{first}")).unwrap();
    let mut s = server(dir.path(), &root, &[], json!({}));
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == second_uri && is_run_diag(p)
    });
    let stale: Vec<Value> = s
        .take("textDocument/publishDiagnostics", std::time::Duration::ZERO)
        .into_iter()
        .filter(|p| p["uri"] == first_uri && is_run_diag(p))
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
    s.shutdown();
}
