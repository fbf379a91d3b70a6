//! Replies, streamed or whole, on their way back to the client: placeholders restored
//! in every text delta (each text block, each tool call's argument JSON and each
//! reasoning stream keeps its own held-back tail, so a placeholder split across events
//! still comes back), the tail flushed as one more delta of its stream before the event
//! that closes it, and the call metered (usage, model, stop reasons, time to first
//! token, the redacted reply text for the record).
//!
//! Events the gateway does not know pass through with their strings restored; events
//! that are not JSON pass through untouched.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use warden_analysis::secrets::redact::{Pending, Redactions};
use warden_llm::sse::Event;
use warden_llm::wire::Usage;

use crate::api::Api;
use crate::secrets::restore_body;

/// What a reply said about itself.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    pub usage: Usage,
    pub model: Option<String>,
    pub finish_reasons: Vec<String>,
    /// From the request's start to the first text or tool-call delta.
    pub first_token: Option<Duration>,
    /// The reply's text and tool-call arguments as the provider sent them (redacted).
    pub text: String,
    /// An error event in the stream.
    pub error: Option<String>,
}

impl Meter {
    fn text(&mut self, started: Instant, piece: &str) {
        if !piece.is_empty() {
            self.first_token.get_or_insert_with(|| started.elapsed());
            self.text.push_str(piece);
        }
    }

    /// Reads usage, model and stop reason from a whole reply or a stream event.
    fn read(&mut self, api: Api, v: &Value) {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let model = match api {
            Api::Messages => s("/message/model").or_else(|| s("/model")),
            Api::Responses => s("/response/model").or_else(|| s("/model")),
            _ => s("/model"),
        };
        if model.is_some() {
            self.model = model;
        }
        let reasons: Vec<String> = match api {
            Api::Messages => s("/delta/stop_reason")
                .or_else(|| s("/stop_reason"))
                .into_iter()
                .collect(),
            Api::Responses => s("/response/status")
                .filter(|_| v.get("type").and_then(Value::as_str) != Some("response.in_progress"))
                .filter(|st| st != "in_progress")
                .or_else(|| s("/status").filter(|st| st != "in_progress"))
                .into_iter()
                .collect(),
            _ => v
                .get("choices")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| {
                            c.get("finish_reason")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        for r in reasons {
            if !self.finish_reasons.contains(&r) {
                self.finish_reasons.push(r);
            }
        }
        let usage = v
            .pointer("/message/usage")
            .or_else(|| v.pointer("/response/usage"))
            .or_else(|| v.get("usage"))
            .filter(|u| u.is_object());
        if let Some(u) = usage {
            self.usage.merge(usage_of(api, u));
        }
        if v.get("type").and_then(Value::as_str) == Some("error")
            || v.get("error").is_some_and(Value::is_object)
        {
            let e = v.get("error").unwrap_or(v);
            self.error = Some(
                e.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.to_string()),
            );
        }
    }
}

/// Token counts in each API's naming: OpenAI Chat's `prompt_tokens` (cached included),
/// Responses' `input_tokens` (cached included), Anthropic's `input_tokens` (cache reads
/// and writes not included).
pub fn usage_of(api: Api, u: &Value) -> Usage {
    let n = |path: &[&str]| {
        path.iter()
            .try_fold(u, |v, k| v.get(*k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    match api {
        Api::Messages => Usage {
            input: n(&["input_tokens"])
                + n(&["cache_read_input_tokens"])
                + n(&["cache_creation_input_tokens"]),
            output: n(&["output_tokens"]),
            cached: n(&["cache_read_input_tokens"]),
            reasoning: 0,
        },
        Api::Responses => Usage {
            input: n(&["input_tokens"]),
            output: n(&["output_tokens"]),
            cached: n(&["input_tokens_details", "cached_tokens"]),
            reasoning: n(&["output_tokens_details", "reasoning_tokens"]),
        },
        _ => Usage {
            input: n(&["prompt_tokens"]),
            output: n(&["completion_tokens"]),
            cached: n(&["prompt_tokens_details", "cached_tokens"])
                .max(n(&["prompt_cache_hit_tokens"])),
            reasoning: n(&["completion_tokens_details", "reasoning_tokens"]),
        },
    }
}

/// A whole (non-streamed) reply: restored in place, metered.
pub fn whole(api: Api, body: &mut Value, red: &Redactions, started: Instant) -> Meter {
    let mut m = Meter::default();
    m.read(api, body);
    let mut text = String::new();
    collect_text(api, body, &mut text);
    m.text(started, &text);
    restore_body(body, red);
    m
}

/// The reply text of a whole body: message content, tool-call arguments, text blocks.
fn collect_text(api: Api, body: &Value, out: &mut String) {
    let mut push = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            out.push_str(s);
        } else if let Some(o) = v.filter(|v| v.is_object()) {
            out.push_str(&o.to_string());
        }
    };
    match api {
        Api::Messages => {
            for b in body
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                push(
                    b.get("text")
                        .or_else(|| b.get("input"))
                        .or_else(|| b.get("thinking")),
                );
            }
        }
        Api::Responses => {
            for item in body
                .get("output")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                push(item.get("arguments"));
                for c in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    push(c.get("text"));
                }
            }
        }
        _ => {
            for c in body
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                push(c.pointer("/message/content"));
                for t in c
                    .pointer("/message/tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    push(t.pointer("/function/arguments"));
                }
            }
        }
    }
}

/// One stream's restoring state: its held-back tail and what its flush event looks like.
struct Open {
    pending: Pending,
    /// For Anthropic: the delta type of the block (`text_delta`, `input_json_delta`, ...).
    delta_type: String,
    /// For Responses: the delta event of the stream, to clone for a flush.
    template: Option<Value>,
}

/// Restores a stream event by event. Feed every parsed event to [`Rewriter::event`] and
/// send what it returns; at the end, send what [`Rewriter::finish`] returns.
pub struct Rewriter {
    api: Api,
    red: Redactions,
    open: BTreeMap<String, Open>,
    started: Instant,
    pub meter: Meter,
    /// The stream said it is complete (`[DONE]`, `message_stop`, `response.completed`):
    /// the client may hang up now without cancelling anything.
    pub complete: bool,
    /// The last OpenAI chunk's envelope (`id`, `object`, `created`, `model`), for a flush
    /// at `[DONE]`.
    envelope: Option<Map<String, Value>>,
}

/// One event to send: its `event:` name and its data.
pub type Out = (Option<String>, String);

/// An event as SSE bytes.
pub fn encode(out: &Out) -> String {
    let mut s = String::with_capacity(out.1.len() + 32);
    if let Some(name) = &out.0 {
        s.push_str("event: ");
        s.push_str(name);
        s.push('\n');
    }
    for line in out.1.split('\n') {
        s.push_str("data: ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s
}

impl Rewriter {
    pub fn new(api: Api, red: Redactions, started: Instant) -> Rewriter {
        Rewriter {
            api,
            red,
            open: BTreeMap::new(),
            started,
            meter: Meter::default(),
            complete: false,
            envelope: None,
        }
    }

    /// Pushes `piece` through the stream `key`; returns what can be sent now.
    fn push(
        &mut self,
        key: &str,
        json: bool,
        piece: &str,
        delta_type: &str,
        template: Option<&Value>,
    ) -> String {
        self.meter.text(self.started, piece);
        let open = self.open.entry(key.to_owned()).or_insert_with(|| Open {
            pending: if json {
                Pending::json()
            } else {
                Pending::default()
            },
            delta_type: delta_type.to_owned(),
            template: template.cloned(),
        });
        open.pending.push(&self.red, piece)
    }

    /// Ends the stream `key`: its held-back tail (empty if nothing was held).
    fn close(&mut self, key: &str) -> Option<(String, Open)> {
        let mut open = self.open.remove(key)?;
        let tail = open.pending.finish(&self.red);
        (!tail.is_empty()).then_some((tail, open))
    }

    /// Handles one upstream event; returns the events to send in its place.
    pub fn event(&mut self, e: &Event) -> Vec<Out> {
        if self.api == Api::Chat && e.data.trim() == "[DONE]" {
            self.complete = true;
            let mut out = self.finish();
            out.push((e.name.clone(), e.data.clone()));
            return out;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(&e.data) else {
            return vec![(e.name.clone(), e.data.clone())];
        };
        self.meter.read(self.api, &v);
        let kind = e
            .name
            .as_deref()
            .or_else(|| v.get("type").and_then(Value::as_str));
        if matches!(
            kind,
            Some("message_stop" | "response.completed" | "response.failed" | "response.incomplete")
        ) {
            self.complete = true;
        }
        let mut before = Vec::new();
        match self.api {
            Api::Messages => self.messages(e.name.as_deref(), &mut v, &mut before),
            Api::Responses => self.responses(&mut v, &mut before),
            _ => self.chat(&mut v),
        }
        before.push((e.name.clone(), v.to_string()));
        before
    }

    /// Everything still held back, as flush events (the stream ended without closing
    /// its blocks).
    pub fn finish(&mut self) -> Vec<Out> {
        let keys: Vec<String> = self.open.keys().cloned().collect();
        let mut out = Vec::new();
        for key in keys {
            let Some((tail, open)) = self.close(&key) else {
                continue;
            };
            out.push(match self.api {
                Api::Messages => messages_flush(&key, &tail, &open),
                Api::Responses => responses_flush(&tail, &open),
                _ => {
                    let mut chunk = self.envelope.clone().unwrap_or_default();
                    let (choice, field) = chat_key(&key);
                    let mut c = json!({"index": choice, "delta": {}, "finish_reason": null});
                    chat_append(&mut c["delta"], &field, &tail);
                    chunk.insert("choices".into(), json!([c]));
                    (None, Value::Object(chunk).to_string())
                }
            });
        }
        out
    }

    /// An OpenAI chunk: `choices[i].delta.{content,refusal,reasoning_content,reasoning}`
    /// and `choices[i].delta.tool_calls[j].function.arguments`; a choice's tails are
    /// appended to the chunk that carries its `finish_reason`.
    fn chat(&mut self, v: &mut Value) {
        if let Some(obj) = v.as_object() {
            let mut env = obj.clone();
            env.remove("choices");
            env.remove("usage");
            self.envelope = Some(env);
        }
        let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) else {
            restore_body(v, &self.red);
            return;
        };
        for c in choices {
            let i = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            if let Some(delta) = c.get_mut("delta").and_then(Value::as_object_mut) {
                for field in ["content", "refusal", "reasoning_content", "reasoning"] {
                    if let Some(Value::String(s)) = delta.get(field) {
                        let piece = s.clone();
                        let out = self.push(&format!("{i}/{field}"), false, &piece, "", None);
                        delta.insert(field.into(), Value::String(out));
                    }
                }
                for t in delta
                    .get_mut("tool_calls")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let j = t.get("index").and_then(Value::as_u64).unwrap_or(0);
                    if let Some(Value::String(s)) = t.pointer("/function/arguments") {
                        let piece = s.clone();
                        let out = self.push(&format!("{i}/tool/{j}"), true, &piece, "", None);
                        t["function"]["arguments"] = Value::String(out);
                    }
                }
            }
            if c.get("finish_reason").is_some_and(|r| !r.is_null()) {
                let prefix = format!("{i}/");
                let keys: Vec<String> = self
                    .open
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned()
                    .collect();
                for key in keys {
                    if let Some((tail, _)) = self.close(&key) {
                        let (_, field) = chat_key(&key);
                        if !c.get("delta").is_some_and(Value::is_object) {
                            c["delta"] = json!({});
                        }
                        chat_append(&mut c["delta"], &field, &tail);
                    }
                }
            }
            if let Some(m) = c.get_mut("message") {
                restore_body(m, &self.red);
            }
        }
    }

    /// An Anthropic event: deltas of `content_block_delta` by block index; a block's
    /// tail goes out as one more delta before its `content_block_stop`.
    fn messages(&mut self, name: Option<&str>, v: &mut Value, before: &mut Vec<Out>) {
        let kind = name
            .map(str::to_owned)
            .or_else(|| v.get("type").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let key = format!("{index}");
        match kind.as_str() {
            "content_block_delta" => {
                let dtype = v
                    .pointer("/delta/type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let (field, json) = match dtype.as_str() {
                    "text_delta" => ("text", false),
                    "input_json_delta" => ("partial_json", true),
                    "thinking_delta" => ("thinking", false),
                    _ => return,
                };
                if let Some(Value::String(s)) = v.pointer(&format!("/delta/{field}")) {
                    let piece = s.clone();
                    let out = self.push(&key, json, &piece, &dtype, None);
                    v["delta"][field] = Value::String(out);
                }
            }
            "content_block_stop" => {
                if let Some((tail, open)) = self.close(&key) {
                    before.push(messages_flush(&key, &tail, &open));
                }
            }
            "message_stop" => before.extend(self.finish()),
            _ => restore_body(v, &self.red),
        }
    }

    /// A Responses event: every `*.delta` event streams into its item's stream; the
    /// matching `*.done` event gets the tail as one more delta first, and its whole
    /// text restored.
    fn responses(&mut self, v: &mut Value, before: &mut Vec<Out>) {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let stream_key = |base: &str, v: &Value| {
            let part = |k: &str| v.get(k).map(Value::to_string).unwrap_or_default();
            format!(
                "{base}|{}|{}|{}",
                part("item_id"),
                part("content_index"),
                part("summary_index")
            )
        };
        if let Some(base) = kind.strip_suffix(".delta")
            && let Some(Value::String(s)) = v.get("delta")
        {
            let piece = s.clone();
            let template = v.clone();
            let out = self.push(
                &stream_key(base, v),
                base.contains("arguments"),
                &piece,
                "",
                Some(&template),
            );
            v["delta"] = Value::String(out);
            return;
        }
        if let Some(base) = kind.strip_suffix(".done")
            && let Some((tail, open)) = self.close(&stream_key(base, v))
        {
            let mut flush = responses_flush(&tail, &open);
            if let (Ok(mut f), Some(seq)) = (
                serde_json::from_str::<Value>(&flush.1),
                v.get("sequence_number"),
            ) {
                f["sequence_number"] = seq.clone();
                flush.1 = f.to_string();
            }
            before.push(flush);
        }
        restore_body(v, &self.red);
    }
}

/// `"<choice>/<field>"` or `"<choice>/tool/<j>"` back to its parts.
fn chat_key(key: &str) -> (u64, String) {
    let (i, field) = key.split_once('/').unwrap_or(("0", key));
    (i.parse().unwrap_or(0), field.to_owned())
}

/// Appends `tail` to a chat delta's `field` (`content`, ..., or `tool/<j>`).
fn chat_append(delta: &mut Value, field: &str, tail: &str) {
    if let Some(j) = field.strip_prefix("tool/") {
        let j: u64 = j.parse().unwrap_or(0);
        let calls = delta
            .as_object_mut()
            .map(|d| d.entry("tool_calls").or_insert_with(|| json!([])));
        let Some(Value::Array(calls)) = calls else {
            return;
        };
        match calls
            .iter_mut()
            .find(|c| c.get("index").and_then(Value::as_u64) == Some(j))
        {
            Some(c) => {
                let args = c
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                c["function"]["arguments"] = Value::String(format!("{args}{tail}"));
            }
            None => calls.push(json!({"index": j, "function": {"arguments": tail}})),
        }
    } else {
        let have = delta.get(field).and_then(Value::as_str).unwrap_or("");
        delta[field] = Value::String(format!("{have}{tail}"));
    }
}

fn messages_flush(key: &str, tail: &str, open: &Open) -> Out {
    let field = match open.delta_type.as_str() {
        "input_json_delta" => "partial_json",
        "thinking_delta" => "thinking",
        _ => "text",
    };
    let index: u64 = key.parse().unwrap_or(0);
    let data = json!({"type": "content_block_delta", "index": index, "delta": {"type": open.delta_type, field: tail}});
    (Some("content_block_delta".into()), data.to_string())
}

fn responses_flush(tail: &str, open: &Open) -> Out {
    let mut v = open.template.clone().unwrap_or_else(|| json!({}));
    v["delta"] = Value::String(tail.to_owned());
    let name = v.get("type").and_then(Value::as_str).map(str::to_owned);
    (name, v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_analysis::secrets::RuleSet;
    use warden_analysis::secrets::redact::redact;

    const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";

    /// Redactions holding GHP as placeholder 1.
    fn red() -> Redactions {
        let mut r = Redactions::default();
        let (out, n) = redact(
            &format!("t = \"{GHP}\""),
            &Default::default(),
            &RuleSet::builtin(),
            &mut r,
        );
        assert_eq!((n, out.as_str()), (1, "t = \"__WARDEN_SECRET_1__\""));
        r
    }

    /// Runs events through a rewriter and parses what comes out.
    fn run(api: Api, events: &[(Option<&str>, String)]) -> (Vec<(Option<String>, Value)>, Meter) {
        let mut w = Rewriter::new(api, red(), Instant::now());
        let mut out = Vec::new();
        for (name, data) in events {
            out.extend(w.event(&Event {
                name: name.map(str::to_owned),
                data: data.clone(),
            }));
        }
        out.extend(w.finish());
        let parsed = out
            .into_iter()
            .map(|(n, d)| (n, serde_json::from_str(&d).unwrap_or(Value::String(d))))
            .collect();
        (parsed, w.meter)
    }

    /// `text` cut in two at every byte.
    fn cuts(text: &str) -> Vec<(String, String)> {
        (0..=text.len())
            .map(|i| (text[..i].to_owned(), text[i..].to_owned()))
            .collect()
    }

    #[test]
    fn chat_text_and_tool_arguments_come_back_at_every_cut() {
        let text = "key: __WARDEN_SECRET_1__ done";
        let args = "{\"token\": \"__WARDEN_SECRET_1__\"}";
        for ((t1, t2), (a1, a2)) in cuts(text).into_iter().zip(cuts(args).into_iter().cycle()) {
            let chunk = |delta: Value, finish: Value| {
                (None, json!({"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).to_string())
            };
            let events = vec![
                chunk(json!({"content": t1}), Value::Null),
                chunk(json!({"content": t2}), Value::Null),
                chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": a1}}]}), Value::Null),
                chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": a2}}]}), Value::Null),
                chunk(json!({}), json!("tool_calls")),
                (None, json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}).to_string()),
                (None, "[DONE]".to_owned()),
            ];
            let (out, meter) = run(Api::Chat, &events);
            let mut content = String::new();
            let mut arguments = String::new();
            for (_, v) in &out {
                if let Some(d) = v.pointer("/choices/0/delta") {
                    content.push_str(d.get("content").and_then(Value::as_str).unwrap_or(""));
                    for t in d
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        arguments.push_str(
                            t.pointer("/function/arguments")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        );
                    }
                }
            }
            assert_eq!(content, format!("key: {GHP} done"));
            let parsed: Value = serde_json::from_str(&arguments).expect("arguments stay JSON");
            assert_eq!(parsed["token"], GHP);
            assert_eq!(out.last().unwrap().1, Value::String("[DONE]".into()));
            assert_eq!((meter.usage.input, meter.usage.output), (5, 7));
            assert_eq!(meter.finish_reasons, ["tool_calls"]);
            assert!(
                !meter.text.contains(GHP),
                "the record keeps the redacted text"
            );
        }
    }

    #[test]
    fn anthropic_blocks_flush_before_their_stop() {
        let text = "secret __WARDEN_SECRET_1__";
        let json_text = "{\"k\":\"__WARDEN_SECRET_1__\"}";
        for ((t1, t2), (j1, j2)) in cuts(text)
            .into_iter()
            .zip(cuts(json_text).into_iter().cycle())
        {
            let ev = |name: &'static str, data: Value| (Some(name), data.to_string());
            let events = vec![
                ev(
                    "message_start",
                    json!({"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t1}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t2}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "tu", "name": "f", "input": {}}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": j1}}),
                ),
                ev(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": j2}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 1}),
                ),
                ev(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
                ),
                ev("message_stop", json!({"type": "message_stop"})),
            ];
            let (out, meter) = run(Api::Messages, &events);
            let (mut text_out, mut json_out) = (String::new(), String::new());
            let mut stopped = [false, false];
            for (name, v) in &out {
                assert_eq!(
                    name.as_deref(),
                    v.get("type").and_then(Value::as_str),
                    "event names match types"
                );
                let i = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                match name.as_deref() {
                    Some("content_block_delta") => {
                        assert!(!stopped[i], "a delta after its block stopped");
                        text_out.push_str(
                            v.pointer("/delta/text")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        );
                        json_out.push_str(
                            v.pointer("/delta/partial_json")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        );
                    }
                    Some("content_block_stop") => stopped[i] = true,
                    _ => {}
                }
            }
            assert_eq!(text_out, format!("secret {GHP}"));
            assert_eq!(serde_json::from_str::<Value>(&json_out).unwrap()["k"], GHP);
            assert_eq!((meter.usage.input, meter.usage.output), (3, 9));
            assert_eq!(meter.model.as_deref(), Some("claude-x"));
        }
    }

    #[test]
    fn responses_deltas_flush_before_done_and_done_texts_are_restored() {
        let text = "a __WARDEN_SECRET_1__";
        for (t1, t2) in cuts(text) {
            let ev = |data: Value| {
                (
                    data.get("type").and_then(Value::as_str).map(str::to_owned),
                    data.to_string(),
                )
            };
            let events: Vec<(Option<String>, String)> = vec![
                ev(
                    json!({"type": "response.output_text.delta", "item_id": "m1", "output_index": 0, "content_index": 0, "delta": t1, "sequence_number": 1}),
                ),
                ev(
                    json!({"type": "response.output_text.delta", "item_id": "m1", "output_index": 0, "content_index": 0, "delta": t2, "sequence_number": 2}),
                ),
                ev(
                    json!({"type": "response.output_text.done", "item_id": "m1", "output_index": 0, "content_index": 0, "text": text, "sequence_number": 3}),
                ),
                ev(
                    json!({"type": "response.completed", "sequence_number": 4, "response": {"model": "gpt-x", "status": "completed",
                    "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
                    "usage": {"input_tokens": 4, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 1}}}}),
                ),
            ];
            let borrowed: Vec<(Option<&str>, String)> = events
                .iter()
                .map(|(n, d)| (n.as_deref(), d.clone()))
                .collect();
            let (out, meter) = run(Api::Responses, &borrowed);
            let deltas: String = out
                .iter()
                .filter(|(n, _)| n.as_deref() == Some("response.output_text.delta"))
                .map(|(_, v)| v["delta"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(deltas, format!("a {GHP}"));
            let done = out
                .iter()
                .position(|(n, _)| n.as_deref() == Some("response.output_text.done"))
                .unwrap();
            assert!(
                out[..done]
                    .iter()
                    .all(|(n, _)| n.as_deref() == Some("response.output_text.delta"))
            );
            assert_eq!(out[done].1["text"], format!("a {GHP}"));
            assert_eq!(
                out.last()
                    .unwrap()
                    .1
                    .pointer("/response/output/0/content/0/text")
                    .unwrap(),
                &format!("a {GHP}")
            );
            assert_eq!((meter.usage.input, meter.usage.cached), (4, 1));
            assert_eq!(meter.finish_reasons, ["completed"]);
        }
    }

    #[test]
    fn whole_replies_are_restored_with_json_arguments_escaped() {
        let mut r = Redactions::default();
        let (_, _) = redact(
            "p = \"ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt\"",
            &Default::default(),
            &RuleSet::builtin(),
            &mut r,
        );
        let mut body = json!({"model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x __WARDEN_SECRET_1__",
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\":\"__WARDEN_SECRET_1__\"}"}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
        let m = whole(Api::Chat, &mut body, &r, Instant::now());
        assert_eq!(
            body.pointer("/choices/0/message/content").unwrap(),
            &format!("x {GHP}")
        );
        let args: Value = serde_json::from_str(
            body.pointer("/choices/0/message/tool_calls/0/function/arguments")
                .unwrap()
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args["a"], GHP);
        assert_eq!(m.usage.output, 2);
        assert!(m.text.contains("__WARDEN_SECRET_1__"));
    }
}
