//! OSV records (ossf/osv-schema) and their evaluation: whether a version is affected
//! (the schema's "Evaluation" algorithm over `versions` and SEMVER/ECOSYSTEM ranges;
//! GIT ranges are ignored, since a package version names no commit), and the affected
//! version intervals, for deciding whether a version requirement allows an affected
//! version. A range's `limit` events do not end an affected stretch the way `fixed`
//! does: per the schema a version is affected only if it is also below some limit
//! (`"*"`: no limit).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::version::{Ecosystem, Version};

/// The parts of an OSV record warden uses. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub package: Package,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    /// `versions` parsed, on first use (advisories list up to thousands).
    #[serde(skip)]
    listed: std::sync::OnceLock<Vec<Version>>,
    /// The evaluable ranges as intervals, on first use.
    #[serde(skip)]
    intervals: std::sync::OnceLock<Vec<Interval>>,
}

impl Affected {
    /// The listed versions, parsed once per record and sorted (unparsable ones
    /// dropped).
    pub fn listed(&self, eco: Ecosystem) -> &[Version] {
        self.listed.get_or_init(|| {
            let mut v: Vec<Version> = self
                .versions
                .iter()
                .filter_map(|v| eco.parse_version(v))
                .collect();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
            v
        })
    }

    /// Whether `version` is listed (binary search).
    pub fn lists(&self, eco: Ecosystem, version: &Version) -> bool {
        let listed = self.listed(eco);
        let at = listed.partition_point(|v| v.partial_cmp(version) == Some(Ordering::Less));
        listed.get(at).is_some_and(|v| v == version)
    }

    /// The listed versions that lie in `interval` (binary search).
    pub fn listed_in(&self, eco: Ecosystem, interval: &Interval) -> &[Version] {
        let listed = self.listed(eco);
        let from = listed.partition_point(|v| match &interval.lower {
            Bound::Unbounded => false,
            Bound::Included(l) => v.partial_cmp(l) == Some(Ordering::Less),
            Bound::Excluded(l) => v.partial_cmp(l) != Some(Ordering::Greater),
        });
        let to = listed.partition_point(|v| match &interval.upper {
            Bound::Unbounded => true,
            Bound::Included(u) => v.partial_cmp(u) != Some(Ordering::Greater),
            Bound::Excluded(u) => v.partial_cmp(u) == Some(Ordering::Less),
        });
        listed.get(from..to.max(from)).unwrap_or_default()
    }

    /// Whether a listed version lies in `interval` (binary search).
    pub fn lists_any_in(&self, eco: Ecosystem, interval: &Interval) -> bool {
        let listed = self.listed(eco);
        let from = match &interval.lower {
            Bound::Unbounded => 0,
            Bound::Included(l) | Bound::Excluded(l) => {
                listed.partition_point(|v| v.partial_cmp(l) == Some(Ordering::Less))
            }
        };
        // The first listed version above the lower bound is in the interval, or none is.
        let above = |v: &&Version| match &interval.lower {
            Bound::Excluded(l) => v.partial_cmp(&l) == Some(Ordering::Greater),
            _ => true,
        };
        listed[from..]
            .iter()
            .find(above)
            .is_some_and(|v| interval.contains(v))
    }
}

impl Record {
    /// Parses what evaluation needs up front, so clones of a cached record share the work.
    pub fn prepare(&self) {
        for a in &self.affected {
            if let Some(eco) = Ecosystem::parse(&a.package.ecosystem) {
                a.listed(eco);
                range_intervals(eco, a);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
    /// `events` parsed and sorted, on first use.
    #[serde(skip)]
    parsed: std::sync::OnceLock<Vec<Ev>>,
}

/// One range event; exactly one field is set in valid records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Record {
    /// Malicious-package records (OSSF malicious-packages, `MAL-` ids).
    pub fn is_malicious(&self) -> bool {
        self.id.starts_with("MAL-")
    }
}

/// A bound of a version interval.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Unbounded,
    Included(Version),
    Excluded(Version),
}

/// A set of versions between two bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub lower: Bound,
    pub upper: Bound,
}

impl Interval {
    pub fn all() -> Interval {
        Interval {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        }
    }

    pub fn exactly(v: Version) -> Interval {
        Interval {
            lower: Bound::Included(v.clone()),
            upper: Bound::Included(v),
        }
    }

    pub fn contains(&self, v: &Version) -> bool {
        let above = match &self.lower {
            Bound::Unbounded => true,
            Bound::Included(l) => {
                matches!(v.partial_cmp(l), Some(Ordering::Greater | Ordering::Equal))
            }
            Bound::Excluded(l) => v.partial_cmp(l) == Some(Ordering::Greater),
        };
        let below = match &self.upper {
            Bound::Unbounded => true,
            Bound::Included(u) => {
                matches!(v.partial_cmp(u), Some(Ordering::Less | Ordering::Equal))
            }
            Bound::Excluded(u) => v.partial_cmp(u) == Some(Ordering::Less),
        };
        above && below
    }

    /// The versions both intervals contain (possibly none; see [`Interval::intersects`]).
    pub fn intersection(&self, other: &Interval) -> Interval {
        Interval {
            lower: tighter(&self.lower, &other.lower, Ordering::Greater).clone(),
            upper: tighter(&self.upper, &other.upper, Ordering::Less).clone(),
        }
    }

    /// Whether two intervals share at least one version.
    pub fn intersects(&self, other: &Interval) -> bool {
        !self.intersection(other).is_empty()
    }

    /// Whether no version lies in the interval: its bounds cross, it ends below the
    /// lowest version of its scheme (`< 0.0.0-0`, `< 0.dev0`), or nothing sorts
    /// between its exclusive bounds (`> 1.0.0, < 1.0.1-0`).
    pub fn is_empty(&self) -> bool {
        let cmp = |l: &Version, u: &Version| l.partial_cmp(u);
        match (&self.lower, &self.upper) {
            (_, Bound::Unbounded) => false,
            (Bound::Unbounded, Bound::Included(_)) => false,
            (Bound::Unbounded, Bound::Excluded(u)) => u.is_minimum(),
            (Bound::Included(l), Bound::Included(u)) => {
                cmp(l, u).is_none_or(|o| o == Ordering::Greater)
            }
            (Bound::Included(l), Bound::Excluded(u)) | (Bound::Excluded(l), Bound::Included(u)) => {
                cmp(l, u) != Some(Ordering::Less)
            }
            (Bound::Excluded(l), Bound::Excluded(u)) => {
                cmp(l, u) != Some(Ordering::Less) || l.is_followed_by(u)
            }
        }
    }
}

impl std::fmt::Display for Interval {
    /// `>= 2.3.0, < 2.31.0`, `= 5.6.1`, `all versions`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.lower, &self.upper) {
            (Bound::Included(l), Bound::Included(u)) if l == u => write!(f, "= {l}"),
            (Bound::Unbounded, Bound::Unbounded) => write!(f, "all versions"),
            (lower, upper) => {
                let lower = match lower {
                    Bound::Included(v) => Some(format!(">= {v}")),
                    Bound::Excluded(v) => Some(format!("> {v}")),
                    Bound::Unbounded => None,
                };
                let upper = match upper {
                    Bound::Included(v) => Some(format!("<= {v}")),
                    Bound::Excluded(v) => Some(format!("< {v}")),
                    Bound::Unbounded => None,
                };
                let parts: Vec<String> = lower.into_iter().chain(upper).collect();
                write!(f, "{}", parts.join(", "))
            }
        }
    }
}

/// Of two bounds, the one that admits fewer versions: for lower bounds the greater
/// (`keep = Greater`), for upper bounds the lesser (`keep = Less`); at equal versions
/// an exclusive bound is tighter.
fn tighter<'a>(a: &'a Bound, b: &'a Bound, keep: Ordering) -> &'a Bound {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            match x.partial_cmp(y) {
                Some(o) if o == keep => a,
                Some(Ordering::Equal) | None if matches!(a, Bound::Excluded(_)) => a,
                _ => b,
            }
        }
    }
}

/// An event's kind and version, parsed; `introduced: "0"` is the lowest version.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Introduced(Option<Version>),
    Fixed(Version),
    LastAffected(Version),
    /// `None` for `"*"`, no limit.
    Limit(Option<Version>),
}

/// The range's events, parsed and sorted once per record.
fn events(eco: Ecosystem, range: &Range) -> &[Ev] {
    range.parsed.get_or_init(|| parse_events(eco, range))
}

fn parse_events(eco: Ecosystem, range: &Range) -> Vec<Ev> {
    let mut events: Vec<Ev> = range
        .events
        .iter()
        .filter_map(|e| {
            if let Some(v) = &e.introduced {
                return Some(Ev::Introduced(if v == "0" {
                    None
                } else {
                    Some(eco.parse_version(v)?)
                }));
            }
            if let Some(v) = &e.fixed {
                return eco.parse_version(v).map(Ev::Fixed);
            }
            if let Some(v) = &e.last_affected {
                return eco.parse_version(v).map(Ev::LastAffected);
            }
            // The schema: a limit containing `*` is infinity.
            match e.limit.as_deref()? {
                v if v.contains('*') => Some(Ev::Limit(None)),
                v => eco.parse_version(v).map(|v| Ev::Limit(Some(v))),
            }
        })
        .collect();
    let key = |e: &Ev| -> Option<Version> {
        match e {
            Ev::Introduced(v) => v.clone(),
            Ev::Fixed(v) | Ev::LastAffected(v) => Some(v.clone()),
            Ev::Limit(v) => v.clone(),
        }
    };
    events.sort_by(|a, b| match (key(a), key(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    });
    events
}

fn evaluable(range: &Range) -> bool {
    matches!(range.kind.as_str(), "SEMVER" | "ECOSYSTEM")
}

/// Whether `version` is affected by `affected`, per the OSV evaluation rules.
pub fn is_affected(eco: Ecosystem, affected: &Affected, version: &Version) -> bool {
    affected.lists(eco, version)
        || affected
            .ranges
            .iter()
            .filter(|r| evaluable(r))
            .any(|range| {
                let events = events(eco, range);
                if limit(events).is_some_and(|l| version >= l) {
                    return false;
                }
                let mut vulnerable = false;
                for e in events {
                    match e {
                        Ev::Introduced(None) => vulnerable = true,
                        Ev::Introduced(Some(v)) => {
                            if version >= v {
                                vulnerable = true;
                            }
                        }
                        Ev::Fixed(v) => {
                            if version >= v {
                                vulnerable = false;
                            }
                        }
                        Ev::LastAffected(v) => {
                            if version > v {
                                vulnerable = false;
                            }
                        }
                        Ev::Limit(_) => {}
                    }
                }
                vulnerable
            })
}

/// The greatest `limit` of a range, when it has limits and none is `"*"`: only versions
/// below it can be affected ("below some limit").
fn limit(events: &[Ev]) -> Option<&Version> {
    let mut out: Option<&Version> = None;
    for e in events {
        match e {
            Ev::Limit(None) => return None,
            Ev::Limit(Some(v)) if out.is_none_or(|o| v > o) => out = Some(v),
            _ => {}
        }
    }
    out
}

/// The intervals of the evaluable ranges only (not the listed versions), computed once
/// per record.
pub fn range_intervals(eco: Ecosystem, affected: &Affected) -> &[Interval] {
    affected
        .intervals
        .get_or_init(|| compute_range_intervals(eco, affected))
}

fn compute_range_intervals(eco: Ecosystem, affected: &Affected) -> Vec<Interval> {
    let mut out = Vec::new();
    for range in affected.ranges.iter().filter(|r| evaluable(r)) {
        let events = events(eco, range);
        let mut found = Vec::new();
        let mut open: Option<Bound> = None;
        for e in events {
            match e {
                Ev::Introduced(v) => {
                    if open.is_none() {
                        open = Some(v.clone().map_or(Bound::Unbounded, Bound::Included));
                    }
                }
                Ev::Fixed(v) => {
                    if let Some(lower) = open.take() {
                        found.push(Interval {
                            lower,
                            upper: Bound::Excluded(v.clone()),
                        });
                    }
                }
                Ev::LastAffected(v) => {
                    if let Some(lower) = open.take() {
                        found.push(Interval {
                            lower,
                            upper: Bound::Included(v.clone()),
                        });
                    }
                }
                Ev::Limit(_) => {}
            }
        }
        if let Some(lower) = open {
            found.push(Interval {
                lower,
                upper: Bound::Unbounded,
            });
        }
        if let Some(limit) = limit(events) {
            let below = Interval {
                lower: Bound::Unbounded,
                upper: Bound::Excluded(limit.clone()),
            };
            found = found.iter().map(|i| i.intersection(&below)).collect();
        }
        out.extend(found.into_iter().filter(|i| !i.is_empty()));
    }
    out
}

/// The affected versions for people: the ranges when the entry has evaluable ones,
/// else the listed versions (at most `max`, then a count of the rest).
pub fn describe_affected(eco: Ecosystem, affected: &Affected, max: usize) -> Vec<String> {
    let mut out: Vec<String> = range_intervals(eco, affected)
        .iter()
        .map(ToString::to_string)
        .collect();
    if out.is_empty() {
        out = affected
            .versions
            .iter()
            .take(max)
            .map(|v| format!("= {v}"))
            .collect();
        if affected.versions.len() > max {
            out.push(format!(
                "and {} more versions",
                affected.versions.len() - max
            ));
        }
    }
    if out.is_empty() {
        out.push("all versions".into());
    }
    out
}

/// Fixed versions named by the ranges (candidates for "upgrade to").
pub fn fixed_versions(eco: Ecosystem, affected: &Affected) -> Vec<Version> {
    let mut out: Vec<Version> = affected
        .ranges
        .iter()
        .filter(|r| evaluable(r))
        .flat_map(|r| r.events.iter())
        .filter_map(|e| e.fixed.as_deref().and_then(|v| eco.parse_version(v)))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn affected(v: serde_json::Value) -> Affected {
        serde_json::from_value(v).unwrap()
    }

    fn check(eco: Ecosystem, a: &Affected, cases: &[(&str, bool)]) {
        for (v, want) in cases {
            let version = eco.parse_version(v).unwrap();
            assert_eq!(is_affected(eco, a, &version), *want, "{v}");
            let by_interval = a.lists_any_in(eco, &Interval::exactly(version.clone()))
                || range_intervals(eco, a).iter().any(|i| i.contains(&version));
            assert_eq!(by_interval, *want, "{v} (intervals)");
        }
    }

    #[test]
    fn pypi_ecosystem_ranges_with_pep440() {
        // requests: introduced 0, fixed 2.31.0 (PYSEC-2023-74 shape).
        let a = affected(json!({"package": {"ecosystem": "PyPI", "name": "requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]}));
        check(
            Ecosystem::PyPI,
            &a,
            &[
                ("2.30.0", true),
                ("2.31.0rc1", true),
                ("2.31.0", false),
                ("2.31", false),
                ("2.31.0.post1", false),
                ("1!0.1", false),
                ("0.1", true),
            ],
        );
        // Two introduced/fixed pairs in one range, as django records have.
        let d = affected(json!({"package": {"ecosystem": "PyPI", "name": "django"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "5.0"}, {"fixed": "5.0.7"}, {"introduced": "4.2"}, {"fixed": "4.2.14"}]}]}));
        check(
            Ecosystem::PyPI,
            &d,
            &[
                ("4.1.9", false),
                ("4.2", true),
                ("4.2.13", true),
                ("4.2.14", false),
                ("4.3", false),
                ("5.0.0a1", false),
                ("5.0", true),
                ("5.0.6", true),
                ("5.0.7", false),
                ("5.1", false),
            ],
        );
    }

    #[test]
    fn semver_ranges_last_affected_limit_and_versions_lists() {
        let a = affected(json!({"package": {"ecosystem": "crates.io", "name": "x"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0-alpha.1"}, {"last_affected": "1.4.2"}]}]}));
        check(
            Ecosystem::CratesIo,
            &a,
            &[
                ("0.9.9", false),
                ("1.0.0-alpha.0", false),
                ("1.0.0-alpha.1", true),
                ("1.4.2", true),
                ("1.4.3", false),
            ],
        );
        let go = affected(
            json!({"package": {"ecosystem": "Go", "name": "golang.org/x/net"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.23.0"}]}]}),
        );
        check(
            Ecosystem::Go,
            &go,
            &[("v0.22.0", true), ("v0.23.0", false), ("0.17.0", true)],
        );
        // MAL- records that list exact versions only (chalk 5.6.1).
        let mal = affected(
            json!({"package": {"ecosystem": "npm", "name": "chalk"}, "versions": ["5.6.1"]}),
        );
        check(
            Ecosystem::Npm,
            &mal,
            &[("5.6.0", false), ("5.6.1", true), ("5.6.2", false)],
        );
        // GIT ranges are ignored.
        let git = affected(json!({"package": {"ecosystem": "PyPI", "name": "y"},
            "ranges": [{"type": "GIT", "repo": "https://example.invalid/y", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]}));
        check(Ecosystem::PyPI, &git, &[("1.0", false)]);
    }

    #[test]
    fn limits_bound_what_is_affected_and_do_not_fix() {
        let range = |events: serde_json::Value| {
            affected(json!({"package": {"ecosystem": "npm", "name": "x"},
                "ranges": [{"type": "SEMVER", "events": events}]}))
        };
        let npm = Ecosystem::Npm;
        // Two limits: affected below either one (below the greater), not up to the first.
        check(
            npm,
            &range(json!([{"introduced": "1.0.0"}, {"limit": "2.0.0"}, {"limit": "3.0.0"}])),
            &[
                ("0.9.0", false),
                ("1.0.0", true),
                ("2.5.0", true),
                ("3.0.0", false),
            ],
        );
        // A limit below the introduced version: nothing is below it and affected.
        check(
            npm,
            &range(json!([{"introduced": "2.0.0"}, {"limit": "1.0.0"}])),
            &[("0.5.0", false), ("2.0.0", false), ("9.0.0", false)],
        );
        // A limit caps a fixed range and an open one.
        check(
            npm,
            &range(
                json!([{"introduced": "0"}, {"fixed": "1.0.0"}, {"introduced": "2.0.0"}, {"limit": "2.5.0"}]),
            ),
            &[
                ("0.1.0", true),
                ("1.0.0", false),
                ("2.4.9", true),
                ("2.5.0", false),
                ("3.0.0", false),
            ],
        );
        // `*` is infinity: no limit at all.
        check(
            npm,
            &range(json!([{"introduced": "1.0.0"}, {"limit": "*"}, {"limit": "1.5.0"}])),
            &[("0.9.0", false), ("1.0.0", true), ("9.0.0", true)],
        );
    }

    #[test]
    fn empty_intervals() {
        let n = |s: &str| Ecosystem::Npm.parse_version(s).unwrap();
        let p = |s: &str| Ecosystem::PyPI.parse_version(s).unwrap();
        let below = |v: Version| Interval {
            lower: Bound::Unbounded,
            upper: Bound::Excluded(v),
        };
        // Nothing sorts below the lowest version of a scheme.
        assert!(below(n("0.0.0-0")).is_empty());
        assert!(!below(n("0.0.0")).is_empty());
        assert!(below(p("0.dev0")).is_empty());
        assert!(below(p("0.0.0.dev0")).is_empty());
        assert!(!below(p("0a1")).is_empty());
        let open = |a: Version, b: Version| Interval {
            lower: Bound::Excluded(a),
            upper: Bound::Excluded(b),
        };
        // Nothing between a SemVer version and its successor; PEP 440 leaves room.
        assert!(open(n("1.0.0"), n("1.0.1-0")).is_empty());
        assert!(open(n("1.0.0-a"), n("1.0.0-a.0")).is_empty());
        assert!(!open(n("1.0.0"), n("1.0.1-1")).is_empty());
        assert!(!open(p("1.0"), p("1.0.post0.dev0")).is_empty());
        // An all-versions record never intersects `<0`.
        assert!(!Interval::all().intersects(&below(n("0.0.0-0"))));
    }

    #[test]
    fn intervals_intersect() {
        let v = |s: &str| Ecosystem::Npm.parse_version(s).unwrap();
        let affected = Interval {
            lower: Bound::Included(v("4.0.0")),
            upper: Bound::Excluded(v("4.17.21")),
        };
        let caret = Interval {
            lower: Bound::Included(v("4.17.0")),
            upper: Bound::Excluded(v("5.0.0")),
        };
        let safe = Interval {
            lower: Bound::Included(v("4.17.21")),
            upper: Bound::Excluded(v("5.0.0")),
        };
        assert!(affected.intersects(&caret));
        assert!(!affected.intersects(&safe));
        assert!(Interval::all().intersects(&safe));
        assert!(Interval::exactly(v("4.17.21")).intersects(&safe));
        assert!(!Interval::exactly(v("4.17.20")).intersects(&safe));
        let fixed = fixed_versions(Ecosystem::PyPI, &serde_json::from_value(json!({"package": {"ecosystem": "PyPI", "name": "d"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "5.0"}, {"fixed": "5.0.7"}, {"introduced": "4.2"}, {"fixed": "4.2.14"}]}]})).unwrap());
        assert_eq!(
            fixed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["4.2.14", "5.0.7"]
        );
    }

    #[test]
    fn real_records_parse() {
        let rec: Record = serde_json::from_value(json!({
            "id": "MAL-2025-46969", "modified": "2025-09-09T00:00:00Z", "summary": "Malicious code in chalk (npm)",
            "affected": [{"package": {"ecosystem": "npm", "name": "chalk"}, "versions": ["5.6.1"]}],
            "references": [{"type": "WEB", "url": "https://example.invalid/advisory"}],
            "unknown_field": {"kept": "ignored"}
        }))
        .unwrap();
        assert!(rec.is_malicious());
        assert_eq!(rec.affected[0].versions, ["5.6.1"]);
    }
}
