//! Runs on other engines, end to end against real ones started by
//! `scripts/test-engines.sh`: a second dockerd on a loopback TCP port with TLS
//! (`WARDEN_TEST_TLS_ENGINE`; a trusted client certificate in `WARDEN_TEST_TLS_CERTS`,
//! one from an unrelated CA in `WARDEN_TEST_BAD_CERTS`) and Podman's Docker-compatible
//! service (`WARDEN_TEST_PODMAN`, or `WARDEN_TEST_PODMAN_UNAVAILABLE` with the reason it
//! cannot run here). `warden run` reaches the TLS engine through `DOCKER_HOST` and
//! refuses wrong or missing certificates with a message naming the engine; over LSP a
//! `run.engine` in the user's settings routes a workspace's runs, one in `.warden.toml`
//! waits until the file is trusted, and `warden/configTrust` reports each root's engine.
//! Without those variables the tests return early with a note, unless
//! `WARDEN_REQUIRE_ENGINES` is set, when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// The engines the script started.
struct Engines {
    tls: String,
    certs: PathBuf,
    bad: PathBuf,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required() -> bool {
    std::env::var_os("WARDEN_REQUIRE_ENGINES").is_some()
}

/// The TLS engine, or `None` (a printed note) when the tests were not given one.
fn engines() -> Option<Engines> {
    match (
        var("WARDEN_TEST_TLS_ENGINE"),
        var("WARDEN_TEST_TLS_CERTS"),
        var("WARDEN_TEST_BAD_CERTS"),
    ) {
        (Some(tls), Some(certs), Some(bad)) => Some(Engines {
            tls,
            certs: certs.into(),
            bad: bad.into(),
        }),
        _ => {
            assert!(
                !required(),
                "WARDEN_REQUIRE_ENGINES is set but WARDEN_TEST_TLS_ENGINE, WARDEN_TEST_TLS_CERTS or WARDEN_TEST_BAD_CERTS is not (run scripts/test-engines.sh)"
            );
            eprintln!(
                "SKIPPED: no second engine (scripts/test-engines.sh starts a TLS dockerd and Podman)"
            );
            None
        }
    }
}

/// A repository holding `files`, committed.
fn project(base: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = repo(base, name);
    for (p, text) in files {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "files"]);
    root
}

/// `warden ARGS` in `dir` with exactly the engine variables given (the others removed).
fn warden(db: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(warden_bin());
    cmd.args(args)
        .current_dir(dir)
        .env("WARDEN_DB", db)
        .env("HOME", dir)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run warden")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `docker` against the TLS engine with the trusted client certificate.
fn tls_docker(e: &Engines, args: &[&str]) -> Output {
    Command::new("docker")
        .args(["-H", &e.tls, "--tlsverify"])
        .arg("--tlscacert")
        .arg(e.certs.join("ca.pem"))
        .arg("--tlscert")
        .arg(e.certs.join("cert.pem"))
        .arg("--tlskey")
        .arg(e.certs.join("key.pem"))
        .args(args)
        .output()
        .expect("run docker")
}

/// An image only the TLS engine has: a run that finds it ran there.
const TLS_ONLY: &str = "warden-engines-tls-only:test";

fn tag_tls_only(e: &Engines) {
    let o = tls_docker(e, &["tag", "warden-runner-python:bookworm", TLS_ONLY]);
    assert!(o.status.success(), "{:?}", text(&o));
    let local = Command::new("docker")
        .args(["image", "inspect", TLS_ONLY])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(!local, "{TLS_ONLY} must exist only in the TLS engine");
}

fn warden_containers(e: &Engines) -> String {
    let o = tls_docker(e, &["ps", "-aq", "--filter", "label=warden.run"]);
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

const HELLO: &str =
    "import sys\nprint('hello over', sys.argv[1:])\nopen('/out/r.txt', 'w').write('res')\n";
const TLS_RUNNER: &str = "[[run.runners]]\nglob = \"**/*.py\"\nimage = \"warden-engines-tls-only:test\"\ncommand = [\"python3\"]\n";

#[test]
fn engines_tls_cli_runs_and_refuses_wrong_or_missing_certificates() {
    let Some(e) = engines() else { return };
    tag_tls_only(&e);
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        "tls",
        &[("scripts/hello.py", HELLO), (".warden.toml", TLS_RUNNER)],
    );
    let db = dir.path().join("db/w.db");
    let trust = warden(&db, &root, &[], &["trust", "."]);
    assert!(trust.status.success(), "{:?}", text(&trust));
    let certs = e.certs.to_str().unwrap();
    let good = [
        ("DOCKER_HOST", e.tls.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs),
    ];
    let ok = warden(&db, &root, &good, &["run", "scripts/hello.py", "--", "tls"]);
    let (out, err) = text(&ok);
    assert!(ok.status.success(), "{out}\n{err}");
    assert_eq!(out, "hello over ['tls']\n");
    assert!(
        err.contains("scripts/hello.py: succeeded") && err.contains("r.txt (3 B)"),
        "{err}"
    );
    assert_eq!(warden_containers(&e), "", "the container was removed");

    // The engine refuses a client certificate its CA did not sign.
    let bad = [
        ("DOCKER_HOST", e.tls.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", e.bad.to_str().unwrap()),
    ];
    let refused = warden(&db, &root, &bad, &["run", "scripts/hello.py"]);
    let (out, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{out}\n{err}");
    assert_eq!(out, "", "nothing ran");
    assert!(
        err.contains(&format!(
            "the Docker engine at {} (DOCKER_HOST) with TLS",
            e.tls
        )) && err.contains("refused the TLS connection")
            && err.contains("cert.pem must be a client certificate"),
        "{err}"
    );

    // warden refuses an engine whose certificate its CA did not sign.
    let other_ca = dir.path().join("other-ca");
    std::fs::create_dir_all(&other_ca).unwrap();
    std::fs::copy(e.bad.join("cert.pem"), other_ca.join("ca.pem")).unwrap();
    std::fs::copy(e.certs.join("cert.pem"), other_ca.join("cert.pem")).unwrap();
    std::fs::copy(e.certs.join("key.pem"), other_ca.join("key.pem")).unwrap();
    let untrusted_engine = [
        ("DOCKER_HOST", e.tls.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", other_ca.to_str().unwrap()),
    ];
    let refused = warden(&db, &root, &untrusted_engine, &["run", "scripts/hello.py"]);
    let (_, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&e.tls) && err.contains("refused the TLS connection"),
        "{err}"
    );

    // TLS asked for, but no DOCKER_CERT_PATH (and no ~/.docker): named before connecting.
    let missing = warden(
        &db,
        &root,
        &[("DOCKER_HOST", e.tls.as_str()), ("DOCKER_TLS_VERIFY", "1")],
        &["run", "scripts/hello.py"],
    );
    let (_, err) = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot reach the Docker engine at {} (DOCKER_HOST) with TLS",
            e.tls
        )) && err.contains(".docker/ca.pem does not exist")
            && err.contains("DOCKER_CERT_PATH must name a folder holding"),
        "{err}"
    );
    let nowhere = warden(
        &db,
        &root,
        &[
            ("DOCKER_HOST", e.tls.as_str()),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/nonexistent/warden-certs"),
        ],
        &["run", "scripts/hello.py"],
    );
    let (_, err) = text(&nowhere);
    assert_eq!(nowhere.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/warden-certs/ca.pem does not exist"),
        "{err}"
    );

    // No TLS at all: the engine's answer is turned into what to set.
    let plain = warden(
        &db,
        &root,
        &[("DOCKER_HOST", e.tls.as_str())],
        &["run", "scripts/hello.py"],
    );
    let (_, err) = text(&plain);
    assert_eq!(plain.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&e.tls)
            && err.contains("the engine expects TLS")
            && err.contains("DOCKER_TLS_VERIFY=1"),
        "{err}"
    );

    // Every attempt is in the history, the refused ones as errors.
    let list = warden(&db, &root, &[], &["runs", "--json"]);
    let statuses: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        ["error", "error", "error", "error", "error", "succeeded"]
    );
}

/// A server with the TLS client certificate in its environment and `DOCKER_HOST`
/// pointing nowhere, so only a `run.engine` reaches an engine.
fn tls_server(base: &Path, e: &Engines, roots: &[&Path], settings: Value) -> Server {
    let mut s = Server::spawn_with(
        &base.join("db/w.db"),
        &[
            ("DOCKER_HOST", "unix:///nonexistent/warden-default.sock"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", e.certs.to_str().unwrap()),
        ],
    );
    s.settings = settings;
    s.initialize(roots, s.settings.clone());
    s
}

/// Runs `path` over LSP; returns `(runFinished, stdout)`.
fn lsp_run(s: &mut Server, path: &Path) -> (Value, String) {
    let r = s
        .command("warden.run", json!({"uri": file_uri(path)}))
        .unwrap();
    let run_id = r["runId"].as_str().unwrap().to_owned();
    let done = s
        .wait_for_within(Duration::from_secs(60), "warden/runFinished", |p| {
            p["runId"] == run_id
        })
        .unwrap_or_else(|| panic!("run {run_id} did not finish; stderr:\n{}", s.stderr()));
    let out: String = s
        .take("warden/runOutput", Duration::from_millis(50))
        .into_iter()
        .filter(|o| o["runId"] == run_id && o["stream"] == "stdout")
        .map(|o| o["chunk"].as_str().unwrap().to_owned())
        .collect();
    (done, out)
}

fn root_status(s: &mut Server, root: &Path) -> Value {
    let status = s.request("warden/configTrust", json!({})).unwrap();
    let want = std::fs::canonicalize(root).unwrap();
    status["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| Path::new(r["root"].as_str().unwrap()) == want)
        .unwrap_or_else(|| panic!("{} not in {status}", want.display()))
        .clone()
}

#[test]
fn engines_run_engine_setting_routes_lsp_runs_and_waits_for_trust_in_a_repository() {
    let Some(e) = engines() else { return };
    tag_tls_only(&e);
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[run]\nengine = \"{}\"\n", e.tls);
    let mine = project(dir.path(), "mine", &[("scripts/hello.py", HELLO)]);
    let cloned = project(
        dir.path(),
        "cloned",
        &[("scripts/hello.py", HELLO), (".warden.toml", &toml)],
    );
    let runners = json!([{"glob": "**/*.py", "image": TLS_ONLY, "command": ["python3"]}]);
    let mut s = tls_server(
        dir.path(),
        &e,
        &[&mine, &cloned],
        json!({"scan": {"onStartup": false}, "run": {"runners": runners}}),
    );

    // Nothing set: DOCKER_HOST, which points nowhere; the error names it.
    let (done, _) = lsp_run(&mut s, &mine.join("scripts/hello.py"));
    assert_eq!(done["status"], "error", "{done}");
    let msg = done["message"].as_str().unwrap();
    assert!(
        msg.contains("unix:///nonexistent/warden-default.sock (DOCKER_HOST)"),
        "{msg}"
    );
    let st = root_status(&mut s, &mine);
    assert_eq!(
        st["engine"],
        json!({"url": "unix:///nonexistent/warden-default.sock", "source": "dockerHost", "tls": false, "connected": null})
    );

    // The repository's run.engine is held back until the file is trusted.
    let (done, _) = lsp_run(&mut s, &cloned.join("scripts/hello.py"));
    assert_eq!(done["status"], "error", "{done}");
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .contains("warden-default.sock"),
        "{done}"
    );
    let st = root_status(&mut s, &cloned);
    let held: Vec<&str> = st["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["run.engine"]);
    assert_eq!(st["engine"]["source"], "dockerHost");
    let sha = st["sha256"].as_str().unwrap().to_owned();
    let r = s
        .command(
            "warden.config.trust",
            json!({"root": st["root"], "sha256": sha}),
        )
        .unwrap();
    assert_eq!(r["trusted"], true, "{r}");
    assert_eq!(r["engine"]["url"], e.tls.as_str(), "{r}");
    let (done, out) = lsp_run(&mut s, &cloned.join("scripts/hello.py"));
    assert_eq!(done["status"], "succeeded", "{done}\n{}", s.stderr());
    assert_eq!(out, "hello over []\n");
    assert_eq!(done["artifacts"][0]["path"], "r.txt");
    let st = root_status(&mut s, &cloned);
    assert_eq!(st["engine"]["url"], e.tls.as_str());
    assert_eq!(st["engine"]["source"], "setting");
    assert_eq!(st["engine"]["tls"], true);
    let connected = st["engine"]["connected"].as_str().unwrap_or_default();
    assert!(connected.starts_with("Docker Engine "), "{st}");
    // The other workspace still goes to DOCKER_HOST: engines are per root.
    let (done, _) = lsp_run(&mut s, &mine.join("scripts/hello.py"));
    assert_eq!(done["status"], "error", "{done}");

    // The user's own run.engine routes every workspace without a trusted file.
    s.settings =
        json!({"scan": {"onStartup": false}, "run": {"runners": runners, "engine": e.tls}});
    s.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    let mut st = root_status(&mut s, &mine);
    for _ in 0..100 {
        if st["engine"]["source"] == "setting" {
            break;
        }
        s.take("warden/none", Duration::from_millis(50));
        st = root_status(&mut s, &mine);
    }
    assert_eq!(st["engine"]["source"], "setting", "{st}");
    let (done, out) = lsp_run(&mut s, &mine.join("scripts/hello.py"));
    assert_eq!(done["status"], "succeeded", "{done}\n{}", s.stderr());
    assert_eq!(out, "hello over []\n");
    assert_eq!(warden_containers(&e), "", "containers removed");
    assert_eq!(s.shutdown().code(), Some(0));
}

const FAILING: &str = "def f(x):\n    return 1 / x\n\n\nprint('before', flush=True)\nf(0)\n";
const GUARDED: &str = "import os\nopen('/out/r.txt', 'w').write('res')\nfor p in ('/work/x', '/x'):\n    try:\n        open(p, 'w')\n        print('wrote', p)\n    except OSError as e:\n        print('refused', p, e.strerror)\n";

#[test]
fn engines_podman_runs_through_its_docker_compatible_socket() {
    if engines().is_none() {
        return;
    }
    let Some(podman) = var("WARDEN_TEST_PODMAN") else {
        let reason = var("WARDEN_TEST_PODMAN_UNAVAILABLE");
        assert!(
            reason.is_some() || !required(),
            "WARDEN_REQUIRE_ENGINES is set but neither WARDEN_TEST_PODMAN nor WARDEN_TEST_PODMAN_UNAVAILABLE is"
        );
        eprintln!(
            "SKIPPED: Podman cannot run here: {}",
            reason.unwrap_or_else(|| "not started".into())
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = project(
        dir.path(),
        "pod",
        &[
            ("scripts/guarded.py", GUARDED),
            ("scripts/bad.py", FAILING),
            ("scripts/hello.py", HELLO),
        ],
    );
    let db = dir.path().join("db/w.db");
    let env = [("DOCKER_HOST", podman.as_str())];
    let ok = warden(&db, &root, &env, &["run", "scripts/guarded.py"]);
    let (out, err) = text(&ok);
    assert!(ok.status.success(), "{out}\n{err}");
    // /work is the runner's to read only, the root filesystem is read-only, /out is
    // collected: as on Docker.
    assert_eq!(
        out,
        "refused /work/x Permission denied\nrefused /x Read-only file system\n"
    );
    assert!(err.contains("r.txt (3 B)"), "{err}");

    let bad = warden(&db, &root, &env, &["run", "scripts/bad.py"]);
    let (out, err) = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}\n{err}");
    assert_eq!(out, "before\n");
    assert!(
        err.contains("scripts/bad.py:2:1: error[warden-run]: ZeroDivisionError: division by zero"),
        "{err}"
    );

    // Over LSP with run.engine naming the socket; the status names Podman.
    let mut s = Server::spawn_with(
        &dir.path().join("db/w.db"),
        &[("DOCKER_HOST", "unix:///nonexistent/warden-default.sock")],
    );
    s.settings = json!({"scan": {"onStartup": false}, "run": {"engine": podman}});
    s.initialize(&[&root], s.settings.clone());
    let (done, out) = lsp_run(&mut s, &root.join("scripts/hello.py"));
    assert_eq!(done["status"], "succeeded", "{done}\n{}", s.stderr());
    assert_eq!(out, "hello over []\n");
    let st = root_status(&mut s, &root);
    assert_eq!(st["engine"]["url"], podman.as_str());
    let connected = st["engine"]["connected"].as_str().unwrap_or_default();
    assert!(connected.starts_with("Podman Engine "), "{st}");
    assert_eq!(s.shutdown().code(), Some(0));
}
