//! Export of finished spans to an OpenTelemetry backend over OTLP/HTTP (protobuf),
//! through the OpenTelemetry crates: `opentelemetry-otlp` encodes and sends, this module
//! maps warden's [`Span`]s onto OTLP spans and owns the queue.
//!
//! - **Configuration**: the standard variables (`OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`,
//!   `..._HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SDK_DISABLED`,
//!   `OTEL_TRACES_EXPORTER=none`, `OTEL_BSP_*`), or the user's `trace.otlp.*` settings,
//!   which win. Off when neither names an endpoint.
//! - **Queue**: bounded; when full the *oldest* span is dropped and counted. A worker
//!   sends batches; a failed batch goes back to the front of the queue and the worker
//!   backs off (1 s doubling to 60 s). [`SpanSink::finished`] only pushes onto the queue,
//!   so an unreachable collector never slows the caller, and the store's copy (another
//!   sink) is never affected.
//! - **Mapping** ([`to_span_data`]): trace and span ids come from the span (see
//!   [`Span::otel_span_id`]), so exporting a span twice (a backfill) gives the same ids.
//!   LLM calls follow the OpenTelemetry GenAI semantic conventions v1.38 (development):
//!   name `chat {model}`, kind CLIENT, `gen_ai.*` request, response and usage
//!   attributes, `error.type`; contents (`gen_ai.input.messages`,
//!   `gen_ai.output.messages`, `gen_ai.system_instructions`) only with `includeContent`,
//!   and then as redacted as the stored copy. Unless `OTEL_SEMCONV_STABILITY_OPT_IN`
//!   contains `gen_ai_latest_experimental`, the v1.36 name `gen_ai.system` is emitted
//!   beside `gen_ai.provider.name` for backends that read the older conventions. Every
//!   span carries `warden.*` attributes: kind, workspace (and its repository, branch and
//!   HEAD), outcome, and the span's input and output summaries flattened.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind as OtelKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value as OtelValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::{Outcome, Span, SpanKind, SpanSink};

/// Where and how spans are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// `None`: the exporter resolves the standard variables itself.
    pub endpoint: Option<String>,
    /// From the settings; the standard header variables are added by the exporter.
    pub headers: BTreeMap<String, String>,
    pub include_content: bool,
    /// Spans held while the collector is slow or down (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub queue: usize,
    /// Spans per request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub batch: usize,
    /// Longest wait before a partial batch is sent (`OTEL_BSP_SCHEDULE_DELAY`).
    pub delay: Duration,
    /// Per request (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, else 10 s).
    pub timeout: Duration,
    /// Emit only the latest GenAI conventions (`OTEL_SEMCONV_STABILITY_OPT_IN`).
    pub latest_genai_only: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_num(name: &str) -> Option<u64> {
    env(name).and_then(|v| v.trim().parse().ok())
}

impl OtlpConfig {
    /// The configuration from the settings' `endpoint`/`headers`/`includeContent` and
    /// the environment; `None` when export is off (no endpoint anywhere, or disabled by
    /// `OTEL_SDK_DISABLED=true` / `OTEL_TRACES_EXPORTER=none`).
    pub fn resolve(
        endpoint: Option<&str>,
        headers: &BTreeMap<String, String>,
        include_content: bool,
    ) -> Option<OtlpConfig> {
        let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        let endpoint = endpoint.map(str::trim).filter(|e| !e.is_empty());
        let from_env = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
            || env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        if disabled || (endpoint.is_none() && !from_env) {
            return None;
        }
        let timeout = env_num("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| env_num("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .unwrap_or(10_000);
        Some(OtlpConfig {
            endpoint: endpoint.map(str::to_owned),
            headers: headers.clone(),
            include_content,
            queue: env_num("OTEL_BSP_MAX_QUEUE_SIZE").unwrap_or(2048).max(1) as usize,
            batch: env_num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .unwrap_or(512)
                .max(1) as usize,
            delay: Duration::from_millis(env_num("OTEL_BSP_SCHEDULE_DELAY").unwrap_or(1000)),
            timeout: Duration::from_millis(timeout.max(1)),
            latest_genai_only: env("OTEL_SEMCONV_STABILITY_OPT_IN").is_some_and(|v| {
                v.split(',')
                    .any(|p| p.trim() == "gen_ai_latest_experimental")
            }),
        })
    }

    /// The endpoint for messages: as configured, else the variable's value, with any
    /// credentials in the URL hidden ([`crate::redact_url`]).
    pub fn target(&self) -> String {
        let raw = self
            .endpoint
            .clone()
            .or_else(|| env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            .or_else(|| {
                env("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .map(|e| format!("{}/v1/traces", e.trim_end_matches('/')))
            })
            .unwrap_or_default();
        crate::redact_url(&raw)
    }
}

/// Counts of an exporter's life, for status reports and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub exported: u64,
    /// Spans dropped because the queue was full (oldest first).
    pub dropped: u64,
    /// Failed export attempts (each batch retried later).
    pub failures: u64,
    pub queued: usize,
    /// The last failure, while the collector keeps failing (cleared by a success).
    pub last_error: Option<String>,
}

/// Workspace attributes (repository, branch, HEAD) looked up by workspace id, once per
/// workspace and minute.
pub type WorkspaceAttributes =
    Arc<dyn Fn(i64) -> Pin<Box<dyn Future<Output = Vec<KeyValue>> + Send>> + Send + Sync>;

struct Queue {
    spans: Mutex<VecDeque<Span>>,
    notify: tokio::sync::Notify,
    dropped: AtomicU64,
    exported: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    closing: AtomicBool,
    cap: usize,
}

impl Queue {
    fn new(cap: usize) -> Queue {
        Queue {
            spans: Mutex::new(VecDeque::new()),
            notify: tokio::sync::Notify::new(),
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            closing: AtomicBool::new(false),
            cap,
        }
    }

    fn push_back(&self, span: Span) {
        let mut q = self.spans.lock();
        if q.len() >= self.cap {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(span);
    }

    /// Puts a failed batch back in front, keeping the newest when the queue overflows.
    fn requeue(&self, batch: Vec<Span>) {
        let mut q = self.spans.lock();
        for span in batch.into_iter().rev() {
            if q.len() >= self.cap {
                // The batch is older than everything queued: it is what goes.
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            q.push_front(span);
        }
    }
}

/// The exporting sink. Add it to a [`crate::Tracer`]; call [`Exporter::shutdown`] before
/// the process exits to send what is queued (bounded by a timeout).
#[derive(Clone)]
pub struct Exporter {
    queue: Arc<Queue>,
    config: Arc<OtlpConfig>,
    worker: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("target", &self.config.target())
            .finish()
    }
}

/// Why an exporter could not be made (an invalid endpoint or header).
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export to {target}: {message}")]
pub struct ConfigError {
    pub target: String,
    pub message: String,
}

/// `reqwest` (the version the rest of warden uses) as the exporter's HTTP client.
#[derive(Debug)]
struct Http(reqwest::Client);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Http {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut req = self
            .0
            .request(parts.method, parts.uri.to_string())
            .body(body);
        for (name, value) in parts.headers.iter() {
            req = req.header(name, value);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // Collectors answer with small bodies; a huge one is cut (never trusted).
        let body = resp.bytes().await?;
        let body = body.slice(..body.len().min(64 * 1024));
        let mut out = http::Response::builder().status(status);
        for (name, value) in headers.iter() {
            out = out.header(name, value);
        }
        Ok(out.body(body)?)
    }
}

/// The resource: `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`, else `service.name`
/// `warden`, with the version.
pub fn resource() -> Resource {
    let detected = Resource::builder().build();
    let key = opentelemetry::Key::from_static_str("service.name");
    let named = detected
        .get(&key)
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    let mut b = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if !named {
        b = b.with_service_name("warden");
    }
    b.build()
}

impl Exporter {
    /// Starts the exporter's worker on the current tokio runtime.
    pub fn start(
        config: OtlpConfig,
        workspaces: WorkspaceAttributes,
    ) -> Result<Exporter, ConfigError> {
        let target = config.target();
        let err = |message: String| ConfigError {
            target: target.clone(),
            message,
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let mut b = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Http(client))
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(config.timeout)
            .with_headers(
                config
                    .headers
                    .clone()
                    .into_iter()
                    .collect::<HashMap<_, _>>(),
            );
        if let Some(e) = &config.endpoint {
            b = b.with_endpoint(e.clone());
        }
        let mut exporter = b.build().map_err(|e| err(e.to_string()))?;
        exporter.set_resource(&resource());
        let queue = Arc::new(Queue::new(config.queue));
        let config = Arc::new(config);
        let worker = tokio::spawn(work(queue.clone(), config.clone(), exporter, workspaces));
        Ok(Exporter {
            queue,
            config,
            worker: Arc::new(Mutex::new(Some(worker))),
        })
    }

    pub fn config(&self) -> &OtlpConfig {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        Stats {
            exported: self.queue.exported.load(Ordering::Relaxed),
            dropped: self.queue.dropped.load(Ordering::Relaxed),
            failures: self.queue.failures.load(Ordering::Relaxed),
            queued: self.queue.spans.lock().len(),
            last_error: self.queue.last_error.lock().clone(),
        }
    }

    /// Queues spans for export (the backfill path; the sink path is [`SpanSink`]).
    pub fn enqueue(&self, spans: impl IntoIterator<Item = Span>) {
        for span in spans {
            self.queue.push_back(span);
        }
        self.queue.notify.notify_one();
    }

    /// Sends what is queued, waiting at most `timeout`, then stops the worker. Returns
    /// the final counts (what was still queued is lost to the export, never to the
    /// store).
    pub async fn shutdown(&self, timeout: Duration) -> Stats {
        self.queue.closing.store(true, Ordering::Relaxed);
        self.queue.notify.notify_one();
        let worker = self.worker.lock().take();
        if let Some(mut w) = worker
            && tokio::time::timeout(timeout, &mut w).await.is_err()
        {
            w.abort();
        }
        self.stats()
    }
}

impl SpanSink for Exporter {
    fn started(&self, _span: &Span) {}

    fn finished(&self, span: &Span) {
        self.queue.push_back(span.clone());
        if self.queue.spans.lock().len() >= self.config.batch {
            self.queue.notify.notify_one();
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

async fn work(
    queue: Arc<Queue>,
    config: Arc<OtlpConfig>,
    exporter: opentelemetry_otlp::SpanExporter,
    workspaces: WorkspaceAttributes,
) {
    let scope = InstrumentationScope::builder("warden")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url("https://opentelemetry.io/schemas/1.38.0")
        .build();
    let mut known: HashMap<i64, (std::time::Instant, Vec<KeyValue>)> = HashMap::new();
    let mut backoff: Option<Duration> = None;
    loop {
        let closing = queue.closing.load(Ordering::Relaxed);
        let wait = backoff.unwrap_or(config.delay);
        if !closing && queue.spans.lock().len() < config.batch {
            let _ = tokio::time::timeout(wait, queue.notify.notified()).await;
        } else if let Some(b) = backoff.filter(|_| !closing) {
            tokio::time::sleep(b).await;
        }
        let closing = queue.closing.load(Ordering::Relaxed);
        let batch: Vec<Span> = {
            let mut q = queue.spans.lock();
            let n = q.len().min(config.batch);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            if closing {
                return;
            }
            continue;
        }
        let mut data = Vec::with_capacity(batch.len());
        for span in &batch {
            let ws = match span.workspace_id {
                Some(id) => {
                    let fresh = known
                        .get(&id)
                        .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(60));
                    if !fresh {
                        known.insert(id, (std::time::Instant::now(), workspaces(id).await));
                    }
                    known.get(&id).map(|(_, a)| a.as_slice()).unwrap_or(&[])
                }
                None => &[],
            };
            data.push(to_span_data(span, ws, &config, &scope));
        }
        let n = batch.len() as u64;
        match exporter.export(data).await {
            Ok(()) => {
                queue.exported.fetch_add(n, Ordering::Relaxed);
                if queue.last_error.lock().take().is_some() {
                    tracing::info!(
                        "OpenTelemetry export to {} works again ({} spans dropped while it failed)",
                        config.target(),
                        queue.dropped.load(Ordering::Relaxed)
                    );
                }
                backoff = None;
            }
            Err(e) => {
                queue.failures.fetch_add(1, Ordering::Relaxed);
                // The client's message names the URL: never its credentials.
                let message = crate::redact_urls_in(&e.to_string());
                let first = queue.last_error.lock().replace(message.clone()).is_none();
                if first {
                    tracing::warn!(
                        "OpenTelemetry export to {} failed: {message}; spans are kept (up to {}) and sent when it answers",
                        config.target(),
                        config.queue
                    );
                }
                if closing {
                    queue.dropped.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                queue.requeue(batch);
                backoff = Some(
                    backoff
                        .map(|b| (b * 2).min(MAX_BACKOFF))
                        .unwrap_or(Duration::from_secs(1)),
                );
            }
        }
    }
}

fn time_of(rfc3339: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(t.unix_timestamp_nanos().max(0) as u64))
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Longest string attribute value exported (summaries are small; this bounds them).
const MAX_VALUE: usize = 4096;

fn clip(s: String) -> String {
    if s.len() <= MAX_VALUE {
        return s;
    }
    let mut end = MAX_VALUE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn json_value(v: &Value) -> Option<OtelValue> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => OtelValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OtelValue::I64(i),
            None => OtelValue::F64(n.as_f64()?),
        },
        Value::String(s) => OtelValue::String(clip(s.clone()).into()),
        other => OtelValue::String(clip(other.to_string()).into()),
    })
}

/// `warden.input.*` / `warden.output.*`: the span's summaries, one attribute per key.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<KeyValue>) {
    if let Value::Object(map) = v {
        for (k, v) in map {
            if let Some(value) = json_value(v) {
                out.push(KeyValue::new(format!("{prefix}.{}", snake(k)), value));
            }
        }
    }
}

fn str_at<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v?.get(key)?.as_str()
}

/// GenAI `gen_ai.provider.name`: the well-known value for the provider's settings key
/// or API, else the settings key itself.
fn provider_name(provider: &str, api: Option<&str>) -> String {
    const KNOWN: [&str; 8] = [
        "openai",
        "anthropic",
        "deepseek",
        "groq",
        "mistral_ai",
        "perplexity",
        "x_ai",
        "azure.ai.openai",
    ];
    if KNOWN.contains(&provider) {
        provider.to_owned()
    } else if api == Some("anthropic") {
        "anthropic".to_owned()
    } else {
        provider.to_owned()
    }
}

/// GenAI message JSON from the stored prompt (`{system, messages: [{role, content}]}`).
fn genai_messages(prompt: &str) -> (Option<String>, Option<String>) {
    let Ok(chat) = serde_json::from_str::<Value>(prompt) else {
        return (None, None);
    };
    let system = chat
        .get("system")
        .and_then(Value::as_str)
        .map(|s| json!([{"type": "text", "content": s}]).to_string());
    let messages = chat.get("messages").and_then(Value::as_array).map(|ms| {
        Value::Array(
            ms.iter()
                .map(|m| {
                    json!({
                        "role": m.get("role").cloned().unwrap_or(Value::Null),
                        "parts": [{"type": "text", "content": m.get("content").cloned().unwrap_or(Value::Null)}],
                    })
                })
                .collect(),
        )
        .to_string()
    });
    (system, messages)
}

/// One warden span as an OTLP span (see the module header for the mapping).
pub fn to_span_data(
    span: &Span,
    workspace: &[KeyValue],
    config: &OtlpConfig,
    scope: &InstrumentationScope,
) -> SpanData {
    let trace_id = TraceId::from_hex(&span.trace_id)
        .ok()
        .filter(|t| *t != TraceId::INVALID)
        .unwrap_or_else(|| {
            TraceId::from_hex(&crate::uuid_hex(&span.id)).unwrap_or(TraceId::INVALID)
        });
    let span_id = SpanId::from_hex(&span.otel_span_id()).unwrap_or(SpanId::INVALID);
    let (parent, remote) = match (&span.parent_id, &span.remote_parent) {
        (Some(p), _) => (
            SpanId::from_hex(&crate::otel_span_id(p)).unwrap_or(SpanId::INVALID),
            false,
        ),
        (None, Some(r)) => (SpanId::from_hex(r).unwrap_or(SpanId::INVALID), true),
        (None, None) => (SpanId::INVALID, false),
    };
    let start = time_of(&span.started_at).unwrap_or_else(SystemTime::now);
    let end = match (
        span.latency_ms,
        span.finished_at.as_deref().and_then(time_of),
    ) {
        (Some(ms), _) => start + Duration::from_millis(ms),
        (None, Some(t)) => t,
        (None, None) => start,
    };
    let mut attrs: Vec<KeyValue> = vec![KeyValue::new("warden.span.kind", span.kind.as_str())];
    if span.kind != SpanKind::Llm || !config.latest_genai_only {
        attrs.push(KeyValue::new("warden.span.name", span.name.clone()));
    }
    if let Some(ws) = &span.workspace {
        attrs.push(KeyValue::new("warden.workspace", ws.clone()));
    }
    attrs.extend_from_slice(workspace);
    if let Some(uri) = &span.uri {
        attrs.push(KeyValue::new("warden.uri", clip(uri.clone())));
    }
    if let Some(o) = span.outcome {
        attrs.push(KeyValue::new("warden.outcome", o.as_str()));
    }
    flatten("warden.input", &span.input, &mut attrs);
    if let Some(out) = &span.output {
        flatten("warden.output", out, &mut attrs);
    }
    if !span.tokens.is_zero() && span.kind != SpanKind::Llm {
        attrs.push(KeyValue::new(
            "warden.tokens.input",
            span.tokens.input as i64,
        ));
        attrs.push(KeyValue::new(
            "warden.tokens.output",
            span.tokens.output as i64,
        ));
    }
    if span.cost_usd > 0.0 && span.kind != SpanKind::Llm {
        attrs.push(KeyValue::new("warden.cost_usd", span.cost_usd));
    }
    attrs.push(KeyValue::new(
        "openinference.span.kind",
        match span.kind {
            SpanKind::Llm => "LLM",
            SpanKind::Guard => "GUARDRAIL",
            SpanKind::Run => "TOOL",
            _ => "CHAIN",
        },
    ));

    let mut name: Cow<'static, str> = Cow::Owned(span.name.clone());
    let mut kind = OtelKind::Internal;
    if span.kind == SpanKind::Llm {
        kind = OtelKind::Client;
        let input = Some(&span.input);
        let output = span.output.as_ref();
        let model = str_at(input, "model").unwrap_or("unknown");
        name = Cow::Owned(format!("chat {model}"));
        let provider = provider_name(
            str_at(input, "provider").unwrap_or("unknown"),
            str_at(input, "api"),
        );
        attrs.push(KeyValue::new("gen_ai.operation.name", "chat"));
        if !config.latest_genai_only {
            attrs.push(KeyValue::new("gen_ai.system", provider.clone()));
        }
        attrs.push(KeyValue::new("gen_ai.provider.name", provider));
        attrs.push(KeyValue::new("gen_ai.request.model", model.to_owned()));
        attrs.push(KeyValue::new("llm.model_name", model.to_owned()));
        if let Some(n) = span.input.get("maxTokens").and_then(Value::as_i64) {
            attrs.push(KeyValue::new("gen_ai.request.max_tokens", n));
        }
        if let Some(t) = span.input.get("temperature").and_then(Value::as_f64) {
            attrs.push(KeyValue::new("gen_ai.request.temperature", t));
        }
        if let Some(m) = str_at(output, "responseModel") {
            attrs.push(KeyValue::new("gen_ai.response.model", m.to_owned()));
        }
        if let Some(reasons) = output
            .and_then(|o| o.get("finishReasons"))
            .and_then(Value::as_array)
        {
            let list: Vec<opentelemetry::StringValue> = reasons
                .iter()
                .filter_map(Value::as_str)
                .map(|r| r.to_owned().into())
                .collect();
            if !list.is_empty() {
                attrs.push(KeyValue::new(
                    "gen_ai.response.finish_reasons",
                    OtelValue::Array(list.into()),
                ));
            }
        }
        if span.outcome.is_some() {
            let t = span.tokens;
            attrs.push(KeyValue::new("gen_ai.usage.input_tokens", t.input as i64));
            attrs.push(KeyValue::new("gen_ai.usage.output_tokens", t.output as i64));
            attrs.push(KeyValue::new(
                "gen_ai.usage.cache_read.input_tokens",
                t.cached as i64,
            ));
            if t.reasoning > 0 {
                attrs.push(KeyValue::new(
                    "gen_ai.usage.reasoning.output_tokens",
                    t.reasoning as i64,
                ));
            }
            attrs.push(KeyValue::new("gen_ai.usage.cost", span.cost_usd));
            attrs.push(KeyValue::new("llm.token_count.prompt", t.input as i64));
            attrs.push(KeyValue::new("llm.token_count.completion", t.output as i64));
            attrs.push(KeyValue::new(
                "llm.token_count.total",
                (t.input + t.output) as i64,
            ));
        }
        if let Some(ms) = output.and_then(|o| o.get("ttftMs")).and_then(Value::as_f64) {
            attrs.push(KeyValue::new(
                "gen_ai.response.time_to_first_chunk",
                ms / 1000.0,
            ));
        }
        if span.outcome == Some(Outcome::Error) {
            let t = str_at(output, "errorType").unwrap_or("_OTHER").to_owned();
            attrs.push(KeyValue::new("error.type", t));
        }
        if config.include_content
            && let Some(content) = &span.content
        {
            let (system, messages) = genai_messages(&content.input);
            if let Some(s) = system {
                attrs.push(KeyValue::new("gen_ai.system_instructions", s));
            }
            if let Some(m) = messages {
                attrs.push(KeyValue::new("gen_ai.input.messages", m));
            }
            if let Some(reply) = &content.output {
                let finish = output
                    .and_then(|o| o.get("finishReasons"))
                    .and_then(|r| r.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("stop");
                attrs.push(KeyValue::new(
                    "gen_ai.output.messages",
                    json!([{"role": "assistant", "parts": [{"type": "text", "content": reply}], "finish_reason": finish}])
                        .to_string(),
                ));
            }
        }
    }
    let status = match span.outcome {
        Some(Outcome::Error) => Status::error(span.error.clone().unwrap_or_default()),
        Some(Outcome::Interrupted) => {
            Status::error("interrupted: the process owning the span ended")
        }
        _ => Status::Unset,
    };
    SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: parent,
        parent_span_is_remote: remote,
        span_kind: kind,
        name,
        start_time: start,
        end_time: end,
        attributes: attrs,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Content, Tokens, Tracer, WorkspaceRef};

    fn config() -> OtlpConfig {
        OtlpConfig {
            endpoint: Some("http://127.0.0.1:1/v1/traces".into()),
            headers: BTreeMap::new(),
            include_content: false,
            queue: 3,
            batch: 2,
            delay: Duration::from_millis(10),
            timeout: Duration::from_millis(200),
            latest_genai_only: false,
        }
    }

    fn attr<'a>(d: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
        d.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn llm_span(tracer: &Tracer) -> (Span, Span) {
        let root = tracer
            .start(SpanKind::Command, "warden.llm.explain")
            .workspace(Some(WorkspaceRef {
                id: 1,
                name: "alpha".into(),
            }))
            .begin();
        let mut call = root
            .child(SpanKind::Llm, "local/gpt-4o-mini")
            .input(json!({"provider": "local", "api": "openai", "model": "gpt-4o-mini", "maxTokens": 512, "temperature": 0.2}))
            .begin();
        call.add_tokens(Tokens {
            input: 120,
            output: 40,
            cached: 100,
            reasoning: 0,
        });
        call.add_cost(0.0012);
        call.set_output(json!({"ttftMs": 250, "responseModel": "gpt-4o-mini-2024-07-18", "finishReasons": ["stop"], "cached": false}));
        call.set_content(Content {
            input: json!({"system": "be brief", "messages": [{"role": "user", "content": "explain <SECRET_1>"}]}).to_string(),
            output: Some("it prints <SECRET_1>".into()),
        });
        let call = call.ok();
        (root.ok(), call)
    }

    #[test]
    fn llm_calls_follow_the_genai_conventions() {
        let tracer = Tracer::new();
        let (root, call) = llm_span(&tracer);
        let scope = InstrumentationScope::builder("warden").build();
        let d = to_span_data(&call, &[], &config(), &scope);
        assert_eq!(d.name, "chat gpt-4o-mini");
        assert_eq!(d.span_kind, OtelKind::Client);
        assert_eq!(d.span_context.trace_id().to_string(), call.trace_id);
        assert_eq!(d.span_context.span_id().to_string(), call.otel_span_id());
        assert_eq!(d.parent_span_id.to_string(), root.otel_span_id());
        assert_eq!(attr(&d, "gen_ai.operation.name").unwrap().as_str(), "chat");
        assert_eq!(attr(&d, "gen_ai.provider.name").unwrap().as_str(), "local");
        assert_eq!(attr(&d, "gen_ai.system").unwrap().as_str(), "local");
        assert_eq!(
            attr(&d, "gen_ai.request.max_tokens"),
            Some(&OtelValue::I64(512))
        );
        assert_eq!(
            attr(&d, "gen_ai.usage.input_tokens"),
            Some(&OtelValue::I64(120))
        );
        assert_eq!(
            attr(&d, "gen_ai.usage.cache_read.input_tokens"),
            Some(&OtelValue::I64(100))
        );
        assert_eq!(
            attr(&d, "gen_ai.response.model").unwrap().as_str(),
            "gpt-4o-mini-2024-07-18"
        );
        assert_eq!(
            attr(&d, "gen_ai.response.time_to_first_chunk"),
            Some(&OtelValue::F64(0.25))
        );
        assert!(attr(&d, "gen_ai.response.finish_reasons").is_some());
        assert_eq!(attr(&d, "gen_ai.usage.cost"), Some(&OtelValue::F64(0.0012)));
        // Contents only when asked.
        assert!(attr(&d, "gen_ai.input.messages").is_none());
        let with = OtlpConfig {
            include_content: true,
            latest_genai_only: true,
            ..config()
        };
        let d = to_span_data(&call, &[], &with, &scope);
        let messages = attr(&d, "gen_ai.input.messages").unwrap().as_str();
        assert!(messages.contains("<SECRET_1>"), "{messages}");
        assert!(attr(&d, "gen_ai.output.messages").is_some());
        assert_eq!(
            attr(&d, "gen_ai.system_instructions").unwrap().as_str(),
            r#"[{"content":"be brief","type":"text"}]"#
        );
        assert!(attr(&d, "gen_ai.system").is_none(), "latest only");
    }

    #[test]
    fn failures_and_other_kinds_carry_warden_attributes() {
        let tracer = Tracer::new();
        let mut run = tracer.start(SpanKind::Run, "run scripts/a.py").begin();
        run.set_output(json!({"status": "failed", "exitCode": 1}));
        let run = run.fail("exit code 1");
        let scope = InstrumentationScope::builder("warden").build();
        let ws = [KeyValue::new(
            "warden.repository",
            "git@example.invalid:a/b",
        )];
        let d = to_span_data(&run, &ws, &config(), &scope);
        assert_eq!(d.span_kind, OtelKind::Internal);
        assert_eq!(d.name, "run scripts/a.py");
        assert_eq!(
            attr(&d, "warden.output.exit_code"),
            Some(&OtelValue::I64(1))
        );
        assert_eq!(attr(&d, "warden.output.status").unwrap().as_str(), "failed");
        assert_eq!(attr(&d, "warden.outcome").unwrap().as_str(), "error");
        assert!(attr(&d, "warden.repository").is_some());
        assert!(matches!(d.status, Status::Error { .. }));
        assert_eq!(d.parent_span_id, SpanId::INVALID);

        let mut call = tracer
            .start(SpanKind::Llm, "x")
            .input(json!({"provider": "anthropic", "model": "claude"}))
            .begin();
        call.set_output(json!({"errorType": "429"}));
        let d = to_span_data(&call.fail("HTTP 429"), &[], &config(), &scope);
        assert_eq!(attr(&d, "error.type").unwrap().as_str(), "429");
        assert_eq!(
            attr(&d, "gen_ai.provider.name").unwrap().as_str(),
            "anthropic"
        );
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_a_failed_batch_goes_back_in_front() {
        let q = Queue::new(3);
        let tracer = Tracer::new();
        let spans: Vec<Span> = (0..5)
            .map(|i| tracer.start(SpanKind::Scan, format!("s{i}")).begin().ok())
            .collect();
        for s in spans.iter().cloned() {
            q.push_back(s);
        }
        let names = |q: &Queue| {
            q.spans
                .lock()
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&q), ["s2", "s3", "s4"]);
        assert_eq!(q.dropped.load(Ordering::Relaxed), 2);
        let batch: Vec<Span> = q.spans.lock().drain(..2).collect();
        q.push_back(spans[0].clone());
        q.requeue(batch);
        // s2 and s3 failed; s4 and s0 are queued: s3 fits, s2 (the oldest) goes.
        assert_eq!(names(&q), ["s3", "s4", "s0"]);
        assert_eq!(q.dropped.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn an_unreachable_collector_never_blocks_and_is_counted() {
        let ex = Exporter::start(config(), Arc::new(|_| Box::pin(async { Vec::new() }))).unwrap();
        let tracer = Tracer::new();
        tracer.add_sink(Arc::new(ex.clone()));
        for i in 0..50 {
            tracer.start(SpanKind::Scan, format!("s{i}")).begin().ok();
        }
        // Wait for the first failed attempt.
        for _ in 0..200 {
            if ex.stats().failures > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stats = ex.shutdown(Duration::from_secs(2)).await;
        assert!(stats.failures >= 1, "{stats:?}");
        assert_eq!(stats.exported, 0);
        // Every span is accounted for: dropped (queue full, or unsent at shutdown) or
        // still queued.
        assert_eq!(stats.dropped + stats.queued as u64, 50, "{stats:?}");
        assert!(stats.last_error.is_some());
    }

    #[test]
    fn config_from_settings_and_environment() {
        let none = OtlpConfig::resolve(None, &BTreeMap::new(), false);
        if env("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
        {
            assert_eq!(none, None);
        }
        let c = OtlpConfig::resolve(
            Some("http://user:pw@127.0.0.1:4318/v1/traces?token=x"),
            &BTreeMap::new(),
            true,
        )
        .unwrap();
        assert_eq!(c.target(), "http://127.0.0.1:4318/v1/traces");
        assert!(c.include_content);
    }
}
