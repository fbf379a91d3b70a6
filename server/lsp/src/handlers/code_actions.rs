//! Code actions for warden's findings: *Replace with environment variable*
//! (language-aware, and appending `NAME=value` to the repository's `.env` only when git
//! ignores it), *Allow on this line* (in the file's comment syntax), and *Add to
//! baseline* (the `warden.secrets.addToBaseline` command). Actions are computed from the
//! server's current findings for the document, so stale client diagnostics do no harm.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use warden_analysis::secrets::baseline::{self, Baseline};
use warden_analysis::{Finding, FindingKind, Lang, LineIndex};

use super::invalid;
use crate::diagnostics::{self, to_diagnostic};
use crate::lsp_ext::CMD_SECRETS_ADD_TO_BASELINE;
use crate::server::Backend;

/// The marker that suppresses a finding on its line.
const ALLOW_MARKER: &str = "warden:allow";

pub async fn code_action(
    b: &Backend,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri;
    let Some((text, version, lang, path)) = b
        .shared
        .docs
        .lock()
        .get(uri.as_str())
        .map(|d| (d.text.clone(), d.version, d.lang, d.path.clone()))
    else {
        return Ok(None);
    };
    let encoding = b.shared.docs.lock().encoding();
    let file = b.shared.findings.lock().get(uri.as_str()).cloned();
    let findings = file.map(|f| f.findings).unwrap_or_default();
    let wanted = params.range;
    let mut actions = Vec::new();
    let index = LineIndex::new(&text);
    let doc = Doc {
        uri: &uri,
        version,
        text: &text,
        index: &index,
        lang,
        path: path.as_deref(),
        encoding,
    };
    for (finding, range) in &findings {
        if !overlaps(*range, wanted) || finding.end > text.len() {
            continue;
        }
        let diagnostic = to_diagnostic(finding, *range, &uri);
        let env = match finding.kind {
            FindingKind::Secret => env_action(b, &doc, finding, &diagnostic).await,
            _ => None,
        };
        let allow = match finding.kind {
            FindingKind::Secret | FindingKind::Shell => allow_action(&doc, finding, &diagnostic),
            // Package actions come from the manifest check below.
            FindingKind::Syntax | FindingKind::Package => None,
        };
        actions.extend(
            env.into_iter()
                .chain(allow)
                .map(CodeActionOrCommand::CodeAction),
        );
        if let (FindingKind::Secret, Some(fp)) = (finding.kind, &finding.fingerprint) {
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!(
                    "Add this {} to the baseline ({})",
                    finding.rule,
                    baseline::FILE_NAME
                ),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                command: Some(Command {
                    title: "Add to baseline".into(),
                    command: CMD_SECRETS_ADD_TO_BASELINE.into(),
                    arguments: Some(vec![
                        json!({"uri": uri.as_str(), "rule": finding.rule, "fingerprint": fp}),
                    ]),
                }),
                ..Default::default()
            }));
        }
    }
    actions.extend(
        super::packages::code_actions(b, &uri, wanted)
            .await
            .into_iter()
            .map(CodeActionOrCommand::CodeAction),
    );
    if let Some(path) = path.as_deref() {
        let cfg = b.shared.scan_config(Some(path));
        actions.extend(
            super::llm::code_actions(&cfg, &uri, path, lang, wanted, &params.context.diagnostics)
                .into_iter()
                .map(CodeActionOrCommand::CodeAction),
        );
    }
    Ok((!actions.is_empty()).then_some(actions))
}

/// The document a code action request is about.
struct Doc<'a> {
    uri: &'a Uri,
    version: i32,
    text: &'a str,
    index: &'a LineIndex,
    lang: Lang,
    path: Option<&'a Path>,
    encoding: crate::documents::Encoding,
}

pub(super) fn overlaps(a: Range, b: Range) -> bool {
    let before = |x: Position, y: Position| (x.line, x.character) < (y.line, y.character);
    !(before(a.end, b.start) || before(b.end, a.start))
}

/// How a language reads an environment variable in place of a string literal.
enum Replacement {
    /// Replace the whole quoted literal with an expression.
    Literal(String),
    /// Replace only the secret with a reference (config files, shell words).
    Reference(String),
}

fn replacement(
    lang: Lang,
    name: &str,
    whole_literal: bool,
    quote: Option<char>,
) -> Option<Replacement> {
    use Replacement::*;
    match (lang.name(), whole_literal) {
        ("python", true) => Some(Literal(format!("os.environ[\"{name}\"]"))),
        ("javascript" | "typescript" | "tsx", true) => Some(Literal(format!("process.env.{name}"))),
        ("rust", true) if quote == Some('"') => Some(Literal(format!(
            "std::env::var(\"{name}\").expect(\"set {name}\")"
        ))),
        ("go", true) => Some(Literal(format!("os.Getenv(\"{name}\")"))),
        ("bash", true) => Some(Literal(format!("\"${name}\""))),
        ("bash", false) => Some(Reference(format!("${{{name}}}"))),
        ("makefile", _) => Some(Reference(format!("$({name})"))),
        ("dockerfile" | "yaml" | "toml" | "json" | "dotenv" | "other", _) => {
            Some(Reference(format!("${{{name}}}")))
        }
        _ => None,
    }
}

async fn env_action(
    b: &Backend,
    doc: &Doc<'_>,
    finding: &Finding,
    diagnostic: &Diagnostic,
) -> Option<CodeAction> {
    let (text, lang) = (doc.text, doc.lang);
    let name = finding.env_name.clone()?;
    let quote = text[..finding.start].chars().last();
    let whole_literal =
        matches!(quote, Some('"' | '\'' | '`')) && text[finding.end..].starts_with(quote?);
    let (start, end, new_text) = match replacement(lang, &name, whole_literal, quote)? {
        Replacement::Literal(expr) => (finding.start - 1, finding.end + 1, expr),
        Replacement::Reference(r) => (finding.start, finding.end, r),
    };
    let mut edits = vec![TextEdit {
        range: diagnostics::range(text, doc.index, start, end, doc.encoding),
        new_text,
    }];
    if lang.name() == "python" && !imports_os(text) {
        let line = u32::from(text.starts_with("#!"));
        edits.push(TextEdit {
            range: Range::new(Position::new(line, 0), Position::new(line, 0)),
            new_text: "import os\n".into(),
        });
    }
    let mut changes = vec![DocumentChangeOperation::Edit(TextDocumentEdit {
        text_document: OptionalVersionedTextDocumentIdentifier {
            uri: doc.uri.clone(),
            version: Some(doc.version),
        },
        edits: edits.into_iter().map(OneOf::Left).collect(),
    })];

    // `.env` at the repository root, written only when git ignores it.
    let root = b.shared.scan_config(doc.path).root.clone();
    let env_path = root.join(".env");
    let secret = text[finding.start..finding.end].to_owned();
    let probe = env_path.clone();
    let ignored = tokio::task::spawn_blocking(move || warden_workspace::is_ignored(&probe))
        .await
        .unwrap_or(false);
    let title_suffix = if ignored && !secret.contains('\n') {
        changes.extend(append_to_file(
            b,
            &env_path,
            &format!("{name}={secret}\n"),
            false,
        ));
        " (value saved to the git-ignored .env)".to_owned()
    } else if ignored {
        " (multi-line value: store it in your secret manager)".to_owned()
    } else {
        " (.env is not git-ignored, so the value is not written anywhere; keep it in your secret manager)".to_owned()
    };
    Some(CodeAction {
        title: format!("Replace with environment variable {name}{title_suffix}"),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        is_preferred: Some(true),
        edit: Some(WorkspaceEdit {
            document_changes: Some(DocumentChanges::Operations(changes)),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn imports_os(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l == "import os"
            || l.starts_with("import os ")
            || l.starts_with("import os,")
            || l.starts_with("from os ")
            || (l.starts_with("import ") && l.split([',', ' ']).any(|w| w == "os"))
    })
}

/// Edits that append `text` to the file at `path` (creating it if needed): after a line
/// break if the file lacks a final one, and with `blank_line`, after an empty line.
/// An open document is edited at its current version; a file on disk unversioned.
pub(super) fn append_to_file(
    b: &Backend,
    path: &Path,
    text: &str,
    blank_line: bool,
) -> Vec<DocumentChangeOperation> {
    let Some(uri) = Uri::from_file_path(path) else {
        return Vec::new();
    };
    let (existing, version, encoding) = {
        let docs = b.shared.docs.lock();
        match docs.get(uri.as_str()) {
            Some(d) => (Some(d.text.clone()), Some(d.version), docs.encoding()),
            None => (std::fs::read_to_string(path).ok(), None, docs.encoding()),
        }
    };
    let mut ops = Vec::new();
    let (at, prefix) = match &existing {
        Some(t) => {
            let index = LineIndex::new(t);
            let end = diagnostics::position(t, &index, t.len(), encoding);
            let prefix = match (t.is_empty(), t.ends_with('\n'), blank_line) {
                (true, _, _) => "",
                (false, false, false) => "\n",
                (false, false, true) => "\n\n",
                (false, true, true) if !t.ends_with("\n\n") => "\n",
                _ => "",
            };
            (end, prefix)
        }
        None => {
            ops.push(DocumentChangeOperation::Op(ResourceOp::Create(
                CreateFile {
                    uri: uri.clone(),
                    // The file does not exist (else its text was read above): a
                    // plain create, which fails rather than clobbers if that changed.
                    options: Some(CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(false),
                    }),
                    annotation_id: None,
                },
            )));
            (Position::new(0, 0), "")
        }
    };
    ops.push(DocumentChangeOperation::Edit(TextDocumentEdit {
        text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
        edits: vec![OneOf::Left(TextEdit {
            range: Range::new(at, at),
            new_text: format!("{prefix}{text}"),
        })],
    }));
    ops
}

fn allow_action(doc: &Doc<'_>, finding: &Finding, diagnostic: &Diagnostic) -> Option<CodeAction> {
    let comment = doc.lang.line_comment()?;
    if finding.range.start.line != finding.range.end.line {
        return None; // a marker inside a multi-line value would change the value
    }
    let line = doc
        .index
        .line_range(finding.range.end.line as usize, doc.text)?;
    let at = diagnostics::position(doc.text, doc.index, line.end, doc.encoding);
    let mut changes = HashMap::new();
    changes.insert(
        doc.uri.clone(),
        vec![TextEdit {
            range: Range::new(at, at),
            new_text: format!(" {comment} {ALLOW_MARKER}"),
        }],
    );
    Some(CodeAction {
        title: format!(
            "Allow this {} on this line ({comment} {ALLOW_MARKER})",
            finding.rule
        ),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddToBaselineArgs {
    pub uri: String,
    pub rule: String,
    pub fingerprint: String,
}

/// `warden.secrets.addToBaseline {uri, rule, fingerprint}`: records the finding in the
/// repository's `.warden-baseline.json` (rule, relative path, hash; never the secret)
/// and re-analyses open documents.
pub async fn add_to_baseline(b: &Backend, args: AddToBaselineArgs) -> Result<Value> {
    if args.fingerprint.len() != 64 || !args.fingerprint.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid(
            "fingerprint must be the 64-hex-digit SHA-256 from the diagnostic's data",
        ));
    }
    let uri: Uri = args
        .uri
        .parse()
        .map_err(|_| invalid(format!("{:?} is not a valid URI", args.uri)))?;
    let path: PathBuf = uri
        .to_file_path()
        .map(|p| p.into_owned())
        .ok_or_else(|| invalid("the baseline needs a file on disk; save the document first"))?;
    let shared = b.shared.clone();
    let entry_rule = args.rule.clone();
    let outcome =
        tokio::task::spawn_blocking(move || -> std::result::Result<(PathBuf, bool), String> {
            let cfg = shared.scan_config(Some(&path));
            let file = cfg.root.join(baseline::FILE_NAME);
            let mut base = match std::fs::read_to_string(&file) {
                Ok(t) => Baseline::parse(&t).map_err(|e| format!("{}: {e}", file.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Baseline::new(),
                Err(e) => return Err(format!("{}: {e}", file.display())),
            };
            let added = base.add(baseline::Entry {
                rule: entry_rule,
                path: cfg.relative(&path),
                hash: args.fingerprint,
            });
            std::fs::write(&file, base.to_json())
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok((file, added))
        })
        .await
        .map_err(|e| super::internal(e.to_string()))?;
    let (file, added) = outcome.map_err(invalid)?;
    super::documents::reanalyze_open_documents(b);
    Ok(json!({ "baseline": file.display().to_string(), "added": added, "rule": args.rule }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_by_language() {
        let r = |lang: &str, whole: bool| match replacement(
            Lang::detect(None, Some(lang)),
            "API_KEY",
            whole,
            Some('"'),
        ) {
            Some(Replacement::Literal(s)) => format!("literal {s}"),
            Some(Replacement::Reference(s)) => format!("reference {s}"),
            None => "none".into(),
        };
        assert_eq!(r("python", true), "literal os.environ[\"API_KEY\"]");
        assert_eq!(r("typescript", true), "literal process.env.API_KEY");
        assert_eq!(
            r("rust", true),
            "literal std::env::var(\"API_KEY\").expect(\"set API_KEY\")"
        );
        assert_eq!(r("go", true), "literal os.Getenv(\"API_KEY\")");
        assert_eq!(r("shellscript", true), "literal \"$API_KEY\"");
        assert_eq!(r("yaml", false), "reference ${API_KEY}");
        assert_eq!(
            r("python", false),
            "none",
            "part of a larger string: no safe rewrite"
        );
        assert!(imports_os("import sys, os\n"));
        assert!(imports_os("from os import environ\n"));
        assert!(!imports_os("import osmosis\n"));
    }
}
