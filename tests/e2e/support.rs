//! A small synchronous LSP test client: spawns the real `warden` binary, frames JSON-RPC
//! over its stdio, answers the server's own requests (`workspace/configuration` with the
//! test's settings, registrations, progress creation) and buffers notifications.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The `warden` binary under test: this build's, or `WARDEN_BENCH_BIN` (benchmarks
/// run another build side by side with it).
pub fn warden_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("WARDEN_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_warden").into())
    })
}

pub struct Server {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    pending: Vec<Value>,
    /// What `workspace/configuration` answers for the `warden` section.
    pub settings: Value,
    /// Answer the server's own requests (a client that hangs does not).
    pub answer_server: bool,
    /// `workspace/applyEdit` and `window/showMessageRequest` requests received.
    pub server_requests: Vec<Value>,
    /// What `workspace/applyEdit` answers for `applied`.
    pub apply_edits: bool,
    /// The action title `window/showMessageRequest` answers (none: dismissed).
    pub message_choice: Option<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub fn spawn(db: &Path) -> Server {
        Server::spawn_with(db, &[])
    }

    pub fn spawn_with(db: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(warden_bin());
        cmd.arg("lsp")
            .env("WARDEN_DB", db)
            .env("WARDEN_DEBUG_HOOKS", "1")
            .env("WARDEN_LOG", "info")
            // Never the internet: tests that download name a loopback mirror and set
            // WARDEN_OFFLINE=0.
            .env("WARDEN_OFFLINE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn warden");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(msg) = read_frame(&mut r) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            stdin,
            rx,
            next_id: 0,
            pending: Vec::new(),
            // Tests that want the start-up workspace scan turn it back on.
            settings: json!({"scan": {"onStartup": false}}),
            answer_server: true,
            server_requests: Vec::new(),
            apply_edits: true,
            message_choice: None,
            stderr,
        }
    }

    /// The server's process id (the benchmarks read its memory use).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn send_raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, msg: Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response: `Ok(result)` or `Err(error object)`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(json!(id))
    }

    /// Sends a request without waiting for its response; returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Waits for the response with `id`, serving server requests meanwhile.
    pub fn response(&mut self, id: Value) -> Result<Value, Value> {
        let as_result = |msg: &Value| match msg.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
        };
        // It may have arrived while waiting for something else.
        if let Some(i) = self
            .pending
            .iter()
            .position(|m| m.get("method").is_none() && m.get("id") == Some(&id))
        {
            return as_result(&self.pending.remove(i));
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline).unwrap_or_else(|| {
                panic!(
                    "no response to request {id} within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                )
            });
            if msg.get("method").is_none() && msg.get("id") == Some(&id) {
                return as_result(&msg);
            }
            self.pending.push(msg);
        }
    }

    /// Receives one message, answering server→client requests. `None` on timeout/EOF.
    fn recv(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = match self.rx.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            };
            if let (Some(method), Some(id)) =
                (msg.get("method").and_then(Value::as_str), msg.get("id"))
            {
                let result = match method {
                    "workspace/configuration" => {
                        let n = msg["params"]["items"].as_array().map_or(1, Vec::len);
                        Value::Array(vec![self.settings.clone(); n])
                    }
                    "workspace/applyEdit" => {
                        self.server_requests.push(msg.clone());
                        json!({"applied": self.apply_edits})
                    }
                    "window/showMessageRequest" => {
                        self.server_requests.push(msg.clone());
                        match &self.message_choice {
                            Some(title) => json!({"title": title}),
                            None => Value::Null,
                        }
                    }
                    _ => Value::Null,
                };
                let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
                self.send(reply);
                continue;
            }
            return Some(msg);
        }
    }

    /// Waits for a notification `method` whose params satisfy `pred`; earlier ones that
    /// do not match stay buffered.
    pub fn wait_for(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_within(TIMEOUT, method, pred)
            .unwrap_or_else(|| {
                panic!(
                    "no {method} notification within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                )
            })
    }

    /// Like [`Server::wait_for`], but gives up after `within` and returns `None`.
    pub fn wait_for_within(
        &mut self,
        within: Duration,
        method: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self
            .pending
            .iter()
            .position(|m| m["method"] == method && pred(&m["params"]))
        {
            return Some(self.pending.remove(i)["params"].clone());
        }
        let deadline = Instant::now() + within;
        while let Some(msg) = self.recv(deadline) {
            if msg["method"] == method && pred(&msg["params"]) {
                return Some(msg["params"].clone());
            }
            self.pending.push(msg);
        }
        None
    }

    /// Every buffered notification named `method` (draining them), after letting
    /// in-flight messages arrive for `settle`.
    /// Forgets the messages received so far and not yet taken (to look only at what
    /// arrives from now on).
    pub fn forget_received(&mut self) {
        self.pending.clear();
    }

    pub fn take(&mut self, method: &str, settle: Duration) -> Vec<Value> {
        let deadline = Instant::now() + settle;
        while let Some(msg) = self.recv(deadline) {
            self.pending.push(msg);
        }
        let (hit, keep): (Vec<Value>, Vec<Value>) =
            self.pending.drain(..).partition(|m| m["method"] == method);
        self.pending = keep;
        hit.into_iter().map(|m| m["params"].clone()).collect()
    }

    pub fn initialize(&mut self, folders: &[&Path], options: Value) -> Value {
        let folders: Vec<Value> = folders
            .iter()
            .map(|p| json!({"uri": file_uri(p), "name": p.file_name().unwrap().to_string_lossy()}))
            .collect();
        let result = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": null,
                    "capabilities": {
                        "workspace": {"configuration": true, "workspaceFolders": true,
                                      "didChangeWatchedFiles": {"dynamicRegistration": true}},
                        "window": {"workDoneProgress": true},
                        "general": {"positionEncodings": ["utf-16"]}
                    },
                    "workspaceFolders": folders,
                    "initializationOptions": options,
                }),
            )
            .expect("initialize succeeds");
        self.notify("initialized", json!({}));
        result
    }

    pub fn command(&mut self, command: &str, args: Value) -> Result<Value, Value> {
        self.request(
            "workspace/executeCommand",
            json!({"command": command, "arguments": [args]}),
        )
    }

    pub fn workspaces(&mut self) -> Vec<Value> {
        let v = self
            .request("warden/workspaces", Value::Null)
            .expect("warden/workspaces");
        v.as_array().cloned().expect("an array")
    }

    /// `shutdown` + `exit`; returns the exit status.
    pub fn shutdown(mut self) -> ExitStatus {
        self.request("shutdown", Value::Null).expect("shutdown");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "warden did not exit after `exit`"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_frame(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// `warden db import PATH` into the database `db` (created with its folder);
/// panics with warden's stderr on failure.
pub fn import_advisories(db: &Path, path: &Path) {
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let out = Command::new(warden_bin())
        .args(["db", "import"])
        .arg(path)
        .env("WARDEN_DB", db)
        .output()
        .expect("run warden db import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn file_uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// Runs git in `dir` with a fixed identity; panics on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "warden-test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "warden-test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository at `parent/name` with one commit and an origin remote.
pub fn repo(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(
        &dir,
        &[
            "remote",
            "add",
            "origin",
            &format!("https://example.invalid/{name}.git"),
        ],
    );
    std::fs::write(dir.join("src/main.py"), "print('hi')\n").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "init"]);
    std::fs::canonicalize(dir).unwrap()
}

pub fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn by_name<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|w| w["name"] == name)
        .unwrap_or_else(|| panic!("no workspace {name} in {list:#?}"))
}

// Helpers for hostile input (tests/e2e/hostile.rs): raw bytes, responses already
// buffered, closing stdin, waiting for the exit.

impl Server {
    /// Writes `bytes` to the server's stdin as they are (no header is added).
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Removes and returns every buffered response with `id` (whole messages).
    pub fn take_responses(&mut self, id: &Value) -> Vec<Value> {
        let (hit, keep): (Vec<Value>, Vec<Value>) = self
            .pending
            .drain(..)
            .partition(|m| m.get("method").is_none() && m.get("id") == Some(id));
        self.pending = keep;
        hit
    }

    /// The response with `id` (`Ok(result)` or `Err(error object)`), buffered or arriving
    /// within `within`.
    pub fn response_within(
        &mut self,
        id: &Value,
        within: Duration,
    ) -> Option<Result<Value, Value>> {
        let outcome = |msg: Value| match msg.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
        };
        if let Some(msg) = self.take_responses(id).into_iter().next() {
            return Some(outcome(msg));
        }
        let deadline = Instant::now() + within;
        while let Some(msg) = self.recv(deadline) {
            if msg.get("method").is_none() && msg.get("id") == Some(id) {
                return Some(outcome(msg));
            }
            self.pending.push(msg);
        }
        None
    }

    /// Closes the server's stdin, as a client that goes away without `exit`.
    pub fn close_stdin(&mut self) {
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let stdin = ChildStdin::from(std::os::fd::OwnedFd::from(null));
        drop(std::mem::replace(&mut self.stdin, stdin));
    }

    /// The exit status, once the process ends within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A benchmark's count, cut to a tenth (at least 3) when `WARDEN_BENCH_SMOKE` is set: CI
/// runs every benchmark once that way, to prove it works and print its figures.
/// (Used by the benchmarks, which include this file.)
#[allow(dead_code)]
pub fn bench_count(full: usize) -> usize {
    if std::env::var_os("WARDEN_BENCH_SMOKE").is_some() {
        (full / 10).max(3)
    } else {
        full
    }
}

/// A field of `/proc/PID/status` (`Threads:`, or `VmRSS:`/`VmHWM:` in kB); 0 when
/// unreadable.
#[allow(dead_code)]
pub fn proc_status(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// A Python module of about `lines` lines: small handler functions with docstrings, as
/// the edit benchmarks and burst tests type into.
#[allow(dead_code)]
pub fn python_module(lines: usize) -> String {
    let mut text = String::from("import os\nimport json\n\n");
    let mut i = 0;
    while text.lines().count() < lines.saturating_sub(10) {
        text.push_str(&format!(
            "def handler_{i}(request, token=None):\n    \"\"\"Handle request {i}.\"\"\"\n    key = os.environ.get(\"KEY_{i}\")\n    payload = json.loads(request.body)\n    return {{\"id\": {i}, \"ok\": bool(key), \"n\": len(payload)}}\n\n"
        ));
        i += 1;
    }
    text
}
