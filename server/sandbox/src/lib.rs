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

/// Resource and time limits of one run: the `run.limits` settings themselves, checked
/// by [`Limits::check`] when settings load and again before every run.
pub use warden_config::RunLimits as Limits;

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
    /// A run that ended before the script ran (`cancelled`, `error`): no output.
    pub fn without_output(status: Status, message: String) -> Outcome {
        Outcome {
            status,
            exit_code: None,
            message: Some(message),
            duration: Duration::ZERO,
            first_output: None,
            stdout: String::new(),
            stderr: String::new(),
            stdout_total: 0,
            stderr_total: 0,
            stdout_truncated: false,
            stderr_truncated: false,
            artifacts: Vec::new(),
            artifacts_truncated: false,
        }
    }

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
        "the image {image:?} is not in the {engine}; build the runner images with scripts/runner-images.sh (for another engine: docker save IMAGE | docker -H ENGINE load), or set warden.run.runners to an image you have (warden never pulls)"
    )]
    MissingImage { image: String, engine: String },
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
