//! Prompts for the five actions, fitted to a token budget, and what is taken back from
//! a reply. Every text given here is already redacted by the caller.
//!
//! Truncation order when the context exceeds `budget` (estimated tokens, 4 characters
//! each): first the workspace snapshot goes, then diagnostics beyond the first five,
//! then the imports, then the enclosing function or class (when it is more than the
//! target), then the remaining diagnostics. The target itself is never cut for an
//! edit (the request is refused); an explanation keeps its head and tail.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::wire::{Chat, Message, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Explain,
    Fix,
    Rewrite,
    Docstring,
    Tests,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Explain => "explain",
            Action::Fix => "fix",
            Action::Rewrite => "rewrite",
            Action::Docstring => "docstring",
            Action::Tests => "tests",
        }
    }

    /// Actions whose reply is code that edits a file.
    pub fn edits(self) -> bool {
        self != Action::Explain
    }
}

/// A piece of the file, as whole lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Excerpt {
    /// 0-based first line.
    pub line: usize,
    pub text: String,
}

impl Excerpt {
    fn last_line(&self) -> usize {
        self.line + self.text.trim_end_matches('\n').matches('\n').count()
    }
}

/// Everything a prompt is built from (redacted).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub path: String,
    /// Language name for code fences (`python`), empty if unknown.
    pub language: String,
    /// The lines the reply replaces (edits) or that are explained.
    pub target: Excerpt,
    /// The enclosing function or class, when larger than the target.
    pub enclosing: Option<Excerpt>,
    pub imports: Vec<String>,
    /// `line N: [source code] message`.
    pub diagnostics: Vec<String>,
    /// The rewrite instruction.
    pub instruction: Option<String>,
    /// The diagnostic to fix.
    pub fix: Option<String>,
    /// The language's docstring convention and test framework.
    pub docstring_convention: String,
    pub test_framework: String,
    /// For tests: the test file and its current content, if it exists.
    pub test_file: Option<(String, Option<String>)>,
    pub system_prompt: Option<String>,
    pub snapshot: Option<String>,
}

/// Estimated tokens of a text (4 characters per token, rounded up).
pub fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// What the budget removed, in the order it was removed.
pub type Dropped = Vec<&'static str>;

const PREAMBLE: &str = "You are warden's coding assistant inside the user's editor. Secrets in the code have been replaced by placeholders such as __WARDEN_SECRET_1__: keep every placeholder exactly as written, never invent new ones.";

fn fence(lang: &str, text: &str) -> String {
    let ticks = if text.contains("```") { "````" } else { "```" };
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{ticks}{lang}\n{body}\n{ticks}\n")
}

fn task(action: Action, c: &Context) -> String {
    let (from, to) = (c.target.line + 1, c.target.last_line() + 1);
    let one_block = "Reply with exactly one fenced code block and nothing else but one sentence before it saying what changed.";
    match action {
        Action::Explain => format!(
            "Explain what the code at lines {from}-{to} of {} does, how, and anything risky in it. Answer in concise Markdown.",
            c.path
        ),
        Action::Fix => format!(
            "Fix this problem: {}. {one_block} The block replaces lines {from}-{to} entirely, so it contains all of them, changed as little as possible.",
            c.fix.as_deref().unwrap_or("the diagnostics below")
        ),
        Action::Rewrite => format!(
            "Rewrite lines {from}-{to} following this instruction: {}. {one_block} The block replaces lines {from}-{to} entirely.",
            c.instruction.as_deref().unwrap_or("improve the code")
        ),
        Action::Docstring => format!(
            "Document the function or class at lines {from}-{to} with {}. Do not change the code itself. {one_block} The block replaces lines {from}-{to} entirely.",
            c.docstring_convention
        ),
        Action::Tests => {
            let (file, existing) = c.test_file.clone().unwrap_or_default();
            let how = if existing.is_some() {
                format!(
                    "They will be appended to the end of {file} (shown below): do not repeat what it already has."
                )
            } else {
                format!(
                    "They will be the whole new file {file}, importing the code under test from {}.",
                    c.path
                )
            };
            format!(
                "Write tests for the code at lines {from}-{to} using {}. {how} {one_block}",
                c.test_framework
            )
        }
    }
}

/// Builds the chat for `action` within `budget` tokens.
pub fn build(
    action: Action,
    c: &Context,
    model: &str,
    max_tokens: u32,
    temperature: Option<f32>,
    budget: usize,
) -> Result<(Chat, Dropped), String> {
    let mut system = String::new();
    if let Some(p) = &c.system_prompt {
        system.push_str(p.trim());
        system.push_str("\n\n");
    }
    system.push_str(PREAMBLE);

    let lang = c.language.as_str();
    let mut target = c.target.text.clone();
    let mut snapshot = c.snapshot.clone();
    let mut diagnostics = c.diagnostics.clone();
    let mut imports = c.imports.clone();
    let mut enclosing = c.enclosing.clone();
    let mut dropped = Dropped::new();
    let render = |target: &str,
                  snapshot: &Option<String>,
                  diagnostics: &[String],
                  imports: &[String],
                  enclosing: &Option<Excerpt>| {
        let mut u = format!("File: {}", c.path);
        if !lang.is_empty() {
            u.push_str(&format!(" ({lang})"));
        }
        u.push_str("\n\n");
        u.push_str(&task(action, c));
        u.push_str("\n\n");
        if !imports.is_empty() {
            u.push_str("Imports of the file:\n");
            u.push_str(&fence(lang, &imports.join("\n")));
            u.push('\n');
        }
        if let Some(e) = enclosing {
            u.push_str(&format!(
                "Enclosing definition (lines {}-{}):\n",
                e.line + 1,
                e.last_line() + 1
            ));
            u.push_str(&fence(lang, &e.text));
            u.push('\n');
        }
        u.push_str(&format!(
            "Lines {}-{}:\n",
            c.target.line + 1,
            c.target.last_line() + 1
        ));
        u.push_str(&fence(lang, target));
        if !diagnostics.is_empty() {
            u.push_str("\nDiagnostics:\n");
            for d in diagnostics {
                u.push_str(&format!("- {d}\n"));
            }
        }
        if let Some((file, Some(existing))) = &c.test_file {
            u.push_str(&format!("\nCurrent {file}:\n"));
            u.push_str(&fence(lang, existing));
        }
        if let Some(s) = snapshot {
            u.push_str("\nWorkspace snapshot:\n");
            u.push_str(s);
        }
        u
    };
    let fixed = tokens(&system);
    loop {
        let user = render(&target, &snapshot, &diagnostics, &imports, &enclosing);
        if fixed + tokens(&user) <= budget {
            let chat = Chat {
                model: model.to_owned(),
                system: Some(system),
                messages: vec![Message {
                    role: Role::User,
                    content: user,
                }],
                max_tokens,
                temperature,
            };
            return Ok((chat, dropped));
        }
        if snapshot.take().is_some() {
            dropped.push("snapshot");
        } else if diagnostics.len() > 5 {
            diagnostics.truncate(5);
            dropped.push("diagnostics beyond the first five");
        } else if !imports.is_empty() {
            imports.clear();
            dropped.push("imports");
        } else if enclosing.take().is_some() {
            dropped.push("enclosing definition");
        } else if !diagnostics.is_empty() {
            diagnostics.clear();
            dropped.push("diagnostics");
        } else if action == Action::Explain && target.len() > 400 {
            // Keep the head and the tail of what is explained.
            let keep = (budget.saturating_sub(fixed) * 4)
                .saturating_sub(600)
                .max(200)
                / 2;
            let chars: Vec<char> = target.chars().collect();
            if chars.len() <= keep * 2 {
                return Err(too_large(budget));
            }
            target = format!(
                "{}\n… ({} characters omitted) …\n{}",
                chars[..keep].iter().collect::<String>(),
                chars.len() - keep * 2,
                chars[chars.len() - keep..].iter().collect::<String>()
            );
            dropped.push("the middle of the selection");
        } else {
            return Err(too_large(budget));
        }
    }
}

fn too_large(budget: usize) -> String {
    format!(
        "the selection does not fit the context budget of {budget} tokens; select less, or raise warden.llm.contextTokens"
    )
}

/// The code a reply proposes: its first fenced code block (the longest one when the
/// model wrote several), or `None` when it has none.
pub fn code_block(reply: &str) -> Option<String> {
    let mut blocks = Vec::new();
    let mut lines = reply.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let ticks = t.chars().take_while(|&c| c == '`').count();
        if ticks < 3 {
            continue;
        }
        let fence = &t[..ticks];
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l.trim() == fence {
                closed = true;
                break;
            }
            body.push_str(l);
        }
        if closed || !body.is_empty() {
            blocks.push(body);
        }
    }
    blocks.into_iter().max_by_key(String::len)
}

/// The response-cache key: SHA-256 over the provider, the model, the messages and the
/// parameters (hex).
pub fn cache_key(provider: &str, base_url: &str, chat: &Chat) -> String {
    let canonical = serde_json::json!({
        "provider": provider,
        "baseUrl": base_url,
        "chat": chat,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            path: "scripts/load.py".into(),
            language: "python".into(),
            target: Excerpt {
                line: 4,
                text: "    key = \"__WARDEN_SECRET_1__\"\n    return fetch(key)\n".into(),
            },
            enclosing: Some(Excerpt {
                line: 3,
                text: "def load():\n    key = \"__WARDEN_SECRET_1__\"\n    return fetch(key)\n"
                    .into(),
            }),
            imports: vec!["import requests".into()],
            diagnostics: (0..8)
                .map(|i| format!("line {i}: [warden] thing {i}"))
                .collect(),
            instruction: Some("read the key from the environment".into()),
            snapshot: Some("x".repeat(4000)),
            system_prompt: Some("Be brief.".into()),
            ..Context::default()
        }
    }

    #[test]
    fn everything_fits_a_large_budget() {
        let (chat, dropped) = build(Action::Rewrite, &ctx(), "m", 100, None, 100_000).unwrap();
        assert!(dropped.is_empty());
        let user = &chat.messages[0].content;
        assert!(
            user.contains("lines 5-6 following this instruction: read the key"),
            "{user}"
        );
        assert!(user.contains("Enclosing definition (lines 4-6)"));
        assert!(user.contains("import requests") && user.contains("thing 7"));
        assert!(
            chat.system
                .as_deref()
                .unwrap()
                .starts_with("Be brief.\n\nYou are warden")
        );
    }

    #[test]
    fn truncation_follows_the_documented_order() {
        let c = ctx();
        let full = build(Action::Rewrite, &c, "m", 100, None, 100_000)
            .unwrap()
            .0;
        let size = tokens(&full.messages[0].content) + tokens(full.system.as_deref().unwrap());
        let (_, d) = build(Action::Rewrite, &c, "m", 100, None, size - 1).unwrap();
        assert_eq!(d, ["snapshot"]);
        let order = [
            "snapshot",
            "diagnostics beyond the first five",
            "imports",
            "enclosing definition",
            "diagnostics",
        ];
        // Shrinking the budget drops items strictly in the documented order, and the
        // target (with its placeholder) survives until the request is refused.
        let mut most = 0;
        for budget in (1..size).rev() {
            match build(Action::Rewrite, &c, "m", 100, None, budget) {
                Ok((chat, d)) => {
                    assert_eq!(d, order[..d.len()], "at {budget}");
                    assert!(d.len() >= most);
                    most = d.len();
                    assert!(chat.messages[0].content.contains("__WARDEN_SECRET_1__"));
                }
                Err(_) => break,
            }
        }
        assert_eq!(most, order.len());
        let e = build(Action::Rewrite, &c, "m", 100, None, 20).unwrap_err();
        assert!(e.contains("warden.llm.contextTokens"), "{e}");
        // An explanation keeps the head and tail of a long selection instead.
        let mut long = c.clone();
        long.target.text = (0..400).map(|i| format!("x{i} = {i}\n")).collect();
        let (chat, d) = build(Action::Explain, &long, "m", 100, None, 600).unwrap();
        assert_eq!(d.last(), Some(&"the middle of the selection"));
        let user = &chat.messages[0].content;
        assert!(user.contains("x0 = 0") && user.contains("x399 = 399") && user.contains("omitted"));
    }

    #[test]
    fn code_blocks_and_cache_keys() {
        assert_eq!(
            code_block("Changed it.\n```python\nx = 1\n```\n").as_deref(),
            Some("x = 1\n")
        );
        assert_eq!(
            code_block("a\n```\nshort\n```\nb\n````py\nlonger one\n```\n````\n").as_deref(),
            Some("longer one\n```\n")
        );
        assert_eq!(code_block("no code here"), None);
        let (chat, _) = build(Action::Explain, &ctx(), "m", 100, None, 100_000).unwrap();
        let k = cache_key("ollama", "http://x", &chat);
        assert_eq!(k.len(), 64);
        assert_eq!(k, cache_key("ollama", "http://x", &chat));
        let mut other = chat.clone();
        other.temperature = Some(0.5);
        assert_ne!(k, cache_key("ollama", "http://x", &other));
        assert_ne!(k, cache_key("openrouter", "http://x", &chat));
    }
}
