//! The span API: every command, LLM call, run, scan and index pass warden does is a
//! [`Span`]. A [`Tracer`] hands out [`ActiveSpan`]s and tells its [`SpanSink`]s when a
//! span starts and when it ends; the store persists them and the LSP layer publishes
//! them to the editor. This crate knows neither SQLite nor LSP.
//!
//! Invariant: a span's `input`/`output` are small JSON summaries chosen by the caller;
//! callers must never put secrets in them (the redaction layer in later crates
//! guarantees it for LLM prompts).

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
        let span = Span {
            id: new_span_id(),
            parent_id: self.parent_id,
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

/// A new span id: a UUIDv7, so ids sort by creation time (newest last) across processes.
pub fn new_span_id() -> String {
    uuid::Uuid::now_v7().to_string()
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
