//! The span API: every command, LLM call, run, scan and index pass warden does is a
//! [`Span`]. A [`Tracer`] hands out [`ActiveSpan`]s and tells its [`SpanSink`]s when a
//! span starts and when it ends; the store persists them and the LSP layer publishes
//! them to the editor. This crate knows neither SQLite nor LSP.
//!
//! Every span also belongs to a W3C trace: a root span starts a trace named by its own
//! id, or continues the trace of a `TRACEPARENT` warden was started in
//! ([`Tracer::continue_trace`]); children inherit their parent's. [`otlp`] exports
//! finished spans to an OpenTelemetry backend.
//!
//! Invariant: a span's `input`/`output` are small JSON summaries chosen by the caller;
//! callers must never put secrets in them (the redaction layer in later crates
//! guarantees it for LLM prompts).

pub mod otlp;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a span measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    Command,
    Llm,
    Run,
    Scan,
    Index,
    /// A guardrail on an LLM request (redaction, exclusion, deny-list, packages).
    Guard,
}

impl SpanKind {
    pub const ALL: [SpanKind; 6] = [
        SpanKind::Command,
        SpanKind::Llm,
        SpanKind::Run,
        SpanKind::Scan,
        SpanKind::Index,
        SpanKind::Guard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Command => "command",
            SpanKind::Llm => "llm",
            SpanKind::Run => "run",
            SpanKind::Scan => "scan",
            SpanKind::Index => "index",
            SpanKind::Guard => "guard",
        }
    }

    pub fn parse(s: &str) -> Option<SpanKind> {
        SpanKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a span ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Error,
    Cancelled,
    /// The process that owned the span died before finishing it.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
            Outcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Ok,
            Outcome::Error,
            Outcome::Cancelled,
            Outcome::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// Token counts reported by an LLM provider (zero for other kinds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cached: u64,
    pub reasoning: u64,
}

impl Tokens {
    pub fn is_zero(&self) -> bool {
        *self == Tokens::default()
    }

    pub fn add(&mut self, other: Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cached += other.cached;
        self.reasoning += other.reasoning;
    }
}

/// The workspace a span belongs to: its stable row id and its name when the span began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRef {
    pub id: i64,
    pub name: String,
}

/// One unit of traced work. Field names are the wire format of `warden/traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub id: String,
    pub parent_id: Option<String>,
    /// The W3C trace id (32 lowercase hex digits) the span belongs to.
    #[serde(default)]
    pub trace_id: String,
    /// For a root span that continues a trace begun outside warden (`TRACEPARENT`): that
    /// trace's parent span id (16 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_parent: Option<String>,
    /// Workspace name (as of the query or the notification).
    pub workspace: Option<String>,
    #[serde(skip)]
    pub workspace_id: Option<i64>,
    pub kind: SpanKind,
    pub name: String,
    pub uri: Option<String>,
    pub input: Value,
    pub output: Option<Value>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub latency_ms: Option<u64>,
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// An LLM call's prompt and reply, redacted exactly as the interaction row stores
    /// them: only the OTLP exporter reads it, and only when asked to. Never part of the
    /// span's stored or published fields.
    #[serde(skip)]
    pub content: Option<Arc<Content>>,
}

/// What an LLM call sent and received, already redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// The request's messages as JSON (the stored prompt).
    pub input: String,
    /// The reply text (`None` when the call failed).
    pub output: Option<String>,
}

/// The end fields of a span, as published by `warden/traceFinished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanEnd {
    pub id: String,
    pub finished_at: String,
    pub latency_ms: u64,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub output: Option<Value>,
    pub tokens: Tokens,
    pub cost_usd: f64,
}

impl Span {
    /// The span's id as OpenTelemetry's 8-byte span id (16 hex digits): the last 64 bits
    /// of its UUID, the random part, so the same span always exports under one id.
    pub fn otel_span_id(&self) -> String {
        otel_span_id(&self.id)
    }

    /// The end fields of a finished span (`None` while it runs).
    pub fn end(&self) -> Option<SpanEnd> {
        Some(SpanEnd {
            id: self.id.clone(),
            finished_at: self.finished_at.clone()?,
            latency_ms: self.latency_ms?,
            outcome: self.outcome?,
            error: self.error.clone(),
            output: self.output.clone(),
            tokens: self.tokens,
            cost_usd: self.cost_usd,
        })
    }
}

/// Receives span lifecycle events. Implementations must not block for long: they are
/// called on the thread that starts or finishes the span.
pub trait SpanSink: Send + Sync {
    fn started(&self, span: &Span);
    fn finished(&self, span: &Span);
}

/// Hands out spans and fans their events out to sinks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tracer {
    sinks: Arc<parking_lot::RwLock<Vec<Arc<dyn SpanSink>>>>,
    traces: Arc<parking_lot::Mutex<TraceIds>>,
}

/// Trace ids of recently begun spans, so a child named only by its parent's id joins the
/// parent's trace; and the remote parent root spans continue.
#[derive(Default)]
struct TraceIds {
    remote: Option<TraceParent>,
    by_span: HashMap<String, String>,
    order: VecDeque<String>,
}

/// Spans remembered for their trace ids (older ones fall back to their parent's id).
const REMEMBERED_SPANS: usize = 16_384;

impl TraceIds {
    fn trace_of(&self, parent: &str) -> String {
        self.by_span
            .get(parent)
            .cloned()
            // A parent begun long ago is almost always a root: its id names the trace.
            .unwrap_or_else(|| uuid_hex(parent))
    }

    fn remember(&mut self, span: &str, trace: &str) {
        if self.order.len() >= REMEMBERED_SPANS
            && let Some(old) = self.order.pop_front()
        {
            self.by_span.remove(&old);
        }
        self.by_span.insert(span.to_owned(), trace.to_owned());
        self.order.push_back(span.to_owned());
    }
}

/// A parsed W3C `traceparent`: the trace to continue and the span to parent under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub span_id: String,
}

impl TraceParent {
    /// Parses a W3C `traceparent` header value (`00-<32 hex>-<16 hex>-<2 hex>`). Invalid
    /// values (wrong lengths, upper case, all-zero ids, version `ff`) give `None`, as
    /// the specification requires of a receiver.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let zero = |s: &str| s.bytes().all(|b| b == b'0');
        let ok = hex(version, 2)
            && version != "ff"
            && hex(trace, 32)
            && !zero(trace)
            && hex(span, 16)
            && !zero(span)
            && hex(flags, 2)
            // Version 00 has exactly four fields; later versions may append more.
            && (version != "00" || parts.next().is_none());
        ok.then(|| TraceParent {
            trace_id: trace.to_owned(),
            span_id: span.to_owned(),
        })
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("sinks", &self.sinks.read().len())
            .finish()
    }
}

impl Tracer {
    pub fn new() -> Tracer {
        Tracer::default()
    }

    pub fn add_sink(&self, sink: Arc<dyn SpanSink>) {
        self.sinks.write().push(sink);
    }

    /// Makes root spans continue the trace `parent` names (a CI job's `TRACEPARENT`), so
    /// a backend shows warden's work inside the job that started it.
    pub fn continue_trace(&self, parent: Option<TraceParent>) {
        self.traces.lock().remote = parent;
    }

    /// The trace id and remote parent a new span gets.
    fn place(&self, id: &str, parent: Option<&str>) -> (String, Option<String>) {
        let mut traces = self.traces.lock();
        let placed = match (parent, &traces.remote) {
            (Some(p), _) => (traces.trace_of(p), None),
            (None, Some(r)) => (r.trace_id.clone(), Some(r.span_id.clone())),
            (None, None) => (uuid_hex(id), None),
        };
        traces.remember(id, &placed.0);
        placed
    }

    /// Starts a root span.
    pub fn start(&self, kind: SpanKind, name: impl Into<String>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            parent_id: None,
            workspace: None,
            kind,
            name: name.into(),
            uri: None,
            input: Value::Null,
        }
    }

    fn emit_started(&self, span: &Span) {
        for sink in self.sinks.read().iter() {
            sink.started(span);
        }
    }

    fn emit_finished(&self, span: &Span) {
        for sink in self.sinks.read().iter() {
            sink.finished(span);
        }
    }
}

/// Collects the start fields of a span; [`SpanBuilder::begin`] publishes it.
#[must_use = "a span starts only when begin() is called"]
pub struct SpanBuilder<'t> {
    tracer: &'t Tracer,
    parent_id: Option<String>,
    workspace: Option<WorkspaceRef>,
    kind: SpanKind,
    name: String,
    uri: Option<String>,
    input: Value,
}

impl SpanBuilder<'_> {
    pub fn parent(mut self, parent_id: Option<&str>) -> Self {
        self.parent_id = parent_id.map(str::to_owned);
        self
    }

    pub fn workspace(mut self, workspace: Option<WorkspaceRef>) -> Self {
        self.workspace = workspace;
        self
    }

    pub fn uri(mut self, uri: Option<String>) -> Self {
        self.uri = uri;
        self
    }

    pub fn input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }

    pub fn begin(self) -> ActiveSpan {
        let id = new_span_id();
        let (trace_id, remote_parent) = self.tracer.place(&id, self.parent_id.as_deref());
        let span = Span {
            id,
            parent_id: self.parent_id,
            trace_id,
            remote_parent,
            workspace: self.workspace.as_ref().map(|w| w.name.clone()),
            workspace_id: self.workspace.as_ref().map(|w| w.id),
            kind: self.kind,
            name: self.name,
            uri: self.uri,
            input: self.input,
            output: None,
            started_at: now_rfc3339(),
            finished_at: None,
            latency_ms: None,
            outcome: None,
            error: None,
            tokens: Tokens::default(),
            cost_usd: 0.0,
            content: None,
        };
        self.tracer.emit_started(&span);
        ActiveSpan {
            tracer: self.tracer.clone(),
            span,
            started: Instant::now(),
            done: false,
        }
    }
}

/// A span that is running. Finish it with [`ActiveSpan::finish`]; dropping it unfinished
/// (an aborted task) records it as `cancelled`.
pub struct ActiveSpan {
    tracer: Tracer,
    span: Span,
    started: Instant,
    done: bool,
}

impl std::fmt::Debug for ActiveSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveSpan")
            .field("id", &self.span.id)
            .field("name", &self.span.name)
            .finish()
    }
}

impl ActiveSpan {
    pub fn id(&self) -> &str {
        &self.span.id
    }

    pub fn workspace(&self) -> Option<WorkspaceRef> {
        Some(WorkspaceRef {
            id: self.span.workspace_id?,
            name: self.span.workspace.clone()?,
        })
    }

    /// Starts a child span in the same workspace.
    pub fn child(&self, kind: SpanKind, name: impl Into<String>) -> SpanBuilder<'_> {
        self.tracer
            .start(kind, name)
            .parent(Some(&self.span.id))
            .workspace(self.workspace())
    }

    pub fn set_output(&mut self, output: Value) {
        self.span.output = Some(output);
    }

    /// Attaches an LLM call's redacted prompt and reply (see [`Span::content`]).
    pub fn set_content(&mut self, content: Content) {
        self.span.content = Some(Arc::new(content));
    }

    /// The W3C `traceparent` header value naming this span, for requests it makes.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-01",
            self.span.trace_id,
            otel_span_id(&self.span.id)
        )
    }

    pub fn add_tokens(&mut self, tokens: Tokens) {
        self.span.tokens.add(tokens);
    }

    pub fn add_cost(&mut self, cost_usd: f64) {
        self.span.cost_usd += cost_usd;
    }

    pub fn ok(self) -> Span {
        self.finish(Outcome::Ok, None)
    }

    pub fn fail(self, error: impl Into<String>) -> Span {
        self.finish(Outcome::Error, Some(error.into()))
    }

    pub fn cancel(self) -> Span {
        self.finish(Outcome::Cancelled, None)
    }

    pub fn finish(mut self, outcome: Outcome, error: Option<String>) -> Span {
        self.close(outcome, error);
        self.span.clone()
    }

    fn close(&mut self, outcome: Outcome, error: Option<String>) {
        if self.done {
            return;
        }
        self.done = true;
        self.span.finished_at = Some(now_rfc3339());
        self.span.latency_ms = Some(self.started.elapsed().as_millis() as u64);
        self.span.outcome = Some(outcome);
        self.span.error = error;
        self.tracer.emit_finished(&self.span);
    }
}

impl Drop for ActiveSpan {
    fn drop(&mut self) {
        self.close(Outcome::Cancelled, None);
    }
}

/// A URL without credentials (`user:password@`), query or fragment, to show and store;
/// `<invalid URL>` when it does not parse (its text may hold a password).
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url.trim()) else {
        return "<invalid URL>".to_owned();
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.as_str().trim_end_matches('/').to_owned()
}

/// `text` (an error message) with every `http://` or `https://` URL in it passed through
/// [`redact_url`]: HTTP clients name the URL they failed on, credentials and all.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        out.push_str(&rest[..at]);
        let len = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .unwrap_or(rest.len() - at);
        out.push_str(&redact_url(&rest[at..at + len]));
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

/// A new span id: a UUIDv7, so ids sort by creation time (newest last) across processes.
pub fn new_span_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A span id's hex digits without dashes, lower case (32 for a UUID): the trace id of
/// the trace a root span starts.
pub fn uuid_hex(id: &str) -> String {
    let hex: String = id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Ids are UUIDs; anything else still yields a valid, stable 32-digit id.
    if hex.len() == 32 {
        hex
    } else {
        format!("{:032x}", fnv1a(id.as_bytes()))
    }
}

/// A span id as OpenTelemetry's 16-hex-digit span id (see [`Span::otel_span_id`]).
pub fn otel_span_id(id: &str) -> String {
    let hex = uuid_hex(id);
    let tail = &hex[16..];
    if tail.bytes().all(|b| b == b'0') {
        "0000000000000001".to_owned()
    } else {
        tail.to_owned()
    }
}

fn fnv1a(bytes: &[u8]) -> u128 {
    bytes
        .iter()
        .fold(0x6c62272e07bb014262b821756295c58d, |h, b| {
            (h ^ u128::from(*b)).wrapping_mul(0x0000000001000000000000000000013B)
        })
}

/// The current UTC time as RFC 3339 with milliseconds, e.g. `2026-11-21T15:09:06.123Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(time::OffsetDateTime::now_utc())
}

pub fn format_rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn urls_in_error_messages_lose_their_credentials() {
        assert_eq!(
            redact_urls_in(
                "error sending request for url (https://user:s3cret@collector.test:4318/v1/traces?key=k2): connection refused"
            ),
            "error sending request for url (https://collector.test:4318/v1/traces): connection refused"
        );
        assert_eq!(redact_urls_in("no URL here"), "no URL here");
        assert_eq!(
            redact_urls_in("a http://a:b@x/ and http://y/p?q=1"),
            "a http://x and http://y/p"
        );
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(bool, Span)>>);

    impl SpanSink for Recorder {
        fn started(&self, span: &Span) {
            self.0.lock().push((true, span.clone()));
        }
        fn finished(&self, span: &Span) {
            self.0.lock().push((false, span.clone()));
        }
    }

    fn tracer() -> (Tracer, Arc<Recorder>) {
        let tracer = Tracer::new();
        let rec = Arc::new(Recorder::default());
        tracer.add_sink(rec.clone());
        (tracer, rec)
    }

    #[test]
    fn span_lifecycle_reaches_sinks_once() {
        let (tracer, rec) = tracer();
        let ws = WorkspaceRef {
            id: 7,
            name: "alpha".into(),
        };
        let mut span = tracer
            .start(SpanKind::Command, "warden.workspace.list")
            .workspace(Some(ws.clone()))
            .input(serde_json::json!({"n": 1}))
            .begin();
        span.add_tokens(Tokens {
            input: 3,
            output: 4,
            cached: 1,
            reasoning: 0,
        });
        span.set_output(serde_json::json!({"count": 2}));
        let done = span.ok();
        let events = rec.0.lock();
        assert_eq!(events.len(), 2);
        assert!(events[0].0 && !events[1].0);
        assert_eq!(events[0].1.finished_at, None);
        assert_eq!(events[1].1.outcome, Some(Outcome::Ok));
        assert_eq!(done.tokens.input, 3);
        assert_eq!(done.workspace_id, Some(7));
        assert_eq!(done.end().unwrap().id, done.id);
    }

    #[test]
    fn dropped_span_is_cancelled_and_children_inherit_workspace() {
        let (tracer, rec) = tracer();
        let parent = tracer
            .start(SpanKind::Command, "parent")
            .workspace(Some(WorkspaceRef {
                id: 1,
                name: "w".into(),
            }))
            .begin();
        let child = parent.child(SpanKind::Llm, "call").begin();
        assert_eq!(child.workspace().unwrap().name, "w");
        let child_id = child.id().to_owned();
        drop(child);
        let events = rec.0.lock();
        let fin = events
            .iter()
            .find(|(s, sp)| !s && sp.id == child_id)
            .unwrap();
        assert_eq!(fin.1.outcome, Some(Outcome::Cancelled));
        assert_eq!(fin.1.parent_id.as_deref(), Some(parent.id()));
    }

    #[test]
    fn children_join_their_parents_trace_and_roots_continue_a_remote_one() {
        let (tracer, _) = tracer();
        let root = tracer.start(SpanKind::Command, "root").begin();
        let root_trace = uuid_hex(root.id());
        assert_eq!(root_trace.len(), 32);
        let child = root.child(SpanKind::Llm, "call").begin();
        let grandchild = tracer
            .start(SpanKind::Scan, "by id")
            .parent(Some(child.id()))
            .begin();
        assert_eq!(child.span.trace_id, root_trace);
        assert_eq!(grandchild.span.trace_id, root_trace);
        assert_eq!(root.span.remote_parent, None);
        let tp = child.traceparent();
        assert_eq!(
            TraceParent::parse(&tp),
            Some(TraceParent {
                trace_id: root_trace.clone(),
                span_id: otel_span_id(child.id()),
            })
        );
        // A parent this tracer never saw is taken for a root: its id names the trace.
        let orphan = tracer
            .start(SpanKind::Run, "orphan")
            .parent(Some("0190a6b2-7f3e-7c2a-9d4e-112233445566"))
            .begin();
        assert_eq!(orphan.span.trace_id, "0190a6b27f3e7c2a9d4e112233445566");

        let remote = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        tracer.continue_trace(remote);
        let ci = tracer.start(SpanKind::Scan, "warden scan").begin();
        assert_eq!(ci.span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ci.span.remote_parent.as_deref(), Some("00f067aa0ba902b7"));
        let inner = ci.child(SpanKind::Index, "inner").begin();
        assert_eq!(inner.span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(inner.span.remote_parent, None);
    }

    #[test]
    fn traceparent_parsing_follows_the_w3c_rules() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(TraceParent::parse(good).is_some());
        assert!(TraceParent::parse(&format!(" {good}\n")).is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may carry more fields.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
                .is_some()
        );
    }

    #[test]
    fn otel_ids_are_stable_and_never_zero() {
        let id = "0190a6b2-7f3e-7c2a-9d4e-112233445566";
        assert_eq!(otel_span_id(id), "9d4e112233445566");
        assert_eq!(otel_span_id(id), otel_span_id(id));
        assert_eq!(
            otel_span_id("0190a6b2-7f3e-7c2a-0000-000000000000"),
            "0000000000000001"
        );
        assert_eq!(uuid_hex("not a uuid").len(), 32);
    }

    #[test]
    fn ids_sort_by_creation() {
        let ids: Vec<String> = (0..200).map(|_| new_span_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn kinds_and_outcomes_round_trip() {
        for k in SpanKind::ALL {
            assert_eq!(SpanKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Outcome::parse("interrupted"), Some(Outcome::Interrupted));
        assert_eq!(Outcome::parse("nope"), None);
        let ts = now_rfc3339();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z'));
    }
}
