//! The local LLM gateway: the one door through which every AI tool of a workspace (the
//! agents and assistants users run in the editor's terminal) reaches its model. It
//! listens on loopback only, speaks the APIs those tools use (OpenAI Chat Completions,
//! OpenAI Responses, Anthropic Messages, `/v1/models`), and for each call:
//!
//! - checks the per-gateway token the tools were given as their API key, and sends the
//!   user's real key (from the environment, never stored) upstream instead;
//! - replaces every secret in every message part with a placeholder before the request
//!   leaves, and restores it in the reply, also when a placeholder is split across
//!   stream events or sits inside streamed tool-call argument JSON;
//! - refuses prompts matching `llm.denyList` and calls over `llm.budget`;
//! - checks the packages the reply brings in against the advisory data;
//! - records an `llm` span with its `guard` spans and an interaction row, so usage, the
//!   trace viewers and the history show all AI traffic of the workspace.
//!
//! No LSP here: the language server and `warden gateway` both start a [`Gateway`] with
//! a [`Host`] that says which workspace a call belongs to and what its settings are.

pub mod api;
pub mod secrets;
pub mod server;
pub mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use warden_analysis::secrets::RuleSet;
use warden_config::LlmSettings;

pub use server::Gateway;

/// What the gateway needs to know about the workspace a call belongs to.
#[derive(Clone)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    /// The effective `llm` settings (user settings, then the repository's trusted keys).
    pub llm: LlmSettings,
    /// The secret rules redaction uses (the workspace's own, if it has any).
    pub rules: Arc<RuleSet>,
    /// `gateway.blockMalicious`: refuse a reply that brings in a malicious package.
    pub block_malicious: bool,
    /// The repository's HEAD, for the interaction row.
    pub head: Option<String>,
    /// The workspace's system prompt (set by command, else by settings or a trusted
    /// `.warden.toml`): put before the system instructions of every call.
    pub system_prompt: Option<String>,
}

/// The packages a reply brings in that are risky, one line each (`name (ecosystem via,
/// advisories)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskyPackages {
    /// Malicious per the advisory data (`gateway.blockMalicious` refuses the reply).
    pub malicious: Vec<String>,
    /// Their registry has no such package (a misspelling, or a name the model made
    /// up, which attackers register): a warning.
    pub unknown: Vec<String>,
}

impl RiskyPackages {
    /// One sentence per kind, for the editor's warning.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.malicious.is_empty() {
            parts.push(format!(
                "the reply brings in a malicious package: {}",
                self.malicious.join("; ")
            ));
        }
        if !self.unknown.is_empty() {
            parts.push(format!(
                "the reply brings in a package its registry does not have (a misspelling, or a name the model made up): {}",
                self.unknown.join("; ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join(". "))
    }
}

/// A finished gateway call, for the editor (a notice, a status bar count).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEvent {
    pub workspace: String,
    pub client: String,
    pub api: String,
    pub model: String,
    pub outcome: String,
    pub secrets_redacted: usize,
    /// Why the reply is risky (malicious or unknown packages), if it is.
    pub warning: Option<String>,
    pub span_id: String,
}

/// The side of the gateway that belongs to its host (the language server, or
/// `warden gateway` on the command line).
pub trait Host: Send + Sync + 'static {
    /// The workspace of a call: by name when the URL names one (`/w/<name>/...`), else
    /// the host's default; an error message otherwise.
    fn workspace(&self, name: Option<&str>) -> Result<Workspace, String>;

    /// The risky packages a reply brings in (blocking: runs on a blocking thread).
    fn risky_packages(&self, workspace: &Workspace, reply: &str) -> RiskyPackages;

    /// A call finished.
    fn finished(&self, event: &CallEvent);
}

/// How the gateway is reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub addr: SocketAddr,
    /// The token tools send as their API key.
    pub token: String,
}

impl Address {
    /// `http://127.0.0.1:PORT`, or with a workspace prefix `/w/<name>`.
    pub fn base_url(&self, workspace: Option<&str>) -> String {
        match workspace {
            Some(w) => format!("http://{}/w/{}", self.addr, api::encode_segment(w)),
            None => format!("http://{}", self.addr),
        }
    }

    /// The environment a terminal of `workspace` needs to send its tools through the
    /// gateway: `OPENAI_BASE_URL` (ending in `/v1`, as the OpenAI SDKs expect),
    /// `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL` (without `/v1`) and `ANTHROPIC_API_KEY`.
    pub fn env(&self, workspace: Option<&str>) -> Vec<(String, String)> {
        let base = self.base_url(workspace);
        vec![
            ("OPENAI_BASE_URL".into(), format!("{base}/v1")),
            ("OPENAI_API_KEY".into(), self.token.clone()),
            ("ANTHROPIC_BASE_URL".into(), base),
            ("ANTHROPIC_API_KEY".into(), self.token.clone()),
        ]
    }
}

/// A fresh random token: 32 bytes, hex, prefixed so it is recognisable in a terminal.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("wdn-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_names_each_kind_of_risk_and_tokens_are_fresh() {
        assert_eq!(RiskyPackages::default().warning(), None);
        let r = RiskyPackages {
            malicious: vec!["pilllow (PyPI pip install, MAL-2023-1941)".into()],
            unknown: vec!["reqeusts (PyPI import)".into()],
        };
        let w = r.warning().unwrap();
        assert!(
            w.contains("malicious package: pilllow")
                && w.contains("does not have")
                && w.contains("reqeusts"),
            "{w}"
        );
        let (a, b) = (new_token(), new_token());
        assert!(a.starts_with("wdn-") && a.len() == 68 && a != b);
        let addr = Address {
            addr: "127.0.0.1:4000".parse().unwrap(),
            token: a,
        };
        let env: std::collections::BTreeMap<_, _> = addr.env(Some("my ws")).into_iter().collect();
        assert_eq!(env["OPENAI_BASE_URL"], "http://127.0.0.1:4000/w/my%20ws/v1");
        assert_eq!(env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:4000/w/my%20ws");
    }
}
