//! Which provider and model answer a request (model muxing): the first `llm.mux` rule
//! whose glob matches the file's repository-relative path (and whose action, if given,
//! is the request's) wins; otherwise `llm.provider` with `llm.model` (or the
//! provider's own `model`).

use std::time::Duration;

use warden_config::{ApiKind, LlmSettings};

use crate::client::Provider;
use crate::wire::Api;

/// A resolved destination for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub provider: Provider,
    pub model: String,
    /// Index of the mux rule that chose it, if one did.
    pub rule: Option<usize>,
}

/// Resolves the route for `rel_path` and `action`, or says which setting to fill in.
pub fn resolve(s: &LlmSettings, rel_path: &str, action: &str) -> Result<Route, String> {
    let hit = s.mux.iter().enumerate().find(|(_, r)| {
        r.action.as_deref().is_none_or(|a| a == action)
            && globset::GlobBuilder::new(&r.glob)
                .literal_separator(false)
                .build()
                .is_ok_and(|g| g.compile_matcher().is_match(rel_path))
    });
    let (name, model, rule) = match hit {
        Some((i, r)) => (r.provider.as_str(), r.model.clone(), Some(i)),
        None => (s.provider.as_str(), s.model.clone(), None),
    };
    let Some(p) = s.providers.get(name) else {
        return Err(format!(
            "unknown LLM provider {name:?}; set warden.llm.provider to one of: {}",
            s.providers.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let Some(model) = model.or_else(|| p.model.clone()) else {
        return Err(format!(
            "no model configured for provider {name:?}; set warden.llm.model or warden.llm.providers.{name}.model"
        ));
    };
    Ok(Route {
        provider: Provider {
            name: name.to_owned(),
            api: match p.api {
                ApiKind::Openai => Api::Openai,
                ApiKind::Anthropic => Api::Anthropic,
            },
            base_url: p.base_url.clone(),
            api_key_env: p.api_key_env.clone(),
            timeout: Duration::from_secs(s.timeout_seconds.max(1)),
            max_retries: s.max_retries,
        },
        model,
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_config::MuxRule;

    #[test]
    fn first_matching_rule_wins_then_the_default() {
        let mut s = LlmSettings {
            model: Some("qwen2.5-coder".into()),
            ..LlmSettings::default()
        };
        s.mux = vec![
            MuxRule {
                glob: "**/*.py".into(),
                action: Some("tests".into()),
                provider: "anthropic".into(),
                model: Some("claude-sonnet-4".into()),
            },
            MuxRule {
                glob: "scripts/**".into(),
                action: None,
                provider: "openrouter".into(),
                model: Some("deepseek/deepseek-chat".into()),
            },
        ];
        let r = resolve(&s, "scripts/a.py", "tests").unwrap();
        assert_eq!(
            (r.provider.name.as_str(), r.model.as_str(), r.rule),
            ("anthropic", "claude-sonnet-4", Some(0))
        );
        assert_eq!(r.provider.api, Api::Anthropic);
        let r = resolve(&s, "scripts/a.py", "explain").unwrap();
        assert_eq!((r.provider.name.as_str(), r.rule), ("openrouter", Some(1)));
        assert_eq!(
            r.provider.api_key_env.as_deref(),
            Some("OPENROUTER_API_KEY")
        );
        let r = resolve(&s, "lib/a.py", "explain").unwrap();
        assert_eq!(
            (r.provider.name.as_str(), r.model.as_str(), r.rule),
            ("ollama", "qwen2.5-coder", None)
        );
    }

    #[test]
    fn missing_model_or_provider_names_the_setting() {
        let s = LlmSettings::default();
        let e = resolve(&s, "a.py", "explain").unwrap_err();
        assert!(e.contains("warden.llm.model"), "{e}");
        let s = LlmSettings {
            provider: "nope".into(),
            ..LlmSettings::default()
        };
        let e = resolve(&s, "a.py", "explain").unwrap_err();
        assert!(
            e.contains("warden.llm.provider") && e.contains("ollama"),
            "{e}"
        );
    }
}
