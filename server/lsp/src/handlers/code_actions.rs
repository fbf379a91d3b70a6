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
use crate::lsp_ext::{CMD_PACKAGES_UPDATE_ADVISORIES, CMD_SECRETS_ADD_TO_BASELINE};
use crate::scanner;
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
        if let Some(action) = download_action(&doc, finding, &diagnostic) {
            actions.push(CodeActionOrCommand::CodeAction(action));
        }
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
    actions.extend(
        super::worktrees::code_actions(&b.shared, &uri, wanted)
            .into_iter()
            .map(CodeActionOrCommand::CodeAction),
    );
    if let Some(path) = path.as_deref() {
        let cfg = b.shared.scan_config(Some(path));
        actions.extend(
            super::fix::code_actions(&cfg, &uri, &params.context.diagnostics)
                .into_iter()
                .map(CodeActionOrCommand::CodeAction),
        );
        actions.extend(
            super::llm::code_actions(&cfg, &uri, path, lang, wanted, &params.context.diagnostics)
                .into_iter()
                .map(CodeActionOrCommand::CodeAction),
        );
    }
    Ok((!actions.is_empty()).then_some(actions))
}

/// *Download advisories now* on a manifest whose ecosystem has no (or old) data.
fn download_action(
    doc: &Doc<'_>,
    finding: &Finding,
    diagnostic: &Diagnostic,
) -> Option<CodeAction> {
    if !matches!(
        finding.rule.as_str(),
        "advisories-missing" | "advisories-stale"
    ) {
        return None;
    }
    let kind = warden_analysis::packages::manifest::kind_of(doc.path?)?;
    let eco = crate::packages::ecosystem_of(kind);
    Some(CodeAction {
        title: format!("Download {} advisories now", eco.as_str()),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        is_preferred: Some(true),
        command: Some(Command {
            title: "Download advisories now".into(),
            command: CMD_PACKAGES_UPDATE_ADVISORIES.into(),
            arguments: Some(vec![json!({ "ecosystems": [eco.as_str()] })]),
        }),
        ..Default::default()
    })
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
    if lang.name() == "python"
        && let Some((at, import)) = python_import_os(text)
    {
        let pos = diagnostics::position(text, doc.index, at, doc.encoding);
        edits.push(TextEdit {
            range: Range::new(pos, pos),
            new_text: import,
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

/// Where `import os` goes in a Python module, as (byte offset, text to insert), or
/// `None` when the module already binds `os`. After the shebang, the encoding line,
/// a header comment block (one a blank line or the end separates from what follows),
/// the module docstring (comments may precede it) and `from __future__` imports,
/// which must stay first; before anything else, including a comment that belongs to
/// the code below it.
fn python_import_os(text: &str) -> Option<(usize, String)> {
    if imports_os(text) {
        return None;
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    // Lines as (start, end of the line including its break, content without it).
    let mut lines = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        lines.push((start, start + l.len(), l.trim_end_matches(['\n', '\r'])));
        start += l.len();
    }
    let blank = |i: usize| lines[i].2.trim().is_empty();
    let comment = |i: usize| lines[i].2.trim_start().starts_with('#');
    let skip_blank = |mut i: usize| {
        while i < lines.len() && blank(i) {
            i += 1;
        }
        i
    };
    // `at`: the end of the last line that must stay above the import.
    let mut at = 0;
    let mut i = 0;
    let mut docstring_allowed = true;
    loop {
        let j = skip_blank(i);
        if j >= lines.len() {
            break;
        }
        if comment(j) {
            let mut k = j;
            while k < lines.len() && comment(k) {
                k += 1;
            }
            let next = skip_blank(k);
            // Comments stay above the import when a `__future__` import follows them;
            // before the docstring also a header block: one a blank line, the end or
            // the docstring follows.
            let future = next < lines.len() && is_future_import(lines[next].2);
            let header = future
                || (docstring_allowed
                    && (next >= lines.len()
                        || next > k
                        || string_end(text, lines[next].0).is_some()));
            if header {
                at = lines[k - 1].1;
                i = k;
                continue;
            }
            // A comment on the code below: only a shebang and encoding line at its
            // start stay above.
            let pinned = |p: usize| {
                (p == 0 && lines[0].2.starts_with("#!")) || is_coding_line(lines[p].2, p)
            };
            let mut p = j;
            while p < k && pinned(p) {
                p += 1;
            }
            if p > j {
                at = lines[p - 1].1;
            }
            break;
        }
        if docstring_allowed && let Some(end) = string_end(text, lines[j].0) {
            let line_end = lines.iter().find(|l| l.1 > end).map_or(text.len(), |l| l.1);
            let rest = text[end..line_end].trim();
            if rest.is_empty() || rest.starts_with('#') {
                at = line_end;
                i = lines.partition_point(|l| l.1 <= line_end);
                docstring_allowed = false;
                continue;
            }
            break;
        }
        if is_future_import(lines[j].2) {
            let end = statement_end(text, lines[j].0);
            let line_end = lines.iter().find(|l| l.1 > end).map_or(text.len(), |l| l.1);
            at = line_end;
            i = lines.partition_point(|l| l.1 <= line_end);
            docstring_allowed = false;
            continue;
        }
        break;
    }
    let prefix = if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        eol
    } else {
        ""
    };
    Some((at, format!("{prefix}import os{eol}")))
}

/// A PEP 263 encoding declaration (only on the first two lines).
fn is_coding_line(line: &str, index: usize) -> bool {
    if index > 1 {
        return false;
    }
    let Some(comment) = line.trim_start().strip_prefix('#') else {
        return false;
    };
    comment
        .match_indices("coding")
        .any(|(i, _)| matches!(comment.as_bytes().get(i + 6), Some(b':' | b'=')))
}

fn is_future_import(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("from") && words.next() == Some("__future__")
}

/// The end (byte offset just past the closing quote) of a string literal statement
/// starting at the first non-blank character at or after `from` (a module docstring:
/// optional `r`/`u` prefix, single or triple quotes, possibly over several lines), or
/// `None` if no such complete literal starts there.
fn string_end(text: &str, from: usize) -> Option<usize> {
    let rest = &text[from..];
    let lead = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let mut at = from + lead;
    let bytes = text.as_bytes();
    if matches!(bytes.get(at), Some(b'r' | b'R' | b'u' | b'U')) {
        at += 1;
    }
    let quote = *bytes.get(at)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let triple = bytes.get(at..at + 3) == Some(&[quote; 3][..]);
    let mut k = at + if triple { 3 } else { 1 };
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b'\n' if !triple => return None,
            q if q == quote && (!triple || bytes.get(k..k + 3) == Some(&[quote; 3][..])) => {
                return Some(k + if triple { 3 } else { 1 });
            }
            _ => k += 1,
        }
    }
    None
}

/// The end of a (possibly parenthesized or backslash-continued) statement starting
/// at `from`: the offset of the line break that ends it.
fn statement_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut k = from;
    while k < bytes.len() {
        match bytes[k] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while k < bytes.len() && bytes[k] != b'\n' {
                    k += 1;
                }
                continue;
            }
            b'\\' if bytes.get(k + 1) == Some(&b'\n') => k += 1,
            b'\\' if bytes.get(k + 1..k + 3) == Some(b"\r\n") => k += 2,
            b'\n' if depth == 0 => return k,
            _ => {}
        }
        k += 1;
    }
    bytes.len()
}

/// Whether the module binds the name `os` with an import (`import os`, `import os.path`,
/// `import sys, os`); `from os import environ` and `import os as o` do not.
fn imports_os(text: &str) -> bool {
    text.lines().any(|l| {
        let code = l.split('#').next().unwrap_or_default();
        code.split(';').any(|statement| {
            statement
                .trim()
                .strip_prefix("import ")
                .is_some_and(|names| {
                    names.split(',').any(|item| {
                        let mut words = item.split_whitespace();
                        let module = words.next().unwrap_or_default();
                        let aliased = words.next() == Some("as");
                        !aliased && (module == "os" || module.starts_with("os."))
                    })
                })
        })
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
/// and re-analyses open documents. The rule must be one the file's configuration knows
/// (built-in or `secrets.rules`); the baseline must be a regular file (not a symbolic
/// link) of at most 16 MiB, and is replaced through a temporary file and a rename.
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
            if cfg.rules.rule(&entry_rule).is_none() {
                return Err(format!(
                    "{entry_rule:?} is not a secret rule of this workspace (built-in or warden.secrets.rules)"
                ));
            }
            let file = cfg.root.join(baseline::FILE_NAME);
            let mut base = read_own_baseline(&file)?;
            let added = base.add(baseline::Entry {
                rule: entry_rule,
                path: cfg.relative(&path),
                hash: args.fingerprint,
            });
            replace_file(&file, base.to_json().as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            Ok((file, added))
        })
        .await
        .map_err(|e| super::internal(e.to_string()))?;
    let (file, added) = outcome.map_err(invalid)?;
    super::documents::reanalyze_open_documents(b);
    Ok(json!({ "baseline": file.display().to_string(), "added": added, "rule": args.rule }))
}

/// The repository's baseline before an addition: empty when missing; refused when it
/// is not a regular file (a symbolic link is not followed: the write would land
/// wherever it points) or is over [`scanner::MAX_BASELINE_BYTES`]. Blocking.
fn read_own_baseline(file: &Path) -> std::result::Result<Baseline, String> {
    match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Baseline::new()),
        Err(e) => return Err(format!("{}: {e}", file.display())),
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{}: a symbolic link; warden writes its baseline only as a regular file",
                file.display()
            ));
        }
        Ok(_) => {}
    }
    scanner::read_baseline(file).map_err(|e| format!("{}: {e}", file.display()))
}

/// Writes `bytes` to a new file beside `file`, then renames it over `file` (which
/// replaces a link or special file instead of writing through it).
fn replace_file(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = file.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp); // left by a crash; a link is removed, not followed
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_baseline_written_is_a_regular_file_replaced_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(baseline::FILE_NAME);
        assert_eq!(
            read_own_baseline(&file).unwrap().to_json(),
            Baseline::new().to_json()
        );
        replace_file(&file, b"{\"version\": 1, \"findings\": []}").unwrap();
        assert!(read_own_baseline(&file).is_ok());
        // A link (to elsewhere, or to itself) is refused, and the target kept.
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep").unwrap();
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        let e = read_own_baseline(&file).unwrap_err();
        assert!(e.contains("a symbolic link"), "{e}");
        replace_file(&file, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep");
        assert!(
            !std::fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A FIFO is not opened.
        std::fs::remove_file(&file).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&file)
                .status()
                .unwrap()
                .success()
        );
        let e = read_own_baseline(&file).unwrap_err();
        assert!(e.contains("a FIFO, not a regular file"), "{e}");
        // No temporary files are left.
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

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
    }

    #[test]
    fn python_import_os_goes_after_the_module_header() {
        // (case, text, text after the insertion; None: no insertion)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("plain code", "KEY = 'x'\n", Some("import os\nKEY = 'x'\n")),
            ("empty file", "", Some("import os\n")),
            (
                "shebang and coding line",
                "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nKEY = 'x'\n",
                Some("#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\nimport os\nKEY = 'x'\n"),
            ),
            (
                "shebang, coding=, then a comment on the code",
                "#!/usr/bin/python\n# coding=latin-1\n# the key\nKEY = 'x'\n",
                Some("#!/usr/bin/python\n# coding=latin-1\nimport os\n# the key\nKEY = 'x'\n"),
            ),
            (
                "a comment on the code stays with it",
                "# the key\nKEY = 'x'\n",
                Some("import os\n# the key\nKEY = 'x'\n"),
            ),
            (
                "header comments",
                "# Copyright 2026 Example\n# SPDX-License-Identifier: MIT\n\nKEY = 'x'\n",
                Some(
                    "# Copyright 2026 Example\n# SPDX-License-Identifier: MIT\nimport os\n\nKEY = 'x'\n",
                ),
            ),
            (
                "docstring",
                "\"\"\"Load the data.\"\"\"\nKEY = 'x'\n",
                Some("\"\"\"Load the data.\"\"\"\nimport os\nKEY = 'x'\n"),
            ),
            (
                "single-quoted docstring, a comment after it",
                "'Load the data.'  # module doc\n\n# the key\nKEY = 'x'\n",
                Some("'Load the data.'  # module doc\nimport os\n\n# the key\nKEY = 'x'\n"),
            ),
            (
                "multi-line docstring after a coding line and comments",
                "# -*- coding: utf-8 -*-\n# Copyright\n\"\"\"Load the data.\n\nIt says \\\"\"\" inside.\n\"\"\"\n\nimport sys\nKEY = 'x'\n",
                Some(
                    "# -*- coding: utf-8 -*-\n# Copyright\n\"\"\"Load the data.\n\nIt says \\\"\"\" inside.\n\"\"\"\nimport os\n\nimport sys\nKEY = 'x'\n",
                ),
            ),
            (
                "raw triple-single-quoted docstring",
                "r'''Raw \\d+ docstring\nover lines.'''\nKEY = 'x'\n",
                Some("r'''Raw \\d+ docstring\nover lines.'''\nimport os\nKEY = 'x'\n"),
            ),
            (
                "__future__ imports, one parenthesized",
                "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n# and\nfrom __future__ import (\n    division,\n)\n\nimport sys\nKEY = 'x'\n",
                Some(
                    "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n# and\nfrom __future__ import (\n    division,\n)\nimport os\n\nimport sys\nKEY = 'x'\n",
                ),
            ),
            (
                "a string expression is not a docstring",
                "\"-\".join(parts)\nKEY = 'x'\n",
                Some("import os\n\"-\".join(parts)\nKEY = 'x'\n"),
            ),
            (
                "file with only comments",
                "# just a note\n# and another\n",
                Some("# just a note\n# and another\nimport os\n"),
            ),
            (
                "only a comment, no final newline",
                "# note",
                Some("# note\nimport os\n"),
            ),
            (
                "CRLF line ends",
                "\"\"\"Doc.\"\"\"\r\nKEY = 'x'\r\n",
                Some("\"\"\"Doc.\"\"\"\r\nimport os\r\nKEY = 'x'\r\n"),
            ),
            (
                "import os already there",
                "\"\"\"Doc.\"\"\"\nimport os\nKEY = 'x'\n",
                None,
            ),
            (
                "import os among others",
                "import sys, os.path  # paths\n",
                None,
            ),
            (
                "import os after a semicolon",
                "import sys; import os\n",
                None,
            ),
            (
                "from os import does not bind os",
                "from os import environ\n",
                Some("import os\nfrom os import environ\n"),
            ),
            (
                "an alias does not bind os",
                "import os as o\n",
                Some("import os\nimport os as o\n"),
            ),
            (
                "osmosis is not os",
                "import osmosis\n",
                Some("import os\nimport osmosis\n"),
            ),
        ];
        for &(case, text, want) in cases {
            let got = python_import_os(text).map(|(at, insert)| {
                assert!(text.is_char_boundary(at), "{case}");
                format!("{}{insert}{}", &text[..at], &text[at..])
            });
            assert_eq!(got.as_deref(), want, "{case}");
        }
    }
}
