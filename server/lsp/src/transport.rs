//! Stdio transport hardening. tower-lsp-server decodes stdin with tokio-util's
//! `FramedRead`, which ends the stream at the first undecodable message, so one bad
//! frame would stop the server. This filter reads frames first: well-formed JSON-RPC
//! messages pass through unchanged; bad headers, non-JSON bodies and JSON that is not a
//! message are answered with a JSON-RPC error (`-32700`/`-32600`, with the request's id
//! when it has one) and dropped. Error responses share stdout with the server through
//! [`ChannelWriter`], which receives only whole frames, so the two never interleave.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

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
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Transport {
    /// Stops reading and waits until everything queued for stdout is written.
    pub async fn finish(reader: JoinHandle<()>, writer: JoinHandle<()>) {
        reader.abort();
        let _ = reader.await;
        let _ = writer.await;
    }

    pub fn into_parts(
        self,
    ) -> (
        tokio::io::DuplexStream,
        ChannelWriter,
        JoinHandle<()>,
        JoinHandle<()>,
    ) {
        (self.input, self.output, self.reader, self.writer)
    }
}

pub fn stdio() -> Transport {
    wrap(tokio::io::stdin(), tokio::io::stdout())
}

pub fn wrap<R, W>(input: R, output: W) -> Transport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = unbounded_channel();
    let writer = spawn_writer(rx, output);
    let (server_side, filter_side) = tokio::io::duplex(1 << 16);
    let reader = tokio::spawn(filter(input, filter_side, tx.clone()));
    Transport {
        input: server_side,
        output: ChannelWriter(tx),
        reader,
        writer,
    }
}

fn spawn_writer<W: AsyncWrite + Unpin + Send + 'static>(
    mut rx: UnboundedReceiver<Vec<u8>>,
    mut out: W,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if out.write_all(&chunk).await.is_err() || out.flush().await.is_err() {
                break;
            }
        }
    })
}

enum Frame {
    Body(Vec<u8>),
    /// A frame we could not read; the reason, for the error response.
    Bad(String),
    Eof,
}

async fn filter<R, W>(input: R, mut to_server: W, errors: UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    loop {
        let frame = match read_frame(&mut input).await {
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
                let _ = errors.send(error_frame(Value::Null, -32700, &reason));
            }
            Frame::Body(body) => match check(&body) {
                Ok(()) => {
                    let header = format!("Content-Length: {}\r\n\r\n", body.len());
                    if to_server.write_all(header.as_bytes()).await.is_err()
                        || to_server.write_all(&body).await.is_err()
                    {
                        break;
                    }
                }
                Err(Rejected { id, code, reason }) => {
                    tracing::warn!("dropped a malformed message: {reason}");
                    // Notifications (no id, but a method) get no answer, per JSON-RPC.
                    if let Some(id) = id {
                        let _ = errors.send(error_frame(id, code, &reason));
                    }
                }
            },
        }
    }
    let _ = to_server.shutdown().await;
}

async fn read_frame<R: AsyncBufReadExt + Unpin>(r: &mut R) -> io::Result<Frame> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
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
        tokio::io::copy(&mut r.take(len as u64), &mut tokio::io::sink()).await?;
        return Ok(Frame::Bad(format!(
            "message of {len} bytes exceeds the {MAX_BODY}-byte limit"
        )));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
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

    async fn run(input: String) -> (String, String) {
        let (out_w, mut out_r) = tokio::io::duplex(1 << 20);
        let t = wrap(std::io::Cursor::new(input.into_bytes()), out_w);
        let (mut server_in, output, reader, writer) = t.into_parts();
        let mut passed = String::new();
        server_in.read_to_string(&mut passed).await.unwrap();
        drop(output);
        Transport::finish(reader, writer).await;
        let mut errors = String::new();
        out_r.read_to_string(&mut errors).await.unwrap();
        (passed, errors)
    }

    #[tokio::test]
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

    #[tokio::test]
    async fn truncated_input_ends_cleanly() {
        let (passed, errors) = run("Content-Length: 10\r\n".to_owned()).await;
        assert!(passed.is_empty());
        assert!(errors.contains("input ended"), "{errors}");
    }
}
