//! The APIs the gateway speaks: which one a request path names, the workspace prefix
//! (`/w/<name>/...`), and errors in each API's own shape, so a client's SDK shows them
//! as it shows its provider's.

use serde_json::{Value, json};

/// An API the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`.
    Chat,
    /// OpenAI Responses: `POST /v1/responses`.
    Responses,
    /// Anthropic Messages: `POST /v1/messages`.
    Messages,
    /// `GET /v1/models`, in the OpenAI shape (Anthropic's SDK reads the same `data`).
    Models,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Chat => "openai.chat",
            Api::Responses => "openai.responses",
            Api::Messages => "anthropic.messages",
            Api::Models => "models",
        }
    }

    /// The provider wire format this API needs upstream.
    pub fn wire(self) -> warden_llm::wire::Api {
        match self {
            Api::Messages => warden_llm::wire::Api::Anthropic,
            _ => warden_llm::wire::Api::Openai,
        }
    }

    /// The path after the provider's base URL (which ends in `/v1`).
    pub fn upstream_path(self) -> &'static str {
        match self {
            Api::Chat => "/chat/completions",
            Api::Responses => "/responses",
            Api::Messages => "/messages",
            Api::Models => "/models",
        }
    }

    /// The `gen_ai.operation.name` of a call.
    pub fn operation(self) -> &'static str {
        match self {
            Api::Chat | Api::Messages => "chat",
            Api::Responses => "responses",
            Api::Models => "models",
        }
    }
}

/// A request path taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub workspace: Option<String>,
    pub api: Option<Api>,
}

/// Parses `[/w/<workspace>][/v1]/<endpoint>`; `api` is `None` for an endpoint the
/// gateway does not serve. The query string is ignored.
pub fn route(path: &str) -> Route {
    let path = path.split('?').next().unwrap_or("");
    let (workspace, rest) = match path.strip_prefix("/w/") {
        Some(rest) => {
            let (w, r) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(decode_segment(w)), format!("/{r}"))
        }
        None => (None, path.to_owned()),
    };
    let rest = rest.strip_prefix("/v1").unwrap_or(&rest);
    let api = match rest.trim_end_matches('/') {
        "/chat/completions" => Some(Api::Chat),
        "/responses" => Some(Api::Responses),
        "/messages" => Some(Api::Messages),
        "/models" => Some(Api::Models),
        _ => None,
    };
    Route {
        workspace: workspace.filter(|w| !w.is_empty()),
        api,
    }
}

/// A workspace name as one URL path segment.
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode_segment(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| (bytes.get(j).copied()).and_then(|c| (c as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why the gateway refuses or fails a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No or a wrong token (401).
    Auth,
    /// A malformed request or one the gateway cannot route (400).
    BadRequest,
    /// A guard refused the request or the reply (403).
    Refused,
    /// A budget is spent (429, with `x-should-retry: false`).
    Budget,
    /// An unknown endpoint (404).
    NotFound,
    /// The provider could not be reached or failed (502).
    Upstream,
}

impl Failure {
    pub fn status(self) -> u16 {
        match self {
            Failure::Auth => 401,
            Failure::BadRequest => 400,
            Failure::Refused => 403,
            Failure::Budget => 429,
            Failure::NotFound => 404,
            Failure::Upstream => 502,
        }
    }

    /// The error `type` each API uses for this failure.
    fn kind(self, api: Option<Api>) -> &'static str {
        let anthropic = api == Some(Api::Messages);
        match (self, anthropic) {
            (Failure::Auth, true) => "authentication_error",
            (Failure::Auth, false) => "invalid_request_error",
            (Failure::BadRequest, _) => "invalid_request_error",
            (Failure::Refused, true) => "permission_error",
            (Failure::Refused, false) => "invalid_request_error",
            (Failure::Budget, true) => "rate_limit_error",
            (Failure::Budget, false) => "insufficient_quota",
            (Failure::NotFound, true) => "not_found_error",
            (Failure::NotFound, false) => "invalid_request_error",
            (Failure::Upstream, true) => "api_error",
            (Failure::Upstream, false) => "server_error",
        }
    }

    /// The error body in the API's shape: Anthropic's `{"type":"error","error":{...}}`,
    /// OpenAI's `{"error":{"message","type","code"}}`.
    pub fn body(self, api: Option<Api>, message: &str) -> Value {
        let kind = self.kind(api);
        if api == Some(Api::Messages) {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        } else {
            let code = match self {
                Failure::Auth => Value::from("invalid_api_key"),
                Failure::Budget => Value::from("warden_budget"),
                Failure::Refused => Value::from("warden_guard"),
                _ => Value::Null,
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_workspace_and_v1() {
        assert_eq!(
            route("/w/alpha/v1/chat/completions"),
            Route {
                workspace: Some("alpha".into()),
                api: Some(Api::Chat)
            }
        );
        assert_eq!(route("/v1/messages?beta=true").api, Some(Api::Messages));
        assert_eq!(route("/responses").api, Some(Api::Responses));
        assert_eq!(
            route("/w/my%20ws/v1/models").workspace.as_deref(),
            Some("my ws")
        );
        assert_eq!(route("/v1/embeddings").api, None);
        assert_eq!(route("/w//v1/models").workspace, None);
        assert_eq!(encode_segment("my ws/ü"), "my%20ws%2F%C3%BC");
        assert_eq!(decode_segment(&encode_segment("my ws/ü")), "my ws/ü");
    }

    #[test]
    fn errors_take_each_apis_shape() {
        let a = Failure::Auth.body(Some(Api::Messages), "no");
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "authentication_error");
        let o = Failure::Budget.body(Some(Api::Chat), "spent");
        assert_eq!(o["error"]["type"], "insufficient_quota");
        assert_eq!(o["error"]["message"], "spent");
    }
}
