//! Stdio transport. tower-lsp-server decodes stdin with tokio-util's `FramedRead`, which
//! ends the stream at the first message its decoder rejects, so one bad frame would stop
//! the server for good. A reader thread frames and decodes stdin first and forwards only
//! what the library is certain to decode; everything else is answered and dropped.
//!
//! - Framing ([`Framer`]): a header block is `Name: value` lines ended by a blank line,
//!   with one numeric `Content-Length`. A bad block (no or a bad `Content-Length`, a bad
//!   name, an overlong block) is answered `-32700` and reading resumes at the next
//!   `Content-Length`, as the library's own decoder does, so the client is heard again. A
//!   body that a header line `Content-Length: <digits>` interrupts (its length was too
//!   large, or it never came) is cut there: that line, with its raw line break, cannot
//!   occur in JSON text. After a body that is not JSON (its length may have been too
//!   small) reading also resumes at the next `Content-Length` after its start, skipping
//!   the junk between without another answer. A body announced over 256 MiB is skipped.
//! - Decoding ([`decode`]): lone UTF-16 surrogate escapes (`"\ud800"`, which JavaScript's
//!   `JSON.stringify` writes) become `\ufffd`, which has the same UTF-16 length; then the
//!   exact bytes to be forwarded are decoded as the library's own message type
//!   ([`Message`]) with the same parser and limits. What decodes is forwarded; the rest is
//!   answered `-32700` when the JSON parser refuses the body (not JSON, not UTF-8, a number
//!   out of range, 128 levels of nesting) or `-32600` when it is JSON but not a message
//!   the library takes (a batch array, `jsonrpc` not `"2.0"`, an `id` that is not a
//!   string or a 64-bit signed integer, no `method`), with the request's `id` when it can
//!   be read. What reads as a notification or a response is never answered.
//!
//! Error responses share stdout with the server through [`ChannelWriter`], which receives
//! only whole frames, so the two never interleave. [`Transport::input_closed`] tells the
//! server when stdin has ended.
//!
//! Both directions use dedicated OS threads with blocking I/O rather than tokio's
//! stdin/stdout, which go through the blocking pool and queue behind analysis work
//! (measured: 3-4 ms per message while a re-parse runs).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::sync::mpsc::{
    UnboundedReceiver, UnboundedSender, WeakUnboundedSender, unbounded_channel,
};
use tower_lsp_server::jsonrpc::{Id, Request, Response};

/// Largest message accepted (a `didOpen` of a very large file fits).
const MAX_BODY: usize = 256 * 1024 * 1024;
/// Longest header block; a longer one is junk.
const MAX_HEADER: usize = 8 * 1024;
/// Most lines in one header block.
const MAX_HEADER_LINES: usize = 16;
/// What stdin is read in.
const CHUNK: usize = 1 << 16;
/// Bytes of a discarded body kept to recognise a header line split across reads.
const LOOK_BACK: usize = 64;
const CONTENT_LENGTH: &[u8] = b"content-length";

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
    closed: Arc<Notify>,
}

impl Transport {
    /// Waits until everything queued for stdout is written. Call after the server (the
    /// last holder of [`ChannelWriter`]) is gone. The reader thread is not joined: it may
    /// be blocked reading a stdin the client never closes, and ends with the process.
    pub fn finish(writer: JoinHandle<()>) {
        let _ = writer.join();
    }

    /// Notified once stdin has ended (or failed) and everything read before was handed
    /// to the server.
    pub fn input_closed(&self) -> Arc<Notify> {
        self.closed.clone()
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
    let closed = Arc::new(Notify::new());
    let signal = closed.clone();
    std::thread::Builder::new()
        .name("warden-stdin".into())
        .spawn(move || {
            filter(input, filter_side, errors, runtime);
            signal.notify_one();
        })
        .expect("spawn the stdin thread");
    Transport {
        input: server_side,
        output: ChannelWriter(tx),
        writer,
        closed,
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

fn filter<R: Read>(
    input: R,
    mut to_server: tokio::io::DuplexStream,
    errors: WeakUnboundedSender<Vec<u8>>,
    runtime: tokio::runtime::Handle,
) {
    let answer = |id: Value, code: i64, reason: &str| {
        if let Some(tx) = errors.upgrade() {
            let _ = tx.send(error_frame(id, code, reason));
        }
    };
    let mut framer = Framer::new(input);
    loop {
        let frame = match framer.next() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("reading stdin: {e}");
                break;
            }
        };
        match frame {
            Frame::Eof => break,
            Frame::Bad {
                reason,
                answer: reply,
            } => {
                tracing::warn!("dropped malformed input: {reason}");
                if reply {
                    answer(Value::Null, -32700, &reason);
                }
            }
            Frame::Body(body) => match decode(&body) {
                Ok(message) => {
                    let header = format!("Content-Length: {}\r\n\r\n", message.len());
                    let sent = runtime.block_on(async {
                        to_server.write_all(header.as_bytes()).await?;
                        to_server.write_all(&message).await
                    });
                    if sent.is_err() {
                        break;
                    }
                }
                Err(rejected) => {
                    if rejected.not_json {
                        framer.rescan_last_body();
                    }
                    tracing::warn!("dropped a malformed message: {}", rejected.reason);
                    if let Some(id) = rejected.reply {
                        answer(id, rejected.code, &rejected.reason);
                    }
                }
            },
        }
    }
    let _ = runtime.block_on(to_server.shutdown());
}

enum Frame {
    Body(Vec<u8>),
    /// Input that is not a message; `answer`: whether it gets a `-32700` (junk right
    /// after a body that was already answered does not).
    Bad {
        reason: String,
        answer: bool,
    },
    Eof,
}

enum Header {
    Length(usize),
    /// A bad header block starting at `at` in the buffer.
    Bad {
        at: usize,
        reason: String,
    },
    /// Input ended inside a header block.
    Ended,
    Eof,
}

/// Splits stdin into message bodies; see the module header for the rules.
struct Framer<R> {
    input: R,
    scratch: Box<[u8]>,
    /// Bytes read; `buf[pos..]` are not consumed yet.
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Skip input up to the next `Content-Length` before reading a header.
    resync: bool,
    /// Reading resumed after a body that was not JSON: until a header block parses,
    /// bad ones are leftovers of that body and are skipped without an answer.
    quiet: bool,
    /// Where the body just returned lies in `buf`.
    last_body: Option<(usize, usize)>,
}

impl<R: Read> Framer<R> {
    fn new(input: R) -> Self {
        Framer {
            input,
            scratch: vec![0; CHUNK].into_boxed_slice(),
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            eof: false,
            resync: false,
            quiet: false,
            last_body: None,
        }
    }

    fn next(&mut self) -> io::Result<Frame> {
        self.last_body = None;
        self.compact(self.pos);
        if self.resync && !self.skip_to_header()? {
            return Ok(Frame::Eof);
        }
        let answer = !self.quiet;
        match self.header()? {
            Header::Length(len) => {
                self.quiet = false;
                self.body(len)
            }
            Header::Bad { at, reason } => {
                self.pos = at + 1;
                self.resync = true;
                Ok(Frame::Bad { reason, answer })
            }
            Header::Ended => {
                self.pos = self.buf.len();
                Ok(Frame::Bad {
                    reason: "input ended inside a message header".into(),
                    answer,
                })
            }
            Header::Eof => Ok(Frame::Eof),
        }
    }

    /// The body just returned is not JSON, so its length may have been wrong (too small,
    /// or the next message's header begins inside it): reading resumes at the next
    /// `Content-Length` after the body's start, skipping junk without answering it.
    fn rescan_last_body(&mut self) {
        if let Some((start, _)) = self.last_body.take() {
            self.pos = start;
            self.resync = true;
            self.quiet = true;
        }
    }

    fn header(&mut self) -> io::Result<Header> {
        let mut line_start = self.pos;
        let mut block: Option<usize> = None;
        let mut length: Option<usize> = None;
        let mut lines = 0;
        loop {
            let Some(nl) = find_byte(&self.buf[line_start..], b'\n') else {
                let from = block.unwrap_or(line_start);
                if self.buf.len() - from > MAX_HEADER {
                    return Ok(Header::Bad {
                        at: from,
                        reason: format!("message header longer than {MAX_HEADER} bytes"),
                    });
                }
                if block.is_none() && line_start > CHUNK {
                    // A long run of blank lines: forget it.
                    self.pos = line_start;
                    self.compact(line_start);
                    line_start = 0;
                }
                if !self.fill(CHUNK)? {
                    let rest = &self.buf[line_start..];
                    if block.is_none() && rest.iter().all(u8::is_ascii_whitespace) {
                        self.pos = self.buf.len();
                        return Ok(Header::Eof);
                    }
                    return Ok(Header::Ended);
                }
                continue;
            };
            let end = line_start + nl;
            let line = self.buf[line_start..end]
                .strip_suffix(b"\r")
                .unwrap_or(&self.buf[line_start..end]);
            if line.is_empty() {
                if block.is_some() {
                    self.pos = end + 1;
                    break;
                }
                // A blank line between messages.
                line_start = end + 1;
                self.pos = line_start;
                continue;
            }
            let at = *block.get_or_insert(line_start);
            lines += 1;
            if lines > MAX_HEADER_LINES {
                return Ok(Header::Bad {
                    at,
                    reason: format!("message header has more than {MAX_HEADER_LINES} lines"),
                });
            }
            match header_line(line) {
                Err(reason) => return Ok(Header::Bad { at, reason }),
                Ok(Some(n)) if length.is_some_and(|l| l != n) => {
                    return Ok(Header::Bad {
                        at,
                        reason: "message header has two different Content-Length values".into(),
                    });
                }
                Ok(Some(n)) => length = Some(n),
                Ok(None) => {}
            }
            line_start = end + 1;
        }
        Ok(match (length, block) {
            (Some(n), _) => Header::Length(n),
            (None, at) => Header::Bad {
                at: at.unwrap_or(self.pos),
                reason: "message header has no Content-Length".into(),
            },
        })
    }

    /// Reads a body of `len` bytes; one over [`MAX_BODY`] is skipped, not kept.
    fn body(&mut self, len: usize) -> io::Result<Frame> {
        let keep = len <= MAX_BODY;
        // Where the body starts in `buf` (0 once its start was dropped, when skipping).
        let mut start = self.pos;
        // Skipping: body bytes still to come after `pos`.
        let mut left = len;
        // Bytes before this were searched for an interrupting header line.
        let mut scanned = self.pos;
        loop {
            let end = if keep {
                self.buf.len().min(start + len)
            } else {
                self.buf.len().min(self.pos.saturating_add(left))
            };
            if let Some(cut) = interrupting_header(&self.buf, start, scanned, end) {
                self.pos = cut;
                return Ok(Frame::Bad {
                    reason: format!(
                        "a message body was interrupted by the next message's Content-Length header (the announced length, {len}, was wrong or the body is missing)"
                    ),
                    answer: true,
                });
            }
            scanned = end;
            if keep {
                if end == start + len {
                    self.pos = end;
                    self.last_body = Some((start, end));
                    return Ok(Frame::Body(self.buf[start..end].to_vec()));
                }
            } else {
                left -= end - self.pos;
                self.pos = end;
                if left == 0 {
                    return Ok(Frame::Bad {
                        reason: format!("message of {len} bytes exceeds the {MAX_BODY}-byte limit"),
                        answer: true,
                    });
                }
                let drop = self.pos.saturating_sub(LOOK_BACK);
                self.compact(drop);
                start = start.saturating_sub(drop);
                scanned -= drop;
            }
            let want = if keep { start + len - end } else { CHUNK };
            if !self.fill(want)? {
                self.pos = self.buf.len();
                return Ok(Frame::Bad {
                    reason: "input ended inside a message body".into(),
                    answer: true,
                });
            }
        }
    }

    /// Skips to the next `Content-Length`; false at the end of input.
    fn skip_to_header(&mut self) -> io::Result<bool> {
        loop {
            if let Some(k) = find_name(&self.buf[self.pos..]) {
                self.pos += k;
                self.resync = false;
                return Ok(true);
            }
            // Keep what could be the start of the name.
            self.pos = self
                .pos
                .max(self.buf.len().saturating_sub(CONTENT_LENGTH.len() - 1));
            self.compact(self.pos);
            if !self.fill(CHUNK)? {
                self.pos = self.buf.len();
                return Ok(false);
            }
        }
    }

    /// Drops `buf[..n]` (`n <= pos`).
    fn compact(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if n >= self.buf.len() {
            self.buf.clear();
            // A large message grew the buffer: give the memory back rather than keep
            // the largest message's size for the rest of the session.
            if self.buf.capacity() > 4 * CHUNK {
                self.buf.shrink_to(CHUNK);
            }
        } else {
            self.buf.drain(..n);
        }
        self.pos -= n;
    }

    /// Appends what one read returns (reserving room for `want` bytes); false at the end
    /// of input.
    fn fill(&mut self, want: usize) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.reserve(want.min(16 << 20));
        loop {
            match self.input.read(&mut self.scratch) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One header line: `Ok(Some(n))` for `Content-Length: n`, `Ok(None)` for another
/// well-formed header (ignored; the body is always UTF-8 JSON).
fn header_line(line: &[u8]) -> Result<Option<usize>, String> {
    let Some(colon) = find_byte(line, b':') else {
        return Err(format!("not a header line: {}", Shown(line)));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(format!("invalid header name {}", Shown(name)));
    }
    if value.iter().any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
        return Err(format!("control character in header {}", Shown(name)));
    }
    if !name.eq_ignore_ascii_case(CONTENT_LENGTH) {
        return Ok(None);
    }
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(format!("invalid Content-Length {}", Shown(value)));
    }
    String::from_utf8_lossy(value)
        .parse::<usize>()
        .map(Some)
        .map_err(|_| format!("Content-Length {} is too large", Shown(value)))
}

/// An RFC 9110 token character (what a header name is made of).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The start of a header line `Content-Length: <digits>` that ends in `buf` with a
/// `\n` in `from..end` and starts at or after `floor`. JSON text never holds one: the
/// line has no quote, so it would lie wholly inside a string (which cannot hold a raw
/// line break) or wholly outside (where a bare name is not JSON).
fn interrupting_header(buf: &[u8], floor: usize, from: usize, end: usize) -> Option<usize> {
    let mut i = from;
    while i < end {
        let nl = i + find_byte(&buf[i..end], b'\n')?;
        if let Some(start) = header_line_ending_at(buf, floor, nl) {
            return Some(start);
        }
        i = nl + 1;
    }
    None
}

fn header_line_ending_at(buf: &[u8], floor: usize, nl: usize) -> Option<usize> {
    let mut i = nl;
    let back = |i: usize, pred: &dyn Fn(u8) -> bool, most: usize| {
        let mut j = i;
        while j > floor && i - j < most && pred(buf[j - 1]) {
            j -= 1;
        }
        j
    };
    if i > floor && buf[i - 1] == b'\r' {
        i -= 1;
    }
    i = back(i, &|b| b == b' ' || b == b'\t', 8);
    let digits_end = i;
    i = back(i, &|b| b.is_ascii_digit(), 20);
    if i == digits_end {
        return None;
    }
    i = back(i, &|b| b == b' ' || b == b'\t', 8);
    if i == floor || buf[i - 1] != b':' {
        return None;
    }
    i -= 1;
    let start = i.checked_sub(CONTENT_LENGTH.len())?;
    (start >= floor && buf[start..i].eq_ignore_ascii_case(CONTENT_LENGTH)).then_some(start)
}

fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    hay.iter().position(|&x| x == b)
}

/// Where `Content-Length` (any case) first occurs.
fn find_name(hay: &[u8]) -> Option<usize> {
    hay.windows(CONTENT_LENGTH.len())
        .position(|w| w.eq_ignore_ascii_case(CONTENT_LENGTH))
}

/// Bytes shown in an error message: quoted, lossy, at most 60 characters.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: String = String::from_utf8_lossy(self.0).chars().take(60).collect();
        write!(f, "{text:?}")
    }
}

/// tower-lsp-server's own message type (`jsonrpc::Message`, private to the library):
/// a response if it decodes as one, else a request or notification. Decoding the bytes
/// we forward as this type, with `serde_json::from_str` as the library's codec does, is
/// what guarantees that the library decodes them too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Response(Response),
    Request(Request),
}

impl Message {
    /// What the library would take but warden refuses: no (or an empty) method, and a
    /// `null` id.
    fn well_formed(&self) -> bool {
        match self {
            Message::Request(r) => !r.method().is_empty() && r.id() != Some(&Id::Null),
            Message::Response(r) => *r.id() != Id::Null,
        }
    }
}

#[derive(Debug)]
struct Rejected {
    code: i64,
    reason: String,
    /// The id to answer with; `None`: no answer (a notification or a response).
    reply: Option<Value>,
    /// Not JSON at all (so the frame itself may be off).
    not_json: bool,
}

/// The bytes to forward for one body, or why it is refused.
fn decode(body: &[u8]) -> Result<Cow<'_, [u8]>, Rejected> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(e) => {
            let lossy = String::from_utf8_lossy(body);
            return Err(Rejected {
                code: -32700,
                reason: format!(
                    "message body is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                ),
                reply: Head::reply_for(&lossy),
                not_json: serde_json::from_str::<IgnoredAny>(&lossy).is_err(),
            });
        }
    };
    let (text, repaired) = repair_lone_surrogates(text);
    if repaired > 0 {
        tracing::debug!("replaced {repaired} lone surrogate escape(s) with \\ufffd");
    }
    let mirror = serde_json::from_str::<Message>(&text);
    match &mirror {
        Ok(m) if m.well_formed() && text.trim_start().starts_with('{') => Ok(match text {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }),
        _ => Err(diagnose(&text, mirror)),
    }
}

/// Why a body that the library would not decode (or that warden refuses) is refused.
fn diagnose(text: &str, mirror: Result<Message, serde_json::Error>) -> Rejected {
    let map = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Array(_)) => {
            return Rejected {
                code: -32600,
                reason: "a JSON array (a batch) is not a message: send one message per frame"
                    .into(),
                reply: Some(Value::Null),
                not_json: false,
            };
        }
        Ok(_) => {
            return Rejected {
                code: -32600,
                reason: "not a JSON-RPC message: a JSON object is expected".into(),
                reply: Some(Value::Null),
                not_json: false,
            };
        }
        Err(e) => {
            // Valid JSON that serde_json will not represent (a number out of range, 128
            // levels of nesting) is told apart from text that is not JSON.
            let json = serde_json::from_str::<IgnoredAny>(text).is_ok();
            return Rejected {
                code: -32700,
                reason: if json {
                    format!("message body cannot be decoded: {e}")
                } else {
                    format!("message body is not valid JSON: {e}")
                },
                reply: Head::reply_for(text),
                not_json: !json,
            };
        }
    };
    let method = map.get("method");
    let id = map.get("id");
    let response = method.is_none() && (map.contains_key("result") || map.contains_key("error"));
    let invalid = |reason: String| Rejected {
        code: -32600,
        reason,
        reply: reply_to(method.is_some(), response, id.map(Probe::of)),
        not_json: false,
    };
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("\"jsonrpc\" must be \"2.0\"".into());
    }
    if method.is_some_and(|m| m.as_str().is_none_or(str::is_empty)) {
        return invalid("\"method\" must be a non-empty string".into());
    }
    if id.is_some_and(|id| !(id.is_string() || id.is_i64())) {
        return invalid("\"id\" must be a string or an integer from -2^63 to 2^63-1".into());
    }
    if method.is_none() && !(response && id.is_some()) {
        return invalid(
            "not a JSON-RPC message: it needs a \"method\", or an \"id\" with a \"result\" or \"error\""
                .into(),
        );
    }
    invalid(match mirror {
        Err(e) => format!("not a message the language server library can decode: {e}"),
        // A response that decodes only as a request with no method.
        Ok(_) => "a response's \"error\" must be an object with an integer \"code\" and a string \"message\"".into(),
    })
}

/// The id an error answer carries: none for notifications and responses (JSON-RPC
/// answers neither), the request's id when it is a string or a number, else `null`.
fn reply_to(method: bool, response: bool, id: Option<Probe>) -> Option<Value> {
    match (method, id) {
        _ if response => None,
        (true, None) => None,
        (_, Some(Probe::Usable(id))) => Some(id),
        _ => Some(Value::Null),
    }
}

/// The fields that decide how to answer a message, read leniently (numbers out of
/// range and nesting without limit are skipped) from a body that does not decode.
#[derive(Deserialize)]
struct Head {
    #[serde(default, deserialize_with = "present")]
    method: bool,
    #[serde(default, deserialize_with = "some_probe")]
    id: Option<Probe>,
    #[serde(default, deserialize_with = "present")]
    result: bool,
    #[serde(default, deserialize_with = "present")]
    error: bool,
}

impl Head {
    /// The id to answer a body that does not decode with (`null` when it cannot be read).
    fn reply_for(text: &str) -> Option<Value> {
        if !text.trim_start().starts_with('{') {
            return Some(Value::Null);
        }
        match serde_json::from_str::<Head>(text) {
            Ok(head) => {
                let response = !head.method && (head.result || head.error);
                reply_to(head.method, response, head.id)
            }
            Err(_) => Some(Value::Null),
        }
    }
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

fn some_probe<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Probe>, D::Error> {
    Probe::deserialize(d).map(Some)
}

/// An `id` as far as an error answer cares: a string or number to echo, or anything else.
enum Probe {
    Usable(Value),
    Other,
}

impl Probe {
    fn of(v: &Value) -> Probe {
        if v.is_string() || v.is_number() {
            Probe::Usable(v.clone())
        } else {
            Probe::Other
        }
    }
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Probe;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
                Ok(Probe::Other)
            }
            fn visit_i64<E>(self, n: i64) -> Result<Probe, E> {
                Ok(Probe::Usable(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Probe, E> {
                Ok(Probe::Usable(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Probe, E> {
                Ok(serde_json::Number::from_f64(n)
                    .map_or(Probe::Other, |n| Probe::Usable(n.into())))
            }
            fn visit_str<E>(self, s: &str) -> Result<Probe, E> {
                Ok(Probe::Usable(s.into()))
            }
            fn visit_unit<E>(self) -> Result<Probe, E> {
                Ok(Probe::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Probe::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Probe::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Replaces every `\uXXXX` escape of an unpaired UTF-16 surrogate inside a JSON string
/// with `\ufffd` (same length in bytes and in UTF-16); returns how many it replaced.
/// serde_json refuses lone surrogates, which JavaScript's `JSON.stringify` writes for
/// strings holding one.
fn repair_lone_surrogates(text: &str) -> (Cow<'_, str>, usize) {
    let b = text.as_bytes();
    // Fast path: no escape that could be a surrogate.
    if !b
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
    {
        return (Cow::Borrowed(text), 0);
    }
    let hex = |i: usize| -> Option<u16> {
        let digits = b.get(i..i + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut fixed: Option<Vec<u8>> = None;
    let mut count = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                if b.get(i + 1) != Some(&b'u') {
                    i += 2;
                    continue;
                }
                let Some(unit) = hex(i + 2) else {
                    i += 2;
                    continue;
                };
                let lone = match unit {
                    0xD800..=0xDBFF => {
                        let low = (b.get(i + 6..i + 8) == Some(b"\\u"))
                            .then(|| hex(i + 8))
                            .flatten();
                        if low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                            i += 12;
                            continue;
                        }
                        true
                    }
                    0xDC00..=0xDFFF => true,
                    _ => false,
                };
                if lone {
                    fixed.get_or_insert_with(|| b.to_vec())[i + 2..i + 6].copy_from_slice(b"fffd");
                    count += 1;
                }
                i += 6;
            }
            _ => i += 1,
        }
    }
    match fixed.map(String::from_utf8) {
        // Only ASCII hex digits were replaced by ASCII, so it is still UTF-8.
        Some(Ok(s)) => (Cow::Owned(s), count),
        _ => (Cow::Borrowed(text), 0),
    }
}

fn error_frame(id: Value, code: i64, message: &str) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        .to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn frame_bytes(body: &[u8]) -> Vec<u8> {
        let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        f.extend_from_slice(body);
        f
    }

    /// The bodies of well-formed frames, in order.
    fn bodies(mut s: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(rest) = s.strip_prefix("Content-Length: ") {
            let (len, rest) = rest.split_once("\r\n\r\n").unwrap();
            let len: usize = len.parse().unwrap();
            out.push(rest[..len].to_owned());
            s = &rest[len..];
        }
        assert!(s.is_empty(), "not whole frames: {s:?}");
        out
    }

    fn answers(s: &str) -> Vec<Value> {
        bodies(s)
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
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
        run_bytes(input.into_bytes()).await
    }

    async fn run_bytes(input: Vec<u8>) -> (String, String) {
        use tokio::io::AsyncReadExt;
        let captured = Captured::default();
        let t = wrap(std::io::Cursor::new(input), captured.clone());
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
        // Whatever passed is what tower-lsp-server decodes.
        for body in bodies(&passed) {
            assert!(
                serde_json::from_str::<Message>(&body).is_ok(),
                "forwarded but undecodable: {body}"
            );
        }
        (passed, errors)
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":"ping","method":"warden/workspaces"}"#;

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
        let (passed, errors) = run("Content-Length: 10\r\n\r\n{\"a\"".to_owned()).await;
        assert!(passed.is_empty());
        assert!(
            errors.contains("input ended inside a message body"),
            "{errors}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lone_surrogates_become_replacement_characters_of_the_same_length() {
        // As JavaScript's JSON.stringify writes a string holding lone surrogates; a real
        // pair, an escaped backslash and escapes outside strings' reach stay as they are.
        let body = r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"text":"a\ud800b\udc00 \ud83d\ude00 \\ud800 \"\uD800\ud800\ud800\udfff","k\udbff":1}}"#;
        let (passed, errors) = run(frame(body)).await;
        assert!(errors.is_empty(), "{errors}");
        let forwarded = bodies(&passed);
        assert_eq!(forwarded.len(), 1);
        assert_eq!(forwarded[0].len(), body.len());
        let v: Value = serde_json::from_str(&forwarded[0]).unwrap();
        let text = v["params"]["text"].as_str().unwrap();
        assert_eq!(
            text,
            "a\u{fffd}b\u{fffd} \u{1f600} \\ud800 \"\u{fffd}\u{fffd}\u{103ff}"
        );
        // One UTF-16 unit for each lone surrogate, so later positions do not move.
        let js_units = 1 + 1 + 1 + 1 + 1 + 2 + 1 + 6 + 1 + 1 + 1 + 1 + 2;
        assert_eq!(text.encode_utf16().count(), js_units);
        assert!(v["params"].get("k\u{fffd}").is_some(), "{v}");
        // A request is answered as usual (it passes).
        let req = r#"{"jsonrpc":"2.0","id":9,"method":"warden/workspaceFor","params":{"uri":"file:///\udc00"}}"#;
        let (passed, errors) = run(frame(req)).await;
        assert!(errors.is_empty(), "{errors}");
        assert!(passed.contains(r"file:///\ufffd"), "{passed}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bodies_the_library_cannot_decode_are_answered_with_their_id() {
        let nested = |depth: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":5,"method":"m","params":{}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let mut input =
            frame_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"m\",\"params\":\"\xff\xfe\"}");
        for body in [
            r#"{"jsonrpc":"2.0","id":4,"method":"m","params":{"x":1e400}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","method":"note","params":[-1e400]}"#.to_owned(),
            nested(127), // 128 levels with the message object
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m"}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#.to_owned(),
            r#"["2.0","exit"]"#.to_owned(),
            r#"[{"jsonrpc":"2.0","method":"exit"}]"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":6,"method":""}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}"#.to_owned(),
            "".to_owned(),
            nested(126), // the deepest that decodes
            r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"}"#.to_owned(),
            PING.to_owned(),
        ] {
            input.extend(frame_bytes(body.as_bytes()));
        }
        let (passed, errors) = run_bytes(input).await;
        let passed = bodies(&passed);
        assert_eq!(passed.len(), 3, "{passed:?}");
        assert!(passed[0].contains("[[[") && passed[2] == PING, "{passed:?}");
        let errors = answers(&errors);
        let got: Vec<(Value, i64)> = errors
            .iter()
            .map(|e| (e["id"].clone(), e["error"]["code"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (json!(3), -32700),
                (json!(4), -32700),
                (json!(5), -32700),
                (json!(18446744073709551615u64), -32600),
                (json!(1.5), -32600),
                (Value::Null, -32600),
                (Value::Null, -32600),
                (Value::Null, -32600),
                (Value::Null, -32600),
                (json!(6), -32600),
                // The malformed response is dropped unanswered.
                (json!(2), -32600),
                (Value::Null, -32700),
            ],
            "{errors:#?}"
        );
        let text = |i: usize| errors[i]["error"]["message"].as_str().unwrap().to_owned();
        assert!(text(0).contains("UTF-8"), "{}", text(0));
        assert!(text(1).contains("number out of range"), "{}", text(1));
        assert!(text(2).contains("recursion limit"), "{}", text(2));
        assert!(text(7).contains("batch"), "{}", text(7));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_headers_resynchronise_on_the_next_content_length() {
        let lost = r#"{"jsonrpc":"2.0","id":"lost","method":"warden/workspaces"}"#;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "missing",
                b"Content-Type: application/json\r\n\r\n{}".to_vec(),
            ),
            ("negative", b"Content-Length: -5\r\n\r\n{}".to_vec()),
            ("non-numeric", b"Content-Length: 12a\r\n\r\n{}".to_vec()),
            (
                "overflowing",
                b"Content-Length: 99999999999999999999999\r\n\r\n{}".to_vec(),
            ),
            (
                "too small",
                [b"Content-Length: 10\r\n\r\n", lost.as_bytes()].concat(),
            ),
            (
                "too large",
                [b"Content-Length: 500\r\n\r\n", lost.as_bytes()].concat(),
            ),
            (
                "too large to keep",
                [
                    b"Content-Length: 18446744073709551615\r\n\r\n",
                    lost.as_bytes(),
                ]
                .concat(),
            ),
            ("no body", b"Content-Length: 40\r\n\r\n".to_vec()),
            ("NUL in a name", b"Content\0Length: 5\r\n\r\nhello".to_vec()),
            (
                "UTF-8 in a name",
                b"Content-L\xffngth: 5\r\n\r\nhello".to_vec(),
            ),
            ("not a header", b"hello\r\n\r\n".to_vec()),
            (
                "overlong",
                [vec![b'x'; 10_000], b"\r\n\r\n".to_vec()].concat(),
            ),
            (
                "two lengths",
                b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(),
            ),
            // The header of the next message starts inside the body and ends after it.
            (
                "straddling",
                [b"Content-Length: 37\r\n\r\n", &lost.as_bytes()[..30]].concat(),
            ),
        ];
        for (what, bad) in cases {
            let input = [bad, frame(PING).into_bytes(), frame(PING).into_bytes()].concat();
            let (passed, errors) = run_bytes(input).await;
            assert_eq!(bodies(&passed), vec![PING; 2], "{what}: {errors}");
            let errors = answers(&errors);
            // Two lengths: the block, then its second line read as the next header.
            let want = if what == "two lengths" { 2 } else { 1 };
            assert_eq!(errors.len(), want, "{what}: {errors:#?}");
            for e in &errors {
                assert_eq!(e["error"]["code"], -32700, "{what}");
                assert_eq!(e["id"], Value::Null, "{what}");
            }
        }
    }

    /// A pipe that stays open: reads block until the test sends more or drops it.
    struct Pipe(std::sync::mpsc::Receiver<Vec<u8>>, Vec<u8>);

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1.is_empty() {
                match self.0.recv() {
                    Ok(chunk) => self.1 = chunk,
                    Err(_) => return Ok(0),
                }
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_body_interrupted_by_the_next_header_is_cut_without_waiting() {
        use tokio::io::AsyncReadExt;
        let (tx, rx) = std::sync::mpsc::channel();
        let captured = Captured::default();
        let t = wrap(Pipe(rx, Vec::new()), captured.clone());
        let closed = t.input_closed();
        let (mut server_in, _output, _writer) = t.into_parts();
        // Announces far more than it sends; the client then sends a request and waits.
        tx.send(b"Content-Length: 100000\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}".to_vec())
            .unwrap();
        tx.send(frame(PING).into_bytes()).unwrap();
        let want = frame(PING);
        let mut got = vec![0; want.len()];
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            server_in.read_exact(&mut got),
        )
        .await
        .expect("the request after the short body is served while stdin stays open")
        .unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want);
        // The short message was answered (by the writer thread, soon).
        let answered = || {
            String::from_utf8(captured.0.lock().unwrap().clone())
                .unwrap()
                .contains("interrupted")
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !answered() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(answered());
        // Closing stdin is reported.
        drop(tx);
        tokio::time::timeout(std::time::Duration::from_secs(5), closed.notified())
            .await
            .expect("input_closed fires at the end of stdin");
    }

    /// A small xorshift generator: the same mangled input every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn mangled_streams_only_ever_forward_decodable_messages() {
        let mut rng = Rng(0x5eed_cafe_f00d_1234);
        let mut input = Vec::new();
        for i in 0..400 {
            let body = match rng.below(6) {
                0 => format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"warden/workspaces"}}"#),
                1 => format!(
                    r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"text":"x\ud800{i}"}}}}"#
                ),
                2 => format!(
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"m","params":{}{}}}"#,
                    "[".repeat(120 + rng.below(20)),
                    "]".repeat(120 + rng.below(20))
                ),
                3 => format!(
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"m","params":1e{}}}"#,
                    300 + rng.below(200)
                ),
                4 => r#"["2.0","exit"]"#.to_owned(),
                _ => "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"\\u".to_owned(),
            };
            let mut f = frame(&body).into_bytes();
            match rng.below(5) {
                0 => {
                    let at = rng.below(f.len());
                    f[at] = rng.next() as u8;
                }
                1 => f.truncate(rng.below(f.len())),
                2 => {
                    let at = rng.below(20).min(f.len());
                    f.insert(at, b"0-:\r\n\0x"[rng.below(7)]);
                }
                _ => {}
            }
            input.extend(f);
        }
        input.extend(frame(PING).into_bytes());
        let (passed, _errors) = run_bytes(input).await;
        // run_bytes checked that every forwarded body decodes; the last one got through.
        assert_eq!(bodies(&passed).last().map(String::as_str), Some(PING));
    }

    #[test]
    fn a_header_line_in_a_body_is_found_only_as_a_whole_line() {
        let find = |s: &str| interrupting_header(s.as_bytes(), 0, 0, s.len());
        assert_eq!(find("{}Content-Length: 12\r\n"), Some(2));
        assert_eq!(find("content-length:7\n"), Some(0));
        assert_eq!(find(r#"{"Content-Length": 12}"#), None);
        assert_eq!(find("{\"a\":\"Content-Length: 12\\r\\n\"}\n"), None);
        assert_eq!(find("X-Content-Length: 12\r\n"), Some(2));
        assert_eq!(find("Content-Length: \r\n"), None);
        assert_eq!(find("Content-Length: 12"), None);
    }
}
