//! A scripted loopback LLM server for tests, benchmarks and the demo. It speaks the
//! OpenAI-compatible `POST …/chat/completions` and the Anthropic `POST …/messages`
//! streaming formats, reports usage, fails on demand (HTTP status, malformed events,
//! stalls, slow streams) and records every request it receives (path, headers, body),
//! so tests can assert what left the machine.
//!
//! Replies come from a queue of [`Script`]s (one per request; when empty, the default
//! script). A reply text may contain `{{target}}`: the body of the code block that
//! follows the prompt's `Lines a-b:` heading, so a test can make the model "edit" the
//! code it was sent. Scripts can also be pushed over HTTP (`POST /_script` with a
//! [`Script`] as JSON) and the log read back (`GET /_requests`), for the binary.

pub mod collector;
pub mod mirror;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How to answer one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Script {
    /// The reply text (`{{target}}` expands); streamed in `chunk`-byte pieces.
    pub text: String,
    pub chunk: usize,
    /// Pause before each piece.
    pub delay_ms: u64,
    /// Answer with this HTTP status and an error body instead.
    pub status: Option<u16>,
    /// Send one malformed event after the first piece.
    pub malformed: bool,
    /// Send headers, then nothing.
    pub stall: bool,
    /// Usage reported: input tokens (default: body length / 4), cached input tokens.
    pub input_tokens: Option<u64>,
    pub cached_tokens: u64,
    /// Raw body pieces with pauses (ms), sent as they are instead of `text`.
    pub raw: Vec<(String, u64)>,
    /// The content type of a raw reply (default `text/event-stream`): a whole JSON
    /// reply is `application/json`.
    pub content_type: Option<String>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            text: "Here it is.\n```\n{{target}}```\n".into(),
            chunk: 5,
            delay_ms: 0,
            status: None,
            malformed: false,
            stall: false,
            input_tokens: None,
            cached_tokens: 0,
            raw: Vec::new(),
            content_type: None,
        }
    }
}

impl Script {
    pub fn text(text: impl Into<String>) -> Script {
        Script {
            text: text.into(),
            ..Script::default()
        }
    }

    pub fn status(code: u16) -> Script {
        Script {
            status: Some(code),
            ..Script::default()
        }
    }
}

/// One request as received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded {
    pub path: String,
    /// Lower-cased header names with their values.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Script>,
    default: Option<Script>,
    requests: Vec<Recorded>,
    /// Replies cut short because the client closed the connection.
    closed_early: usize,
}

/// A running server; it stops when the process ends.
#[derive(Clone)]
pub struct MockLlm {
    /// `http://127.0.0.1:PORT/v1`: the base URL to configure.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl MockLlm {
    /// Starts on a free loopback port, on its own thread and runtime.
    pub fn start() -> MockLlm {
        MockLlm::start_on(0)
    }

    pub fn start_on(port: u16) -> MockLlm {
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let addr = serve(port, move |sock| handle(sock, st.clone()));
        MockLlm {
            url: format!("http://{addr}/v1"),
            state,
        }
    }

    /// Queues the answer to the next request.
    pub fn push(&self, script: Script) {
        self.lock().queue.push_back(script);
    }

    /// The answer when the queue is empty.
    pub fn set_default(&self, script: Script) {
        self.lock().default = Some(script);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn closed_early(&self) -> usize {
        self.lock().closed_early
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Listens on 127.0.0.1:`port` (0: any) on its own thread and runtime, handing each
/// connection to `handle` in a task; returns the address once it listens.
pub(crate) fn serve<F, Fut>(port: u16, handle: F) -> std::net::SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("report");
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(handle(sock));
            }
        });
    });
    rx.recv().expect("server started")
}

pub(crate) async fn read_request(
    sock: &mut TcpStream,
) -> Option<(String, Vec<(String, String)>, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let mut lines = head.lines();
        let path = lines.next()?.split_whitespace().nth(1)?.to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
        return Some((path, headers, body));
    }
}

async fn respond(sock: &mut TcpStream, status: u16, ctype: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\nretry-after: 0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
}

async fn handle(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let Some((path, headers, body)) = read_request(&mut sock).await else {
        return;
    };
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    if path == "/_script" {
        let ok = match serde_json::from_str::<Script>(&body) {
            Ok(s) => {
                lock().queue.push_back(s);
                true
            }
            Err(_) => false,
        };
        respond(
            &mut sock,
            if ok { 200 } else { 400 },
            "application/json",
            "{}",
        )
        .await;
        return;
    }
    if path == "/_requests" {
        let log = serde_json::to_string(&lock().requests).unwrap_or_default();
        respond(&mut sock, 200, "application/json", &log).await;
        return;
    }
    let anthropic = path.ends_with("/messages");
    if !anthropic && !path.ends_with("/chat/completions") && !path.ends_with("/responses") {
        respond(
            &mut sock,
            404,
            "application/json",
            "{\"error\":{\"message\":\"no such route\"}}",
        )
        .await;
        return;
    }
    let script = {
        let mut s = lock();
        s.requests.push(Recorded {
            path,
            headers,
            body: body.clone(),
        });
        s.queue
            .pop_front()
            .or_else(|| s.default.clone())
            .unwrap_or_default()
    };
    if let Some(code) = script.status {
        let msg = format!("{{\"error\":{{\"message\":\"scripted failure {code}\"}}}}");
        respond(&mut sock, code, "application/json", &msg).await;
        return;
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\nconnection: close\r\n\r\n",
        script
            .content_type
            .as_deref()
            .unwrap_or("text/event-stream")
    );
    let _ = sock.write_all(head.as_bytes()).await;
    if script.stall {
        tokio::time::sleep(Duration::from_secs(120)).await;
        return;
    }
    let pieces = if script.raw.is_empty() {
        events(&script, &body, anthropic)
    } else {
        script.raw.clone()
    };
    for (piece, pause) in pieces {
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        if sock.write_all(piece.as_bytes()).await.is_err() || sock.flush().await.is_err() {
            lock().closed_early += 1;
            return;
        }
    }
    // Notice a client that hung up before the end.
    let _ = sock.shutdown().await;
}

/// The code block after the prompt's `Lines a-b:` heading in the last user message.
pub fn target_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let content = v["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    let Some(at) = content
        .find("\nLines ")
        .or_else(|| content.starts_with("Lines ").then_some(0))
    else {
        return String::new();
    };
    let rest = &content[at..];
    let mut lines = rest.lines().skip_while(|l| !l.starts_with("```"));
    let Some(open) = lines.next() else {
        return String::new();
    };
    let fence: String = open.chars().take_while(|&c| c == '`').collect();
    let mut out = String::new();
    for l in lines {
        if l == fence {
            break;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The SSE pieces of a scripted reply in the requested format.
fn events(script: &Script, body: &str, anthropic: bool) -> Vec<(String, u64)> {
    let text = script.text.replace("{{target}}", &target_of(body));
    let input = script.input_tokens.unwrap_or(body.len() as u64 / 4);
    let output = text.len().div_ceil(4) as u64;
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if cur.len() >= script.chunk.max(1) {
            chunks.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    let d = script.delay_ms;
    // Providers name the model that answered in the stream (OpenAI in every chunk,
    // Anthropic in `message_start`): the one asked for, here.
    let model = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|b| b.get("model").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "mock".to_owned());
    let mut out = Vec::new();
    let sse = |event: Option<&str>, data: serde_json::Value| match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    };
    if anthropic {
        out.push((
            sse(
                Some("message_start"),
                serde_json::json!({"type": "message_start", "message": {"model": model, "usage": {"input_tokens": input - script.cached_tokens.min(input), "cache_read_input_tokens": script.cached_tokens, "output_tokens": 1}}}),
            ),
            0,
        ));
    }
    for (i, c) in chunks.iter().enumerate() {
        let piece = if anthropic {
            sse(
                Some("content_block_delta"),
                serde_json::json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": c}}),
            )
        } else {
            sse(
                None,
                serde_json::json!({"model": model, "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": null}]}),
            )
        };
        out.push((piece, d));
        if i == 0 && script.malformed {
            out.push(("data: {\"choices\": [{\"delta\": \n\n".to_owned(), 0));
        }
    }
    if anthropic {
        out.push((
            sse(
                Some("message_delta"),
                serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output}}),
            ),
            0,
        ));
        out.push((
            sse(
                Some("message_stop"),
                serde_json::json!({"type": "message_stop"}),
            ),
            0,
        ));
    } else {
        out.push((
            sse(
                None,
                serde_json::json!({"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ),
            0,
        ));
        out.push((
            sse(
                None,
                serde_json::json!({"model": model, "choices": [], "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output, "prompt_tokens_details": {"cached_tokens": script.cached_tokens}}}),
            ),
            0,
        ));
        out.push(("data: [DONE]\n\n".to_owned(), 0));
    }
    out
}
