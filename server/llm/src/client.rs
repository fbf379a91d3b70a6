//! Streaming a chat from a provider over HTTP: the API key from the environment
//! variable the settings name (never stored), bounded retries with backoff on 429, 5xx
//! and connection errors (honouring `Retry-After`, only before any reply text arrived),
//! a stall timeout between bytes, cancellation that drops the connection at once, and
//! errors that name the provider and the setting to check.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::sse;
use crate::wire::{self, Api, Chat, Delta, Usage};

/// Where and how to reach one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// The settings key of the provider (`ollama`, `openrouter`, ...), for messages.
    pub name: String,
    pub api: Api,
    /// E.g. `http://localhost:11434/v1` or `https://api.anthropic.com/v1`.
    pub base_url: String,
    /// Name of the environment variable holding the API key (none for local servers).
    pub api_key_env: Option<String>,
    /// Longest wait for the first byte, and between bytes of the stream.
    pub timeout: Duration,
    pub max_retries: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LlmError {
    #[error("{0}")]
    Config(String),
    #[error("{provider}: {message}")]
    Http {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("{provider}: {message}")]
    Transport { provider: String, message: String },
    #[error("{provider}: {message}")]
    Stream { provider: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

/// A finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub usage: Usage,
    /// From sending the request to the first text (retries included).
    pub first_token: Option<Duration>,
    pub latency: Duration,
    /// How many attempts it took.
    pub attempts: u32,
    /// The model that answered, as the provider named it.
    pub response_model: Option<String>,
    /// Why the reply stopped (`stop`, `length`, `end_turn`, ...), as the provider said.
    pub finish_reasons: Vec<String>,
}

fn endpoint(p: &Provider) -> String {
    let base = p.base_url.trim_end_matches('/');
    match p.api {
        Api::Openai => format!("{base}/chat/completions"),
        Api::Anthropic => format!("{base}/messages"),
    }
}

fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// What to do about a failed HTTP status: the message names the setting to check.
fn status_message(p: &Provider, status: u16, body: &str) -> String {
    let detail: String = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let key = p.api_key_env.as_deref().unwrap_or("(none)");
    let hint = match status {
        401 | 403 => format!(
            "the API key was refused; check the environment variable {key} (setting warden.llm.providers.{}.apiKeyEnv)",
            p.name
        ),
        404 => format!(
            "not found; check warden.llm.providers.{}.baseUrl ({}) and the model name",
            p.name, p.base_url
        ),
        429 => "rate limited, and still after retrying".to_owned(),
        _ => format!("the server failed (HTTP {status})"),
    };
    format!("HTTP {status}: {hint}: {detail}")
}

/// The API key from the environment variable the provider's settings name (`None` for
/// providers without one). Never stored or logged.
pub fn api_key(p: &Provider) -> Result<Option<String>, LlmError> {
    match &p.api_key_env {
        Some(var) => std::env::var(var).map(Some).map_err(|_| {
            LlmError::Config(format!(
                "{}: the environment variable {var} (setting warden.llm.providers.{}.apiKeyEnv) is not set",
                p.name, p.name
            ))
        }),
        None => Ok(None),
    }
}

/// Streams `chat` from `p` with `key` (see [`api_key`]), calling `on_text` with each
/// piece of text as it arrives.
pub async fn stream(
    p: &Provider,
    key: Option<&str>,
    chat: &Chat,
    cancel: &CancellationToken,
    on_text: impl FnMut(&str),
) -> Result<Reply, LlmError> {
    stream_traced(p, key, chat, None, cancel, on_text).await
}

/// [`stream`], sending a W3C `traceparent` header naming the caller's span, so a
/// provider (or a gateway) that traces joins the caller's trace.
pub async fn stream_traced(
    p: &Provider,
    key: Option<&str>,
    chat: &Chat,
    traceparent: Option<&str>,
    cancel: &CancellationToken,
    mut on_text: impl FnMut(&str),
) -> Result<Reply, LlmError> {
    let client = reqwest::Client::builder()
        .connect_timeout(p.timeout)
        .build()
        .map_err(|e| LlmError::Config(format!("{}: {e}", p.name)))?;
    let body = wire::body(p.api, chat);
    let started = Instant::now();
    let transport = |message: String| LlmError::Transport {
        provider: p.name.clone(),
        message,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut req = client
            .post(endpoint(p))
            .header("content-type", "application/json")
            .body(body.to_string());
        req = match (p.api, key) {
            (Api::Openai, Some(k)) => req.bearer_auth(k),
            (Api::Anthropic, Some(k)) => req.header("x-api-key", k),
            (_, None) => req,
        };
        if p.api == Api::Anthropic {
            req = req.header("anthropic-version", "2023-06-01");
        }
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        let sent = tokio::select! {
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            r = tokio::time::timeout(p.timeout, req.send()) => r,
        };
        let wait = match sent {
            Err(_) => Err(format!(
                "no answer within {:?} (setting warden.llm.timeoutSeconds)",
                p.timeout
            )),
            Ok(Err(e)) if e.is_connect() => Err(format!(
                "cannot connect to {} (setting warden.llm.providers.{}.baseUrl): {e}",
                p.base_url, p.name
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(resp)) if resp.status().is_success() => {
                return read(p, resp, cancel, started, attempt, &mut on_text).await;
            }
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(10)));
                let text = resp.text().await.unwrap_or_default();
                if !retryable(status) || attempt > p.max_retries {
                    return Err(LlmError::Http {
                        provider: p.name.clone(),
                        status,
                        message: status_message(p, status, &text),
                    });
                }
                Ok(retry_after)
            }
        };
        match wait {
            Err(message) if attempt > p.max_retries => return Err(transport(message)),
            Err(_) | Ok(None) => backoff(attempt, None, cancel).await?,
            Ok(Some(after)) => backoff(attempt, Some(after), cancel).await?,
        }
    }
}

async fn backoff(
    attempt: u32,
    after: Option<Duration>,
    cancel: &CancellationToken,
) -> Result<(), LlmError> {
    let delay = after.unwrap_or(Duration::from_millis(200 * 2u64.pow(attempt.min(6) - 1)));
    tokio::select! {
        _ = cancel.cancelled() => Err(LlmError::Cancelled),
        _ = tokio::time::sleep(delay) => Ok(()),
    }
}

async fn read(
    p: &Provider,
    resp: reqwest::Response,
    cancel: &CancellationToken,
    started: Instant,
    attempts: u32,
    on_text: &mut impl FnMut(&str),
) -> Result<Reply, LlmError> {
    let stream_err = |message: String| LlmError::Stream {
        provider: p.name.clone(),
        message,
    };
    let mut body = resp.bytes_stream();
    let mut parser = sse::Parser::new();
    let mut text = String::new();
    let mut usage = Usage::default();
    let mut first_token = None;
    let mut done = false;
    let mut response_model = None;
    let mut finish_reasons = Vec::new();
    while !done {
        let next = tokio::select! {
            _ = cancel.cancelled() => return Err(LlmError::Cancelled),
            n = tokio::time::timeout(p.timeout, body.next()) => n,
        };
        let events = match next {
            Err(_) => {
                return Err(stream_err(format!(
                    "the stream stalled for {:?} (setting warden.llm.timeoutSeconds)",
                    p.timeout
                )));
            }
            Ok(Some(Ok(bytes))) => parser.feed(&bytes),
            Ok(Some(Err(e))) => return Err(stream_err(format!("the stream broke: {e}"))),
            Ok(None) => {
                done = true;
                parser.finish()
            }
        };
        for e in events {
            let (delta, meta) = wire::decode_with_meta(p.api, e.name.as_deref(), &e.data);
            if meta.model.is_some() {
                response_model = meta.model;
            }
            if let Some(r) = meta.finish_reason {
                finish_reasons.push(r);
            }
            match delta {
                Delta::Text(t) => {
                    first_token.get_or_insert_with(|| started.elapsed());
                    on_text(&t);
                    text.push_str(&t);
                }
                Delta::Usage(u) => usage.merge(u),
                Delta::Done => done = true,
                Delta::Error(message) => return Err(stream_err(message)),
                Delta::Nothing => {}
            }
        }
    }
    Ok(Reply {
        text,
        usage,
        first_token,
        latency: started.elapsed(),
        attempts,
        response_model,
        finish_reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, Role};
    use warden_mockllm::{MockLlm, Recorded, Script};

    /// One scripted answer of the loopback server.
    enum Answer {
        /// 200 with these body pieces, each after a pause.
        Stream(Vec<(&'static str, u64)>),
        Status(u16),
        /// 200 headers, then nothing.
        Stall,
    }

    /// A loopback server answering each request with the next scripted answer.
    fn serve(answers: Vec<Answer>) -> (String, MockLlm) {
        let mock = MockLlm::start();
        for a in answers {
            mock.push(match a {
                Answer::Stream(pieces) => Script {
                    raw: pieces.into_iter().map(|(p, d)| (p.to_owned(), d)).collect(),
                    ..Script::default()
                },
                Answer::Status(code) => Script::status(code),
                Answer::Stall => Script {
                    stall: true,
                    ..Script::default()
                },
            });
        }
        (mock.url.clone(), mock)
    }

    fn last(mock: &MockLlm, i: usize) -> Recorded {
        mock.requests()[i].clone()
    }

    fn provider(url: &str, api: Api) -> Provider {
        Provider {
            name: "local".into(),
            api,
            base_url: url.into(),
            api_key_env: None,
            timeout: Duration::from_millis(800),
            max_retries: 2,
        }
    }

    fn chat() -> Chat {
        Chat {
            model: "test-model".into(),
            system: None,
            messages: vec![Message {
                role: Role::User,
                content: "hello".into(),
            }],
            max_tokens: 50,
            temperature: None,
        }
    }

    const OPENAI: [(&str, u64); 4] = [
        (
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choi",
            0,
        ),
        ("ces\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n", 10),
        (
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\n",
            0,
        ),
        ("data: [DONE]\n\n", 0),
    ];

    #[tokio::test]
    async fn streams_text_and_usage_and_retries_429() {
        let (url, log) = serve(vec![Answer::Status(429), Answer::Stream(OPENAI.to_vec())]);
        let p = provider(&url, Api::Openai);
        let mut pieces = Vec::new();
        let reply = stream(
            &p,
            Some("sk-test-123"),
            &chat(),
            &CancellationToken::new(),
            |t| pieces.push(t.to_owned()),
        )
        .await
        .unwrap();
        assert_eq!(reply.text, "Hello");
        assert_eq!(pieces, ["Hel", "lo"]);
        assert_eq!(
            reply.usage,
            Usage {
                input: 9,
                output: 2,
                cached: 3,
                reasoning: 0
            }
        );
        assert_eq!(reply.attempts, 2);
        assert!(reply.first_token.is_some());
        let req = last(&log, 1);
        assert!(req.path.ends_with("/chat/completions"));
        assert_eq!(req.header("authorization"), Some("Bearer sk-test-123"));
        assert!(req.body.contains("\"stream\":true"));
    }

    #[tokio::test]
    async fn anthropic_stream() {
        let events = vec![
            (
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n",
                0,
            ),
            (
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
                0,
            ),
            (
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":4}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                0,
            ),
        ];
        let (url, log) = serve(vec![Answer::Stream(events)]);
        let reply = stream(
            &provider(&url, Api::Anthropic),
            None,
            &chat(),
            &CancellationToken::new(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(reply.text, "Hi");
        assert_eq!(
            reply.usage,
            Usage {
                input: 7,
                output: 4,
                cached: 0,
                reasoning: 0
            }
        );
        let req = last(&log, 0);
        assert!(req.path.ends_with("/messages"));
        assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    }

    /// The error message of a call that must fail.
    async fn failure(p: &Provider, key: Option<&str>) -> String {
        stream(p, key, &chat(), &CancellationToken::new(), |_| {})
            .await
            .unwrap_err()
            .to_string()
    }

    #[tokio::test]
    async fn clear_errors_for_auth_missing_keys_garbage_stalls_and_dead_servers() {
        let (url, _) = serve(vec![Answer::Status(401)]);
        let mut p = provider(&url, Api::Openai);
        p.api_key_env = Some("WARDEN_TEST_KEY_B".into());
        let e = failure(&p, Some("wrong")).await;
        assert!(
            e.contains("HTTP 401")
                && e.contains("WARDEN_TEST_KEY_B")
                && e.contains("scripted failure 401"),
            "{e}"
        );

        p.api_key_env = Some("WARDEN_TEST_KEY_UNSET".into());
        let e = api_key(&p).unwrap_err().to_string();
        assert!(
            e.contains("WARDEN_TEST_KEY_UNSET") && e.contains("not set"),
            "{e}"
        );
        p.api_key_env = Some("PATH".into());
        assert!(api_key(&p).unwrap().is_some());

        let (url, _) = serve(vec![Answer::Stream(vec![("data: {garbage\n\n", 0)])]);
        let e = failure(&provider(&url, Api::Openai), None).await;
        assert!(e.contains("malformed stream event"), "{e}");

        let (url, _) = serve(vec![Answer::Stall]);
        let e = failure(&provider(&url, Api::Openai), None).await;
        assert!(e.contains("stalled"), "{e}");

        let mut dead = provider("http://127.0.0.1:9", Api::Openai);
        dead.max_retries = 0;
        let e = failure(&dead, None).await;
        assert!(e.contains("cannot connect") && e.contains("baseUrl"), "{e}");
    }

    #[tokio::test]
    async fn cancelling_drops_the_connection_at_once() {
        let slow: Vec<(&str, u64)> = (0..50)
            .map(|_| {
                (
                    "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
                    20,
                )
            })
            .collect();
        let (url, log) = serve(vec![Answer::Stream(slow)]);
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        let mut got = 0;
        let started = Instant::now();
        let r = stream(
            &provider(&url, Api::Openai),
            None,
            &chat(),
            &cancel,
            move |_| {
                got += 1;
                if got == 3 {
                    c2.cancel();
                }
            },
        )
        .await;
        assert_eq!(r, Err(LlmError::Cancelled));
        assert!(started.elapsed() < Duration::from_millis(500));
        // The server notices the closed connection on its next write.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(log.closed_early(), 1);
    }
}
