//! Script runs in hardened containers behind a small trait. [`Sandbox::run`] takes a
//! [`RunSpec`] (image, command, the script's text, an optional input file, [`Limits`])
//! and streams [`Event`]s (output chunks in order) until it returns the final
//! [`Outcome`] (status, exit code, timings, truncation, artifacts). [`docker`] is the
//! implementation over the Docker Engine API (bollard); the pure parts live beside it:
//! [`output`] (capped, UTF-8-safe output accounting), [`tarball`] (the upload archive
//! and artifact extraction), [`traceback`] (failures → script lines) and [`order`]
//! (run-all ordering, groups and script names).
//!
//! Invariants: a container never outlives its run (removed after success, failure,
//! timeout and cancel; orphans of dead processes are reaped by [`Sandbox::reap`]);
//! nothing is pulled from a registry; no host path is mounted into a container.

pub mod docker;
pub mod order;
pub mod output;
pub mod tarball;
pub mod traceback;

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// The label every warden container carries (value: the run id, or `pool`).
pub const LABEL_RUN: &str = "warden.run";
/// Who owns a container: `<host>/<pid>/<process start time>`; orphans are reaped when
/// that process is gone.
pub const LABEL_OWNER: &str = "warden.owner";

/// Resource and time limits of one run. Every field is a setting (`run.limits.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Limits {
    /// Memory in MiB; swap is set equal (no swap).
    pub memory_mb: u64,
    /// CPUs (fractional).
    pub cpus: f64,
    /// Most processes and threads at once.
    pub pids: i64,
    /// Wall-clock seconds before the run is killed (`timedOut`).
    pub timeout_seconds: u64,
    /// Size of the writable `/tmp` (tmpfs), MiB.
    pub tmp_mb: u64,
    /// Open files (`RLIMIT_NOFILE`).
    pub nofile: i64,
    /// Largest file a process may write, MiB (`RLIMIT_FSIZE`).
    pub file_size_mb: i64,
    /// Bytes of stdout kept (and streamed); the rest is counted and dropped.
    pub stdout_bytes: usize,
    /// Bytes of stderr kept (and streamed).
    pub stderr_bytes: usize,
    /// Size of `/out` (tmpfs) and the most artifact bytes collected, MiB.
    pub artifacts_mb: u64,
    /// Network access: `false` is `--network none`.
    pub network: bool,
    /// `uid:gid` the script runs as (never root).
    pub user: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 256,
            cpus: 0.5,
            pids: 64,
            timeout_seconds: 30,
            tmp_mb: 64,
            nofile: 256,
            file_size_mb: 64,
            stdout_bytes: 1024 * 1024,
            stderr_bytes: 1024 * 1024,
            artifacts_mb: 8,
            network: false,
            user: "1000:1000".into(),
        }
    }
}

impl Limits {
    /// Problems with values that would weaken or break the sandbox.
    pub fn check(&self) -> Result<(), String> {
        if self.memory_mb < 16 {
            return Err("memoryMb must be at least 16".into());
        }
        if !(self.cpus > 0.0 && self.cpus <= 64.0) {
            return Err("cpus must be above 0 and at most 64".into());
        }
        if self.pids < 8 {
            return Err("pids must be at least 8".into());
        }
        if self.timeout_seconds == 0 {
            return Err("timeoutSeconds must be at least 1".into());
        }
        let uid = self.user.split(':').next().unwrap_or("");
        if uid.is_empty() || uid == "0" || uid == "root" {
            return Err("user must be a non-root uid:gid".into());
        }
        Ok(())
    }
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// Chosen by the caller; labels the container.
    pub run_id: String,
    pub image: String,
    /// The interpreter and its options (`["python3"]`); the script path and the
    /// arguments follow.
    pub command: Vec<String>,
    /// The script's file name (no directories), as the runner sees it under `/work`.
    pub script_name: String,
    pub script: Vec<u8>,
    /// An input file, passed as the first argument (`/work/input/<name>`).
    pub input: Option<(String, Vec<u8>)>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
}

impl RunSpec {
    /// Where the script is inside the container.
    pub fn script_path(&self) -> String {
        format!("{}/{}", WORK_DIR, self.script_name)
    }

    /// The full command line inside the container.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.command.clone();
        argv.push(self.script_path());
        if let Some((name, _)) = &self.input {
            argv.push(format!("{WORK_DIR}/input/{name}"));
        }
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// The read-only folder holding the script (and `input/`).
pub const WORK_DIR: &str = "/work";
/// The folder whose files are collected as artifacts.
pub const OUT_DIR: &str = "/out";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What a run reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The container exists and the script is about to start.
    Started { container: String },
    /// Output in order; `seq` counts chunks across both streams from 0.
    Output {
        seq: u64,
        stream: Stream,
        chunk: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    OomKilled,
    Cancelled,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timedOut",
            Status::OomKilled => "oomKilled",
            Status::Cancelled => "cancelled",
            Status::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "timedOut" => Status::TimedOut,
            "oomKilled" => Status::OomKilled,
            "cancelled" => Status::Cancelled,
            "error" => Status::Error,
            _ => return None,
        })
    }
}

/// A file the script wrote under `/out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Relative to `/out`.
    pub path: String,
    pub size: u64,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub exit_code: Option<i64>,
    /// A sentence for every status but `succeeded`.
    pub message: Option<String>,
    /// From container start to the script's end.
    pub duration: Duration,
    /// From the call to the first output byte.
    pub first_output: Option<Duration>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes written, kept or not.
    pub stdout_total: u64,
    pub stderr_total: u64,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub artifacts: Vec<Artifact>,
    /// Artifacts beyond the cap were left out.
    pub artifacts_truncated: bool,
}

impl Outcome {
    pub fn truncated(&self) -> bool {
        self.stdout_truncated || self.stderr_truncated || self.artifacts_truncated
    }
}

/// Why a run could not happen (or broke down); the run's status is `error`.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Unreachable(String),
    #[error(
        "the image {0:?} is not in the Docker engine; build the runner images with scripts/runner-images.sh, or set warden.run.runners to an image you have (warden never pulls)"
    )]
    MissingImage(String),
    #[error("invalid run: {0}")]
    Invalid(String),
    #[error("Docker engine error: {0}")]
    Engine(String),
}

/// Runs scripts in isolation. Implementations must remove every container they create.
pub trait Sandbox: Send + Sync {
    /// Runs `spec`, sending events as they happen, until the script ends, the timeout
    /// fires or `cancel` is cancelled.
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        events: UnboundedSender<Event>,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Outcome, SandboxError>>;

    /// Removes containers left behind by processes that died; returns how many.
    fn reap(&self) -> BoxFuture<'_, Result<usize, SandboxError>>;

    /// A one-line description of the engine (for logs and errors).
    fn describe(&self) -> String;
}
