//! Package findings in the editor: hover on a dependency (every advisory with affected
//! and fixed versions and reference links, and the transitive packages it brings in)
//! and the code actions *Upgrade to the lowest fixed version* (a minimal edit of the
//! version requirement in the user's operator style) and *Remove dependency* (for
//! malicious packages). Both recompute the manifest check for the current text, so they
//! never act on stale diagnostics.

use std::path::PathBuf;

use tower_lsp_server::ls_types::*;
use warden_analysis::packages::check::{AdvisoryRef, Verdict};
use warden_analysis::packages::manifest::Checked;
use warden_analysis::{FindingKind, LineIndex};

use crate::diagnostics::{self, to_diagnostic};
use crate::documents::{self, Pos};
use crate::server::Backend;

/// References shown per advisory in a hover.
const HOVER_REFERENCES: usize = 4;

/// The open document's text, version and path, if it is a manifest on disk.
fn manifest_doc(b: &Backend, uri: &Uri) -> Option<(String, i32, PathBuf)> {
    let docs = b.shared.docs.lock();
    let d = docs.get(uri.as_str())?;
    let path = d.path.clone()?;
    warden_analysis::packages::manifest::kind_of(&path)?;
    Some((d.text.clone(), d.version, path))
}

/// The manifest's checked dependencies for `text` (lookups and lockfile reads run off
/// the message loop).
async fn checked(b: &Backend, path: PathBuf, text: String) -> Vec<Checked> {
    let shared = b.shared.clone();
    tokio::task::spawn_blocking(move || {
        let cfg = shared.scan_config(Some(&path));
        cfg.packages(&path, &text).1
    })
    .await
    .unwrap_or_default()
}

pub async fn hover(b: &Backend, params: HoverParams) -> Option<Hover> {
    let uri = params.text_document_position_params.text_document.uri;
    let pos = params.text_document_position_params.position;
    let encoding = b.shared.docs.lock().encoding();
    let Some((text, _, path)) = manifest_doc(b, &uri) else {
        return import_hover(b, &uri, pos);
    };
    let at = documents::offset(
        &text,
        Pos {
            line: pos.line,
            character: pos.character,
        },
        encoding,
    );
    let all = checked(b, path, text.clone()).await;
    let here: Vec<&Checked> = all
        .iter()
        .filter(|c| c.dependency.start <= at && at <= c.dependency.end)
        .collect();
    let first = here.first()?;
    let index = LineIndex::new(&text);
    let range = diagnostics::range(
        &text,
        &index,
        first.dependency.start,
        first.dependency.end,
        encoding,
    );
    let body = here
        .iter()
        .map(|c| markdown(c))
        .collect::<Vec<_>>()
        .join("\n\n---\n\n");
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: body,
        }),
        range: Some(range),
    })
}

/// Hover on an import of a malicious package: the finding's message and advisories.
fn import_hover(b: &Backend, uri: &Uri, pos: Position) -> Option<Hover> {
    let findings = b.shared.findings.lock();
    let (f, range) = findings.get(uri.as_str())?.findings.iter().find(|(f, r)| {
        f.kind == FindingKind::Package
            && (r.start.line, r.start.character) <= (pos.line, pos.character)
            && (pos.line, pos.character) <= (r.end.line, r.end.character)
    })?;
    let mut value = format!("**{}** · {}\n\n{}", f.rule, f.severity.as_str(), f.message);
    for line in &f.related {
        value.push_str(&format!("\n- {line}"));
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(*range),
    })
}

fn markdown(c: &Checked) -> String {
    let dep = &c.dependency;
    let version = c
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let what = match c.issue.verdict {
        Verdict::Malicious => "malicious",
        Verdict::Vulnerable => "vulnerable",
        Verdict::AllowsAffected => "the requirement allows affected versions",
    };
    let mut out = if c.via.is_empty() {
        format!("### {}{version}: {what}\n", dep.name)
    } else {
        format!(
            "### {}{version}: {what}\nbrought in by `{}` via {}\n",
            c.via.last().map_or("", String::as_str),
            dep.name,
            c.via.join(" → ")
        )
    };
    if !dep.spec.is_empty() && c.via.is_empty() {
        out.push_str(&format!("\nrequirement `{}`", dep.spec));
        if let Some(v) = &c.version {
            out.push_str(&format!(", judged at `{v}`"));
        }
        out.push('\n');
    }
    for a in &c.issue.advisories {
        out.push('\n');
        out.push_str(&advisory(a));
    }
    if let Some(safe) = &c.issue.safe_version {
        out.push_str(&format!(
            "\n**Lowest version no advisory affects: {safe}**\n"
        ));
    }
    out
}

fn advisory(a: &AdvisoryRef) -> String {
    let mut s = format!("**{}**", a.id);
    if !a.aliases.is_empty() {
        s.push_str(&format!(" ({})", a.aliases.join(", ")));
    }
    if let Some(sev) = &a.severity {
        s.push_str(&format!(" · {sev}"));
    }
    s.push('\n');
    // The whole summary and details: messages carry a shortened summary, hovers do not.
    if let Some(text) = a.full_text.as_ref().or(a.summary.as_ref()) {
        s.push_str(&format!("{}\n\n", text.trim_end()));
    }
    s.push_str(&format!("- affected: {}\n", a.affected.join("; ")));
    s.push_str(&format!(
        "- fixed: {}\n",
        if a.fixed.is_empty() {
            "no fixed version".into()
        } else {
            a.fixed.join(", ")
        }
    ));
    for r in a.references.iter().take(HOVER_REFERENCES) {
        s.push_str(&format!("- <{r}>\n"));
    }
    if a.references.len() > HOVER_REFERENCES {
        s.push_str(&format!(
            "- and {} more references\n",
            a.references.len() - HOVER_REFERENCES
        ));
    }
    s
}

/// Upgrade and remove actions for package diagnostics overlapping `wanted`.
pub async fn code_actions(b: &Backend, uri: &Uri, wanted: Range) -> Vec<CodeAction> {
    let Some((text, version, path)) = manifest_doc(b, uri) else {
        return Vec::new();
    };
    let encoding = b.shared.docs.lock().encoding();
    let all = checked(b, path, text.clone()).await;
    let index = LineIndex::new(&text);
    let mut out = Vec::new();
    for c in all.iter().filter(|c| c.via.is_empty()) {
        let dep = &c.dependency;
        let range = diagnostics::range(&text, &index, dep.start, dep.end, encoding);
        if !super::code_actions::overlaps(range, wanted) {
            continue;
        }
        let finding = c.finding(&index);
        let diagnostic = to_diagnostic(&finding, range, uri);
        let edit = |start: usize, end: usize, new_text: String| WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: uri.clone(),
                    version: Some(version),
                },
                edits: vec![OneOf::Left(TextEdit {
                    range: diagnostics::range(&text, &index, start, end, encoding),
                    new_text,
                })],
            }])),
            ..Default::default()
        };
        if c.issue.verdict == Verdict::Malicious {
            let (s, e) = dep.removal;
            out.push(CodeAction {
                title: format!("Remove dependency {} (malicious package)", dep.name),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                is_preferred: Some(true),
                edit: Some(edit(s, e, String::new())),
                ..Default::default()
            });
            continue;
        }
        let (Some((safe, new_spec)), Some((s, e))) = (&c.upgrade, dep.spec_range) else {
            continue;
        };
        let then = c
            .lockfile
            .as_ref()
            .map(|lock| format!(", then update {lock}"))
            .unwrap_or_default();
        out.push(CodeAction {
            title: format!(
                "Upgrade {} to {safe}, the lowest fixed version (`{new_spec}`){then}",
                dep.name
            ),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![diagnostic]),
            is_preferred: Some(true),
            edit: Some(edit(s, e, new_spec.clone())),
            ..Default::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory_ref(summary: Option<&str>, full_text: Option<&str>) -> AdvisoryRef {
        AdvisoryRef {
            id: "PYSEC-2023-74".into(),
            aliases: vec!["CVE-2023-32681".into()],
            summary: summary.map(str::to_owned),
            full_text: full_text.map(str::to_owned),
            severity: Some("MODERATE".into()),
            references: vec!["https://example.org/a".into()],
            affected: vec![">= 2.3.0, < 2.31.0".into()],
            fixed: vec!["2.31.0".into()],
        }
    }

    #[test]
    fn the_hover_shows_the_whole_text_not_the_shortened_summary() {
        let details = "Requests is a HTTP library. Since Requests 2.3.0, Requests has been leaking Proxy-Authorization headers to destination servers when redirected to an HTTPS endpoint.\n\nThis is a product of how we use `rebuild_proxies`.";
        let md = advisory(&advisory_ref(
            Some(
                "Requests is a HTTP library. Since Requests 2.3.0, Requests has been leaking Proxy-Authorization headers to destination…",
            ),
            Some(details),
        ));
        assert!(md.contains(details), "{md}");
        assert!(!md.contains('…'), "{md}");
        assert!(
            md.starts_with("**PYSEC-2023-74** (CVE-2023-32681) · MODERATE\n"),
            "{md}"
        );
        assert!(
            md.contains("- affected: >= 2.3.0, < 2.31.0\n- fixed: 2.31.0\n"),
            "{md}"
        );
        // Only a summary (an older caller): it is shown.
        let md = advisory(&advisory_ref(Some("Short summary"), None));
        assert!(md.contains("\nShort summary\n"), "{md}");
        // Neither: no empty line of text.
        let md = advisory(&advisory_ref(None, None));
        assert!(md.contains("MODERATE\n- affected"), "{md}");
    }
}
