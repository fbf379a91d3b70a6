//! Stdio transport. tower-lsp-server decodes stdin with tokio-util's `FramedRead`,
//! which ends the stream at the first undecodable message, so one bad frame would stop
//! the server. A reader thread parses frames first: well-formed JSON-RPC messages pass
//! through unchanged; bad headers, non-JSON bodies and JSON that is not a message are
//! answered with a JSON-RPC error (`-32700`/`-32600`, with the request's id when it has
//! one) and dropped. Error responses share stdout with the server through
//! [`ChannelWriter`], which receives only whole frames, so the two never interleave.
//!
//! Both directions use dedicated OS threads with blocking I/O rather than tokio's
//! stdin/stdout, which go through the blocking pool and queue behind analysis work
//! (measured: 3-4 ms per message while a re-parse runs).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{
    UnboundedReceiver, UnboundedSender, WeakUnboundedSender, unbounded_channel,
};

/// Largest message accepted (a `didOpen` of a very large file fits).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// An `AsyncWrite` whose every write is one chunk on a channel, written to the real
/// output in order by [`spawn_writer`].
pub struct ChannelWriter(UnboundedSender<Vec<u8>>);

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.0.send(buf.to_vec()) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(_) => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The server's side of a hardened stdio pair.
pub struct Transport {
    pub input: tokio::io::DuplexStream,
    pub output: ChannelWriter,
    writer: JoinHandle<()>,
}

impl Transport {
    /// Waits until everything queued for stdout is written. Call after the server (the
    /// last holder of [`ChannelWriter`]) is gone. The reader thread is not joined: it may
    /// be blocked reading a stdin the client never closes, and ends with the process.
    pub fn finish(writer: JoinHandle<()>) {
        let _ = writer.join();
    }

    pub fn into_parts(self) -> (tokio::io::DuplexStream, ChannelWriter, JoinHandle<()>) {
        (self.input, self.output, self.writer)
    }
}

pub fn stdio() -> Transport {
    wrap(io::stdin(), io::stdout())
}

/// Starts the reader and writer threads. Must be called inside a tokio runtime.
pub fn wrap<R, W>(input: R, output: W) -> Transport
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let (tx, rx) = unbounded_channel();
    let writer = spawn_writer(rx, output);
    let (server_side, filter_side) = tokio::io::duplex(1 << 16);
    let runtime = tokio::runtime::Handle::current();
    // Weak: once the server drops its writer, stdout closes even if the reader thread is
    // still blocked on a stdin the client keeps open.
    let errors = tx.downgrade();
    std::thread::Builder::new()
        .name("warden-stdin".into())
        .spawn(move || filter(input, filter_side, errors, runtime))
        .expect("spawn the stdin thread");
    Transport {
        input: server_side,
        output: ChannelWriter(tx),
        writer,
    }
}

fn spawn_writer<W: Write + Send + 'static>(
    mut rx: UnboundedReceiver<Vec<u8>>,
    mut out: W,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("warden-stdout".into())
        .spawn(move || {
            while let Some(chunk) = rx.blocking_recv() {
                if out.write_all(&chunk).is_err() || out.flush().is_err() {
                    break;
                }
            }
        })
        .expect("spawn the stdout thread")
}

enum Frame {
    Body(Vec<u8>),
    /// A frame we could not read; the reason, for the error response.
    Bad(String),
    Eof,
}

fn filter<R: Read>(
    input: R,
    mut to_server: tokio::io::DuplexStream,
    errors: WeakUnboundedSender<Vec<u8>>,
    runtime: tokio::runtime::Handle,
) {
    let answer = |frame: Vec<u8>| {
        if let Some(tx) = errors.upgrade() {
            let _ = tx.send(frame);
        }
    };
    let mut input = BufReader::with_capacity(1 << 16, input);
    loop {
        let frame = match read_frame(&mut input) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("reading stdin: {e}");
                break;
            }
        };
        match frame {
            Frame::Eof => break,
            Frame::Bad(reason) => {
                tracing::warn!("dropped a malformed message: {reason}");
                answer(error_frame(Value::Null, -32700, &reason));
            }
            Frame::Body(body) => match check(&body) {
                Ok(()) => {
                    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                    framed.extend_from_slice(&body);
                    if runtime.block_on(to_server.write_all(&framed)).is_err() {
                        break;
                    }
                }
                Err(Rejected { id, code, reason }) => {
                    tracing::warn!("dropped a malformed message: {reason}");
                    // Notifications (no id, but a method) get no answer, per JSON-RPC.
                    if let Some(id) = id {
                        answer(error_frame(id, code, &reason));
                    }
                }
            },
        }
    }
    let _ = runtime.block_on(to_server.shutdown());
}

fn read_frame<R: BufRead>(r: &mut R) -> io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(if saw_header {
                Frame::Bad("input ended inside a message header".into())
            } else {
                Frame::Eof
            });
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // stray blank line between messages
        }
        saw_header = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("invalid Content-Length {:?}", value.trim())),
                );
            }
        } else {
            length = Some(Err(format!("not a header line: {:?}", truncate(text))));
        }
    }
    let len = match length {
        None => return Ok(Frame::Bad("message header has no Content-Length".into())),
        Some(Err(e)) => return Ok(Frame::Bad(e)),
        Some(Ok(n)) => n,
    };
    if len > MAX_BODY {
        io::copy(&mut r.take(len as u64), &mut io::sink())?;
        return Ok(Frame::Bad(format!(
            "message of {len} bytes exceeds the {MAX_BODY}-byte limit"
        )));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

struct Rejected {
    id: Option<Value>,
    code: i64,
    reason: String,
}

/// The shape tower-lsp-server needs, checked without building the params.
#[derive(Deserialize)]
struct Envelope {
    jsonrpc: Option<String>,
    method: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: bool,
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(default)]
    #[allow(dead_code)]
    params: Option<IgnoredAny>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

fn check(body: &[u8]) -> Result<(), Rejected> {
    let env: Envelope = match serde_json::from_slice(body) {
        Ok(env) => env,
        Err(e) if e.is_data() => {
            // Valid JSON, wrong shape: recover the id if there is one.
            let id = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .filter(valid_id);
            return Err(Rejected {
                id: Some(id.unwrap_or(Value::Null)),
                code: -32600,
                reason: format!("not a JSON-RPC message: {e}"),
            });
        }
        Err(e) => {
            return Err(Rejected {
                id: Some(Value::Null),
                code: -32700,
                reason: format!("message body is not valid JSON: {e}"),
            });
        }
    };
    let id_ok = env.id.as_ref().is_none_or(valid_id);
    let reject = |reason: &str| Rejected {
        id: if env.method.is_some() && env.id.is_none() {
            None
        } else {
            Some(env.id.clone().filter(valid_id).unwrap_or(Value::Null))
        },
        code: -32600,
        reason: reason.to_owned(),
    };
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(reject("\"jsonrpc\" must be \"2.0\""));
    }
    if !id_ok {
        return Err(reject("\"id\" must be a number or a string"));
    }
    match (&env.method, env.result || env.error) {
        (Some(_), _) => Ok(()),
        (None, true) if env.id.is_some() => Ok(()),
        _ => Err(reject(
            "a message needs a \"method\", or an \"id\" with a \"result\" or \"error\"",
        )),
    }
}

fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

fn error_frame(id: Value, code: i64, message: &str) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        .to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    /// A `Write` whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    async fn run(input: String) -> (String, String) {
        use tokio::io::AsyncReadExt;
        let captured = Captured::default();
        let t = wrap(std::io::Cursor::new(input.into_bytes()), captured.clone());
        let (mut server_in, output, writer) = t.into_parts();
        let mut passed = String::new();
        server_in.read_to_string(&mut passed).await.unwrap();
        // The reader has seen the whole input (the server side hit EOF), so every error
        // frame is queued before the server's writer goes.
        drop(output);
        tokio::task::spawn_blocking(move || Transport::finish(writer))
            .await
            .unwrap();
        let errors = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        (passed, errors)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn good_messages_pass_and_bad_ones_get_errors() {
        let ok1 = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
        let ok2 = r#"{"jsonrpc":"2.0","method":"exit"}"#;
        let input = [
            frame(ok1),
            frame("{not json"),
            frame(r#"{"jsonrpc":"2.0","id":7,"foo":1}"#),
            frame(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"m"}"#),
            frame(r#"{"jsonrpc":"1.0","method":"note"}"#),
            "Garbage-Line\r\n\r\n".to_owned(),
            "Content-Length: abc\r\n\r\n".to_owned(),
            frame(ok2),
        ]
        .concat();
        let (passed, errors) = run(input).await;
        assert_eq!(passed, frame(ok1) + &frame(ok2));
        assert!(
            errors.contains(r#""id":null"#) && errors.contains("-32700"),
            "{errors}"
        );
        assert!(
            errors.contains(r#""code":-32600"#) && errors.contains(r#""id":7"#),
            "{errors}"
        );
        assert!(errors.contains("not a header line"), "{errors}");
        assert!(errors.contains("invalid Content-Length"), "{errors}");
        // The notification with a bad version gets no answer: five error frames in all.
        assert_eq!(errors.matches(r#"{"error":"#).count(), 5, "{errors}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn truncated_input_ends_cleanly() {
        let (passed, errors) = run("Content-Length: 10\r\n".to_owned()).await;
        assert!(passed.is_empty());
        assert!(errors.contains("input ended"), "{errors}");
    }
}
