//! The two wire formats: request bodies for a chat, and stream events decoded into
//! [`Delta`]s (text, usage, end, or a provider error). Usage fields differ by provider:
//! OpenAI `prompt_tokens_details.cached_tokens` and
//! `completion_tokens_details.reasoning_tokens`, DeepSeek-style
//! `prompt_cache_hit_tokens`, Anthropic `cache_read_input_tokens` (and
//! `cache_creation_input_tokens`, counted as input).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `POST {base}/chat/completions`.
    Openai,
    /// `POST {base}/messages`.
    Anthropic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// One chat request, provider-neutral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

/// Token counts of one call, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// Input tokens served from the provider's prompt cache (included in `input`).
    pub cached: u64,
    /// Reasoning tokens (included in `output`).
    pub reasoning: u64,
}

impl Usage {
    /// Fields a later event reports replace earlier ones (Anthropic sends input at the
    /// start and output at the end).
    pub fn merge(&mut self, other: Usage) {
        for (mine, theirs) in [
            (&mut self.input, other.input),
            (&mut self.output, other.output),
            (&mut self.cached, other.cached),
            (&mut self.reasoning, other.reasoning),
        ] {
            if theirs > 0 {
                *mine = theirs;
            }
        }
    }
}

/// What one stream event means.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    Usage(Usage),
    Done,
    /// The provider reported an error inside the stream.
    Error(String),
    /// Nothing of interest (pings, role announcements, block starts).
    Nothing,
}

/// The request body for `chat` in `api`'s format, streaming, asking for usage.
pub fn body(api: Api, chat: &Chat) -> Value {
    let messages: Vec<Value> = chat
        .messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
    match api {
        Api::Openai => {
            let mut all = Vec::new();
            if let Some(system) = &chat.system {
                all.push(json!({"role": "system", "content": system}));
            }
            all.extend(messages);
            let mut body = json!({
                "model": chat.model,
                "messages": all,
                "max_tokens": chat.max_tokens,
                "stream": true,
                "stream_options": {"include_usage": true},
            });
            if let Some(t) = chat.temperature {
                body["temperature"] = json!(t);
            }
            body
        }
        Api::Anthropic => {
            let mut body = json!({
                "model": chat.model,
                "messages": messages,
                "max_tokens": chat.max_tokens,
                "stream": true,
            });
            if let Some(system) = &chat.system {
                body["system"] = json!(system);
            }
            if let Some(t) = chat.temperature {
                body["temperature"] = json!(t);
            }
            body
        }
    }
}

fn n(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// What a stream tells about the reply besides its text: the model that answered and
/// why it stopped (OpenAI `model` and `choices[].finish_reason`, Anthropic
/// `message.model` and `delta.stop_reason`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub model: Option<String>,
    pub finish_reason: Option<String>,
}

/// [`decode`] plus the event's [`Meta`], parsing the event once.
pub fn decode_with_meta(api: Api, name: Option<&str>, data: &str) -> (Delta, Meta) {
    match parse(api, data) {
        Err(delta) => (delta, Meta::default()),
        Ok(v) => {
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
            let meta = match api {
                Api::Openai => Meta {
                    model: s("/model"),
                    finish_reason: s("/choices/0/finish_reason"),
                },
                Api::Anthropic => Meta {
                    model: s("/message/model"),
                    finish_reason: s("/delta/stop_reason"),
                },
            };
            (decode_value(api, name, &v), meta)
        }
    }
}

/// The event's JSON, or the [`Delta`] it already is (`[DONE]`, malformed JSON).
fn parse(api: Api, data: &str) -> Result<Value, Delta> {
    if api == Api::Openai && data.trim() == "[DONE]" {
        return Err(Delta::Done);
    }
    serde_json::from_str(data).map_err(|e| {
        let head: String = data.chars().take(80).collect();
        Delta::Error(format!("malformed stream event ({e}): {head:?}"))
    })
}

/// Decodes one SSE event's data (and name, for Anthropic). Malformed JSON is an error
/// naming the provider's format, never a panic.
pub fn decode(api: Api, name: Option<&str>, data: &str) -> Delta {
    match parse(api, data) {
        Ok(v) => decode_value(api, name, &v),
        Err(delta) => delta,
    }
}

fn decode_value(api: Api, name: Option<&str>, v: &Value) -> Delta {
    if let Some(err) = v.get("error") {
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| err.to_string());
        return Delta::Error(message);
    }
    match api {
        Api::Openai => {
            if let Some(text) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                return Delta::Text(text.to_owned());
            }
            match v.get("usage").filter(|u| u.is_object()) {
                Some(u) => Delta::Usage(Usage {
                    input: n(u, &["prompt_tokens"]),
                    output: n(u, &["completion_tokens"]),
                    cached: n(u, &["prompt_tokens_details", "cached_tokens"])
                        .max(n(u, &["prompt_cache_hit_tokens"])),
                    reasoning: n(u, &["completion_tokens_details", "reasoning_tokens"]),
                }),
                None => Delta::Nothing,
            }
        }
        Api::Anthropic => {
            let kind = name
                .or_else(|| v.get("type").and_then(Value::as_str))
                .unwrap_or("");
            let usage = |u: &Value| Usage {
                input: n(u, &["input_tokens"])
                    + n(u, &["cache_read_input_tokens"])
                    + n(u, &["cache_creation_input_tokens"]),
                output: n(u, &["output_tokens"]),
                cached: n(u, &["cache_read_input_tokens"]),
                reasoning: 0,
            };
            match kind {
                "content_block_delta" => match v.pointer("/delta/text").and_then(Value::as_str) {
                    Some(t) if !t.is_empty() => Delta::Text(t.to_owned()),
                    _ => Delta::Nothing,
                },
                "message_start" => match v.pointer("/message/usage") {
                    Some(u) => Delta::Usage(usage(u)),
                    None => Delta::Nothing,
                },
                "message_delta" => match v.get("usage") {
                    Some(u) => Delta::Usage(usage(u)),
                    None => Delta::Nothing,
                },
                "message_stop" => Delta::Done,
                _ => Delta::Nothing,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Chat {
        Chat {
            model: "m".into(),
            system: Some("be brief".into()),
            messages: vec![Message {
                role: Role::User,
                content: "hi".into(),
            }],
            max_tokens: 100,
            temperature: Some(0.2),
        }
    }

    #[test]
    fn streams_name_the_model_and_why_they_stopped() {
        let (d, m) = decode_with_meta(
            Api::Openai,
            None,
            r#"{"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
        );
        assert_eq!(d, Delta::Nothing);
        assert_eq!(m.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
        assert_eq!(m.finish_reason.as_deref(), Some("length"));
        let (_, m) = decode_with_meta(
            Api::Openai,
            None,
            r#"{"model":"m","choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#,
        );
        assert_eq!(m.finish_reason, None);
        let (_, m) = decode_with_meta(
            Api::Anthropic,
            Some("message_start"),
            r#"{"type":"message_start","message":{"model":"claude-sonnet-4-20250514","usage":{"input_tokens":3}}}"#,
        );
        assert_eq!(m.model.as_deref(), Some("claude-sonnet-4-20250514"));
        let (_, m) = decode_with_meta(
            Api::Anthropic,
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#,
        );
        assert_eq!(m.finish_reason.as_deref(), Some("end_turn"));
        assert_eq!(
            decode_with_meta(Api::Openai, None, "[DONE]").1,
            Meta::default()
        );
    }

    #[test]
    fn bodies_per_format() {
        let o = body(Api::Openai, &chat());
        assert_eq!(
            o["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(o["messages"][1]["role"], "user");
        assert_eq!(o["stream_options"]["include_usage"], true);
        let a = body(Api::Anthropic, &chat());
        assert_eq!(a["system"], "be brief");
        assert_eq!(a["messages"].as_array().unwrap().len(), 1);
        assert_eq!(a["max_tokens"], 100);
    }

    #[test]
    fn openai_chunks_and_usage_variants() {
        let d = |s: &str| decode(Api::Openai, None, s);
        assert_eq!(
            d(r#"{"choices":[{"delta":{"content":"Hel"}}]}"#),
            Delta::Text("Hel".into())
        );
        assert_eq!(
            d(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            Delta::Nothing
        );
        assert_eq!(
            d(
                r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#
            ),
            Delta::Usage(Usage {
                input: 10,
                output: 5,
                cached: 4,
                reasoning: 2
            })
        );
        assert_eq!(
            d(
                r#"{"usage":{"prompt_tokens":10,"completion_tokens":5,"prompt_cache_hit_tokens":7}}"#
            ),
            Delta::Usage(Usage {
                input: 10,
                output: 5,
                cached: 7,
                reasoning: 0
            })
        );
        assert_eq!(d("[DONE]"), Delta::Done);
        assert!(matches!(d("{not json"), Delta::Error(e) if e.contains("malformed")));
        assert_eq!(
            d(r#"{"error":{"message":"rate limited"}}"#),
            Delta::Error("rate limited".into())
        );
    }

    #[test]
    fn anthropic_events_and_usage() {
        let d = |name: &str, s: &str| decode(Api::Anthropic, Some(name), s);
        let mut total = Usage::default();
        let Delta::Usage(u) = d(
            "message_start",
            r#"{"type":"message_start","message":{"usage":{"input_tokens":12,"cache_read_input_tokens":30,"output_tokens":1}}}"#,
        ) else {
            panic!()
        };
        total.merge(u);
        assert_eq!(
            d(
                "content_block_delta",
                r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}"#
            ),
            Delta::Text("Hi".into())
        );
        let Delta::Usage(u) = d(
            "message_delta",
            r#"{"type":"message_delta","usage":{"output_tokens":42}}"#,
        ) else {
            panic!()
        };
        total.merge(u);
        assert_eq!(
            total,
            Usage {
                input: 42,
                output: 42,
                cached: 30,
                reasoning: 0
            }
        );
        assert_eq!(d("message_stop", r#"{"type":"message_stop"}"#), Delta::Done);
        assert_eq!(d("ping", r#"{"type":"ping"}"#), Delta::Nothing);
        assert_eq!(
            d(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            Delta::Error("Overloaded".into())
        );
    }
}
