//! Secrets in request and reply bodies. Every string of a request that can carry text
//! (system prompts, message text in every content part, tool results, tool-call
//! arguments, tool descriptions, Responses `instructions` and `input`) is redacted;
//! strings that name things (`model`, `role`, `type`, ids, tool names) or carry binary
//! data (images, audio, files as base64) are left as they are. Replies are restored the
//! same way; tool-call `arguments` are JSON text, so their secrets go back JSON-escaped.

use serde_json::Value;
use warden_analysis::secrets::redact::{Redactions, redact};
use warden_analysis::secrets::{Context, RuleSet};

/// Keys whose string values are never text for a model to read.
const NOT_TEXT: &[&str] = &[
    "model",
    "role",
    "type",
    "id",
    "object",
    "tool_call_id",
    "tool_use_id",
    "call_id",
    "item_id",
    "previous_response_id",
    "name",
    "media_type",
    "mime_type",
    "detail",
    "format",
    "stop_reason",
    "finish_reason",
    "status",
    "service_tier",
    "reasoning_effort",
    "signature",
    "encrypted_content",
    // Binary payloads (base64) and links to them.
    "data",
    "url",
    "image_url",
    "file_data",
    "file_id",
    "b64_json",
    "input_audio",
];

/// Keys whose values are JSON text (tool-call arguments).
const JSON_TEXT: &[&str] = &["arguments", "partial_json"];

/// Redacts every text string of `body` in place; returns how many secrets were found.
pub fn redact_body(body: &mut Value, rules: &RuleSet, red: &mut Redactions) -> usize {
    let ctx = Context::default();
    let mut count = 0;
    walk(body, None, &mut |s: &mut String, _| {
        if s.len() < 8 {
            return; // shorter than any secret a rule finds
        }
        let (out, n) = redact(s, &ctx, rules, red);
        if n > 0 {
            *s = out;
            count += n;
        }
    });
    count
}

/// Restores placeholders in every text string of a reply body in place.
pub fn restore_body(body: &mut Value, red: &Redactions) {
    if red.is_empty() {
        return;
    }
    walk(body, None, &mut |s: &mut String, json_text| {
        if s.contains("__WARDEN_SECRET_") {
            *s = if json_text {
                red.restore_json(s)
            } else {
                red.restore(s)
            };
        }
    });
}

/// Puts the workspace's system prompt before the request's own system instructions:
/// a first `system` message (Chat), `instructions` (Responses), `system` (Messages, a
/// string or text blocks).
pub fn apply_system_prompt(api: crate::api::Api, body: &mut Value, prompt: &str) {
    use crate::api::Api;
    use serde_json::json;
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    match api {
        Api::Chat => {
            if let Some(Value::Array(messages)) = obj.get_mut("messages") {
                messages.insert(0, json!({"role": "system", "content": prompt}));
            }
        }
        Api::Responses => {
            let joined = match obj.get("instructions").and_then(Value::as_str) {
                Some(own) if !own.is_empty() => format!("{prompt}\n\n{own}"),
                _ => prompt.to_owned(),
            };
            obj.insert("instructions".into(), Value::String(joined));
        }
        Api::Messages => match obj.get_mut("system") {
            Some(Value::Array(blocks)) => blocks.insert(0, json!({"type": "text", "text": prompt})),
            Some(Value::String(own)) if !own.is_empty() => *own = format!("{prompt}\n\n{own}"),
            _ => {
                obj.insert("system".into(), Value::String(prompt.to_owned()));
            }
        },
        Api::Models => {}
    }
}

/// All the text of a body, for the deny-list and the interaction row.
pub fn text_of(body: &Value) -> String {
    let mut out = String::new();
    let mut copy = body.clone();
    walk(&mut copy, None, &mut |s: &mut String, _| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(s);
    });
    out
}

/// Calls `f` on every text string (with whether it is JSON text), skipping the
/// values of [`NOT_TEXT`] keys. Object keys are never touched.
fn walk(v: &mut Value, key: Option<&str>, f: &mut impl FnMut(&mut String, bool)) {
    match v {
        Value::String(s) => f(s, key.is_some_and(|k| JSON_TEXT.contains(&k))),
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, key, f)),
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                // A name or binary payload is skipped; an object under such a key
                // (`image_url: {url}`) is still walked, and its own keys decide.
                if !(item.is_string() && NOT_TEXT.contains(&k.as_str())) {
                    walk(item, Some(k), f);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
    const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";

    #[test]
    fn every_message_part_is_redacted_and_names_are_not() {
        let mut body = json!({
            "model": "gpt-x",
            "messages": [
                {"role": "system", "content": format!("key {AWS}")},
                {"role": "user", "content": [{"type": "text", "text": format!("token = \"{GHP}\"")},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "deploy", "arguments": format!("{{\"key\":\"{AWS}\"}}")}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": format!("used {GHP}")},
            ],
        });
        let mut red = Redactions::default();
        let n = redact_body(&mut body, &RuleSet::builtin(), &mut red);
        let text = body.to_string();
        assert!(!text.contains(AWS) && !text.contains(GHP), "{text}");
        assert_eq!(n, 4);
        assert_eq!(red.len(), 2, "one placeholder per distinct secret");
        assert_eq!(body["model"], "gpt-x");
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["name"],
            "deploy"
        );
        let args: Value = serde_json::from_str(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .expect("arguments stay JSON");
        assert_eq!(args["key"], "__WARDEN_SECRET_1__");
        restore_body(&mut body, &red);
        assert!(body.to_string().contains(AWS));
        assert!(text_of(&body).contains(GHP));
    }

    #[test]
    fn the_workspace_system_prompt_goes_first_in_each_api() {
        use crate::api::Api;
        let mut chat = json!({"messages": [{"role": "system", "content": "own"}, {"role": "user", "content": "hi"}]});
        apply_system_prompt(Api::Chat, &mut chat, "policy");
        assert_eq!(
            chat["messages"][0],
            json!({"role": "system", "content": "policy"})
        );
        assert_eq!(chat["messages"][1]["content"], "own");
        let mut resp = json!({"input": "hi", "instructions": "own"});
        apply_system_prompt(Api::Responses, &mut resp, "policy");
        assert_eq!(resp["instructions"], "policy\n\nown");
        let mut blocks = json!({"system": [{"type": "text", "text": "own"}]});
        apply_system_prompt(Api::Messages, &mut blocks, "policy");
        assert_eq!(blocks["system"][0]["text"], "policy");
        let mut none = json!({"messages": []});
        apply_system_prompt(Api::Messages, &mut none, "policy");
        assert_eq!(none["system"], "policy");
    }

    #[test]
    fn anthropic_tool_use_input_and_tool_results_are_redacted() {
        let mut body = json!({
            "system": [{"type": "text", "text": format!("k={AWS}")}],
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "sh",
                    "input": {"command": format!("export T={GHP}")}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1",
                    "content": [{"type": "text", "text": format!("{AWS} ok")}]}]},
            ],
        });
        let mut red = Redactions::default();
        redact_body(&mut body, &RuleSet::builtin(), &mut red);
        let text = body.to_string();
        assert!(!text.contains(AWS) && !text.contains(GHP), "{text}");
        assert_eq!(body["messages"][0]["content"][0]["id"], "tu_1");
    }
}
