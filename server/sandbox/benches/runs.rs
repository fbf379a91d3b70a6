//! Run latency: a hello-world Python script through warden's sandbox (a fresh container
//! per run, and with a warm pool of started containers), through `warden run` when
//! `WARDEN_BIN` names the binary, and through `docker run --rm` with the same image and
//! limits, side by side. Start to first output byte and start to end (container
//! removed), median and p90 of `WARDEN_BENCH_RUNS` (default 20) runs each, interleaved.
//! Needs a Docker engine and the runner images (`scripts/docker-setup.sh`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warden_sandbox::docker::DockerSandbox;
use warden_sandbox::{Event, Limits, RunSpec, Sandbox, Status};

const IMAGE: &str = "warden-runner-python:bookworm";
const SCRIPT: &str = "print('hello, world')\n";

#[derive(Default)]
struct Series {
    first: Vec<Duration>,
    total: Vec<Duration>,
}

impl Series {
    fn add(&mut self, first: Duration, total: Duration) {
        self.first.push(first);
        self.total.push(total);
    }
}

fn pct(v: &[Duration], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    let rank = (p * v.len()).div_ceil(100).max(1);
    v[rank - 1].as_secs_f64() * 1000.0
}

fn spec(i: usize) -> RunSpec {
    RunSpec {
        run_id: format!("bench-{}-{i}", std::process::id()),
        image: IMAGE.into(),
        command: vec!["python3".into()],
        script_name: "hello.py".into(),
        script: SCRIPT.as_bytes().to_vec(),
        limits: Limits::default(),
        ..RunSpec::default()
    }
}

/// Through the sandbox: first output event, and the return of `run` (container gone).
async fn through(s: &DockerSandbox, i: usize) -> (Duration, Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = Instant::now();
    let first = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(e, Event::Output { .. }) {
                return t.elapsed();
            }
        }
        Duration::MAX
    });
    let o = s.run(spec(i), tx, CancellationToken::new()).await.unwrap();
    let total = t.elapsed();
    assert_eq!(o.status, Status::Succeeded, "{o:?}");
    (first.await.unwrap(), total)
}

/// A child process: time to its first stdout byte, and to its exit.
fn process(mut cmd: Command) -> (Duration, Duration) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    out.read_exact(&mut byte).expect("some output");
    let first = t.elapsed();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    (first, t.elapsed())
}

fn docker_run() -> Command {
    let l = Limits::default();
    let mut c = Command::new("docker");
    c.args([
        "run",
        "--rm",
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--init",
        "--user",
        &l.user,
        "--memory",
        "256m",
        "--memory-swap",
        "256m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "64",
        "--tmpfs",
        "/tmp:rw,nosuid,nodev,size=64m,mode=1777",
        "--ulimit",
        "nofile=256:256",
        "--ulimit",
        "fsize=67108864:67108864",
        "--ulimit",
        "core=0:0",
        "--log-driver",
        "none",
        "-e",
        "PYTHONUNBUFFERED=1",
        IMAGE,
        "python3",
        "-c",
        SCRIPT,
    ]);
    c
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("WARDEN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // As the Docker tests: without an engine it skips, unless WARDEN_REQUIRE_DOCKER
    // says the engine is part of the run (CI), where skipping would hide its absence.
    let cold = match DockerSandbox::connect().await {
        Ok(s) => s,
        Err(e) if std::env::var_os("WARDEN_REQUIRE_DOCKER").is_none() => {
            eprintln!("bench runs: SKIPPED (no Docker engine, WARDEN_REQUIRE_DOCKER unset): {e}");
            return;
        }
        Err(e) => panic!("bench runs: no Docker engine and WARDEN_REQUIRE_DOCKER is set: {e}"),
    };
    let warm = DockerSandbox::connect().await.unwrap().with_pool(1);
    if let Err(e) = warm.warm(IMAGE, &Limits::default()).await {
        panic!("bench runs: cannot start {IMAGE} (built by scripts/docker-setup.sh): {e}");
    }
    let warden_bin = std::env::var("WARDEN_BIN").ok();
    let dir = std::env::temp_dir().join(format!("warden-bench-runs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hello.py");
    std::fs::write(&script, SCRIPT).unwrap();
    // One of each first, not measured: images and page cache warm.
    through(&cold, 0).await;
    process(docker_run());
    let (mut c, mut w, mut cli, mut d) = (
        Series::default(),
        Series::default(),
        Series::default(),
        Series::default(),
    );
    for i in 0..n {
        let (f, t) = through(&cold, i + 1).await;
        c.add(f, t);
        // The pool refills in the background after each take; measure it ready, as an
        // editor session that runs now and then would find it.
        warm.warm(IMAGE, &Limits::default()).await.unwrap();
        let (f, t) = through(&warm, i + 1000).await;
        w.add(f, t);
        if let Some(bin) = &warden_bin {
            let mut cmd = Command::new(bin);
            cmd.arg("run")
                .arg(&script)
                .env("WARDEN_DB", dir.join("bench.db"));
            let (f, t) = process(cmd);
            cli.add(f, t);
        }
        let (f, t) = process(docker_run());
        d.add(f, t);
    }
    warm.drain_pool().await;
    let _ = std::fs::remove_dir_all(&dir);
    let base = (pct(&d.first, 50), pct(&d.total, 50));
    println!("hello-world Python run, {n} runs each, interleaved; ms (median / p90)");
    println!(
        "| path | first output p50 | p90 | total p50 | p90 | first output vs docker run | total vs docker run |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, s: &Series| {
        if s.first.is_empty() {
            return;
        }
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.2}x |",
            pct(&s.first, 50),
            pct(&s.first, 90),
            pct(&s.total, 50),
            pct(&s.total, 90),
            base.0 / pct(&s.first, 50),
            base.1 / pct(&s.total, 50),
        );
    };
    row("warden sandbox, fresh container", &c);
    row("warden sandbox, warm pool", &w);
    row("`warden run` (process, fresh container)", &cli);
    row("`docker run --rm` (same image and limits)", &d);
    println!("(x > 1: faster than docker run)");
}
