//! Script runs shared by `warden run` and the server: the lazily connected engines
//! (one per `run.engine` URL, orphans reaped on first contact), the run spec for a file (runner by settings,
//! limits, the text that runs, an input file), one run as a `run` span recorded in the
//! store with its version (git HEAD, dirty flag, content hash), and the failure lines
//! a run's output points at. The runtime names the script by its path in the container
//! (`/work/<name>`); the output warden streams, stores and parses names it by its
//! workspace path instead (`scripts/<name>`), the file a person can open. Scripts and
//! input files are read from disk bounded, and only when they are regular files (never
//! a FIFO or a device): a script up to 16 MiB, an input up to `run.limits.inputMb`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;
use warden_config::{RunLimits, RunSettings};
use warden_sandbox::docker::{DockerSandbox, connect};
use warden_sandbox::traceback::{self, Finding, Kind, ScriptPath};
use warden_sandbox::{Event, Outcome, RunSpec, Sandbox, SandboxError, Status, Stream};
use warden_store::Store;
use warden_store::runs::Run;
use warden_trace::{ActiveSpan, SpanKind, Tracer, WorkspaceRef};

use crate::scanner::{self, ReadError};

/// The engines runs go to, each connected on first use (its orphaned containers reaped
/// then) and kept by URL: `None` is the process default (`DOCKER_HOST`, else the default
/// socket), `Some(url)` a workspace's `run.engine`. A failed connection is retried
/// next time; connecting one engine never waits for another.
#[derive(Default)]
pub struct Engine {
    cells: std::sync::Mutex<HashMap<Option<String>, Arc<Cell>>>,
}

type Cell = tokio::sync::Mutex<Option<Arc<DockerSandbox>>>;

impl Engine {
    /// The sandbox of `engine` (a `run.engine` URL, `None`: the default), connected.
    pub async fn get(
        &self,
        engine: Option<&str>,
        warm_pool: usize,
    ) -> Result<Arc<DockerSandbox>, SandboxError> {
        let cell = self
            .cells
            .lock()
            .expect("engine map")
            .entry(engine.map(str::to_owned))
            .or_default()
            .clone();
        let mut cell = cell.lock().await;
        if let Some(s) = cell.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(
            DockerSandbox::connect_to(engine)
                .await?
                .with_pool(warm_pool),
        );
        tracing::info!("sandbox: connected to {}", s.describe());
        match s.reap().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "removed {n} containers left by warden processes that died ({})",
                s.endpoint()
            ),
            Err(e) => tracing::warn!("reaping orphaned containers: {e}"),
        }
        *cell = Some(s.clone());
        Ok(s)
    }

    /// What answered at `engine`, when it is connected (never waits).
    pub fn connected(&self, engine: Option<&str>) -> Option<String> {
        let cell = self
            .cells
            .lock()
            .expect("engine map")
            .get(&engine.map(str::to_owned))?
            .clone();
        let s = cell.try_lock().ok()?.clone()?;
        Some(s.server().to_owned())
    }

    /// Removes pooled containers of every engine (at shutdown).
    pub async fn shutdown(&self) {
        let cells: Vec<Arc<Cell>> = self
            .cells
            .lock()
            .expect("engine map")
            .values()
            .cloned()
            .collect();
        for cell in cells {
            if let Some(s) = cell.lock().await.as_ref() {
                s.drain_pool().await;
            }
        }
    }
}

/// The engine a root's runs go to, as the editors show it: the URL, where it came from
/// (`setting`, `dockerHost`, `default`), TLS, and what answered once connected.
pub fn engine_info(engine: &Engine, setting: Option<&str>) -> crate::lsp_ext::EngineInfo {
    let target = connect::resolve(setting, &connect::EnvVars::from_process());
    crate::lsp_ext::EngineInfo {
        connected: engine.connected(setting),
        url: target.url,
        source: target.source.as_str().into(),
        tls: target.tls.is_some(),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one run is about, before it runs.
pub struct Job {
    pub run_id: String,
    pub batch_id: Option<String>,
    pub workspace: WorkspaceRef,
    /// Repository-relative path (absolute outside a repository).
    pub rel: String,
    pub uri: Option<String>,
    pub root: PathBuf,
    pub spec: RunSpec,
    /// The root's `run.engine` (`None`: `DOCKER_HOST`, else the default socket).
    pub engine: Option<String>,
}

/// The largest script read from disk (an open document runs as the editor has it).
pub const MAX_SCRIPT_BYTES: u64 = 16 << 20;

/// Reads a script from disk: a regular file of at most [`MAX_SCRIPT_BYTES`], UTF-8.
/// Blocking.
pub fn read_script(path: &Path) -> Result<String, String> {
    let bytes = scanner::read_regular(path, MAX_SCRIPT_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// Reads a run's input file: a regular file (symbolic links followed) of at most
/// `run.limits.inputMb`, checked before it is opened (a FIFO or device never is) and
/// read through a bounded reader. Blocking: call it off the message loop. The error
/// names the file and the limit.
pub fn read_input(limits: &RunLimits, path: &Path) -> Result<(String, Vec<u8>), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("the input {} has no file name", path.display()))?;
    let limit = limits.input_mb.saturating_mul(1 << 20);
    let data = scanner::read_regular(path, limit).map_err(|e| match e {
        ReadError::Io(e) => format!("cannot read the input file {}: {e}", path.display()),
        ReadError::NotRegular(_) => format!(
            "the input file {} is {e}; only regular files can be inputs",
            path.display()
        ),
        ReadError::TooLarge { .. } => format!(
            "the input file {} is {e} (run.limits.inputMb = {})",
            path.display(),
            limits.input_mb
        ),
    })?;
    Ok((name, data))
}

/// A run spec for the script at `path` with `text` (the editor's, saved or not) and
/// an input already read by [`read_input`].
pub fn prepare(
    settings: &RunSettings,
    root: &Path,
    path: &Path,
    text: &str,
    input: Option<(String, Vec<u8>)>,
    args: Vec<String>,
) -> Result<(String, RunSpec), String> {
    let rel = relative(root, path);
    let runner = settings.runner_for(&rel).ok_or_else(|| {
        format!(
            "no runner for {rel}; warden.run.runners has runners for {}",
            settings
                .runners
                .iter()
                .map(|r| r.glob.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let script_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no file name", path.display()))?;
    let limits = settings.limits.clone();
    Ok((
        rel,
        RunSpec {
            run_id: String::new(),
            image: runner.image.clone(),
            command: runner.command.clone(),
            script_name,
            script: text.as_bytes().to_vec(),
            input,
            args,
            env: Vec::new(),
            limits,
        },
    ))
}

pub fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

/// The result of [`execute`]: the outcome (an engine failure becomes status `error`)
/// and the stored record.
pub struct Finished {
    pub outcome: Reported,
    pub record: Run,
}

/// A run's [`Outcome`] as warden reports it: its output names the script by the
/// workspace path (`script` maps the container path to it). Reads as the outcome.
#[derive(Debug, Clone)]
pub struct Reported {
    pub outcome: Outcome,
    pub script: ScriptPath,
}

impl Reported {
    /// Rewrites the script's container path in `outcome`'s output.
    pub fn new(mut outcome: Outcome, script: ScriptPath) -> Reported {
        outcome.stdout = script.rewrite(&outcome.stdout);
        outcome.stderr = script.rewrite(&outcome.stderr);
        Reported { outcome, script }
    }
}

impl std::ops::Deref for Reported {
    type Target = Outcome;

    fn deref(&self) -> &Outcome {
        &self.outcome
    }
}

/// The container path of the script to its workspace path (`rel`).
fn script_path(spec: &RunSpec, rel: &str) -> ScriptPath {
    ScriptPath::new(&spec.script_path(), rel)
}

/// Forwards `rx`'s events to `events` with the script's container path rewritten in
/// each stream's output (output events renumbered, as a chunk may be held back for
/// the next one); returns when `rx` closes, after releasing what was held back.
async fn forward_rewritten(
    mut rx: UnboundedReceiver<Event>,
    events: UnboundedSender<Event>,
    script: ScriptPath,
) {
    let mut paths = [script.clone(), script];
    let index = |s: Stream| match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    };
    let mut seq = 0u64;
    let mut send = |stream: Stream, chunk: String| {
        if !chunk.is_empty() {
            let _ = events.send(Event::Output { seq, stream, chunk });
            seq += 1;
        }
    };
    while let Some(e) = rx.recv().await {
        match e {
            Event::Output { stream, chunk, .. } => {
                let text = paths[index(stream)].push(&chunk);
                send(stream, text);
            }
            other => {
                let _ = events.send(other);
            }
        }
    }
    for stream in [Stream::Stdout, Stream::Stderr] {
        let text = paths[index(stream)].finish();
        send(stream, text);
    }
}

/// Where runs go: the engine, the pool size, the tracer and the store.
pub struct Env<'a> {
    pub engine: &'a Engine,
    pub warm_pool: usize,
    pub tracer: &'a Tracer,
    pub store: Option<&'a Store>,
}

/// Runs a job as a `run` span (under `parent`), streaming events, and stores it.
pub async fn execute(
    env: Env<'_>,
    parent: Option<&str>,
    job: Job,
    events: UnboundedSender<Event>,
    cancel: CancellationToken,
) -> Finished {
    let started_at = warden_trace::now_rfc3339();
    let spec = RunSpec {
        run_id: job.run_id.clone(),
        ..job.spec.clone()
    };
    let content_hash = sha256_hex(&spec.script);
    let Env {
        engine,
        warm_pool,
        tracer,
        store,
    } = env;
    let mut span: ActiveSpan = tracer
        .start(SpanKind::Run, job.rel.clone())
        .parent(parent)
        .workspace(Some(job.workspace.clone()))
        .uri(job.uri.clone())
        .input(json!({
            "runId": job.run_id,
            "image": spec.image,
            "command": spec.command,
            "limits": spec.limits,
            "contentHash": content_hash,
            "input": spec.input.as_ref().map(|(n, _)| n),
            "engine": job.engine,
        }))
        .begin();
    let root = job.root.clone();
    let freshness = tokio::task::spawn_blocking(move || warden_workspace::freshness(&root)).await;
    let (head, dirty) = freshness.unwrap_or((None, false));
    let script = script_path(&spec, &job.rel);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let forward = tokio::spawn(forward_rewritten(rx, events, script.clone()));
    let outcome = match engine.get(job.engine.as_deref(), warm_pool).await {
        Ok(sandbox) => sandbox.run(spec.clone(), tx, cancel).await,
        Err(e) => {
            drop(tx);
            Err(e)
        }
    };
    // The sandbox has dropped its sender: the forwarder releases what it held back.
    let _ = forward.await;
    let outcome = outcome.unwrap_or_else(|e| Outcome::without_output(Status::Error, e.to_string()));
    let outcome = Reported::new(outcome, script);
    span.set_output(json!({
        "status": outcome.status.as_str(),
        "exitCode": outcome.exit_code,
        "durationMs": outcome.duration.as_millis() as u64,
        "truncated": outcome.truncated(),
        "artifacts": outcome.artifacts.len(),
        "stdoutBytes": outcome.stdout_total,
        "stderrBytes": outcome.stderr_total,
    }));
    let span_id = span.id().to_owned();
    match outcome.status {
        Status::Succeeded => {
            span.ok();
        }
        Status::Cancelled => {
            span.cancel();
        }
        _ => {
            span.fail(
                outcome
                    .message
                    .clone()
                    .unwrap_or_else(|| outcome.status.as_str().into()),
            );
        }
    }
    let record = Run {
        run_id: job.run_id.clone(),
        workspace_id: job.workspace.id,
        workspace: job.workspace.name.clone(),
        span_id: Some(span_id),
        batch_id: job.batch_id.clone(),
        path: job.rel.clone(),
        uri: job.uri.clone(),
        head,
        dirty,
        content_hash,
        image: spec.image.clone(),
        command: spec.command.clone(),
        limits: serde_json::to_value(&spec.limits).unwrap_or_default(),
        input: spec.input.as_ref().map(|(n, _)| n.clone()),
        status: outcome.status.as_str().into(),
        exit_code: outcome.exit_code,
        message: outcome.message.clone(),
        started_at,
        finished_at: warden_trace::now_rfc3339(),
        duration_ms: outcome.duration.as_millis() as u64,
        first_output_ms: outcome.first_output.map(|d| d.as_millis() as u64),
        stdout: Some(outcome.stdout.clone()),
        stderr: Some(outcome.stderr.clone()),
        stdout_bytes: outcome.stdout_total,
        stderr_bytes: outcome.stderr_total,
        truncated: outcome.truncated(),
        artifacts: outcome
            .artifacts
            .iter()
            .map(|a| warden_store::runs::ArtifactInfo {
                path: a.path.clone(),
                size: a.size,
            })
            .collect(),
    };
    if let Some(store) = store {
        let row = record.clone();
        let arts: Vec<(String, Vec<u8>)> = outcome
            .artifacts
            .iter()
            .map(|a| (a.path.clone(), a.data.clone()))
            .collect();
        if let Err(e) = store
            .call(move |c| warden_store::runs::insert(c, &row, &arts))
            .await
        {
            tracing::warn!("storing run {}: {e}", record.run_id);
        }
    }
    Finished { outcome, record }
}

/// The script lines a failed run blames (none for other statuses); the messages name
/// the script by its workspace path, as the reported output does.
pub fn findings(spec: &RunSpec, outcome: &Reported) -> Vec<Finding> {
    if outcome.status != Status::Failed {
        return Vec::new();
    }
    blamed(
        &spec.command,
        outcome.script.workspace(),
        &outcome.stdout,
        &outcome.stderr,
    )
}

/// [`findings`] of a stored run (its output as reported, its workspace path).
pub fn findings_of_record(run: &Run) -> Vec<Finding> {
    if run.status != Status::Failed.as_str() {
        return Vec::new();
    }
    blamed(
        &run.command,
        &run.path,
        run.stdout.as_deref().unwrap_or_default(),
        run.stderr.as_deref().unwrap_or_default(),
    )
}

/// The lines of `path` a traceback in the output blames (stderr first).
fn blamed(command: &[String], path: &str, stdout: &str, stderr: &str) -> Vec<Finding> {
    let Some(kind) = Kind::of_command(command) else {
        return Vec::new();
    };
    let found = traceback::parse(kind, path, stderr);
    if found.is_empty() {
        traceback::parse(kind, path, stdout)
    } else {
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/work/2.00_report.py\", line 9, in <module>\n    main()\n  File \"/work/2.00_report.py\", line 5, in main\n    open(__file__ + \".csv\")\nFileNotFoundError: [Errno 2] No such file or directory: '/work/2.00_report.py.csv'\n";

    fn spec() -> RunSpec {
        RunSpec {
            command: vec!["python3".into()],
            script_name: "2.00_report.py".into(),
            ..RunSpec::default()
        }
    }

    #[test]
    fn reported_output_and_findings_name_the_workspace_path() {
        let spec = spec();
        let mut outcome = Outcome::without_output(Status::Failed, "exited with code 1".into());
        outcome.stdout = "rows: 0 (/work/2.00_report.py)\n".into();
        outcome.stderr = TRACEBACK.into();
        let reported = Reported::new(outcome, script_path(&spec, "scripts/2.00_report.py"));
        assert_eq!(reported.stdout, "rows: 0 (scripts/2.00_report.py)\n");
        assert!(
            reported
                .stderr
                .contains("  File \"scripts/2.00_report.py\", line 5, in main\n"),
            "{}",
            reported.stderr
        );
        assert!(!reported.stderr.contains("\"/work/"), "{}", reported.stderr);
        // A different file that only starts with the script's path is left alone.
        assert!(reported.stderr.contains("'/work/2.00_report.py.csv'"));
        let found = findings(&spec, &reported);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].trace.as_slice()), (5, &[9][..]));
        assert_eq!(
            found[0].message,
            "FileNotFoundError: [Errno 2] No such file or directory: '/work/2.00_report.py.csv'"
        );
    }

    #[test]
    fn inputs_are_regular_files_within_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = RunLimits {
            input_mb: 1,
            ..RunLimits::default()
        };
        let ok = tmp.path().join("in.csv");
        std::fs::write(&ok, "a,b\n").unwrap();
        assert_eq!(
            read_input(&limits, &ok).unwrap(),
            ("in.csv".to_owned(), b"a,b\n".to_vec())
        );
        let big = tmp.path().join("big.csv");
        std::fs::File::create(&big)
            .unwrap()
            .set_len((1 << 20) + 1)
            .unwrap();
        assert_eq!(
            read_input(&limits, &big).unwrap_err(),
            format!(
                "the input file {} is 1048577 bytes, over the limit of 1 MiB (run.limits.inputMb = 1)",
                big.display()
            )
        );
        assert_eq!(
            read_input(&limits, Path::new("/dev/zero")).unwrap_err(),
            "the input file /dev/zero is a character device, not a regular file; only regular files can be inputs"
        );
        let missing = read_input(&limits, &tmp.path().join("gone.csv")).unwrap_err();
        assert!(
            missing.starts_with("cannot read the input file") && missing.contains("gone.csv"),
            "{missing}"
        );
        // prepare carries what was read.
        let settings = RunSettings::default();
        let (rel, spec) = prepare(
            &settings,
            tmp.path(),
            &tmp.path().join("scripts/a.py"),
            "print(1)\n",
            Some(read_input(&limits, &ok).unwrap()),
            vec![],
        )
        .unwrap();
        assert_eq!(rel, "scripts/a.py");
        assert_eq!(spec.input.unwrap().0, "in.csv");
    }

    #[tokio::test]
    async fn streamed_output_is_rewritten_and_stays_in_order() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
        let chunk = |seq, stream, chunk: &str| Event::Output {
            seq,
            stream,
            chunk: chunk.into(),
        };
        tx.send(Event::Started {
            container: "c1".into(),
        })
        .unwrap();
        tx.send(chunk(0, Stream::Stdout, "before\n")).unwrap();
        tx.send(chunk(1, Stream::Stderr, "  File \"/wo")).unwrap();
        tx.send(chunk(2, Stream::Stdout, "middle\n")).unwrap();
        tx.send(chunk(3, Stream::Stderr, "rk/2.00_report.py\", line 5\n"))
            .unwrap();
        tx.send(chunk(4, Stream::Stderr, "E: /work/2.00_report.py"))
            .unwrap();
        drop(tx);
        forward_rewritten(rx, out_tx, script_path(&spec(), "scripts/2.00_report.py")).await;
        let mut got = Vec::new();
        while let Some(e) = out_rx.recv().await {
            got.push(e);
        }
        assert_eq!(
            got,
            [
                Event::Started {
                    container: "c1".into()
                },
                chunk(0, Stream::Stdout, "before\n"),
                chunk(1, Stream::Stderr, "  File \""),
                chunk(2, Stream::Stdout, "middle\n"),
                chunk(3, Stream::Stderr, "scripts/2.00_report.py\", line 5\n"),
                chunk(4, Stream::Stderr, "E: "),
                chunk(5, Stream::Stderr, "scripts/2.00_report.py"),
            ]
        );
    }
}
