//! Findings to LSP: ranges in the negotiated position encoding, diagnostics with the
//! rule as code and `warden` as source, and the index of current findings per file
//! (open documents from live analysis, other files from workspace scans) that backs
//! `warden/findings`, code actions and persistence.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use tower_lsp_server::ls_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Uri,
};
use warden_analysis::lines::Unit;
use warden_analysis::{Finding, FindingKind, LineIndex, Severity};

use crate::documents::Encoding;

pub const SOURCE: &str = "warden";

fn unit(encoding: Encoding) -> Unit {
    match encoding {
        Encoding::Utf8 => Unit::Utf8,
        Encoding::Utf16 => Unit::Utf16,
    }
}

pub fn position(text: &str, index: &LineIndex, offset: usize, encoding: Encoding) -> Position {
    Position {
        line: index.line_col(offset).line,
        character: index.column(text, offset, unit(encoding)),
    }
}

pub fn range(text: &str, index: &LineIndex, start: usize, end: usize, encoding: Encoding) -> Range {
    Range {
        start: position(text, index, start, encoding),
        end: position(text, index, end, encoding),
    }
}

fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
    }
}

/// One finding as an LSP diagnostic. `data` carries what code actions need (never the
/// secret): kind, fingerprint and the suggested environment variable. Related messages
/// (one per advisory when several apply) become related information at the same place.
pub fn to_diagnostic(f: &Finding, range: Range, uri: &Uri) -> Diagnostic {
    let related: Vec<DiagnosticRelatedInformation> = f
        .related
        .iter()
        .map(|message| DiagnosticRelatedInformation {
            location: Location {
                uri: uri.clone(),
                range,
            },
            message: message.clone(),
        })
        .collect();
    Diagnostic {
        related_information: (!related.is_empty()).then_some(related),
        range,
        severity: Some(severity(f.severity)),
        code: Some(NumberOrString::String(f.rule.clone())),
        source: Some(SOURCE.into()),
        message: f.message.clone(),
        data: Some(json!({
            "kind": f.kind,
            "fingerprint": f.fingerprint,
            "envName": f.env_name,
        })),
        ..Default::default()
    }
}

/// A file's findings with their LSP ranges.
#[derive(Debug, Clone, Default)]
pub struct FileFindings {
    pub workspace_id: i64,
    pub workspace: String,
    pub path: Option<String>,
    pub findings: Vec<(Finding, Range)>,
}

impl FileFindings {
    pub fn new(
        workspace: (i64, String),
        path: Option<String>,
        text: &str,
        findings: Vec<Finding>,
        encoding: Encoding,
    ) -> FileFindings {
        let index = LineIndex::new(text);
        let findings = findings
            .into_iter()
            .map(|f| {
                let r = range(text, &index, f.start, f.end, encoding);
                (f, r)
            })
            .collect();
        FileFindings {
            workspace_id: workspace.0,
            workspace: workspace.1,
            path,
            findings,
        }
    }

    pub fn diagnostics(&self, uri: &Uri) -> Vec<Diagnostic> {
        self.findings
            .iter()
            .map(|(f, r)| to_diagnostic(f, *r, uri))
            .collect()
    }
}

/// What `warden/findings` returns per finding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingInfo {
    pub uri: String,
    pub path: Option<String>,
    pub workspace: String,
    pub kind: FindingKind,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub range: Range,
    pub fingerprint: Option<String>,
}

#[derive(Debug, Default)]
pub struct FindingsIndex {
    files: HashMap<String, FileFindings>,
}

impl FindingsIndex {
    /// Replaces a file's findings; returns whether it had any before.
    pub fn set(&mut self, uri: String, file: FileFindings) -> bool {
        let had = self.files.get(&uri).is_some_and(|f| !f.findings.is_empty());
        if file.findings.is_empty() {
            self.files.remove(&uri);
        } else {
            self.files.insert(uri, file);
        }
        had
    }

    pub fn get(&self, uri: &str) -> Option<&FileFindings> {
        self.files.get(uri)
    }

    /// URIs of a workspace's files that have findings.
    pub fn uris_of(&self, workspace_id: i64) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, f)| f.workspace_id == workspace_id)
            .map(|(u, _)| u.clone())
            .collect()
    }

    pub fn list(&self, workspace: Option<&str>, kind: Option<FindingKind>) -> Vec<FindingInfo> {
        let mut out: Vec<FindingInfo> = self
            .files
            .iter()
            .filter(|(_, f)| workspace.is_none_or(|w| f.workspace == w))
            .flat_map(|(uri, file)| {
                file.findings
                    .iter()
                    .filter(move |(f, _)| kind.is_none_or(|k| f.kind == k))
                    .map(move |(f, r)| FindingInfo {
                        uri: uri.clone(),
                        path: file.path.clone(),
                        workspace: file.workspace.clone(),
                        kind: f.kind,
                        rule: f.rule.clone(),
                        severity: f.severity,
                        message: f.message.clone(),
                        range: *r,
                        fingerprint: f.fingerprint.clone(),
                    })
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.uri, a.range.start.line, a.range.start.character).cmp(&(
                &b.uri,
                b.range.start.line,
                b.range.start.character,
            ))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_analysis::{Lang, secrets::RuleSet};

    #[test]
    fn ranges_follow_the_encoding_and_diagnostics_hide_the_secret() {
        let text = "x = '😀'; k = \"AKIAQ3EGRB4XY7MNP2KD\"\n";
        let findings = RuleSet::builtin().scan(text, Lang::Other);
        let utf16 = FileFindings::new(
            (1, "w".into()),
            None,
            text,
            findings.clone(),
            Encoding::Utf16,
        );
        let utf8 = FileFindings::new((1, "w".into()), None, text, findings, Encoding::Utf8);
        let (a, b) = (utf16.findings[0].1, utf8.findings[0].1);
        assert_eq!(
            a.start.character + 2,
            b.start.character,
            "the emoji is 2 UTF-16 units, 4 bytes"
        );
        assert_eq!(a.end.character - a.start.character, 20);
        let d = &utf16.diagnostics(&"file:///x.py".parse().unwrap())[0];
        assert_eq!(
            d.code,
            Some(NumberOrString::String("aws-access-key-id".into()))
        );
        assert_eq!(d.source.as_deref(), Some("warden"));
        assert_eq!(d.severity, Some(DiagnosticSeverity::ERROR));
        assert!(!serde_json::to_string(d).unwrap().contains("AKIAQ3"));

        let mut index = FindingsIndex::default();
        assert!(!index.set("u".into(), utf16));
        assert_eq!(index.list(Some("w"), Some(FindingKind::Secret)).len(), 1);
        assert!(index.list(Some("other"), None).is_empty());
        assert!(index.set("u".into(), FileFindings::default()));
        assert!(index.get("u").is_none());
    }
}
