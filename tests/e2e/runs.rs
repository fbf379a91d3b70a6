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
