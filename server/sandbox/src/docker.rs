//! [`DockerSandbox`]: runs over the Docker Engine API (bollard). Each run gets its own
//! container: read-only root filesystem, no network, every capability dropped,
//! no-new-privileges, a non-root user, memory (swap equal), CPU and pids limits,
//! ulimits (open files, file size, no core dumps), an init process, a size-capped tmpfs
//! `/tmp`, and two size-capped tmpfs volumes: `/work` (root-owned, read-only to the
//! runner) receives the script and input through the archive API, `/out` collects
//! artifacts. The container's main process only sleeps; the script runs as an exec
//! whose output streams back multiplexed, so artifacts can be read from the running
//! container before it is removed. Nothing is bind-mounted from the host, so a remote
//! engine works the same. A warm pool (optional) keeps started containers ready, each
//! used for one run and replaced in the background. A pooled container is checked
//! running (inspect) before use, a dead one is removed and the next one (or a fresh
//! container) used instead; pooled containers sleep [`POOL_TTL`] longer than a run's
//! and are replaced once that long in the pool, so one taken still outlives its run.
//! Reaping removes only containers whose owner is known dead (see [`owner`]).

pub mod connect;
mod owner;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ExecConfig, HostConfig, HostConfigLogConfig, Mount, MountType,
    MountVolumeOptions, MountVolumeOptionsDriverConfig, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, KillContainerOptions,
    ListContainersOptions, RemoveContainerOptions, UploadToContainerOptions,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::output::Capture;
use crate::{
    Event, LABEL_OWNER, LABEL_RUN, Limits, OUT_DIR, Outcome, RunSpec, Sandbox, SandboxError,
    Status, Stream, WORK_DIR, tarball,
};

const MIB: u64 = 1024 * 1024;
use connect::HINT;

/// How long a pooled container waits for a run before it is replaced by a new one.
const POOL_TTL: Duration = Duration::from_secs(600);

/// The Docker engine, connected.
#[derive(Clone)]
pub struct DockerSandbox {
    docker: Docker,
    /// What was connected to, for messages.
    endpoint: String,
    target: Arc<connect::Target>,
    /// The product and version that answered.
    server: String,
    owner: String,
    pool: Arc<Pool>,
}

#[derive(Default)]
struct Pool {
    /// Containers kept ready per image and limits.
    size: usize,
    ready: Mutex<HashMap<String, VecDeque<Pooled>>>,
}

/// A started container waiting in the pool.
struct Pooled {
    id: String,
    since: Instant,
}

impl Pooled {
    /// Whether it may still be used: younger than [`POOL_TTL`], so its main process
    /// (sleeping a run's lifetime plus [`POOL_TTL`]) outlives a run started now.
    fn fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) < POOL_TTL
    }
}

impl DockerSandbox {
    /// Connects through `DOCKER_HOST` (a unix socket, or TCP with TLS when
    /// `DOCKER_CERT_PATH` or `DOCKER_TLS_VERIFY` is set) or the default socket, and
    /// checks the engine answers. The error names what was tried and how to fix it.
    pub async fn connect() -> Result<DockerSandbox, SandboxError> {
        DockerSandbox::connect_to(None).await
    }

    /// Connects to `engine` (a `run.engine` URL; `None`: as [`DockerSandbox::connect`]),
    /// TLS as [`connect::resolve`] decides, and checks the engine answers.
    pub async fn connect_to(engine: Option<&str>) -> Result<DockerSandbox, SandboxError> {
        let target = connect::resolve(engine, &connect::EnvVars::from_process());
        let docker = match target.cert_files()? {
            Some([ca, cert, key]) => Docker::connect_with_ssl(
                &target.url,
                &key,
                &cert,
                &ca,
                120,
                bollard::API_DEFAULT_VERSION,
            ),
            None => Docker::connect_with_host(&target.url),
        }
        .map_err(|e| target.unreachable(&connect::chain(&e)))?;
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| target.unreachable("no answer within 5 s"))?
            .map_err(|e| target.unreachable(&connect::chain(&e)))?;
        let server = match docker.version().await {
            Ok(v) => server_name(&v),
            Err(e) => return Err(target.unreachable(&connect::chain(&e))),
        };
        Ok(DockerSandbox {
            docker,
            endpoint: target.url.clone(),
            target: Arc::new(target),
            server,
            owner: owner::label(&owner::real_proc, std::process::id()),
            pool: Arc::new(Pool::default()),
        })
    }

    /// What answered: `Docker Engine 20.10.24 (API 1.41)`, `Podman Engine 4.3.1 (API
    /// 1.41)`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the engine is Podman's Docker-compatible service.
    pub fn is_podman(&self) -> bool {
        self.server.starts_with("Podman")
    }

    /// Keeps `size` started containers ready per image and limits (0: no pool). The
    /// first run with a given image and limits fills it.
    pub fn with_pool(mut self, size: usize) -> DockerSandbox {
        self.pool = Arc::new(Pool {
            size,
            ready: Mutex::new(HashMap::new()),
        });
        self
    }

    /// Fills the pool for `image` and `limits` now (a no-op without a pool).
    pub async fn warm(&self, image: &str, limits: &Limits) -> Result<(), SandboxError> {
        let key = pool_key(image, limits);
        loop {
            let have = self.pool_len(&key);
            if have >= self.pool.size {
                return Ok(());
            }
            let id = self.create_started(image, limits, "pool", POOL_TTL).await?;
            self.pool
                .ready
                .lock()
                .expect("pool lock")
                .entry(key.clone())
                .or_default()
                .push_back(Pooled {
                    id: id.clone(),
                    since: Instant::now(),
                });
            self.replace_later(image, limits, key.clone(), id);
        }
    }

    /// After [`POOL_TTL`], removes the pooled container `id` if it is still waiting and
    /// starts a replacement, so an idle pool never hands out an expiring container.
    fn replace_later(&self, image: &str, limits: &Limits, key: String, id: String) {
        let me = self.clone();
        let (image, limits) = (image.to_owned(), limits.clone());
        tokio::spawn(async move {
            tokio::time::sleep(POOL_TTL).await;
            let waiting = {
                let mut ready = me.pool.ready.lock().expect("pool lock");
                ready.get_mut(&key).is_some_and(|q| {
                    let before = q.len();
                    q.retain(|p| p.id != id);
                    q.len() < before
                })
            };
            if waiting {
                me.remove(&id).await;
                me.refill(&image, &limits);
            }
        });
    }

    /// Removes every pooled container (at shutdown).
    pub async fn drain_pool(&self) {
        let ids: Vec<String> = self
            .pool
            .ready
            .lock()
            .expect("pool lock")
            .drain()
            .flat_map(|(_, v)| v)
            .map(|p| p.id)
            .collect();
        for id in ids {
            self.remove(&id).await;
        }
    }

    fn pool_len(&self, key: &str) -> usize {
        self.pool
            .ready
            .lock()
            .expect("pool lock")
            .get(key)
            .map_or(0, VecDeque::len)
    }

    /// A pooled container that is fresh and still running. Dead or expiring ones met on
    /// the way are removed; `None` when none is left.
    async fn take_pooled(&self, key: &str) -> Option<String> {
        loop {
            let pooled = self
                .pool
                .ready
                .lock()
                .expect("pool lock")
                .get_mut(key)
                .and_then(VecDeque::pop_front)?;
            if pooled.fresh(Instant::now()) && self.running(&pooled.id).await {
                return Some(pooled.id);
            }
            tracing::info!(
                "pooled container {} is no longer running or about to expire; removing it",
                pooled.id
            );
            self.remove(&pooled.id).await;
        }
    }

    /// Whether the engine reports the container running (and not paused).
    async fn running(&self, id: &str) -> bool {
        match self.docker.inspect_container(id, None).await {
            Ok(c) => c
                .state
                .is_some_and(|s| s.running == Some(true) && s.paused != Some(true)),
            Err(e) => {
                tracing::warn!("inspecting pooled container {id}: {e}");
                false
            }
        }
    }

    fn refill(&self, image: &str, limits: &Limits) {
        if self.pool.size == 0 {
            return;
        }
        let me = self.clone();
        let (image, limits) = (image.to_owned(), limits.clone());
        tokio::spawn(async move {
            if let Err(e) = me.warm(&image, &limits).await {
                tracing::warn!("warm pool for {image}: {e}");
            }
        });
    }

    /// The engine's address as connected.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates and starts a hardened container sleeping a run's lifetime plus `extra`.
    async fn create_started(
        &self,
        image: &str,
        limits: &Limits,
        run_id: &str,
        extra: Duration,
    ) -> Result<String, SandboxError> {
        let mut body = container_body(image, limits, run_id, &self.owner, extra);
        if self.is_podman()
            && let Some(h) = body.host_config.as_mut()
        {
            podman_compat(h, limits);
        }
        let created = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => SandboxError::MissingImage {
                    image: image.to_owned(),
                    engine: self.describe(),
                },
                other => self.engine_error(other),
            })?;
        let id = created.id;
        if let Err(e) = self.docker.start_container(&id, None).await {
            self.remove(&id).await;
            return Err(self.engine_error(e));
        }
        Ok(id)
    }

    fn engine_error(&self, e: bollard::errors::Error) -> SandboxError {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError { message, .. } => {
                SandboxError::Engine(rlimit_hint(message, &self.server))
            }
            E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::SocketNotFoundError(_)
            | E::RequestTimeoutError => SandboxError::Unreachable(format!(
                "lost the Docker engine at {}: {}; {HINT}",
                self.target.describe(),
                connect::chain(&e)
            )),
            other => SandboxError::Engine(other.to_string()),
        }
    }

    async fn remove(&self, id: &str) {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        if let Err(e) = self.docker.remove_container(id, Some(opts)).await {
            tracing::warn!("removing container {id}: {e}");
        }
    }

    async fn kill(&self, id: &str) {
        let _ = self
            .docker
            .kill_container(
                id,
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await;
    }

    async fn run_inner(
        &self,
        spec: RunSpec,
        events: UnboundedSender<Event>,
        cancel: CancellationToken,
        guard: &mut RemoveGuard,
    ) -> Result<Outcome, SandboxError> {
        let called = Instant::now();
        spec.limits.check().map_err(SandboxError::Invalid)?;
        if spec.command.is_empty() {
            return Err(SandboxError::Invalid("the runner command is empty".into()));
        }
        let tar = tarball::upload(
            &spec.script_name,
            &spec.script,
            spec.input.as_ref().map(|(n, d)| (n.as_str(), d.as_slice())),
        )
        .map_err(SandboxError::Invalid)?;
        let key = pool_key(&spec.image, &spec.limits);
        let id = match self.take_pooled(&key).await {
            Some(id) => id,
            None => {
                let id = tokio::select! {
                    r = self.create_started(&spec.image, &spec.limits, &spec.run_id, Duration::ZERO) => r?,
                    () = cancel.cancelled() => return Ok(Outcome::without_output(
                        Status::Cancelled,
                        "cancelled before the script started".into(),
                    )),
                };
                id
            }
        };
        guard.id = Some(id.clone());
        self.refill(&spec.image, &spec.limits);
        self.docker
            .upload_to_container(
                &id,
                Some(UploadToContainerOptions {
                    path: WORK_DIR.into(),
                    no_overwrite_dir_non_dir: None,
                    copy_uidgid: None,
                }),
                bollard::body_full(tar.into()),
            )
            .await
            .map_err(|e| self.engine_error(e))?;
        let _ = events.send(Event::Started {
            container: id.clone(),
        });
        let mut env = vec![
            "PYTHONUNBUFFERED=1".to_string(),
            "PYTHONDONTWRITEBYTECODE=1".into(),
            "HOME=/tmp".into(),
        ];
        env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        let exec = self
            .docker
            .create_exec(
                &id,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(false),
                    tty: Some(false),
                    cmd: Some(spec.argv()),
                    env: Some(env),
                    user: Some(spec.limits.user.clone()),
                    working_dir: Some(WORK_DIR.into()),
                    privileged: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.engine_error(e))?;
        let started = Instant::now();
        let output = match self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| self.engine_error(e))?
        {
            StartExecResults::Attached { output, .. } => output,
            StartExecResults::Detached => {
                return Err(SandboxError::Engine("the exec did not attach".into()));
            }
        };
        let mut output = output;
        let mut out = Capture::new(spec.limits.stdout_bytes);
        let mut err = Capture::new(spec.limits.stderr_bytes);
        let mut seq = 0u64;
        let mut first_output = None;
        let emit = |stream: Stream, text: String, seq: &mut u64| {
            if !text.is_empty() {
                let _ = events.send(Event::Output {
                    seq: *seq,
                    stream,
                    chunk: text,
                });
                *seq += 1;
            }
        };
        let deadline = tokio::time::sleep(Duration::from_secs(spec.limits.timeout_seconds));
        tokio::pin!(deadline);
        let mut ended_by: Option<Status> = None;
        let mut take = |log: bollard::container::LogOutput, seq: &mut u64| {
            use bollard::container::LogOutput;
            let (stream, bytes) = match log {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    (Stream::Stdout, message)
                }
                LogOutput::StdErr { message } => (Stream::Stderr, message),
                LogOutput::StdIn { .. } => return,
            };
            if first_output.is_none() && !bytes.is_empty() {
                first_output = Some(called.elapsed());
            }
            let text = match stream {
                Stream::Stdout => out.push(&bytes),
                Stream::Stderr => err.push(&bytes),
            };
            emit(stream, text, seq);
        };
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => { ended_by = Some(Status::Cancelled); break; }
                () = &mut deadline => { ended_by = Some(Status::TimedOut); break; }
                item = output.next() => match item {
                    Some(Ok(log)) => take(log, &mut seq),
                    Some(Err(e)) => return Err(self.engine_error(e)),
                    None => break,
                }
            }
        }
        let duration = started.elapsed();
        if ended_by.is_some() {
            self.kill(&id).await;
            // What the script wrote before it was killed still arrives, briefly.
            let drain = async {
                while let Some(Ok(log)) = output.next().await {
                    take(log, &mut seq);
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
        }
        let (status, exit_code, message, artifacts, artifacts_truncated) = match ended_by {
            Some(s) => {
                let message = match s {
                    Status::TimedOut => format!(
                        "stopped after {} s (the limit is warden.run.limits.timeoutSeconds)",
                        spec.limits.timeout_seconds
                    ),
                    _ => "cancelled".to_owned(),
                };
                (s, None, Some(message), Vec::new(), false)
            }
            None => {
                let inspected = self
                    .docker
                    .inspect_exec(&exec.id)
                    .await
                    .map_err(|e| self.engine_error(e))?;
                let code = inspected.exit_code;
                let oom = self.oom_killed(&id, code).await;
                let (artifacts, cut) = self.artifacts(&id, spec.limits.artifacts_mb * MIB).await;
                let (status, message) = match (code, oom) {
                    (_, true) => (
                        Status::OomKilled,
                        Some(format!(
                            "killed: out of memory (the limit is {} MiB, warden.run.limits.memoryMb)",
                            spec.limits.memory_mb
                        )),
                    ),
                    (Some(0), false) => (Status::Succeeded, None),
                    (Some(c), false) if c > 128 => (
                        Status::Failed,
                        Some(format!("killed by signal {} (exit code {c})", c - 128)),
                    ),
                    (Some(c), false) => (Status::Failed, Some(format!("exited with code {c}"))),
                    (None, false) => (
                        Status::Error,
                        Some("the engine reported no exit code".to_owned()),
                    ),
                };
                (status, code, message, artifacts, cut)
            }
        };
        out.finish();
        err.finish();
        Ok(Outcome {
            status,
            exit_code,
            message,
            duration,
            first_output,
            stdout_total: out.total,
            stderr_total: err.total,
            stdout_truncated: out.truncated,
            stderr_truncated: err.truncated,
            stdout: out.text,
            stderr: err.text,
            artifacts,
            artifacts_truncated,
        })
    }

    /// Whether the kernel's OOM killer fired in the container. The engine records
    /// OOM only when a container's main process ends, so for a killed script the
    /// container's own memory cgroup is asked (`oom_kill` in cgroup v1's
    /// `memory.oom_control` or v2's `memory.events`) by a short exec.
    async fn oom_killed(&self, id: &str, code: Option<i64>) -> bool {
        if let Ok(c) = self.docker.inspect_container(id, None).await
            && c.state.and_then(|s| s.oom_killed).unwrap_or(false)
        {
            return true;
        }
        if code != Some(137) {
            return false;
        }
        let Ok(exec) = self
            .docker
            .create_exec(
                id,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(false),
                    cmd: Some(
                        [
                            "cat",
                            "/sys/fs/cgroup/memory/memory.oom_control",
                            "/sys/fs/cgroup/memory.events",
                        ]
                        .map(String::from)
                        .to_vec(),
                    ),
                    ..Default::default()
                },
            )
            .await
        else {
            return false;
        };
        let Ok(StartExecResults::Attached { mut output, .. }) =
            self.docker.start_exec(&exec.id, None).await
        else {
            return false;
        };
        let mut text = String::new();
        while let Some(Ok(chunk)) = output.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        oom_kills(&text) > 0
    }

    /// Files under `/out`, downloading at most `cap` bytes of file data (plus tar
    /// headers). The folder itself is asked for, not `/out/.`: Docker names entries
    /// `out/...` (or `./...` for `/out/.`), Podman `out/...` (or bare names for
    /// `/out/.`), and [`tarball::artifacts`] drops the first component.
    async fn artifacts(&self, id: &str, cap: u64) -> (Vec<crate::Artifact>, bool) {
        let mut stream = self.docker.download_from_container(
            id,
            Some(DownloadFromContainerOptions {
                path: OUT_DIR.to_string(),
            }),
        );
        let limit = cap + MIB;
        let mut bytes = Vec::new();
        let mut cut = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    bytes.extend_from_slice(&c);
                    if bytes.len() as u64 > limit {
                        cut = true;
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading artifacts of {id}: {e}");
                    return (Vec::new(), false);
                }
            }
        }
        let (arts, left_out) = tarball::artifacts(&bytes, cap);
        (arts, cut || left_out)
    }
}

/// Removes the run's container when the run ends, however it ends (also when the
/// run's future is dropped).
struct RemoveGuard {
    sandbox: DockerSandbox,
    id: Option<String>,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let s = self.sandbox.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { s.remove(&id).await });
            }
        }
    }
}

impl Sandbox for DockerSandbox {
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        events: UnboundedSender<Event>,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Outcome, SandboxError>> {
        Box::pin(async move {
            let mut guard = RemoveGuard {
                sandbox: self.clone(),
                id: None,
            };
            let result = self.run_inner(spec, events, cancel, &mut guard).await;
            if let Some(id) = guard.id.take() {
                self.remove(&id).await;
            }
            result
        })
    }

    fn reap(&self) -> BoxFuture<'_, Result<usize, SandboxError>> {
        Box::pin(async move {
            let filters = HashMap::from([("label".to_string(), vec![LABEL_RUN.to_string()])]);
            let list = self
                .docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    limit: None,
                    size: false,
                    filters: Some(filters),
                }))
                .await
                .map_err(|e| self.engine_error(e))?;
            let mut reaped = 0;
            for c in list {
                let (Some(id), labels) = (c.id, c.labels.unwrap_or_default()) else {
                    continue;
                };
                let owner = labels.get(LABEL_OWNER).map(String::as_str);
                if owner::liveness(owner, &owner::real_proc) == owner::Liveness::Dead {
                    self.remove(&id).await;
                    reaped += 1;
                }
            }
            Ok(reaped)
        })
    }

    fn describe(&self) -> String {
        format!("{} at {}", self.server, self.target.describe())
    }
}

/// The product that answered `/version`, its version and API version. Docker names
/// its component `Engine`, Podman `Podman Engine`.
fn server_name(v: &bollard::models::SystemVersion) -> String {
    let podman = v
        .components
        .iter()
        .flatten()
        .any(|c| c.name.contains("Podman"));
    format!(
        "{} {} (API {})",
        if podman {
            "Podman Engine"
        } else {
            "Docker Engine"
        },
        v.version.as_deref().unwrap_or("?"),
        v.api_version.as_deref().unwrap_or("?")
    )
}

/// The create body of a run's container: see the module header. Its main process
/// sleeps the run's timeout plus two minutes, plus `extra` (the time a pooled container
/// may wait for its run).
fn container_body(
    image: &str,
    l: &Limits,
    run_id: &str,
    owner: &str,
    extra: Duration,
) -> ContainerCreateBody {
    let tmpfs_volume = |target: &str, size_mb: u64, opts: &str| Mount {
        target: Some(target.into()),
        typ: Some(MountType::VOLUME),
        read_only: Some(false),
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some("local".into()),
                options: Some(HashMap::from([
                    ("type".to_string(), "tmpfs".to_string()),
                    ("device".to_string(), "tmpfs".to_string()),
                    ("o".to_string(), format!("size={}m,{opts}", size_mb.max(1))),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (uid, gid) = l.user.split_once(':').unwrap_or((&l.user, &l.user));
    let ulimit = |name: &str, v: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(v),
        hard: Some(v),
    };
    let memory = (l.memory_mb * MIB) as i64;
    // The main process only waits for execs; it outlives the longest run.
    let sleep = (l.timeout_seconds + 120 + extra.as_secs()).to_string();
    ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(vec!["sleep".into(), sleep]),
        entrypoint: Some(vec![]),
        user: Some(l.user.clone()),
        working_dir: Some(WORK_DIR.into()),
        labels: Some(HashMap::from([
            (LABEL_RUN.to_string(), run_id.to_string()),
            (LABEL_OWNER.to_string(), owner.to_string()),
        ])),
        network_disabled: Some(!l.network),
        host_config: Some(HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((l.cpus * 1e9) as i64),
            pids_limit: Some(l.pids),
            readonly_rootfs: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            init: Some(true),
            network_mode: Some(if l.network { "bridge" } else { "none" }.into()),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}m,mode=1777", l.tmp_mb.max(1)),
            )])),
            ulimits: Some(vec![
                ulimit("nofile", l.nofile),
                ulimit("fsize", l.file_size_mb * MIB as i64),
                ulimit("core", 0),
            ]),
            log_config: Some(HostConfigLogConfig {
                typ: Some("none".into()),
                config: None,
            }),
            mounts: Some(vec![
                tmpfs_volume(WORK_DIR, 64, "mode=0755,nosuid,nodev"),
                tmpfs_volume(
                    OUT_DIR,
                    l.artifacts_mb,
                    &format!("uid={uid},gid={gid},mode=0755,nosuid,nodev"),
                ),
            ]),
            auto_remove: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The process limit (`RLIMIT_NPROC`) given to containers on Podman. Docker leaves it
/// as the engine's own; rootful Podman asks for 1048576 unless told, which the runtime
/// cannot set where its hard limit is lower (inside a container, for one), so every
/// run would fail. The pids limit still bounds the container's processes.
pub const PODMAN_NPROC: i64 = 32768;

/// What Podman's Docker-compatible service needs instead of parts of the Docker body
/// (Podman 4.3, Debian 12). Its compat API ignores a volume's driver options, so the
/// `/work` and `/out` volumes would be unbounded directories on the engine's disk, and
/// `/work` would belong to the runner; Podman copies archives in the container's own
/// mount namespace, so plain tmpfs mounts carry them instead: `/work` root-owned and
/// read-only to the runner, `/out` size-capped and handed to the run's user (`U`; it
/// refuses `uid=`). And the process limit, see [`PODMAN_NPROC`].
fn podman_compat(h: &mut HostConfig, l: &Limits) {
    h.mounts = None;
    let tmpfs = h.tmpfs.get_or_insert_with(HashMap::new);
    tmpfs.insert(
        WORK_DIR.to_string(),
        "rw,nosuid,nodev,size=64m,mode=0755".to_string(),
    );
    tmpfs.insert(
        OUT_DIR.to_string(),
        format!(
            "rw,nosuid,nodev,size={}m,mode=0755,U",
            l.artifacts_mb.max(1)
        ),
    );
    h.ulimits
        .get_or_insert_with(Vec::new)
        .push(ResourcesUlimits {
            name: Some("nproc".into()),
            soft: Some(PODMAN_NPROC),
            hard: Some(PODMAN_NPROC),
        });
}

/// An engine error, with what to do when the runtime could not set a resource limit
/// (`error setting rlimit type N: operation not permitted`: the engine's own hard limit
/// is lower than what the container asks for).
fn rlimit_hint(message: String, server: &str) -> String {
    if !message.contains("error setting rlimit") {
        return message;
    }
    let asked = if server.starts_with("Podman") {
        format!("warden asks Podman for nproc {PODMAN_NPROC} and nofile warden.run.limits.nofile")
    } else {
        "warden asks for nofile warden.run.limits.nofile, fsize and core".to_owned()
    };
    format!(
        "{message} ({server} could not give the container a resource limit: {asked}; raise the engine service's hard limits (LimitNPROC / LimitNOFILE), or lower warden.run.limits.nofile)"
    )
}

fn pool_key(image: &str, limits: &Limits) -> String {
    format!(
        "{image}\n{}",
        serde_json::to_string(limits).unwrap_or_default()
    )
}

/// The `oom_kill` counter of cgroup memory statistics.
fn oom_kills(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_is_hardened() {
        let l = Limits::default();
        let b = container_body("img", &l, "r1", "h/1/2", Duration::ZERO);
        let h = b.host_config.as_ref().unwrap();
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert_eq!(h.memory, h.memory_swap);
        assert_eq!(h.memory, Some(256 * MIB as i64));
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(h.pids_limit, Some(64));
        assert_eq!(h.init, Some(true));
        assert!(h.binds.is_none(), "nothing from the host");
        assert_eq!(b.user.as_deref(), Some("1000:1000"));
        assert_eq!(b.labels.as_ref().unwrap()[LABEL_RUN], "r1");
        let sleep = (l.timeout_seconds + 120).to_string();
        assert_eq!(b.cmd.as_deref(), Some(&["sleep".into(), sleep][..]));
    }

    #[test]
    fn pooled_containers_outlive_any_run_started_before_their_replacement() {
        let l = Limits::default();
        let b = container_body("img", &l, "pool", "h/1/2", POOL_TTL);
        let sleep: u64 = b.cmd.unwrap()[1].parse().unwrap();
        assert_eq!(sleep, l.timeout_seconds + 120 + POOL_TTL.as_secs());
        let since = Instant::now();
        let p = Pooled {
            id: "c".into(),
            since,
        };
        assert!(p.fresh(since));
        assert!(p.fresh(since + POOL_TTL - Duration::from_secs(1)));
        assert!(!p.fresh(since + POOL_TTL), "replaced, never handed out");
    }

    #[test]
    fn podman_gets_tmpfs_mounts_and_a_process_limit() {
        let l = Limits::default();
        let mut b = container_body("img", &l, "r1", "h/1/2", Duration::ZERO);
        let h = b.host_config.as_mut().unwrap();
        podman_compat(h, &l);
        assert!(
            h.mounts.is_none(),
            "no volumes: Podman ignores their options"
        );
        let tmpfs = h.tmpfs.as_ref().unwrap();
        assert_eq!(tmpfs[WORK_DIR], "rw,nosuid,nodev,size=64m,mode=0755");
        assert_eq!(tmpfs[OUT_DIR], "rw,nosuid,nodev,size=8m,mode=0755,U");
        assert!(tmpfs["/tmp"].contains("size=64m"));
        let nproc = h
            .ulimits
            .as_ref()
            .unwrap()
            .iter()
            .find(|u| u.name.as_deref() == Some("nproc"));
        assert_eq!(nproc.and_then(|u| u.hard), Some(PODMAN_NPROC));
        assert_eq!(h.readonly_rootfs, Some(true), "the rest stays");
        assert_eq!(h.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
    }

    #[test]
    fn a_refused_resource_limit_says_what_to_raise() {
        let m = rlimit_hint(
            "runc create failed: error setting rlimit type 6: operation not permitted".into(),
            "Podman Engine 4.3.1 (API 1.41)",
        );
        assert!(m.contains("nproc 32768") && m.contains("LimitNPROC"), "{m}");
        assert_eq!(
            rlimit_hint("no such image".into(), "Docker Engine"),
            "no such image"
        );
    }

    #[test]
    fn oom_kills_are_read_from_cgroup_v1_and_v2() {
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            2
        );
        assert_eq!(oom_kills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 1);
        assert_eq!(oom_kills("oom_kill_disable 0\n"), 0);
    }
}
