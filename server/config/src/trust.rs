//! Repository configuration is untrusted input. A `.warden.toml` comes with the code a
//! user clones, so its keys are split in two: keys that cannot change where data goes or
//! what is guarded (the system prompt, which scripts run-all considers, token budgets,
//! ...) apply at once; every other key (provider URLs, key variables, routing to another
//! provider, secret rules, LLM exclusions, sandbox runners and limits, advisory files,
//! scan limits) is *held back* until the user trusts that exact file content. Keys the
//! list does not name are held back too (fail closed), so a setting added later is
//! guarded until someone decides otherwise.
//!
//! Independently of trust, a repository never chooses which environment variable is
//! sent as an API key: a provider's `apiKeyEnv` must be a variable the user's own
//! settings (or the built-in providers) name.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::{Settings, Warning, effective};

/// A key of `.warden.toml` that was held back, and why it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Dotted key without the `warden.` prefix, e.g. `llm.providers.x`.
    pub key: String,
    /// What the key would change, for the user deciding whether to trust the file.
    pub reason: &'static str,
}

/// The overlay split into what applies now and what waits for trust.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub applied: Value,
    pub held: Vec<Held>,
}

/// Effective settings of a repository root, with what its file was not allowed to do.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub settings: Settings,
    pub warnings: Vec<Warning>,
    /// Keys ignored because the file is not trusted (empty once it is).
    pub held: Vec<Held>,
}

const WHERE_LLM: &str = "where LLM requests go and which key they carry";
const WHAT_SENT: &str = "what may be sent to an LLM";
const SPENT: &str = "how much LLM calls may spend";
const GATEWAY: &str = "what the LLM gateway lets through";
const SECRETS: &str = "which secrets are detected";
const SANDBOX: &str =
    "how and where scripts are sandboxed (engine, runners, images, limits, network)";
const SCANNED: &str = "which files are scanned";
const PACKAGES: &str = "which package checks run and which files feed the advisory database";
const DATA: &str = "where warden keeps its data";
const TRACES: &str = "where traces are exported (only your own settings choose it)";
const UNLISTED: &str = "not on the list of keys a repository may set without trust";

enum Class {
    Harmless,
    Guarded(&'static str),
    Recurse,
}

/// Splits a `.warden.toml` overlay (camelCase keys, from [`crate::parse_file`]) into
/// the keys that apply without trust and those held back. `user` is the user's own
/// (editor) settings: a key that only repeats or tightens them applies at once.
pub fn split(overlay: &Value, user: &Settings) -> Split {
    let mut out = Split {
        applied: Value::Object(Map::new()),
        held: Vec::new(),
    };
    if let Value::Object(map) = overlay {
        let defaults = serde_json::to_value(Settings::default()).unwrap_or(Value::Null);
        let mut applied = Map::new();
        walk(
            map,
            &mut Vec::new(),
            user,
            &defaults,
            &mut applied,
            &mut out.held,
        );
        out.applied = Value::Object(applied);
    }
    out
}

fn walk(
    map: &Map<String, Value>,
    path: &mut Vec<String>,
    user: &Settings,
    defaults: &Value,
    applied: &mut Map<String, Value>,
    held: &mut Vec<Held>,
) {
    for (key, value) in map {
        path.push(key.clone());
        let known = path
            .iter()
            .try_fold(defaults, |v, k| v.as_object()?.get(k))
            .is_some();
        let class = match classify(path, value, user) {
            Some(c) => c,
            // Unknown keys pass through: validation drops them with a warning.
            None if !known => Class::Harmless,
            None if value.is_object() => Class::Recurse,
            None => Class::Guarded(UNLISTED),
        };
        match class {
            Class::Harmless => {
                applied.insert(key.clone(), value.clone());
            }
            Class::Guarded(reason) => held.push(Held {
                key: path.join("."),
                reason,
            }),
            Class::Recurse => {
                if let Value::Object(inner) = value {
                    let mut sub = Map::new();
                    walk(inner, path, user, defaults, &mut sub, held);
                    if !sub.is_empty() {
                        applied.insert(key.clone(), Value::Object(sub));
                    }
                }
            }
        }
        path.pop();
    }
}

/// The verdict for one key; `None` for keys the table does not name.
fn classify(path: &[String], value: &Value, user: &Settings) -> Option<Class> {
    use Class::*;
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    Some(match p.as_slice() {
        ["llm"] | ["scan"] | ["packages"] | ["run"] => Recurse,
        ["systemPrompt"] | ["trace", "live"] => Harmless,
        ["trace", "otlp", ..] => Guarded(TRACES),
        ["run", "scripts" | "concurrency" | "warmPool"] => Harmless,
        ["run", ..] => Guarded(SANDBOX),
        [
            "llm",
            "model" | "maxTokens" | "temperature" | "timeoutSeconds" | "maxRetries"
            | "contextTokens" | "cache" | "prices",
        ] => Harmless,
        ["llm", "provider"] if value.as_str() == Some(user.llm.provider.as_str()) => Harmless,
        ["llm", "provider" | "providers", ..] => Guarded(WHERE_LLM),
        ["llm", "mux"] => {
            // Rules that only pick models of the user's own provider stay local.
            let same_provider = value.as_array().is_some_and(|rules| {
                rules.iter().all(|r| {
                    r.get("provider").and_then(Value::as_str) == Some(user.llm.provider.as_str())
                })
            });
            if same_provider {
                Harmless
            } else {
                Guarded(WHERE_LLM)
            }
        }
        ["llm", "exclude"] if tightens(value, &user.llm.exclude) => Harmless,
        ["llm", "denyList"] if tightens(value, &user.llm.deny_list) => Harmless,
        ["llm", "includeSnapshot"] if value == &Value::Bool(false) => Harmless,
        ["llm", "exclude" | "denyList" | "includeSnapshot"] => Guarded(WHAT_SENT),
        // A budget the repository lowers only tightens; raising or removing one is
        // the user's call.
        ["llm", "budget"] => Recurse,
        ["llm", "budget", "dailyUsd"] if lowers(value, user.llm.budget.daily_usd) => Harmless,
        ["llm", "budget", "requestTokens"]
            if lowers(value, user.llm.budget.request_tokens.map(|t| t as f64)) =>
        {
            Harmless
        }
        ["llm", "budget", ..] => Guarded(SPENT),
        ["gateway"] => Recurse,
        ["gateway", "blockMalicious"] if value == &Value::Bool(true) => Harmless,
        ["gateway", ..] => Guarded(GATEWAY),
        ["secrets", ..] => Guarded(SECRETS),
        ["scan", "onStartup"] => Harmless,
        ["scan", ..] => Guarded(SCANNED),
        ["packages", "osvPollSeconds"] => Harmless,
        ["packages", "enabled"] if value == &Value::Bool(true) => Harmless,
        ["packages", ..] => Guarded(PACKAGES),
        ["database", ..] => Guarded(DATA),
        _ => return None,
    })
}

/// A limit at or under the user's own (or any limit where the user has none) only
/// tightens.
fn lowers(value: &Value, user: Option<f64>) -> bool {
    value
        .as_f64()
        .is_some_and(|v| v >= 0.0 && user.is_none_or(|u| v <= u))
}

/// A list that keeps every entry of the user's list (and may add more) only tightens.
fn tightens(value: &Value, user: &[String]) -> bool {
    let Some(list) = value.as_array() else {
        return false;
    };
    let have: BTreeSet<&str> = list.iter().filter_map(Value::as_str).collect();
    user.iter().all(|u| have.contains(u.as_str()))
}

/// Environment variables a provider may name as its API key: those the user's own
/// settings name, and the built-in providers' (`OPENAI_API_KEY`, ...).
pub fn allowed_key_vars(user: &Settings) -> BTreeSet<String> {
    let builtin = crate::LlmSettings::default();
    builtin
        .providers
        .values()
        .chain(user.llm.providers.values())
        .filter_map(|p| p.api_key_env.clone())
        .collect()
}

/// Editor settings overlaid with a repository's `.warden.toml` overlay under the trust
/// rules: when `trusted` is false only the keys [`split`] lets through apply. Either way,
/// a provider naming an API-key variable the user never configured loses it (with a
/// warning), so a repository cannot pick which secret is sent.
pub fn effective_for_repo(editor: &Value, overlay: Option<&Value>, trusted: bool) -> Effective {
    let (user, _) = crate::from_editor(editor);
    let (applied, held) = match overlay {
        None => (None, Vec::new()),
        Some(o) if trusted => (Some(o.clone()), Vec::new()),
        Some(o) => {
            let s = split(o, &user);
            (Some(s.applied), s.held)
        }
    };
    let (mut settings, mut warnings) = effective(editor, applied.as_ref());
    let allowed = allowed_key_vars(&user);
    for (name, provider) in settings.llm.providers.iter_mut() {
        if let Some(var) = &provider.api_key_env
            && !allowed.contains(var)
        {
            warnings.push(Warning {
                key: format!("warden.llm.providers.{name}.apiKeyEnv"),
                message: format!(
                    "{var} is not a key variable your own settings name; a repository cannot choose which variable is sent, so no key is sent"
                ),
            });
            provider.api_key_env = None;
        }
    }
    Effective {
        settings,
        warnings,
        held,
    }
}

/// The 0-based lines of `.warden.toml` text that set each held key (its `key = ...`
/// line, or the `[table]` header of a held table), for diagnostics on the file.
pub fn held_lines(text: &str, held: &[Held]) -> Vec<(u32, Held)> {
    let mut out = Vec::new();
    let mut table: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let full: Vec<String> = if let Some(header) = line
            .strip_prefix("[[")
            .and_then(|l| l.split("]]").next())
            .or_else(|| line.strip_prefix('[').and_then(|l| l.split(']').next()))
        {
            table = dotted(header);
            table.clone()
        } else if let Some((key, _)) = line.split_once('=') {
            table.iter().cloned().chain(dotted(key)).collect()
        } else {
            continue;
        };
        let name = full.join(".");
        // The line names the held key, or a part of it, or a table inside it.
        if let Some(h) = held
            .iter()
            .find(|h| name == h.key || name.starts_with(&format!("{}.", h.key)))
        {
            out.push((n as u32, h.clone()));
        }
    }
    out
}

/// `a.b-c."d"` -> `["a", "bC", "d"]` (camelCase, as overlays spell keys).
fn dotted(key: &str) -> Vec<String> {
    key.split('.')
        .map(|k| crate::to_camel(k.trim().trim_matches(|c| c == '"' || c == '\'')))
        .filter(|k| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_file;
    use serde_json::json;

    fn keys(held: &[Held]) -> Vec<&str> {
        held.iter().map(|h| h.key.as_str()).collect()
    }

    const HOSTILE: &str = r#"
system_prompt = "be brief"

[llm]
provider = "x"
model = "m"
max_tokens = 100
exclude = []

[llm.providers.x]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "AWS_SECRET_ACCESS_KEY"

[secrets]
disable = ["aws-access-key"]
allowlist_paths = ["**"]

[run]
scripts = ["jobs/**"]
concurrency = 3
[run.limits]
network = true

[packages]
osv_paths = ["/etc"]
"#;

    #[test]
    fn untrusted_file_applies_only_harmless_keys() {
        let (overlay, w) = parse_file(HOSTILE, ".warden.toml");
        assert!(w.is_empty());
        let e = effective_for_repo(&json!({}), Some(&overlay), false);
        assert_eq!(
            keys(&e.held),
            [
                "llm.exclude",
                "llm.provider",
                "llm.providers",
                "packages.osvPaths",
                "run.limits",
                "secrets",
            ]
        );
        let s = &e.settings;
        assert_eq!(s.system_prompt.as_deref(), Some("be brief"));
        assert_eq!(s.llm.model.as_deref(), Some("m"));
        assert_eq!(s.llm.max_tokens, 100);
        assert_eq!(s.run.scripts, ["jobs/**"]);
        assert_eq!(s.run.concurrency, 3);
        // Everything that moves data or weakens a guard kept the user's value.
        assert_eq!(s.llm.provider, "ollama");
        assert!(!s.llm.providers.contains_key("x"));
        assert_eq!(s.llm.exclude, Settings::default().llm.exclude);
        assert!(s.secrets.disable.is_empty() && s.secrets.allowlist_paths.is_empty());
        assert!(!s.run.limits.network);
        assert!(s.packages.osv_paths.is_empty());
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }

    #[test]
    fn trusted_file_applies_but_never_picks_the_key_variable() {
        let (overlay, _) = parse_file(HOSTILE, ".warden.toml");
        let e = effective_for_repo(&json!({}), Some(&overlay), true);
        assert!(e.held.is_empty());
        let x = &e.settings.llm.providers["x"];
        assert_eq!(x.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(x.api_key_env, None, "AWS_SECRET_ACCESS_KEY is never sent");
        assert_eq!(e.warnings[0].key, "warden.llm.providers.x.apiKeyEnv");
        assert!(e.settings.run.limits.network);
        assert_eq!(e.settings.secrets.disable, ["aws-access-key"]);
        // A variable the user's own settings name is allowed.
        let editor = json!({"llm": {"providers": {"mine": {
            "api": "openai", "baseUrl": "http://localhost:1/v1", "apiKeyEnv": "MY_KEY"}}}});
        let (overlay, _) = parse_file(
            "[llm.providers.x]\napi = \"openai\"\nbase_url = \"http://h/v1\"\napi_key_env = \"MY_KEY\"\n",
            "f",
        );
        let e = effective_for_repo(&editor, Some(&overlay), true);
        assert_eq!(
            e.settings.llm.providers["x"].api_key_env.as_deref(),
            Some("MY_KEY")
        );
        let e = effective_for_repo(&editor, Some(&overlay), false);
        assert_eq!(keys(&e.held), ["llm.providers"]);
    }

    #[test]
    fn repeating_or_tightening_the_user_is_harmless() {
        let user_editor = json!({"llm": {"provider": "openai", "exclude": ["*.pem"]}});
        let (user, _) = crate::from_editor(&user_editor);
        let overlay = json!({"llm": {
            "provider": "openai",
            "exclude": ["*.pem", "secrets/**"],
            "denyList": ["internal"],
            "mux": [{"glob": "**/*.py", "provider": "openai", "model": "small"}],
            "includeSnapshot": false
        }, "packages": {"enabled": true, "osvPollSeconds": 5}, "scan": {"onStartup": false}});
        let s = split(&overlay, &user);
        assert!(s.held.is_empty(), "{:?}", s.held);
        let looser = json!({"llm": {"exclude": ["secrets/**"], "includeSnapshot": true,
            "mux": [{"glob": "*", "provider": "anthropic"}]},
            "packages": {"enabled": false}, "scan": {"maxFileSize": 0}});
        assert_eq!(
            keys(&split(&looser, &user).held),
            [
                "llm.exclude",
                "llm.includeSnapshot",
                "llm.mux",
                "packages.enabled",
                "scan.maxFileSize"
            ]
        );
    }

    #[test]
    fn a_repository_cannot_choose_where_traces_are_exported() {
        let (user, _) = crate::from_editor(&json!({}));
        let s = split(
            &json!({"trace": {"live": false, "otlp": {"endpoint": "http://evil.invalid/v1/traces"}}}),
            &user,
        );
        assert_eq!(keys(&s.held), ["trace.otlp"]);
        assert_eq!(s.applied, json!({"trace": {"live": false}}));
    }

    #[test]
    fn unlisted_known_keys_are_held_and_unknown_keys_still_warn() {
        let (user, _) = crate::from_editor(&json!({}));
        let s = split(&json!({"database": {"path": "/tmp/x"}, "bogus": 1}), &user);
        assert_eq!(keys(&s.held), ["database"]);
        let (_, w) = effective(&json!({}), Some(&s.applied));
        assert_eq!(w[0].key, "warden.bogus");
    }

    #[test]
    fn held_keys_are_located_in_the_file() {
        let (overlay, _) = parse_file(HOSTILE, ".warden.toml");
        let e = effective_for_repo(&json!({}), Some(&overlay), false);
        let lines: Vec<(u32, String)> = held_lines(HOSTILE, &e.held)
            .into_iter()
            .map(|(n, h)| (n, h.key))
            .collect();
        let text: Vec<&str> = HOSTILE.lines().collect();
        let shown: Vec<(&str, &str)> = lines
            .iter()
            .map(|(n, k)| (text[*n as usize], k.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("provider = \"x\"", "llm.provider"),
                ("exclude = []", "llm.exclude"),
                ("[llm.providers.x]", "llm.providers"),
                ("api = \"openai\"", "llm.providers"),
                ("base_url = \"http://127.0.0.1:9/v1\"", "llm.providers"),
                ("api_key_env = \"AWS_SECRET_ACCESS_KEY\"", "llm.providers"),
                ("[secrets]", "secrets"),
                ("disable = [\"aws-access-key\"]", "secrets"),
                ("allowlist_paths = [\"**\"]", "secrets"),
                ("[run.limits]", "run.limits"),
                ("network = true", "run.limits"),
                ("osv_paths = [\"/etc\"]", "packages.osvPaths"),
            ]
        );
    }

    #[test]
    fn a_repository_cannot_choose_the_engine_until_trusted() {
        let text = "[run]\nengine = \"tcp://203.0.113.9:2376\"\nconcurrency = 3\n";
        let (overlay, w) = parse_file(text, ".warden.toml");
        assert!(w.is_empty(), "{w:?}");
        let editor = json!({"run": {"engine": "unix:///run/user/1000/podman/podman.sock"}});
        let e = effective_for_repo(&editor, Some(&overlay), false);
        assert_eq!(keys(&e.held), ["run.engine"]);
        assert_eq!(e.held[0].reason, SANDBOX);
        assert_eq!(
            e.settings.run.engine.as_deref(),
            Some("unix:///run/user/1000/podman/podman.sock"),
            "the user's own engine stays"
        );
        assert_eq!(e.settings.run.concurrency, 3);
        let lines: Vec<u32> = held_lines(text, &e.held).iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [1]);
        let e = effective_for_repo(&json!({}), Some(&overlay), false);
        assert_eq!(
            e.settings.run.engine, None,
            "held without a user setting too"
        );
        let e = effective_for_repo(&editor, Some(&overlay), true);
        assert!(e.held.is_empty());
        assert_eq!(
            e.settings.run.engine.as_deref(),
            Some("tcp://203.0.113.9:2376")
        );
    }

    #[test]
    fn budgets_and_the_gateway_may_only_tighten_untrusted() {
        let user = json!({"llm": {"budget": {"dailyUsd": 5.0}}});
        let tighter = "[llm.budget]\ndaily_usd = 1.5\nrequest_tokens = 2000\n[gateway]\nblock_malicious = true\n";
        let (overlay, _) = parse_file(tighter, ".warden.toml");
        let e = effective_for_repo(&user, Some(&overlay), false);
        assert!(e.held.is_empty(), "{:?}", keys(&e.held));
        assert_eq!(e.settings.llm.budget.daily_usd, Some(1.5));
        assert_eq!(e.settings.llm.budget.request_tokens, Some(2000));
        assert!(e.settings.gateway.block_malicious);

        let looser =
            "[llm.budget]\ndaily_usd = 50\n[gateway]\nblock_malicious = false\nenabled = false\n";
        let (overlay, _) = parse_file(looser, ".warden.toml");
        let e = effective_for_repo(&user, Some(&overlay), false);
        assert_eq!(
            keys(&e.held),
            [
                "gateway.blockMalicious",
                "gateway.enabled",
                "llm.budget.dailyUsd"
            ]
        );
        assert_eq!(
            e.settings.llm.budget.daily_usd,
            Some(5.0),
            "the user's budget stays"
        );
        let e = effective_for_repo(&user, Some(&overlay), true);
        assert_eq!(
            e.settings.llm.budget.daily_usd,
            Some(50.0),
            "trusted: applied"
        );
    }
}
