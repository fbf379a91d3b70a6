//! The gateway's HTTP server and its call path: token check, workspace, upstream route,
//! guards (secrets, deny-list, budgets), the upstream call, the reply restored (whole or
//! streamed) and the call recorded (an `llm` span with `guard` children, an interaction
//! row, a [`CallEvent`] for the host). Loopback only; one task per connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warden_analysis::secrets::redact::Redactions;
use warden_config::{ApiKind, LlmSettings};
use warden_llm::client::{Provider, api_key};
use warden_llm::sse;
use warden_store::Store;
use warden_store::llm::Interaction;
use warden_trace::{ActiveSpan, SpanKind, Tokens, Tracer, WorkspaceRef};

use warden_pipeline::guards::{denied, guard, over_budget};

use crate::api::{self, Api, Failure};
use crate::secrets::{apply_system_prompt, redact_body, text_of};
use crate::stream::{self, Meter, Rewriter};
use crate::{Address, CallEvent, Host, Workspace};

type Body = BoxBody<Bytes, std::io::Error>;

/// The `error.type` and `warden/gatewayCall` outcome of a call a guard refused.
const REFUSED: &str = "refused";

/// The largest request body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A running gateway; it stops when dropped or [`Gateway::stop`]ped.
pub struct Gateway {
    address: Address,
    stop: CancellationToken,
}

struct State {
    host: Arc<dyn Host>,
    store: Option<Store>,
    tracer: Tracer,
    token: String,
    http: reqwest::Client,
}

impl Gateway {
    /// Listens on `127.0.0.1:port` (0: a port the OS picks) with a fresh token.
    pub async fn start(
        host: Arc<dyn Host>,
        store: Option<Store>,
        tracer: Tracer,
        port: u16,
    ) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let token = crate::new_token();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .no_gzip()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            host,
            store,
            tracer,
            token: token.clone(),
            http,
        });
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stopped.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((sock, peer)) = accepted else { continue };
                if !peer.ip().is_loopback() {
                    continue;
                }
                let _ = sock.set_nodelay(true);
                let state = state.clone();
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), service);
                    tokio::select! {
                        () = stopped.cancelled() => {}
                        _ = conn => {}
                    }
                });
            }
        });
        Ok(Gateway {
            address: Address { addr, token },
            stop,
        })
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn full(status: u16, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|n| match n {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Ok(v) = HeaderValue::from_str(ctype) {
        r.headers_mut().insert("content-type", v);
    }
    r
}

fn failure(kind: Failure, api: Option<Api>, message: &str) -> Response<Body> {
    let mut r = full(
        kind.status(),
        "application/json",
        kind.body(api, message).to_string(),
    );
    // The SDKs retry 429 and 5xx; a spent budget or a refusal will not change.
    r.headers_mut()
        .insert("x-should-retry", HeaderValue::from_static("false"));
    r
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a client sent: `Authorization: Bearer` (OpenAI SDKs, and Anthropic's
/// with an auth token) or `x-api-key` (Anthropic SDKs).
fn token_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
        })
        .map(str::trim)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let route = api::route(req.uri().path());
    let authorized = token_of(req.headers()).is_some_and(|t| same(t, &state.token));
    if !authorized {
        return failure(
            Failure::Auth,
            route.api,
            "warden gateway: missing or wrong token; use the API key the editor or `warden gateway` gave this terminal",
        );
    }
    let Some(api) = route.api else {
        return failure(
            Failure::NotFound,
            None,
            &format!(
                "warden gateway: {} is not served; it serves /v1/chat/completions, /v1/responses, /v1/messages and /v1/models",
                req.uri().path()
            ),
        );
    };
    let ws = {
        let host = state.host.clone();
        let name = route.workspace.clone();
        match tokio::task::spawn_blocking(move || host.workspace(name.as_deref())).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                return failure(
                    Failure::BadRequest,
                    Some(api),
                    &format!("warden gateway: {e}"),
                );
            }
            Err(e) => {
                return failure(
                    Failure::Upstream,
                    Some(api),
                    &format!("warden gateway: {e}"),
                );
            }
        }
    };
    if api == Api::Models {
        return models(&ws.llm);
    }
    if req.method() != Method::POST {
        return failure(Failure::BadRequest, Some(api), "warden gateway: use POST");
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return failure(
                Failure::BadRequest,
                Some(api),
                &format!("warden gateway: reading the request failed: {e}"),
            );
        }
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return failure(
                Failure::BadRequest,
                Some(api),
                "warden gateway: the request body must be a JSON object",
            );
        }
        Err(e) => {
            return failure(
                Failure::BadRequest,
                Some(api),
                &format!("warden gateway: the request body is not JSON: {e}"),
            );
        }
    };
    Call {
        state: &state,
        api,
        ws,
        headers: parts.headers,
    }
    .run(body)
    .await
}

/// `/v1/models`: the models this workspace's settings name, in the OpenAI shape.
fn models(llm: &LlmSettings) -> Response<Body> {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut add = |model: Option<&String>, provider: &str| {
        if let Some(m) = model
            && !names.iter().any(|(n, _)| n == m)
        {
            names.push((m.clone(), provider.to_owned()));
        }
    };
    add(llm.model.as_ref(), &llm.provider);
    for r in &llm.mux {
        add(r.model.as_ref(), &r.provider);
    }
    for (name, p) in &llm.providers {
        add(p.model.as_ref(), name);
    }
    let data: Vec<Value> = names
        .into_iter()
        .map(|(id, owner)| json!({"id": id, "object": "model", "type": "model", "display_name": id, "owned_by": owner, "created": 0, "created_at": "1970-01-01T00:00:00Z"}))
        .collect();
    let first = data.first().and_then(|d| d.get("id")).cloned();
    let last = data.last().and_then(|d| d.get("id")).cloned();
    full(
        200,
        "application/json",
        json!({"object": "list", "data": data, "has_more": false, "first_id": first, "last_id": last}).to_string(),
    )
}

/// Where a call goes: the first `llm.mux` rule with `action: "gateway"` whose glob
/// matches the requested model (and whose provider speaks the API), else `llm.provider`
/// when it speaks the API, else the built-in provider of that API (`openai`,
/// `anthropic`). The model is the rule's, else the one the client asked for.
pub fn upstream(llm: &LlmSettings, api: Api, model: &str) -> Result<(Provider, String), String> {
    let want = match api.wire() {
        warden_llm::wire::Api::Anthropic => ApiKind::Anthropic,
        warden_llm::wire::Api::Openai => ApiKind::Openai,
    };
    let speaks = |name: &str| llm.providers.get(name).is_some_and(|p| p.api == want);
    let rule = llm.mux.iter().find(|r| {
        r.action.as_deref() == Some("gateway")
            && speaks(&r.provider)
            && globset::Glob::new(&r.glob).is_ok_and(|g| g.compile_matcher().is_match(model))
    });
    let (name, model) = match rule {
        Some(r) => (
            r.provider.clone(),
            r.model.clone().unwrap_or_else(|| model.to_owned()),
        ),
        None if speaks(&llm.provider) => (llm.provider.clone(), model.to_owned()),
        None => {
            let builtin = match want {
                ApiKind::Anthropic => "anthropic",
                ApiKind::Openai => "openai",
            };
            if !speaks(builtin) {
                return Err(format!(
                    "no provider of this workspace speaks the {} API; add one under warden.llm.providers and a warden.llm.mux rule with action \"gateway\"",
                    api.as_str()
                ));
            }
            (builtin.to_owned(), model.to_owned())
        }
    };
    let p = &llm.providers[&name];
    Ok((
        Provider {
            name: name.clone(),
            api: api.wire(),
            base_url: p.base_url.clone(),
            api_key_env: p.api_key_env.clone(),
            timeout: Duration::from_secs(llm.timeout_seconds.max(1)),
            max_retries: 0,
        },
        model,
    ))
}

/// The output tokens a request asks for, in each API's field.
fn max_output(body: &Value) -> u64 {
    ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(0)
}

struct Call<'a> {
    state: &'a Arc<State>,
    api: Api,
    ws: Workspace,
    headers: HeaderMap,
}

/// What the record of a call needs once the reply is in.
struct Record {
    state: Arc<State>,
    api: Api,
    ws: Workspace,
    client: String,
    provider: String,
    model: String,
    prompt: String,
    secrets: usize,
    started: Instant,
}

impl Call<'_> {
    async fn run(self, mut body: Value) -> Response<Body> {
        let api = self.api;
        let client = self
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .chars()
            .take(120)
            .collect::<String>();
        let asked = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let streamed = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let (provider, model) = match upstream(&self.ws.llm, api, &asked) {
            Ok(p) => p,
            Err(e) => {
                return failure(
                    Failure::BadRequest,
                    Some(api),
                    &format!("warden gateway: {e}"),
                );
            }
        };
        let started = Instant::now();
        let span = self
            .state
            .tracer
            .start(SpanKind::Llm, format!("{}/{}", provider.name, model))
            .workspace(Some(WorkspaceRef {
                id: self.ws.id,
                name: self.ws.name.clone(),
            }))
            .input(json!({
                "gateway": true,
                "client": client,
                "api": api.as_str(),
                "operation": api.operation(),
                "provider": provider.name,
                "model": model,
                "requestedModel": asked,
                "stream": streamed,
                "maxTokens": max_output(&body),
                "temperature": body.get("temperature"),
                "systemPrompt": self.ws.system_prompt.is_some(),
            }))
            .begin();

        // Guard: secrets in every message part.
        if let Some(prompt) = &self.ws.system_prompt {
            apply_system_prompt(api, &mut body, prompt);
        }
        let mut red = Redactions::default();
        let secrets = redact_body(&mut body, &self.ws.rules, &mut red);
        guard(
            &span,
            "guard.redact",
            json!({ "api": api.as_str() }),
            Ok(json!({ "secretsRedacted": secrets })),
        );
        let sent = text_of(&body);
        let mut record = Record {
            state: self.state.clone(),
            api,
            ws: self.ws.clone(),
            client,
            provider: provider.name.clone(),
            model: model.clone(),
            prompt: body.to_string(),
            secrets,
            started,
        };

        // Guard: the deny-list.
        let llm = &self.ws.llm;
        let denial = denied(&llm.deny_list, &sent, "warden gateway");
        guard(
            &span,
            "guard.denyList",
            json!({ "rules": llm.deny_list.len() }),
            denial.clone().map_or(Ok(json!({ "allowed": true })), Err),
        );
        if let Some(why) = denial {
            record
                .finish(span, Err((why.clone(), REFUSED.into())), None, false)
                .await;
            return failure(Failure::Refused, Some(api), &why);
        }

        // Guard: budgets (when the workspace has any).
        if llm.budget != warden_config::Budget::default() {
            let over = over_budget(
                &llm.budget,
                self.state.store.as_ref(),
                (self.ws.id, &self.ws.name),
                warden_llm::prompt::tokens(&sent) as u64,
                max_output(&body),
                "warden gateway",
            )
            .await;
            guard(
                &span,
                "guard.budget",
                json!({ "budget": llm.budget }),
                over.clone().map_or(Ok(json!({ "allowed": true })), Err),
            );
            if let Some(why) = over {
                record
                    .finish(span, Err((why.clone(), REFUSED.into())), None, false)
                    .await;
                return failure(Failure::Budget, Some(api), &why);
            }
        }

        if streamed && api == Api::Chat && body.get("stream_options").is_none() {
            // Usage comes in a last chunk only when asked for; metering needs it.
            body["stream_options"] = json!({ "include_usage": true });
        }
        body["model"] = Value::String(model.clone());
        record.prompt = body.to_string();
        let sent = match self.send(&provider, &body, &span).await {
            Ok(r) => r,
            Err(message) => {
                let why = format!("warden gateway: {}: {message}", provider.name);
                record
                    .finish(span, Err((why.clone(), "transport".into())), None, false)
                    .await;
                return failure(Failure::Upstream, Some(api), &why);
            }
        };
        let status = sent.status().as_u16();
        let is_stream = sent
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if (200..300).contains(&status) && is_stream {
            return if self.ws.block_malicious {
                record.buffered(span, sent, red).await
            } else {
                record.stream(span, sent, red)
            };
        }
        let ctype = sent
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let retry_after = sent.headers().get("retry-after").cloned();
        let bytes = match sent.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let why = format!("warden gateway: {}: the reply broke: {e}", provider.name);
                record
                    .finish(span, Err((why.clone(), "transport".into())), None, false)
                    .await;
                return failure(Failure::Upstream, Some(api), &why);
            }
        };
        let mut reply: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(_) => {
                // Not JSON: passed on as it is (it holds placeholders at most).
                let why = format!("{}: HTTP {status}, not JSON", provider.name);
                record
                    .finish(span, Err((why, status.to_string())), None, false)
                    .await;
                return full(status, &ctype, bytes);
            }
        };
        let meter = stream::whole(api, &mut reply, &red, started);
        let mut response = if (200..300).contains(&status) {
            let blocked = record.finish(span, Ok(meter), Some(&red), true).await;
            match blocked {
                Some(why) => return failure(Failure::Refused, Some(api), &why),
                None => full(status, &ctype, reply.to_string()),
            }
        } else {
            let why = reply
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map_or_else(
                    || format!("HTTP {status}"),
                    |m| format!("HTTP {status}: {m}"),
                );
            record
                .finish(
                    span,
                    Err((format!("{}: {why}", provider.name), status.to_string())),
                    None,
                    false,
                )
                .await;
            full(status, &ctype, reply.to_string())
        };
        if let Some(r) = retry_after {
            response.headers_mut().insert("retry-after", r);
        }
        response
    }

    /// Sends the redacted request upstream with the user's key.
    async fn send(
        &self,
        p: &Provider,
        body: &Value,
        span: &ActiveSpan,
    ) -> Result<reqwest::Response, String> {
        let key = api_key(p).map_err(|e| e.to_string())?;
        let url = format!(
            "{}{}",
            p.base_url.trim_end_matches('/'),
            self.api.upstream_path()
        );
        let mut req = self
            .state
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept-encoding", "identity")
            .header("traceparent", span.traceparent())
            .body(body.to_string());
        req = match (self.api, key) {
            (Api::Messages, Some(k)) => req.header("x-api-key", k),
            (_, Some(k)) => req.bearer_auth(k),
            (_, None) => req,
        };
        if self.api == Api::Messages {
            for h in ["anthropic-version", "anthropic-beta"] {
                if let Some(v) = self.headers.get(h) {
                    req = req.header(h, v.clone());
                }
            }
            if !self.headers.contains_key("anthropic-version") {
                req = req.header("anthropic-version", "2023-06-01");
            }
        }
        match tokio::time::timeout(p.timeout, req.send()).await {
            Err(_) => Err(format!(
                "no answer within {:?} (setting warden.llm.timeoutSeconds)",
                p.timeout
            )),
            Ok(Err(e)) if e.is_connect() => Err(format!(
                "cannot connect to {} (setting warden.llm.providers.{}.baseUrl)",
                warden_trace::redact_url(&p.base_url),
                p.name
            )),
            Ok(Err(e)) => Err(e.without_url().to_string()),
            Ok(Ok(r)) => Ok(r),
        }
    }
}

/// An upstream SSE reply, read and rewritten (restored, metered) piece by piece.
struct Pump {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    parser: sse::Parser,
    rewriter: Rewriter,
    /// The longest wait for the next bytes.
    timeout: Duration,
    done: bool,
    failed: Option<String>,
}

impl Pump {
    fn new(upstream: reqwest::Response, rewriter: Rewriter, timeout: Duration) -> Pump {
        Pump {
            body: Box::pin(upstream.bytes_stream()),
            parser: sse::Parser::new(),
            rewriter,
            timeout,
            done: false,
            failed: None,
        }
    }

    /// The next piece to send (possibly empty); `None` once the reply is complete, the
    /// upstream ended, stalled or broke (then [`Pump::outcome`] says so).
    async fn next(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        let timeout = self.timeout;
        let (events, end) = match tokio::time::timeout(timeout, self.body.next()).await {
            Err(_) => {
                self.failed = Some(format!(
                    "the stream stalled for {timeout:?} (setting warden.llm.timeoutSeconds)"
                ));
                (self.parser.finish(), true)
            }
            Ok(Some(Ok(b))) => (self.parser.feed(&b), false),
            Ok(Some(Err(e))) => {
                self.failed = Some(format!("the stream broke: {}", e.without_url()));
                (self.parser.finish(), true)
            }
            Ok(None) => (self.parser.finish(), true),
        };
        let mut out = String::new();
        for e in &events {
            for o in self.rewriter.event(e) {
                out.push_str(&stream::encode(&o));
            }
        }
        if end {
            for o in self.rewriter.finish() {
                out.push_str(&stream::encode(&o));
            }
        }
        // The client may close as soon as it has the last event.
        self.done = end || self.rewriter.complete;
        Some(out)
    }

    /// How the reply went: its meter, or why it failed (`gone`: the client hung up).
    fn outcome(&mut self, gone: bool) -> Result<Meter, (String, String)> {
        let meter = std::mem::take(&mut self.rewriter.meter);
        match (gone, self.failed.take(), &meter.error) {
            (true, _, _) => Err((
                "the client closed the stream".to_owned(),
                "cancelled".to_owned(),
            )),
            (_, Some(f), _) => Err((f, "stream".to_owned())),
            (_, None, Some(e)) => Err((e.clone(), "stream".to_owned())),
            _ => Ok(meter),
        }
    }
}

fn event_stream(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    r
}

impl Record {
    /// Streams the reply to the client as it arrives, recording the call when the
    /// stream ends (or the client goes away: then `cancelled`).
    fn stream(
        self,
        span: ActiveSpan,
        upstream: reqwest::Response,
        red: Redactions,
    ) -> Response<Body> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(64);
        let timeout = Duration::from_secs(self.ws.llm.timeout_seconds.max(1));
        let rewriter = Rewriter::new(self.api, red.clone(), self.started);
        tokio::spawn(async move {
            let mut pump = Pump::new(upstream, rewriter, timeout);
            let mut gone = false;
            loop {
                let piece = tokio::select! {
                    () = tx.closed() => { gone = true; break; }
                    p = pump.next() => p,
                };
                let Some(out) = piece else { break };
                if !out.is_empty() && tx.send(Ok(Frame::data(Bytes::from(out)))).await.is_err() {
                    gone = true;
                    break;
                }
            }
            let outcome = pump.outcome(gone);
            self.finish(span, outcome, Some(&red), false).await;
        });
        let stream =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        event_stream(BodyExt::boxed(StreamBody::new(stream)))
    }

    /// With `gateway.blockMalicious`: the whole stream is read first, so that a reply
    /// bringing in a malicious package can be refused (in the API's error shape) before
    /// any of it reaches the client; otherwise it is sent as one piece.
    async fn buffered(
        self,
        span: ActiveSpan,
        upstream: reqwest::Response,
        red: Redactions,
    ) -> Response<Body> {
        let timeout = Duration::from_secs(self.ws.llm.timeout_seconds.max(1));
        let api = self.api;
        let mut pump = Pump::new(
            upstream,
            Rewriter::new(api, red.clone(), self.started),
            timeout,
        );
        let mut all = String::new();
        while let Some(out) = pump.next().await {
            all.push_str(&out);
        }
        let outcome = pump.outcome(false);
        match self.finish(span, outcome, Some(&red), true).await {
            Some(why) => failure(Failure::Refused, Some(api), &why),
            None => event_stream(Full::new(Bytes::from(all)).map_err(|n| match n {}).boxed()),
        }
    }

    /// Records the call: checks the reply's packages, ends the span, writes the
    /// interaction row, tells the host. Returns why the reply must be refused
    /// (`gateway.blockMalicious`, a malicious package, and a reply not sent yet:
    /// `refusable`), if it must.
    async fn finish(
        self,
        mut span: ActiveSpan,
        outcome: Result<Meter, (String, String)>,
        red: Option<&Redactions>,
        refusable: bool,
    ) -> Option<String> {
        let latency = self.started.elapsed();
        let mut row = Interaction {
            workspace_id: self.ws.id,
            request_id: warden_trace::new_span_id(),
            span_id: Some(span.id().to_owned()),
            action: "gateway".into(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            prompt: self.prompt.clone(),
            head: self.ws.head.clone(),
            created_at: warden_trace::now_rfc3339(),
            latency_ms: Some(latency.as_millis() as u64),
            ..Interaction::default()
        };
        let mut warning = None;
        let mut blocked = None;
        let outcome_name;
        match outcome {
            Ok(meter) => {
                let cost = warden_llm::price::cost(&self.model, &meter.usage, &self.ws.llm.prices);
                // Guard: packages the reply brings in (the restored text: names are not
                // secrets, but the check reads what the user will run).
                let reply = red.map_or_else(|| meter.text.clone(), |r| r.restore(&meter.text));
                let host = self.state.host.clone();
                let ws = self.ws.clone();
                let risky = tokio::task::spawn_blocking(move || host.risky_packages(&ws, &reply))
                    .await
                    .unwrap_or_default();
                warning = risky.warning();
                if self.ws.block_malicious && refusable && !risky.malicious.is_empty() {
                    blocked = Some(format!(
                        "warden gateway refused the reply: {} (setting warden.gateway.blockMalicious)",
                        warning.as_deref().unwrap_or_default()
                    ));
                }
                guard(
                    &span,
                    "guard.packages",
                    json!({ "checked": true }),
                    warning
                        .clone()
                        .map_or(Ok(json!({ "malicious": 0, "unknown": 0 })), Err),
                );
                let tokens = Tokens {
                    input: meter.usage.input,
                    output: meter.usage.output,
                    cached: meter.usage.cached,
                    reasoning: meter.usage.reasoning,
                };
                span.add_tokens(tokens);
                span.add_cost(cost);
                span.set_output(json!({
                    "ttftMs": meter.first_token.map(|t| t.as_millis() as u64),
                    "chars": meter.text.chars().count(),
                    "responseModel": meter.model,
                    "finishReasons": meter.finish_reasons,
                    "secretsRedacted": self.secrets,
                    "packages": warning,
                }));
                span.set_content(warden_trace::Content {
                    input: self.prompt.clone(),
                    output: Some(meter.text.clone()),
                });
                row.response = Some(meter.text.clone());
                row.tokens_input = tokens.input;
                row.tokens_output = tokens.output;
                row.tokens_cached = tokens.cached;
                row.tokens_reasoning = tokens.reasoning;
                row.cost_usd = cost;
                row.ttft_ms = meter.first_token.map(|t| t.as_millis() as u64);
                match &blocked {
                    Some(why) => {
                        row.outcome = "error".into();
                        row.error = Some(why.clone());
                        outcome_name = "blocked";
                        span.fail(why.clone());
                    }
                    None => {
                        row.outcome = "ok".into();
                        outcome_name = "ok";
                        span.ok();
                    }
                }
            }
            Err((message, kind)) => {
                span.set_output(json!({ "errorType": kind }));
                span.set_content(warden_trace::Content {
                    input: self.prompt.clone(),
                    output: None,
                });
                if kind == "cancelled" {
                    row.outcome = "cancelled".into();
                    outcome_name = "cancelled";
                    span.cancel();
                } else if kind == REFUSED {
                    // A guard refused it before it was sent: recorded (and told to the
                    // editor, with the reason) like every call, at no cost.
                    row.outcome = "error".into();
                    row.error = Some(message.clone());
                    outcome_name = REFUSED;
                    warning = Some(message.clone());
                    span.fail(message);
                } else {
                    row.outcome = "error".into();
                    row.error = Some(message.clone());
                    outcome_name = "error";
                    span.fail(message);
                }
            }
        }
        let span_id = row.span_id.clone().unwrap_or_default();
        if let Some(store) = &self.state.store
            && let Err(e) = store
                .call(move |c| warden_store::llm::insert(c, &row).map(|_| ()))
                .await
        {
            tracing::warn!("gateway: record a call failed: {e}");
        }
        self.state.host.finished(&CallEvent {
            workspace: self.ws.name.clone(),
            client: self.client.clone(),
            api: self.api.as_str().to_owned(),
            model: self.model.clone(),
            outcome: outcome_name.into(),
            secrets_redacted: self.secrets,
            warning,
            span_id,
        });
        blocked
    }
}
