//! Judging one dependency against the advisories for its package: a pinned version is
//! judged exactly; a range is judged by whether it allows any affected version; a
//! malicious record (`MAL-`) that affects every version is an error whatever the
//! requirement. Suggests the lowest version that no advisory affects (within the
//! requirement when one exists, else above the pin): never below the requirement's
//! lowest allowed version, never a pre-release unless the requirement names one.

use std::cmp::Ordering;

use serde::Serialize;

use super::osv::{self, Bound, Interval, Record};
use super::requirement::Requirement;
use super::version::{Ecosystem, Version};
use crate::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// A malicious package (or a malicious version the requirement allows).
    Malicious,
    /// The pinned version is affected.
    Vulnerable,
    /// The range allows affected versions (the installed one may be safe).
    AllowsAffected,
}

/// One advisory that matters for a dependency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisoryRef {
    pub id: String,
    pub aliases: Vec<String>,
    /// One line for messages: the record's summary, else its details, on one line and
    /// shortened to [`SUMMARY_CHARS`] at a word boundary (with `…`).
    pub summary: Option<String>,
    /// The record's summary and details in full (blank-line separated), for hovers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_text: Option<String>,
    /// Database severity (`HIGH`, `MODERATE`...) or a CVSS vector, when given.
    pub severity: Option<String>,
    pub references: Vec<String>,
    /// Affected versions of this package, for people (`>= 2.3.0, < 2.31.0`).
    pub affected: Vec<String>,
    /// Versions that fix it.
    pub fixed: Vec<String>,
}

impl AdvisoryRef {
    /// Id, aliases and severity label: `GHSA-x (CVE-y) [HIGH]`.
    pub fn label(&self) -> String {
        let mut s = self.id.clone();
        if !self.aliases.is_empty() {
            s.push_str(&format!(" ({})", self.aliases.join(", ")));
        }
        if let Some(sev) = self.severity.as_ref().filter(|s| !s.starts_with("CVSS")) {
            s.push_str(&format!(" [{sev}]"));
        }
        s
    }

    /// One line naming the advisory: id, aliases, severity label, summary, fix.
    pub fn line(&self) -> String {
        let mut s = self.label();
        if let Some(summary) = &self.summary {
            s.push_str(&format!(": {summary}"));
        }
        match self.fixed.first() {
            Some(v) => s.push_str(&format!("; fixed in {v}")),
            None => s.push_str("; no fix"),
        }
        s
    }
}

/// The longest summary a message carries, in characters (the hover shows the full text).
pub const SUMMARY_CHARS: usize = 120;

/// `text` on one line (whitespace runs collapsed) and at most `max` characters: cut at
/// the last word boundary that fits, with `…` in place of the rest. A single word
/// longer than `max` is cut inside it.
pub fn shorten(text: &str, max: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let one_line = words.join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    // Room for the ellipsis.
    let budget = max.saturating_sub(1);
    let mut out = String::new();
    for w in &words {
        let sep = usize::from(!out.is_empty());
        if out.chars().count() + sep + w.chars().count() > budget {
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        out = one_line.chars().take(budget).collect();
    }
    // No dangling punctuation before the ellipsis ("word,…").
    let kept = out
        .trim_end_matches([',', ';', ':', '.', '-', '(', '—'])
        .len();
    out.truncate(kept);
    out.push('…');
    out
}

/// The record's summary and details, whole; details that repeat the summary once.
fn full_text(r: &Record) -> Option<String> {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match (clean(&r.summary), clean(&r.details)) {
        (Some(s), Some(d)) if d.starts_with(&s) => Some(d),
        (Some(s), Some(d)) => Some(format!("{s}\n\n{d}")),
        (s, d) => s.or(d),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub verdict: Verdict,
    pub severity: Severity,
    pub advisories: Vec<AdvisoryRef>,
    /// The lowest version no advisory affects, as the upgrade target.
    pub safe_version: Option<String>,
    /// Fixed versions above the pin, ascending: upgrade candidates (some may be
    /// affected by another advisory; callers check).
    #[serde(skip)]
    pub fixed_candidates: Vec<String>,
    pub message: String,
}

fn severity_label(r: &Record) -> Option<String> {
    r.database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .map(str::to_owned)
        .or_else(|| r.severity.first().map(|s| s.score.clone()))
}

/// The affected entries of `record` for this package.
fn entries<'r>(
    eco: Ecosystem,
    name: &'r str,
    record: &'r Record,
) -> impl Iterator<Item = &'r osv::Affected> {
    record.affected.iter().filter(move |a| {
        Ecosystem::parse(&a.package.ecosystem) == Some(eco) && eco.is_named(&a.package.name, name)
    })
}

/// Whether any affected entry of `record` for this package affects some version the
/// requirement allows (or the pinned version).
fn matters(eco: Ecosystem, name: &str, record: &Record, req: &Requirement) -> bool {
    entries(eco, name, record).any(|a| {
        let ranges = osv::range_intervals(eco, a);
        let all_versions = (a.ranges.is_empty() && a.versions.is_empty())
            || ranges.iter().any(|i| *i == Interval::all());
        if all_versions && record.is_malicious() {
            return true;
        }
        match &req.pinned {
            Some(v) => osv::is_affected(eco, a, v),
            None => {
                ranges.iter().any(|i| req.allows_any_in(i))
                    || req.alternatives.iter().any(|alt| {
                        a.listed_in(eco, &alt.interval)
                            .iter()
                            .any(|v| alt.admits(v))
                    })
            }
        }
    })
}

fn affected_by_any(eco: Ecosystem, name: &str, records: &[&Record], v: &Version) -> bool {
    records
        .iter()
        .any(|r| entries(eco, name, r).any(|a| osv::is_affected(eco, a, v)))
}

/// Whether `v` may be suggested as the upgrade of `req`: above the pin, or not below
/// the lowest version the requirement allows (an upgrade never lowers the floor); not a
/// pre-release unless the requirement names one; not a PEP 440 local version (no index
/// serves those).
fn is_candidate(req: &Requirement, v: &Version) -> bool {
    let above = match &req.pinned {
        Some(p) => v > p,
        None => match req.floor() {
            Bound::Unbounded => true,
            Bound::Included(f) => v >= &f,
            Bound::Excluded(f) => v > &f,
        },
    };
    let local = matches!(v, Version::Pep440(p) if !p.local.is_empty());
    above && !local && (!v.is_prerelease() || req.names_prerelease())
}

/// Whether any advisory applies to a requirement: [`check`] without building the
/// issue (for trying candidate requirements).
pub fn flags(eco: Ecosystem, name: &str, req: &Requirement, records: &[Record]) -> bool {
    let name = eco.normalize_name(name);
    records.iter().any(|r| matters(eco, &name, r, req))
}

/// The issue a dependency has, if any. `name` may be unnormalized.
pub fn check(eco: Ecosystem, name: &str, req: &Requirement, records: &[Record]) -> Option<Issue> {
    let name = eco.normalize_name(name);
    let relevant: Vec<&Record> = records
        .iter()
        .filter(|r| matters(eco, &name, r, req))
        .collect();
    if relevant.is_empty() {
        return None;
    }
    let malicious = relevant.iter().any(|r| r.is_malicious());
    let verdict = if malicious {
        Verdict::Malicious
    } else if req.pinned.is_some() {
        Verdict::Vulnerable
    } else {
        Verdict::AllowsAffected
    };
    let severity = match verdict {
        Verdict::Malicious => Severity::Error,
        Verdict::Vulnerable => Severity::Warning,
        Verdict::AllowsAffected => Severity::Info,
    };
    // Upgrade target: the lowest fixed version that no advisory for the package affects,
    // preferring one the requirement already allows.
    let all: Vec<&Record> = records.iter().collect();
    let mut candidates: Vec<Version> = relevant
        .iter()
        .flat_map(|r| entries(eco, &name, r))
        .flat_map(|a| osv::fixed_versions(eco, a))
        .filter(|v| is_candidate(req, v))
        .collect();
    candidates.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    candidates.dedup();
    // Checked lazily: usually the first candidate or two are safe.
    let is_safe = |v: &&Version| !affected_by_any(eco, &name, &all, v);
    let safe = if malicious {
        None
    } else {
        candidates
            .iter()
            .filter(|v| req.pinned.is_some() || req.allows(v))
            .find(is_safe)
            .or_else(|| candidates.iter().find(is_safe))
            .map(ToString::to_string)
    };
    let advisories: Vec<AdvisoryRef> = relevant
        .iter()
        .map(|r| AdvisoryRef {
            id: r.id.clone(),
            aliases: r.aliases.clone(),
            summary: r
                .summary
                .as_deref()
                .or(r.details.as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| shorten(s, SUMMARY_CHARS)),
            full_text: full_text(r),
            severity: severity_label(r),
            references: r.references.iter().map(|x| x.url.clone()).collect(),
            affected: entries(eco, &name, r)
                .flat_map(|a| osv::describe_affected(eco, a, 8))
                .collect(),
            fixed: entries(eco, &name, r)
                .flat_map(|a| osv::fixed_versions(eco, a))
                .map(|v| v.to_string())
                .collect(),
        })
        .collect();
    let list = advisories
        .iter()
        .map(AdvisoryRef::label)
        .collect::<Vec<_>>()
        .join("; ");
    let first_summary = advisories
        .iter()
        .find_map(|a| a.summary.clone())
        .unwrap_or_default();
    let version = req
        .pinned
        .as_ref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let message = match verdict {
        Verdict::Malicious => format!(
            "{name}{version} is a malicious package: {list}. {first_summary}. Remove it and rotate any credentials the machine holds"
        ),
        Verdict::Vulnerable => format!(
            "{name}{version} is affected by {list}: {first_summary}{}",
            safe.as_ref()
                .map(|s| format!("; fixed in {s}"))
                .unwrap_or_else(|| "; no fixed version is known".into())
        ),
        Verdict::AllowsAffected => format!(
            "the requirement for {name} allows versions affected by {list}{}",
            safe.as_ref()
                .map(|s| format!("; require at least {s}"))
                .unwrap_or_default()
        ),
    };
    Some(Issue {
        verdict,
        severity,
        advisories,
        safe_version: safe,
        fixed_candidates: if malicious {
            Vec::new()
        } else {
            candidates.iter().map(ToString::to_string).collect()
        },
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(eco: &str, id: &str) -> Record {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../fixtures/osv/{eco}/{id}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn req(eco: Ecosystem, s: &str) -> Requirement {
        Requirement::parse(eco, s)
    }

    #[test]
    fn pinned_vulnerable_version_gets_the_fixed_version() {
        let recs = vec![
            fixture("PyPI", "PYSEC-2023-74"),
            fixture("PyPI", "PYSEC-2018-28"),
        ];
        let py = Ecosystem::PyPI;
        let issue = check(py, "requests", &req(py, "==2.30.0"), &recs).unwrap();
        assert_eq!(issue.verdict, Verdict::Vulnerable);
        assert_eq!(issue.severity, Severity::Warning);
        assert_eq!(
            issue.advisories.len(),
            1,
            "the 2018 advisory does not affect 2.30.0"
        );
        assert_eq!(issue.safe_version.as_deref(), Some("2.31.0"));
        assert!(
            issue.message.contains("PYSEC-2023-74") && issue.message.contains("CVE-2023-32681"),
            "{}",
            issue.message
        );
        assert!(check(py, "requests", &req(py, "==2.31.0"), &recs).is_none());
        assert!(
            check(py, "Requests", &req(py, "==2.31.0"), &recs).is_none(),
            "names normalize"
        );
        let old = check(py, "requests", &req(py, "==2.19.0"), &recs).unwrap();
        assert_eq!(old.advisories.len(), 2);
        assert_eq!(
            old.safe_version.as_deref(),
            Some("2.31.0"),
            "the lowest version both advisories spare"
        );
    }

    #[test]
    fn summaries_are_cut_at_a_word_boundary_and_the_full_text_is_kept() {
        // PYSEC-2023-74 has no summary: its details stand in for one.
        let rec = fixture("PyPI", "PYSEC-2023-74");
        let details = rec.details.clone().unwrap();
        let py = Ecosystem::PyPI;
        let issue = check(py, "requests", &req(py, "==2.30.0"), &[rec]).unwrap();
        let a = &issue.advisories[0];
        let summary = a.summary.as_deref().unwrap();
        assert_eq!(
            summary,
            "Requests is a HTTP library. Since Requests 2.3.0, Requests has been leaking Proxy-Authorization headers to destination…"
        );
        assert!(summary.chars().count() <= SUMMARY_CHARS);
        assert!(issue.message.contains(summary), "{}", issue.message);
        assert!(
            !issue.message.contains("destination s"),
            "never mid-word: {}",
            issue.message
        );
        assert_eq!(a.full_text.as_deref(), Some(details.trim()));

        // A summary plus details: the summary for messages, both whole for the hover.
        let mut rec = fixture("PyPI", "PYSEC-2023-74");
        rec.summary = Some("Unintended leak of Proxy-Authorization header in requests".into());
        let issue = check(py, "requests", &req(py, "==2.30.0"), &[rec]).unwrap();
        let a = &issue.advisories[0];
        assert_eq!(
            a.summary.as_deref(),
            Some("Unintended leak of Proxy-Authorization header in requests")
        );
        let full = a.full_text.as_deref().unwrap();
        assert!(full.starts_with("Unintended leak of Proxy-Authorization header in requests\n\nRequests is a HTTP library."));
        assert!(full.ends_with(details.trim()));
    }

    #[test]
    fn shortening_text() {
        let cases: &[(&str, usize, &str)] = &[
            ("short enough", 20, "short enough"),
            ("exactly ten", 11, "exactly ten"),
            ("one two three four", 12, "one two…"),
            ("one two three four", 13, "one two…"),
            ("one two three four", 14, "one two three…"),
            (
                "lines\n  and   runs\tof space",
                40,
                "lines and runs of space",
            ),
            ("first, second third", 10, "first…"),
            ("Supercalifragilistic", 8, "Superca…"),
            ("héllo wörld ünïcode", 12, "héllo wörld…"),
            ("", 5, ""),
        ];
        for &(text, max, want) in cases {
            let got = shorten(text, max);
            assert_eq!(got, want, "{text:?} at {max}");
            assert!(got.chars().count() <= max, "{got:?} is longer than {max}");
        }
    }

    #[test]
    fn ranges_that_allow_affected_versions_are_information() {
        let recs = vec![fixture("PyPI", "PYSEC-2023-74")];
        let py = Ecosystem::PyPI;
        let issue = check(py, "requests", &req(py, ">=2.0"), &recs).unwrap();
        assert_eq!(issue.verdict, Verdict::AllowsAffected);
        assert_eq!(issue.severity, Severity::Info);
        assert_eq!(issue.safe_version.as_deref(), Some("2.31.0"));
        assert!(check(py, "requests", &req(py, ">=2.31"), &recs).is_none());
    }

    #[test]
    fn malicious_packages_and_malicious_versions() {
        let py = Ecosystem::PyPI;
        let typo = check(
            py,
            "pilllow",
            &Requirement::any(),
            &[fixture("PyPI", "MAL-2023-1941")],
        )
        .unwrap();
        assert_eq!(typo.verdict, Verdict::Malicious);
        assert_eq!(typo.severity, Severity::Error);
        assert_eq!(typo.safe_version, None);
        let npm = Ecosystem::Npm;
        let chalk = vec![fixture("npm", "MAL-2025-46969")];
        assert_eq!(
            check(npm, "chalk", &req(npm, "5.6.1"), &chalk)
                .unwrap()
                .verdict,
            Verdict::Malicious
        );
        assert!(
            check(npm, "chalk", &req(npm, "5.6.0"), &chalk).is_none(),
            "only the listed version"
        );
        assert_eq!(
            check(npm, "chalk", &req(npm, "^5.6.0"), &chalk)
                .unwrap()
                .verdict,
            Verdict::Malicious,
            "a range that allows it"
        );
        assert!(check(npm, "chalk", &req(npm, "~5.5.0"), &chalk).is_none());
    }

    /// A record for one package: `(ranges' events, listed versions)`.
    fn record(eco: &str, id: &str, events: serde_json::Value, versions: &[&str]) -> Record {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "affected": [{"package": {"ecosystem": eco, "name": "pkg"},
                "ranges": if events.is_null() { serde_json::json!([]) } else {
                    serde_json::json!([{"type": "ECOSYSTEM", "events": events}]) },
                "versions": versions}]
        }))
        .unwrap()
    }

    #[test]
    fn requirements_that_exclude_the_affected_versions_are_clean() {
        use serde_json::json;
        let py = Ecosystem::PyPI;
        // Only 1.5 is affected: `!=1.5` excludes it (and its local versions).
        let only_15 = [
            record(
                "PyPI",
                "A-1",
                json!([{"introduced": "1.5"}, {"last_affected": "1.5"}]),
                &[],
            ),
            record("PyPI", "A-2", serde_json::Value::Null, &["1.5"]),
        ];
        for r in &only_15 {
            let recs = std::slice::from_ref(r);
            assert!(
                check(py, "pkg", &req(py, ">=1.0,!=1.5"), recs).is_none(),
                "{}",
                r.id
            );
            assert!(
                check(py, "pkg", &req(py, ">=1.0"), recs).is_some(),
                "{}",
                r.id
            );
        }
        // Only pre-releases are affected: ranges that follow the rules cannot install one.
        let pre = [record(
            "PyPI",
            "B",
            json!([{"introduced": "2.0a1"}, {"fixed": "2.0rc2"}]),
            &[],
        )];
        assert!(check(py, "pkg", &req(py, ">=1.0"), &pre).is_none());
        assert!(check(py, "pkg", &req(py, ">=2.0b1"), &pre).is_some());
        let npm = Ecosystem::Npm;
        let npm_pre = [record(
            "npm",
            "C",
            json!([{"introduced": "2.0.0-alpha"}, {"fixed": "2.0.0-rc.2"}]),
            &[],
        )];
        assert!(check(npm, "pkg", &req(npm, ">=1.0.0"), &npm_pre).is_none());
        assert!(check(npm, "pkg", &req(npm, "^2.0.0-beta"), &npm_pre).is_some());
        assert!(
            check(npm, "pkg", &req(npm, ">= 1.0.0"), &npm_pre).is_none(),
            "a space after the operator"
        );
        // `<0` allows nothing, whatever is affected.
        let everything = [record("npm", "D", json!([{"introduced": "0"}]), &[])];
        for (eco, spec) in [
            (npm, "<0"),
            (npm, "<0.0.0-0"),
            (Ecosystem::CratesIo, "<0"),
            (py, "<0"),
        ] {
            let recs = [record(eco.as_str(), "D", json!([{"introduced": "0"}]), &[])];
            assert!(
                check(eco, "pkg", &req(eco, spec), &recs).is_none(),
                "{spec}"
            );
        }
        assert!(check(npm, "pkg", &req(npm, "<=0.0"), &everything).is_some());
    }

    #[test]
    fn the_safe_version_keeps_the_floor_and_is_no_prerelease() {
        use serde_json::json;
        let npm = Ecosystem::Npm;
        // 1.1.0 fixes an older advisory but is below `~1.3.9-alpha`: not suggested.
        let recs = [record(
            "npm",
            "TWO",
            json!([{"introduced": "0"}, {"fixed": "1.1.0"}, {"introduced": "1.3.0"}, {"fixed": "1.3.9"}]),
            &[],
        )];
        let issue = check(npm, "pkg", &req(npm, "~1.3.9-alpha"), &recs).unwrap();
        assert_eq!(issue.safe_version.as_deref(), Some("1.3.9"));
        assert_eq!(issue.fixed_candidates, ["1.3.9"]);
        assert!(
            issue.message.ends_with("require at least 1.3.9"),
            "{}",
            issue.message
        );
        // A pre-release fix is skipped for a requirement that names none.
        let recs = [
            record(
                "npm",
                "P",
                json!([{"introduced": "1.10.0"}, {"fixed": "1.10.2-pre"}]),
                &[],
            ),
            record(
                "npm",
                "Q",
                json!([{"introduced": "1.10.2"}, {"fixed": "1.10.3"}]),
                &[],
            ),
        ];
        let issue = check(npm, "pkg", &req(npm, "^1.10.0"), &recs).unwrap();
        assert_eq!(issue.safe_version.as_deref(), Some("1.10.3"));
        // Pinned at 1.10.1, only P matters, and its one fix is a pre-release.
        let pinned = check(npm, "pkg", &req(npm, "1.10.1"), &recs).unwrap();
        assert_eq!(pinned.safe_version, None);
        assert!(
            pinned.message.ends_with("no fixed version is known"),
            "{}",
            pinned.message
        );
        let pinned_pre = check(npm, "pkg", &req(npm, "1.10.1-rc.1"), &recs).unwrap();
        assert_eq!(pinned_pre.safe_version.as_deref(), Some("1.10.2-pre"));
        let cargo = Ecosystem::CratesIo;
        let recs = [record(
            cargo.as_str(),
            "R",
            json!([{"introduced": "0"}, {"fixed": "0.0.9"}, {"introduced": "0.4.0"}, {"fixed": "0.4.5"}]),
            &[],
        )];
        let issue = check(cargo, "pkg", &req(cargo, "~0.4"), &recs).unwrap();
        assert_eq!(issue.fixed_candidates, ["0.4.5"]);
    }

    #[test]
    fn lodash_caret_range_and_upgrade_target_within_intent() {
        let npm = Ecosystem::Npm;
        let recs: Vec<Record> = [
            "GHSA-p6mc-m468-83gw",
            "GHSA-jf85-cpcp-j695",
            "GHSA-29mw-wpgm-hmr9",
            "GHSA-35jh-r3h4-6jhm",
        ]
        .iter()
        .map(|id| fixture("npm", id))
        .collect();
        let pinned = check(npm, "lodash", &req(npm, "4.17.15"), &recs).unwrap();
        assert_eq!(pinned.verdict, Verdict::Vulnerable);
        let safe = pinned.safe_version.clone().unwrap();
        let safe_v = npm.parse_version(&safe).unwrap();
        assert!(
            !affected_by_any(npm, "lodash", &recs.iter().collect::<Vec<_>>(), &safe_v),
            "{safe} is safe"
        );
        let range = check(npm, "lodash", &req(npm, "^4.17.0"), &recs).unwrap();
        assert_eq!(range.verdict, Verdict::AllowsAffected);
        assert!(
            req(npm, "^4.17.0").allows(
                &npm.parse_version(range.safe_version.as_deref().unwrap())
                    .unwrap()
            )
        );
    }
}
