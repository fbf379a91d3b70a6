//! Version requirements as sets of version intervals: PEP 440 specifiers (PyPI), npm
//! ranges, Cargo requirements, and Go's exact versions. A requirement is *pinned* when it
//! names exactly one version (`==1.2.3`, `=1.2.3`, npm `1.2.3`, Go `v1.2.3`); otherwise
//! the checker asks whether its intervals allow an affected version.
//!
//! Simplification, documented: npm's rule that ranges exclude pre-releases of other
//! versions is not modelled (intervals include pre-releases), which can only make a
//! range look like it allows *more* affected versions, never fewer.

use super::osv::{Bound, Interval};
use super::version::{Ecosystem, Pep440, Semver, Version};

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Union of intervals (`||` in npm); empty means "unknown" (a URL, a tag, a path).
    pub intervals: Vec<Interval>,
    /// The single version it allows, when it is an exact pin.
    pub pinned: Option<Version>,
}

impl Requirement {
    pub fn any() -> Requirement {
        Requirement {
            intervals: vec![Interval::all()],
            pinned: None,
        }
    }

    pub fn unknown() -> Requirement {
        Requirement {
            intervals: Vec::new(),
            pinned: None,
        }
    }

    pub fn is_known(&self) -> bool {
        !self.intervals.is_empty()
    }

    pub fn allows(&self, v: &Version) -> bool {
        self.intervals.iter().any(|i| i.contains(v))
    }

    /// Exactly one version (a lockfile's resolved version); unknown when unparsable.
    pub fn locked(eco: Ecosystem, version: &str) -> Requirement {
        match eco.parse_version(version) {
            Some(v) => exact(v),
            None => Requirement::unknown(),
        }
    }

    pub fn parse(eco: Ecosystem, spec: &str) -> Requirement {
        let spec = spec.trim();
        match eco {
            Ecosystem::PyPI => pep440(spec),
            Ecosystem::Npm => npm(spec),
            Ecosystem::CratesIo => cargo(spec),
            Ecosystem::Go => match Semver::parse(spec) {
                Some(v) => exact(Version::Semver(v)),
                None => Requirement::unknown(),
            },
        }
    }
}

fn exact(v: Version) -> Requirement {
    Requirement {
        intervals: vec![Interval::exactly(v.clone())],
        pinned: Some(v),
    }
}

fn and(a: Interval, b: Interval) -> Interval {
    a.intersection(&b)
}

fn ge(v: Version) -> Interval {
    Interval {
        lower: Bound::Included(v),
        upper: Bound::Unbounded,
    }
}

fn range(lo: Version, hi: Version) -> Interval {
    Interval {
        lower: Bound::Included(lo),
        upper: Bound::Excluded(hi),
    }
}

// ---- PEP 440 ----

fn pep(s: &str) -> Option<Version> {
    Pep440::parse(s).map(Version::Pep440)
}

/// The lowest version of the next release prefix: `1.2` -> `1.3.dev0`.
fn pep_next_prefix(parts: &[u64]) -> Option<Version> {
    let mut next = parts.to_vec();
    *next.last_mut()? += 1;
    let text = next
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    pep(&format!("{text}.dev0"))
}

fn pep440(spec: &str) -> Requirement {
    if spec.is_empty() {
        return Requirement::any();
    }
    let mut interval = Interval::all();
    let mut pinned = None;
    let mut clauses = 0;
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        clauses += 1;
        let (op, rest) = ["===", "~=", "==", "!=", ">=", "<=", ">", "<"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("==", clause));
        let part = match op {
            "!=" => continue, // excluding one version does not narrow what else is allowed
            "==" | "===" if rest.ends_with(".*") => {
                let prefix: Option<Vec<u64>> = rest
                    .trim_end_matches(".*")
                    .split('.')
                    .map(|p| p.parse().ok())
                    .collect();
                match (
                    prefix.as_deref().and_then(|p| {
                        pep(&p.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
                    }),
                    prefix.as_deref().and_then(pep_next_prefix),
                ) {
                    (Some(lo), Some(hi)) => range(lo, hi),
                    _ => return Requirement::unknown(),
                }
            }
            "==" | "===" => match pep(rest) {
                Some(v) => {
                    pinned = Some(v.clone());
                    Interval::exactly(v)
                }
                None => return Requirement::unknown(),
            },
            "~=" => match Pep440::parse(rest) {
                Some(v) if v.release.len() >= 2 => {
                    let hi = pep_next_prefix(&v.release[..v.release.len() - 1]);
                    match hi {
                        Some(hi) => range(Version::Pep440(v), hi),
                        None => return Requirement::unknown(),
                    }
                }
                _ => return Requirement::unknown(),
            },
            ">=" | "<=" | ">" | "<" => match pep(rest) {
                Some(v) => match op {
                    ">=" => ge(v),
                    ">" => Interval {
                        lower: Bound::Excluded(v),
                        upper: Bound::Unbounded,
                    },
                    "<=" => Interval {
                        lower: Bound::Unbounded,
                        upper: Bound::Included(v),
                    },
                    _ => Interval {
                        lower: Bound::Unbounded,
                        upper: Bound::Excluded(v),
                    },
                },
                None => return Requirement::unknown(),
            },
            _ => return Requirement::unknown(),
        };
        interval = and(interval, part);
    }
    Requirement {
        intervals: vec![interval],
        pinned: pinned.filter(|_| clauses == 1),
    }
}

// ---- npm and Cargo (semver) ----

/// A partial version `1`, `1.2`, `1.2.3`, `1.x`, `*`: the parts given (x = missing).
fn partial(s: &str) -> Option<(Vec<u64>, Option<String>)> {
    let s = s.trim().trim_start_matches(['v', '=']).trim();
    if s.is_empty() || s == "*" || s.eq_ignore_ascii_case("x") {
        return Some((Vec::new(), None));
    }
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p.split('+').next().unwrap_or(p).to_owned())),
        None => (s.split('+').next().unwrap_or(s), None),
    };
    let mut parts = Vec::new();
    for p in core.split('.') {
        if p == "*" || p.eq_ignore_ascii_case("x") {
            break;
        }
        parts.push(p.parse().ok()?);
    }
    (parts.len() <= 3).then_some((parts, pre))
}

fn sv(parts: &[u64], pre: Option<&str>) -> Option<Version> {
    let text = format!(
        "{}.{}.{}{}",
        parts.first().unwrap_or(&0),
        parts.get(1).unwrap_or(&0),
        parts.get(2).unwrap_or(&0),
        pre.map(|p| format!("-{p}")).unwrap_or_default()
    );
    Semver::parse(&text).map(Version::Semver)
}

/// The lowest version above a partial prefix: `1` -> `2.0.0-0`, `1.2` -> `1.3.0-0`.
fn sv_after(parts: &[u64]) -> Option<Version> {
    let mut next = parts.to_vec();
    *next.last_mut()? += 1;
    sv(&next, Some("0"))
}

/// Caret: the leftmost non-zero part (or the last given part) may not change.
fn caret(parts: &[u64], pre: Option<&str>) -> Option<Interval> {
    let lo = sv(parts, pre)?;
    // ^1.2.3 keeps 1 part, ^0.2.3 keeps 2, ^0.0.3 keeps 3; ^0.0 keeps both given.
    let keep = parts
        .iter()
        .position(|&p| p != 0)
        .map_or(parts.len(), |i| i + 1);
    Some(range(lo, sv_after(&parts[..keep])?))
}

fn tilde(parts: &[u64], pre: Option<&str>) -> Option<Interval> {
    let lo = sv(parts, pre)?;
    // ~1.2.3 and ~1.2 stay below 1.3; ~1 stays below 2.
    let hi = sv_after(&parts[..parts.len().min(2)])?;
    Some(range(lo, hi))
}

/// One comparator (`^1.2`, `>=1.0.0`, `1.2.x`, `~1`) as an interval; `pinned` is set
/// for an exact full version.
fn comparator(c: &str, bare_is_caret: bool, pinned: &mut Option<Version>) -> Option<Interval> {
    let (op, rest) = [">=", "<=", ">", "<", "^", "~>", "~", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r.trim())))
        .unwrap_or(("", c));
    let (parts, pre) = partial(rest)?;
    let pre = pre.as_deref();
    if parts.is_empty() {
        return Some(Interval::all());
    }
    let full = parts.len() == 3;
    Some(match op {
        "^" => caret(&parts, pre)?,
        "~" | "~>" => tilde(&parts, pre)?,
        ">=" => ge(sv(&parts, pre)?),
        ">" if full => Interval {
            lower: Bound::Excluded(sv(&parts, pre)?),
            upper: Bound::Unbounded,
        },
        ">" => ge(sv_after(&parts)?),
        "<" => {
            // `<2` excludes 2.0.0's pre-releases too; `<2.0.0` is exact.
            let bound = if full {
                sv(&parts, pre)?
            } else {
                sv(&parts, Some("0"))?
            };
            Interval {
                lower: Bound::Unbounded,
                upper: Bound::Excluded(bound),
            }
        }
        "<=" if full => Interval {
            lower: Bound::Unbounded,
            upper: Bound::Included(sv(&parts, pre)?),
        },
        "<=" => Interval {
            lower: Bound::Unbounded,
            upper: Bound::Excluded(sv_after(&parts)?),
        },
        "" if bare_is_caret => caret(&parts, pre)?,
        _ if full => {
            let v = sv(&parts, pre)?;
            *pinned = Some(v.clone());
            Interval::exactly(v)
        }
        _ => range(sv(&parts, pre)?, sv_after(&parts)?), // `1.2` / `=1.2` is 1.2.x
    })
}

fn npm(spec: &str) -> Requirement {
    if spec.is_empty() || spec == "*" || spec == "latest" {
        return Requirement::any();
    }
    if spec.contains(':') || spec.contains('/') {
        return Requirement::unknown(); // git, file:, npm:, URLs, tarballs
    }
    let mut intervals = Vec::new();
    let mut pinned = None;
    let alternatives: Vec<&str> = spec.split("||").map(str::trim).collect();
    for alt in &alternatives {
        let interval = if let Some((lo, hi)) = alt.split_once(" - ") {
            // Hyphen range: inclusive of a full upper version, below the next partial one.
            let (Some((lp, lpre)), Some((hp, hpre))) = (partial(lo), partial(hi)) else {
                return Requirement::unknown();
            };
            let (Some(lower), upper) = (
                sv(&lp, lpre.as_deref()),
                if hp.len() == 3 {
                    sv(&hp, hpre.as_deref()).map(Bound::Included)
                } else {
                    sv_after(&hp).map(Bound::Excluded)
                },
            ) else {
                return Requirement::unknown();
            };
            Interval {
                lower: Bound::Included(lower),
                upper: upper.unwrap_or(Bound::Unbounded),
            }
        } else {
            let mut acc = Interval::all();
            for c in alt.split_whitespace() {
                let Some(i) = comparator(c, false, &mut pinned) else {
                    return Requirement::unknown();
                };
                acc = and(acc, i);
            }
            acc
        };
        intervals.push(interval);
    }
    let single = alternatives.len() == 1 && !alternatives[0].contains(' ');
    Requirement {
        intervals,
        pinned: pinned.filter(|_| single),
    }
}

fn cargo(spec: &str) -> Requirement {
    if spec.is_empty() || spec == "*" {
        return Requirement::any();
    }
    let mut acc = Interval::all();
    let mut pinned = None;
    let clauses: Vec<&str> = spec.split(',').map(str::trim).collect();
    for c in &clauses {
        let Some(i) = comparator(c, true, &mut pinned) else {
            return Requirement::unknown();
        };
        acc = and(acc, i);
    }
    Requirement {
        intervals: vec![acc],
        pinned: pinned.filter(|_| clauses.len() == 1 && spec.trim_start().starts_with('=')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(eco: Ecosystem, spec: &str, yes: &[&str], no: &[&str]) {
        let r = Requirement::parse(eco, spec);
        assert!(r.is_known(), "{spec} is understood");
        for v in yes {
            assert!(
                r.allows(&eco.parse_version(v).unwrap()),
                "{spec} allows {v}"
            );
        }
        for v in no {
            assert!(
                !r.allows(&eco.parse_version(v).unwrap()),
                "{spec} does not allow {v}"
            );
        }
    }

    #[test]
    fn pep440_specifiers() {
        let py = Ecosystem::PyPI;
        allows(py, "==2.30.0", &["2.30.0", "2.30"], &["2.30.1", "2.31.0"]);
        allows(
            py,
            ">=2.0",
            &["2.0", "3.1", "2.0.post1"],
            &["1.9", "2.0.dev1", "2.0rc1"],
        );
        allows(py, ">=2.0,<3", &["2.5"], &["3.0", "1.0"]);
        allows(py, "~=2.28", &["2.28", "2.99"], &["3.0", "2.27"]);
        allows(py, "~=2.28.1", &["2.28.5"], &["2.29.0", "2.28.0"]);
        allows(py, "==2.*", &["2.0", "2.31.0"], &["3.0", "1.9"]);
        allows(py, "!=2.30.0", &["2.30.1"], &[]);
        allows(py, "", &["0.1", "99"], &[]);
        assert!(Requirement::parse(py, "==2.30.0").pinned.is_some());
        assert!(Requirement::parse(py, ">=2.0").pinned.is_none());
        assert!(!Requirement::parse(py, "@ https://x.invalid/a.whl").is_known());
    }

    #[test]
    fn npm_ranges() {
        let n = Ecosystem::Npm;
        allows(
            n,
            "^4.17.0",
            &["4.17.0", "4.17.21", "4.99.0"],
            &["5.0.0", "4.16.9"],
        );
        allows(n, "^0.2.3", &["0.2.9"], &["0.3.0", "0.2.2"]);
        allows(n, "^0.0.3", &["0.0.3"], &["0.0.4"]);
        allows(n, "~1.2.3", &["1.2.9"], &["1.3.0"]);
        allows(n, "~1.2", &["1.2.0", "1.2.9"], &["1.3.0"]);
        allows(n, "1.2.x", &["1.2.7"], &["1.3.0"]);
        allows(n, "1.x", &["1.9.9"], &["2.0.0"]);
        allows(n, "*", &["0.0.1", "9.0.0"], &[]);
        allows(n, ">=1.0.0 <2", &["1.5.0"], &["2.0.0", "0.9.0"]);
        allows(n, "1.2.3 - 2.3.4", &["2.3.4", "1.2.3"], &["2.3.5"]);
        allows(n, "1.2 - 2", &["2.9.9"], &["3.0.0"]);
        allows(n, "^1.0.0 || ^3.0.0", &["1.5.0", "3.1.0"], &["2.0.0"]);
        allows(n, "5.6.1", &["5.6.1"], &["5.6.2"]);
        assert_eq!(
            Requirement::parse(n, "5.6.1")
                .pinned
                .map(|v| v.to_string())
                .as_deref(),
            Some("5.6.1")
        );
        assert!(Requirement::parse(n, "^5.6.1").pinned.is_none());
        for unknown in [
            "git+https://example.invalid/x.git",
            "file:../x",
            "npm:other@1",
            "user/repo",
        ] {
            assert!(!Requirement::parse(n, unknown).is_known(), "{unknown}");
        }
    }

    #[test]
    fn cargo_requirements_and_go() {
        let c = Ecosystem::CratesIo;
        allows(c, "1.2.3", &["1.9.0"], &["2.0.0", "1.2.2"]);
        allows(c, "0.3", &["0.3.9"], &["0.4.0"]);
        allows(c, "~1.2", &["1.2.9"], &["1.3.0"]);
        allows(c, "=1.2.3", &["1.2.3"], &["1.2.4"]);
        allows(c, ">=1.0, <1.5", &["1.4.9"], &["1.5.0"]);
        allows(c, "1.*", &["1.9.9"], &["2.0.0"]);
        assert!(Requirement::parse(c, "=1.2.3").pinned.is_some());
        assert!(
            Requirement::parse(c, "1.2.3").pinned.is_none(),
            "a bare Cargo version is a caret range"
        );
        let g = Requirement::parse(Ecosystem::Go, "v0.17.0");
        assert!(g.pinned.is_some());
        assert!(!Requirement::parse(Ecosystem::Go, "latest").is_known());
    }
}
