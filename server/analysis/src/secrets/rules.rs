//! The rule file format (TOML, gitleaks-style) and its compiled form. The built-in
//! rules are `rules/secrets.toml`, compiled into the binary; users add rules in the
//! same shape through settings or `.warden.toml`.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Severity;

pub const BUILTIN_RULES: &str = include_str!("../../rules/secrets.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct RuleFile {
    pub rules: Vec<RuleSpec>,
}

/// One rule as written in TOML (or JSON settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub regex: String,
    #[serde(default, alias = "secretGroup")]
    pub secret_group: usize,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub entropy: f64,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    #[serde(default)]
    pub multiline: bool,
    #[serde(default)]
    pub generic: bool,
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub allowlist: AllowlistSpec,
}

fn default_severity() -> Severity {
    Severity::Warning
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistSpec {
    #[serde(default)]
    pub regexes: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub provider: String,
    pub description: String,
    pub regex: Regex,
    pub secret_group: usize,
    pub keywords: Vec<String>,
    pub entropy: f64,
    pub severity: Severity,
    pub multiline: bool,
    pub generic: bool,
    pub env: String,
    pub allow_regexes: Vec<Regex>,
    pub stopwords: Vec<String>,
}

impl RuleSpec {
    /// Compiles the rule; the error names the rule and the problem.
    pub fn compile(&self) -> Result<Rule, String> {
        if self.id.trim().is_empty() {
            return Err("a secret rule has an empty id".into());
        }
        let regex = regex::RegexBuilder::new(&self.regex)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| format!("secret rule {:?}: invalid regex: {e}", self.id))?;
        if self.secret_group >= regex.captures_len() {
            return Err(format!(
                "secret rule {:?}: secret_group {} but the regex has {} groups",
                self.id,
                self.secret_group,
                regex.captures_len() - 1
            ));
        }
        let allow_regexes = self
            .allowlist
            .regexes
            .iter()
            .map(|r| {
                Regex::new(r)
                    .map_err(|e| format!("secret rule {:?}: invalid allowlist regex: {e}", self.id))
            })
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            id: self.id.clone(),
            provider: self.provider.clone().unwrap_or_else(|| "Custom".into()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| format!("secret ({})", self.id)),
            regex,
            secret_group: self.secret_group,
            keywords: self
                .keywords
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            entropy: self.entropy,
            severity: self.severity,
            multiline: self.multiline,
            generic: self.generic,
            env: self
                .env
                .clone()
                .unwrap_or_else(|| self.id.to_ascii_uppercase().replace(['-', '.'], "_")),
            allow_regexes,
            stopwords: self
                .allowlist
                .stopwords
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
        })
    }
}

pub fn builtin_specs() -> Vec<RuleSpec> {
    toml::from_str::<RuleFile>(BUILTIN_RULES)
        .expect("the built-in rule file parses")
        .rules
}
