//! Files named by a client or a user, against the real binary: a FIFO, `/dev/zero`, a
//! symbolic-link loop and a sparse 1 GB file as a `warden.run` input, a `warden run
//! --input`, a `warden scan --baseline`, the baseline `warden.secrets.addToBaseline`
//! writes, and `warden db import` paths are refused quickly with a message naming the
//! file (and the limit), never read whole or waited on; the server keeps serving. None
//! needs Docker: inputs are checked before the engine is contacted (which is pointed
//! at a socket that does not exist). CLI children run under `ulimit -v` and a deadline,
//! so a regression fails the test instead of exhausting the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const NO_ENGINE: &str = "unix:///nonexistent/docker.sock";

/// Virtual memory allowed to a CLI child, KiB: far above what warden needs, far below
/// what reading a 1 GB file (or `/dev/zero`) would take.
const VMEM_KIB: u64 = 3 << 20;

/// The JSON-RPC error code of InvalidParams.
const INVALID_PARAMS: i64 = -32602;
/// How soon a refusal must come. Not a speed check (benchmarks measure speed): opening a
/// FIFO would wait for a writer forever and reading a device never ends, so an answer at
/// all, within a bound no loaded machine reaches, is what these tests assert.
const ANSWERED: Duration = Duration::from_secs(20);

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// A sparse file of 1 GiB (no disk blocks used).
fn sparse_gib(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(1 << 30).unwrap();
}

/// A repository with a runnable script.
fn project(base: &Path) -> PathBuf {
    let root = repo(base, "proj");
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::write(root.join("scripts/a.py"), "print(1)\n").unwrap();
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "script"]);
    root
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `warden args...` in `dir` under `ulimit -v`, killed after `deadline`; panics
/// (naming the command) when it does not finish in time.
fn warden_bounded(db: &Path, dir: &Path, args: &[&str], deadline: Duration) -> Finished {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {VMEM_KIB} && exec \"$0\" \"$@\""))
        .arg(warden_bin())
        .args(args)
        .current_dir(dir)
        .env("WARDEN_DB", db)
        .env("DOCKER_HOST", NO_ENGINE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn warden");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "warden {args:?} did not finish within {deadline:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = started.elapsed();
    let out = child.wait_with_output().unwrap();
    Finished {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

fn server(base: &Path, root: &Path, settings: Value) -> Server {
    let mut s = Server::spawn_with(&base.join("db/w.db"), &[("DOCKER_HOST", NO_ENGINE)]);
    s.settings = settings;
    s.initialize(&[root], s.settings.clone());
    s
}

/// Sends `warden.run` with `input`; the error it answers, and how long that took.
fn run_error(s: &mut Server, uri: &str, input: &str) -> (Value, Duration) {
    let started = Instant::now();
    let id = s.send_request(
        "workspace/executeCommand",
        json!({"command": "warden.run", "arguments": [{"uri": uri, "input": input}]}),
    );
    let answer = s.response(id);
    let took = started.elapsed();
    match answer {
        Err(e) => (e, took),
        Ok(v) => panic!("warden.run with input {input} was accepted: {v}"),
    }
}

fn message(e: &Value) -> &str {
    e["message"].as_str().unwrap_or_default()
}

#[test]
fn lsp_run_refuses_fifo_device_and_oversized_inputs_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = project(&base);
    let fifo = base.join("in.fifo");
    mkfifo(&fifo);
    let big = base.join("big.csv");
    sparse_gib(&big);
    let small_limit = base.join("two-mib.csv");
    std::fs::write(&small_limit, vec![b'x'; 2 << 20]).unwrap();
    let mut s = server(
        &base,
        &root,
        json!({"scan": {"onStartup": false}, "run": {"limits": {"inputMb": 1}}}),
    );
    let uri = file_uri(&root.join("scripts/a.py"));

    // Warm-up (the workspace's configuration is built): a missing input.
    let (e, _) = run_error(&mut s, &uri, "missing.csv");
    assert_eq!(e["code"], INVALID_PARAMS, "{e}");
    assert!(message(&e).contains("missing.csv"), "{e}");

    // A FIFO is never opened (opening it would wait for a writer forever).
    let (e, took) = run_error(&mut s, &uri, fifo.to_str().unwrap());
    assert_eq!(e["code"], INVALID_PARAMS, "{e}");
    assert!(
        message(&e).contains(fifo.to_str().unwrap()) && message(&e).contains("a FIFO"),
        "{e}"
    );
    assert!(took < ANSWERED, "took {took:?}");

    // Over run.limits.inputMb (1 here): refused by its size, named with the limit.
    for (input, size) in [(&small_limit, "2097152 bytes"), (&big, "1073741824 bytes")] {
        let (e, took) = run_error(&mut s, &uri, &file_uri(input));
        assert_eq!(e["code"], INVALID_PARAMS, "{e}");
        let m = message(&e);
        assert!(
            m.contains(input.to_str().unwrap())
                && m.contains(size)
                && m.contains("run.limits.inputMb = 1"),
            "{e}"
        );
        assert!(took < ANSWERED, "took {took:?}");
    }

    // A device: never read (`/dev/zero` would fill memory).
    let (e, took) = run_error(&mut s, &uri, "/dev/zero");
    assert_eq!(e["code"], INVALID_PARAMS, "{e}");
    assert!(
        message(&e).contains("/dev/zero") && message(&e).contains("character device"),
        "{e}"
    );
    assert!(took < ANSWERED, "took {took:?}");

    // A symbolic-link loop.
    let looped = base.join("loop.csv");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let (e, _) = run_error(&mut s, &uri, looped.to_str().unwrap());
    assert_eq!(e["code"], INVALID_PARAMS, "{e}");
    assert!(message(&e).contains("loop.csv"), "{e}");

    // Still serving, and a good input gets past the checks (to the missing engine).
    assert!(!s.workspaces().is_empty());
    std::fs::write(root.join("in.csv"), "a,b\n").unwrap();
    let r = s
        .command("warden.run", json!({"uri": uri, "input": "in.csv"}))
        .unwrap();
    let run_id = r["runId"].as_str().unwrap().to_owned();
    let done = s.wait_for("warden/runFinished", |p| p["runId"] == run_id.as_str());
    assert_eq!(done["status"], "error", "{done}");
    assert!(s.shutdown().success());
}

#[test]
fn cli_run_refuses_fifo_device_and_oversized_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = project(&base);
    let db = base.join("db/w.db");
    let fifo = base.join("in.fifo");
    mkfifo(&fifo);
    let big = base.join("big.csv");
    sparse_gib(&big);
    let cases: [(&str, &[&str]); 3] = [
        ("/dev/zero", &["/dev/zero", "character device"]),
        (fifo.to_str().unwrap(), &["in.fifo", "a FIFO"]),
        (
            big.to_str().unwrap(),
            &[
                "big.csv",
                "1073741824 bytes",
                "64 MiB",
                "run.limits.inputMb",
            ],
        ),
    ];
    for (input, expected) in cases {
        let r = warden_bounded(
            &db,
            &root,
            &["run", "scripts/a.py", "--input", input],
            Duration::from_secs(10),
        );
        assert_eq!(r.code, Some(2), "{input}: {}", r.stderr);
        for e in expected {
            assert!(r.stderr.contains(e), "{input}: no {e:?} in {}", r.stderr);
        }
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(r.took < ANSWERED, "{input}: took {:?}", r.took);
    }
}

#[test]
fn scan_refuses_a_baseline_that_is_not_a_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = project(&base);
    let db = base.join("db/w.db");
    let fifo = base.join("baseline.fifo");
    mkfifo(&fifo);
    let big = base.join("baseline.json");
    sparse_gib(&big);
    for (baseline, expected) in [
        (fifo.to_str().unwrap(), "a FIFO, not a regular file"),
        ("/dev/zero", "a character device, not a regular file"),
        (big.to_str().unwrap(), "over the limit of 16 MiB"),
    ] {
        let r = warden_bounded(
            &db,
            &root,
            &["scan", ".", "--baseline", baseline],
            Duration::from_secs(10),
        );
        assert_eq!(r.code, Some(2), "{baseline}: {}", r.stderr);
        assert!(
            r.stderr.contains(baseline) && r.stderr.contains(expected),
            "{}",
            r.stderr
        );
        assert!(r.took < ANSWERED, "took {:?}", r.took);
    }
    // The repository's own baseline as a FIFO costs a warning, not a hang.
    mkfifo(&root.join(".warden-baseline.json"));
    let r = warden_bounded(&db, &root, &["scan", "."], Duration::from_secs(10));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains(".warden-baseline.json: a FIFO"),
        "{}",
        r.stderr
    );
}

#[test]
fn add_to_baseline_refuses_unknown_rules_and_special_files() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let root = project(&base);
    let mut s = server(
        &base,
        &root,
        json!({"scan": {"onStartup": false}, "secrets": {"rules": [{
            "id": "acme-key", "regex": "\\b(acme_[a-z0-9]{32})\\b", "secret_group": 1,
            "keywords": ["acme_"]
        }]}}),
    );
    let uri = file_uri(&root.join("src/main.py"));
    let fp = "ab".repeat(32);
    let add = |s: &mut Server, rule: &str| {
        let started = Instant::now();
        let r = s.command(
            "warden.secrets.addToBaseline",
            json!({"uri": uri, "rule": rule, "fingerprint": fp}),
        );
        (r, started.elapsed())
    };
    let (r, _) = add(&mut s, "no-such-rule");
    let e = r.unwrap_err();
    assert_eq!(e["code"], INVALID_PARAMS, "{e}");
    assert!(message(&e).contains("\"no-such-rule\""), "{e}");
    assert!(
        !root.join(".warden-baseline.json").exists(),
        "nothing written"
    );

    // A built-in rule and a configured one are known.
    let (r, _) = add(&mut s, "aws-access-key-id");
    assert_eq!(r.unwrap()["added"], true);
    let (r, _) = add(&mut s, "acme-key");
    assert_eq!(r.unwrap()["added"], true);
    let written = std::fs::read_to_string(root.join(".warden-baseline.json")).unwrap();
    assert!(written.contains("acme-key"), "{written}");

    // The baseline as a FIFO, a symbolic-link loop, a link elsewhere, or 1 GB.
    let file = root.join(".warden-baseline.json");
    let elsewhere = base.join("elsewhere.json");
    std::fs::write(&elsewhere, "{\"version\": 1, \"findings\": []}").unwrap();
    let cases: [(&str, &dyn Fn()); 4] = [
        ("a FIFO", &|| mkfifo(&file)),
        ("a symbolic link", &|| {
            std::os::unix::fs::symlink(&file, &file).unwrap()
        }),
        ("a symbolic link", &|| {
            std::os::unix::fs::symlink(&elsewhere, &file).unwrap()
        }),
        ("over the limit of 16 MiB", &|| sparse_gib(&file)),
    ];
    for (expected, make) in cases {
        std::fs::remove_file(&file).unwrap();
        make();
        let (r, took) = add(&mut s, "aws-access-key-id");
        let e = r.unwrap_err();
        assert_eq!(e["code"], INVALID_PARAMS, "{e}");
        assert!(
            message(&e).contains(".warden-baseline.json") && message(&e).contains(expected),
            "{expected}: {e}"
        );
        assert!(took < ANSWERED, "{expected}: took {took:?}");
    }
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "{\"version\": 1, \"findings\": []}",
        "not written through the link"
    );
    assert!(!s.workspaces().is_empty());
    assert!(s.shutdown().success());
}

#[test]
fn db_import_refuses_special_and_huge_files_and_imports_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let db = base.join("db/w.db");
    std::fs::create_dir_all(base.join("db")).unwrap();
    let fifo = base.join("records.json");
    mkfifo(&fifo);
    let big = base.join("huge.json");
    sparse_gib(&big);
    let good = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/osv/npm/MAL-2025-46969.json")
        .canonicalize()
        .unwrap();
    let looped = base.join("loop.json");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();

    for (path, expected) in [
        (fifo.to_str().unwrap(), "a FIFO, not a regular file"),
        ("/dev/zero", "a character device, not a regular file"),
        (looped.to_str().unwrap(), "symbolic links"),
        (big.to_str().unwrap(), "over the limit of 64 MiB"),
    ] {
        let r = warden_bounded(&db, &base, &["db", "import", path], Duration::from_secs(10));
        assert_eq!(r.code, Some(2), "{path}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(path) && r.stderr.contains(expected),
            "{path}: {}",
            r.stderr
        );
        assert!(r.took < ANSWERED, "{path}: took {:?}", r.took);
    }

    // Good files in the same call are imported; the refusals still fail the command.
    let r = warden_bounded(
        &db,
        &base,
        &[
            "db",
            "import",
            fifo.to_str().unwrap(),
            good.to_str().unwrap(),
            big.to_str().unwrap(),
        ],
        Duration::from_secs(10),
    );
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("npm") && r.stdout.contains("1 added"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2 refused"), "{}", r.stdout);
    assert!(
        r.stderr.contains("records.json: a FIFO") && r.stderr.contains("huge.json: 1073741824"),
        "{}",
        r.stderr
    );
    let stats = warden_bounded(&db, &base, &["db", "stats"], Duration::from_secs(10));
    assert!(stats.stdout.contains("npm"), "{}", stats.stdout);

    // In a folder: a FIFO named like a record is refused, the rest imported.
    let dir = base.join("osv");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&good, dir.join("good.json")).unwrap();
    mkfifo(&dir.join("stuck.json"));
    let r = warden_bounded(
        &db,
        &base,
        &["db", "import", dir.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 unchanged"), "{}", r.stdout);
    assert!(r.stderr.contains("stuck.json: a FIFO"), "{}", r.stderr);
}
