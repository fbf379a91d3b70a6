//! `warden scan [PATH...] [--format text|json|sarif] [--fail-on error|warning|never]
//! [--baseline FILE] [--checks secrets,shell,syntax] [--trust-config]`: scans files in
//! parallel (rayon), honouring `.gitignore` and the repository's `.warden.toml` (its
//! guarded keys only when the file is trusted, see `warden trust`), and prints
//! compiler-style text, JSON lines, or SARIF 2.1.0. A `--baseline` that is not a
//! regular file or is over 16 MiB is refused (a missing one is a warning). Exit codes:
//! 0 clean, 1 findings at or above `--fail-on`, 2 usage or IO error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use serde_json::{Value, json};
use warden_analysis::lines::{Unit, column_at};
use warden_analysis::{Finding, Severity};

use crate::root_config::{Extras, Trust};
use crate::scanner::{FileResult, ScanConfig, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

/// One finding with its file and 1-based, character-counted positions.
struct Reported {
    path: String,
    finding: Finding,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Check {
    Secrets,
    Shell,
    Syntax,
    Packages,
}

/// The analyses named on the command line (all when none are).
pub fn checks(list: &[Check]) -> warden_analysis::Checks {
    if list.is_empty() {
        return warden_analysis::Checks::default();
    }
    warden_analysis::Checks {
        secrets: list.contains(&Check::Secrets),
        shell: list.contains(&Check::Shell),
        syntax: list.contains(&Check::Syntax),
        packages: list.contains(&Check::Packages),
    }
}

/// How `warden scan` was asked to run.
pub struct Options<'a> {
    pub format: Format,
    pub fail_on: FailOn,
    pub baseline: Option<&'a Path>,
    pub checks: warden_analysis::Checks,
    /// Apply `.warden.toml` in full, as if trusted (`--trust-config`).
    pub trust_config: bool,
}

pub fn run(paths: &[PathBuf], opts: Options<'_>, db: Option<PathBuf>) -> ExitCode {
    let Options {
        format,
        fail_on,
        baseline,
        checks,
        trust_config,
    } = opts;
    // Manifests are checked against the advisory database when one exists; it also
    // holds which repository configurations the user trusts.
    let db = db.unwrap_or_else(|| warden_store::default_path(dirs::data_dir()));
    let store = db
        .exists()
        .then(|| warden_store::Store::open(&db).ok())
        .flatten();
    let advisories = store.clone().map(crate::packages::store_advisories);
    // The scan is a span: stored when the database exists, exported when the OTLP
    // variables are set, inside the trace a TRACEPARENT names (a CI job's).
    let tracer = warden_trace::Tracer::new();
    if let Some(s) = &store {
        tracer.add_sink(std::sync::Arc::new(warden_store::StoreSink::new(s.clone())));
    }
    super::export_spans(&tracer, store.clone());
    let mut span = tracer
        .start(warden_trace::SpanKind::Scan, "warden scan")
        .input(json!({
            "paths": paths.len().max(1),
            "checks": {
                "secrets": checks.secrets,
                "shell": checks.shell,
                "syntax": checks.syntax,
                "packages": checks.packages,
            },
        }))
        .begin();
    // A named baseline must be a regular file of sane size (a FIFO would block the
    // scan, /dev/zero would fill memory); a missing one is only a warning below.
    if let Some(b) = baseline
        && let Err(e) = crate::scanner::check_regular(b, crate::scanner::MAX_BASELINE_BYTES)
        && !e.is_not_found()
    {
        eprintln!("warden: --baseline {}: {e}", b.display());
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let mut reported = Vec::new();
    let mut summary = Summary::default();
    for path in &paths {
        let Ok(abs) = std::fs::canonicalize(path) else {
            eprintln!("warden: {}: no such file or directory", path.display());
            return ExitCode::from(2);
        };
        let dir = if abs.is_dir() {
            abs.clone()
        } else {
            abs.parent().unwrap_or(&abs).to_path_buf()
        };
        let root = warden_workspace::repo_root(&dir).unwrap_or_else(|| dir.clone());
        let stored = match (&store, trust_config) {
            (Some(s), false) => {
                let key = root.display().to_string();
                s.call_blocking(move |c| warden_store::trust::get(c, &key))
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let trust = if trust_config {
            Trust::Given
        } else {
            Trust::Stored(stored.as_deref())
        };
        let extras = Extras {
            baseline,
            advisories: advisories.clone(),
            ..Extras::default()
        };
        let root_cfg = super::load_root(&root, trust, extras);
        for w in root_cfg.scan_warnings() {
            eprintln!("warden: warning: {w}");
        }
        let mut cfg: ScanConfig = (*root_cfg.scan()).clone();
        cfg.checks = checks;
        // Every syntax error, committed or not: a scan (CI) judges the tree as it is.
        cfg.committed = None;
        let files = if abs.is_dir() {
            match warden_workspace::list_files(&abs) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("warden: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        } else {
            vec![abs.clone()]
        };
        let results: Vec<(PathBuf, FileResult)> = files
            .into_par_iter()
            .map(|f| {
                let r = cfg.scan_file(&f);
                (f, r)
            })
            .collect();
        for (file, result) in results {
            summary.add(&result);
            match result {
                FileResult::Scanned { findings, text, .. } if !findings.is_empty() => {
                    let display = display_path(&file, &root, path, &abs);
                    for f in findings {
                        let column = |at: usize, col| column_at(&text, at, col, Unit::Char) + 1;
                        reported.push(Reported {
                            line: f.range.start.line + 1,
                            column: column(f.start, f.range.start.col),
                            end_line: f.range.end.line + 1,
                            end_column: column(f.end, f.range.end.col),
                            path: display.clone(),
                            finding: f,
                        });
                    }
                }
                FileResult::Scanned { .. } => {}
                FileResult::Skipped(reason) => {
                    tracing::debug!("skipped {}: {reason}", file.display());
                }
            }
        }
    }
    reported.sort_by(|a, b| (&a.path, a.finding.start).cmp(&(&b.path, b.finding.start)));
    match format {
        Format::Text => {
            for r in &reported {
                println!(
                    "{}:{}:{}: {}[{}]: {}",
                    r.path,
                    r.line,
                    r.column,
                    r.finding.severity.as_str(),
                    r.finding.rule,
                    r.finding.message
                );
            }
        }
        Format::Json => {
            for r in &reported {
                println!("{}", json_line(r));
            }
        }
        Format::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&sarif(&reported)).unwrap_or_default()
        ),
    }
    let elapsed = started.elapsed();
    eprintln!(
        "warden: scanned {} files ({:.1} MB) in {} ms: {} findings; skipped {} ({}); {} minified lines skipped",
        summary.files,
        summary.bytes as f64 / 1e6,
        elapsed.as_millis(),
        reported.len(),
        summary.skipped_total(),
        summary.skipped_text(),
        summary.long_lines_skipped
    );
    let count = |s: Severity| reported.iter().filter(|r| r.finding.severity == s).count();
    span.set_output(json!({
        "files": summary.files,
        "bytes": summary.bytes,
        "findings": reported.len(),
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "skipped": summary.skipped_total(),
    }));
    span.ok();
    let threshold = match fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Never => None,
    };
    match threshold {
        Some(t) if reported.iter().any(|r| r.finding.severity.at_least(t)) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

/// Paths as the user would type them: relative to the current directory when below it.
fn display_path(file: &Path, root: &Path, given: &Path, abs_given: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    if let Some(rel) = cwd.as_deref().and_then(|c| file.strip_prefix(c).ok()) {
        return rel.display().to_string();
    }
    if let Ok(rel) = file.strip_prefix(abs_given) {
        // A file named itself: `join("")` would add a trailing `/`.
        if rel.as_os_str().is_empty() {
            return given.display().to_string();
        }
        return given.join(rel).display().to_string();
    }
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn json_line(r: &Reported) -> String {
    json!({
        "path": r.path,
        "line": r.line,
        "column": r.column,
        "endLine": r.end_line,
        "endColumn": r.end_column,
        "kind": r.finding.kind,
        "rule": r.finding.rule,
        "severity": r.finding.severity,
        "message": r.finding.message,
        "fingerprint": r.finding.fingerprint,
    })
    .to_string()
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A SARIF 2.1.0 log that GitHub code scanning accepts.
fn sarif(reported: &[Reported]) -> Value {
    let mut rule_ids: Vec<&str> = reported.iter().map(|r| r.finding.rule.as_str()).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let builtin = warden_analysis::secrets::RuleSet::builtin();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let sample = reported.iter().find(|r| r.finding.rule == *id).map(|r| &r.finding);
            let description = builtin
                .rule(id)
                .map(|r| format!("{} {}", r.provider, r.description))
                .or_else(|| sample.map(|f| format!("{} finding", f.kind.as_str())))
                .unwrap_or_default();
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": description},
                "defaultConfiguration": {"level": sample.map_or("warning", |f| sarif_level(f.severity))},
                "properties": {"tags": ["security", sample.map_or("secret", |f| f.kind.as_str())]},
            })
        })
        .collect();
    let results: Vec<Value> = reported
        .iter()
        .map(|r| {
            let mut result = json!({
                "ruleId": r.finding.rule,
                "ruleIndex": rule_ids.iter().position(|id| *id == r.finding.rule).unwrap_or(0),
                "level": sarif_level(r.finding.severity),
                "message": {"text": r.finding.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": r.path.replace('\\', "/"), "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": r.line,
                            "startColumn": r.column,
                            "endLine": r.end_line,
                            "endColumn": r.end_column,
                        }
                    }
                }],
            });
            if let Some(fp) = &r.finding.fingerprint {
                result["partialFingerprints"] = json!({"wardenSecretHash/v1": fp});
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "warden",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/warden",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}
