//! Version requirements as unions of version intervals, each with the pre-releases it
//! admits, read the way each ecosystem's reference implementation reads them:
//!
//! - PyPI: PEP 440 specifier sets as `packaging` (26) reads them, also in PEP 508's
//!   parenthesised form (`(>=1.0,<2)`). `!=` excludes a version and its local versions;
//!   `<V` excludes V's pre-releases, `>V` V's post-releases and local versions, `<=V`
//!   admits V's local versions; epochs count in `~=` and `==E!X.*`. Pre-releases are
//!   admitted only when a specifier other than `!=` and `==X.*` names one (pip's
//!   default when released versions exist).
//! - npm: ranges as node-semver 7 reads them in npm's loose mode (this module follows
//!   its desugaring step by step): spaces after an operator are dropped (`>= 1.2.3`),
//!   `= 1.2.3` and `v 1.2.3` are exact versions, and a pre-release is admitted only by
//!   a comparator set with a comparator that names a pre-release of the same
//!   major.minor.patch.
//! - Cargo: requirements as the `semver` crate reads them (`1.1.*` is 1.1.x only; the
//!   same pre-release rule as npm).
//! - Go: exact versions.
//!
//! A requirement is *pinned* when it names exactly one version (`==1.2.3`, `=1.2.3`, npm
//! `1.2.3`, Go `v1.2.3`); otherwise the checker asks whether an alternative admits a
//! version of an affected interval ([`Requirement::allows_any_in`]). The differential
//! tests in `server/analysis/tests/oracles.rs` compare [`Requirement::allows`] with the
//! reference implementations, and `allows_any_in` with `allows`.

use std::sync::LazyLock;

use regex::Regex;

use super::osv::{Bound, Interval};
use super::version::{Ecosystem, LocalSeg, Pep440, PreId, Semver, Version};

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// The versions allowed: the union of the alternatives (`||` in npm, the pieces of a
    /// PEP 440 set with `!=`). No alternatives: nothing is allowed (`<0`), or, when the
    /// requirement is not known, nothing can be said.
    pub alternatives: Vec<Alternative>,
    /// The single version it allows, when it is an exact pin.
    pub pinned: Option<Version>,
    /// False for what cannot be read as a requirement (a URL, a tag, a path).
    known: bool,
}

/// One interval of allowed versions and the pre-releases in it that are allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub interval: Interval,
    pub prereleases: Prereleases,
}

/// Which pre-releases inside an alternative's interval it allows (released versions
/// inside the interval always are).
#[derive(Debug, Clone, PartialEq)]
pub enum Prereleases {
    /// Every one (an exact version; a PEP 440 set that names a pre-release).
    All,
    /// Only pre-releases of these SemVer major.minor.patch; empty: none.
    Of(Vec<[u64; 3]>),
}

impl Prereleases {
    const NONE: Prereleases = Prereleases::Of(Vec::new());
}

impl Alternative {
    /// Whether this alternative allows `v`.
    pub fn admits(&self, v: &Version) -> bool {
        self.interval.contains(v)
            && (!v.is_prerelease()
                || match (&self.prereleases, v) {
                    (Prereleases::All, _) => true,
                    (Prereleases::Of(of), Version::Semver(s)) => {
                        of.contains(&[s.major, s.minor, s.patch])
                    }
                    (Prereleases::Of(_), Version::Pep440(_)) => false,
                })
    }

    /// Whether this alternative allows some version of `other`.
    pub fn admits_any_in(&self, other: &Interval) -> bool {
        let both = self.interval.intersection(other);
        if both.is_empty() {
            return false;
        }
        let Prereleases::Of(of) = &self.prereleases else {
            return true;
        };
        has_release(&both)
            || of.iter().any(|&[major, minor, patch]| {
                let prereleases = Interval {
                    lower: Bound::Included(Version::Semver(Semver::new(
                        major,
                        minor,
                        patch,
                        vec![PreId::Num(0)],
                    ))),
                    upper: Bound::Excluded(Version::Semver(Semver::new(
                        major,
                        minor,
                        patch,
                        Vec::new(),
                    ))),
                };
                !both.intersection(&prereleases).is_empty()
            })
    }
}

/// Whether a non-empty interval holds a version that is not a pre-release: its lower
/// bound raised to the lowest such version still lies below its upper bound.
fn has_release(i: &Interval) -> bool {
    let scheme = match (&i.lower, &i.upper) {
        (Bound::Included(v) | Bound::Excluded(v), _)
        | (_, Bound::Included(v) | Bound::Excluded(v)) => v,
        (Bound::Unbounded, Bound::Unbounded) => return true,
    };
    let lower = match (&i.lower, scheme) {
        (Bound::Unbounded, Version::Semver(_)) => {
            Bound::Included(Version::Semver(Semver::new(0, 0, 0, Vec::new())))
        }
        (Bound::Unbounded, Version::Pep440(_)) => Bound::Included(Version::Pep440(
            Pep440::from_parts(0, vec![0], None, None, None, Vec::new()),
        )),
        (Bound::Included(Version::Semver(s)), _) if s.is_prerelease() => {
            Bound::Included(Version::Semver(s.release()))
        }
        (Bound::Excluded(Version::Semver(s)), _) => {
            Bound::Included(Version::Semver(if s.is_prerelease() {
                s.release()
            } else {
                Semver::new(s.major, s.minor, s.patch.saturating_add(1), Vec::new())
            }))
        }
        // PEP 440: `1.0a1` -> `1.0`, `1.0.post1.dev0` -> `1.0.post1`. Above a released
        // version there are always more (its local versions).
        (Bound::Included(Version::Pep440(p)) | Bound::Excluded(Version::Pep440(p)), _)
            if p.is_prerelease() =>
        {
            let post = if p.pre.is_some() { None } else { p.post };
            Bound::Included(Version::Pep440(p.with_suffix(None, post, None, Vec::new())))
        }
        (lower, _) => lower.clone(),
    };
    !Interval {
        lower,
        upper: i.upper.clone(),
    }
    .is_empty()
}

impl Requirement {
    /// Every version, pre-releases included.
    pub fn any() -> Requirement {
        Requirement::of(Interval::all(), Prereleases::All)
    }

    pub fn unknown() -> Requirement {
        Requirement {
            alternatives: Vec::new(),
            pinned: None,
            known: false,
        }
    }

    fn of(interval: Interval, prereleases: Prereleases) -> Requirement {
        Requirement {
            alternatives: vec![Alternative {
                interval,
                prereleases,
            }],
            pinned: None,
            known: true,
        }
    }

    pub fn is_known(&self) -> bool {
        self.known
    }

    pub fn allows(&self, v: &Version) -> bool {
        self.alternatives.iter().any(|a| a.admits(v))
    }

    /// Whether the requirement allows some version of `interval` (an affected range).
    pub fn allows_any_in(&self, interval: &Interval) -> bool {
        self.alternatives.iter().any(|a| a.admits_any_in(interval))
    }

    /// Whether the requirement itself names a pre-release (a pre-release pin, a PEP 440
    /// set that admits them, a comparator like npm `^1.2.3-beta`).
    pub fn names_prerelease(&self) -> bool {
        self.pinned.as_ref().is_some_and(Version::is_prerelease)
            || self.alternatives.iter().any(|a| match &a.prereleases {
                Prereleases::All => self.pinned.is_none(),
                Prereleases::Of(of) => !of.is_empty(),
            })
    }

    /// The lowest lower bound of the alternatives (`Unbounded` when one has none, or
    /// when nothing is allowed).
    pub fn floor(&self) -> Bound {
        let mut out: Option<&Bound> = None;
        for a in &self.alternatives {
            let b = &a.interval.lower;
            if out.is_none_or(|o| lower_bound_below(b, o)) {
                out = Some(b);
            }
        }
        out.cloned().unwrap_or(Bound::Unbounded)
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

/// Whether lower bound `a` admits versions below every version `b` admits.
pub fn lower_bound_below(a: &Bound, b: &Bound) -> bool {
    match (a, b) {
        (_, Bound::Unbounded) => false,
        (Bound::Unbounded, _) => true,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            match x.partial_cmp(y) {
                Some(std::cmp::Ordering::Less) => true,
                Some(std::cmp::Ordering::Equal) => {
                    matches!((a, b), (Bound::Included(_), Bound::Excluded(_)))
                }
                _ => false,
            }
        }
    }
}

fn exact(v: Version) -> Requirement {
    Requirement {
        pinned: Some(v.clone()),
        ..Requirement::of(Interval::exactly(v), Prereleases::All)
    }
}

fn ge(v: Version) -> Interval {
    Interval {
        lower: Bound::Included(v),
        upper: Bound::Unbounded,
    }
}

fn gt(v: Version) -> Interval {
    Interval {
        lower: Bound::Excluded(v),
        upper: Bound::Unbounded,
    }
}

fn lt(v: Version) -> Interval {
    Interval {
        lower: Bound::Unbounded,
        upper: Bound::Excluded(v),
    }
}

fn le(v: Version) -> Interval {
    Interval {
        lower: Bound::Unbounded,
        upper: Bound::Included(v),
    }
}

fn range(lo: Version, hi: Version) -> Interval {
    Interval {
        lower: Bound::Included(lo),
        upper: Bound::Excluded(hi),
    }
}

/// The non-empty intersections of two unions of intervals.
fn intersect_unions(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    a.iter()
        .flat_map(|x| b.iter().map(move |y| x.intersection(y)))
        .filter(|i| !i.is_empty())
        .collect()
}

// ---- PEP 440 ----

/// The first version above `v` and all its local versions (`1.0` -> `1.0.post0.dev0`,
/// `1.0.dev1` -> `1.0.dev2`).
fn after_locals(v: &Pep440) -> Pep440 {
    match v.dev {
        Some(d) => v.with_suffix(v.pre, v.post, Some(d.saturating_add(1)), Vec::new()),
        None => v.with_suffix(
            v.pre,
            Some(v.post.map_or(0, |p| p.saturating_add(1))),
            Some(0),
            Vec::new(),
        ),
    }
}

/// Above every post-release (and local version) of a released `v`, below the next
/// release: no real version sorts there, so this stands in for the boundary
/// (`packaging`'s `AFTER_POSTS`). Only a post-release numbered 2^64-1 would sort above.
fn after_posts(v: &Pep440) -> Pep440 {
    v.with_suffix(None, Some(u64::MAX), None, vec![LocalSeg::Num(u64::MAX)])
}

/// `E!R.dev0`, the lowest version of a release prefix.
fn prefix_dev0(epoch: u64, release: &[u64]) -> Pep440 {
    Pep440::from_parts(epoch, release.to_vec(), None, None, Some(0), Vec::new())
}

/// The lowest version of the next release prefix: `1.2` -> `1.3.dev0`.
fn next_prefix_dev0(epoch: u64, release: &[u64]) -> Option<Pep440> {
    let mut next = release.to_vec();
    let last = next.last_mut()?;
    *last = last.checked_add(1)?;
    Some(prefix_dev0(epoch, &next))
}

fn pv(v: Pep440) -> Version {
    Version::Pep440(v)
}

/// The complement of `[lo, hi)` (or of `[lo, lo]` when `hi` is `None`).
fn outside(lo: Pep440, hi: Option<Pep440>) -> Vec<Interval> {
    vec![
        lt(pv(lo.clone())),
        match hi {
            Some(hi) => ge(pv(hi)),
            None => gt(pv(lo)),
        },
    ]
}

/// A release prefix `[E!]N(.N)*` of `==X.*` and `!=X.*`.
static PEP440_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^v?(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)$").expect("valid regex")
});

/// One PEP 440 specifier: its versions as a union of intervals, whether it names a
/// pre-release (so the set admits them), and the version it pins (`==V`, `===V`).
struct Clause {
    intervals: Vec<Interval>,
    names_prerelease: bool,
    pins: Option<Version>,
}

fn pep_clause(clause: &str) -> Option<Clause> {
    let (op, rest) = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r.trim())))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return None;
    }
    if op != "==="
        && let Some(prefix) = rest.strip_suffix(".*")
    {
        if !matches!(op, "==" | "!=") {
            return None;
        }
        let c = PEP440_PREFIX.captures(prefix)?;
        let epoch = c.get(1).map_or(Some(0), |e| e.as_str().parse().ok())?;
        let release: Vec<u64> = c[2]
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let (lo, hi) = (
            prefix_dev0(epoch, &release),
            next_prefix_dev0(epoch, &release)?,
        );
        return Some(Clause {
            intervals: if op == "==" {
                vec![range(pv(lo), pv(hi))]
            } else {
                outside(lo, Some(hi))
            },
            names_prerelease: false,
            pins: None,
        });
    }
    let v = Pep440::parse(rest)?;
    let has_local = !v.local.is_empty();
    if has_local && !matches!(op, "==" | "!=" | "===") {
        return None;
    }
    let names_prerelease = op != "!=" && v.is_prerelease();
    let intervals = match op {
        // `===` compares strings; as versions, that is this one only.
        "===" => vec![Interval::exactly(pv(v.clone()))],
        "==" if has_local => vec![Interval::exactly(pv(v.clone()))],
        "==" => vec![range(pv(v.clone()), pv(after_locals(&v)))],
        "!=" if has_local => outside(v.clone(), None),
        "!=" => outside(v.clone(), Some(after_locals(&v))),
        "~=" => {
            if v.release.len() < 2 {
                return None;
            }
            let hi = next_prefix_dev0(v.epoch, &v.release[..v.release.len() - 1])?;
            vec![range(pv(v.clone()), pv(hi))]
        }
        ">=" => vec![ge(pv(v.clone()))],
        "<=" => vec![lt(pv(after_locals(&v)))],
        "<" => {
            let bound = if v.is_prerelease() {
                v.clone()
            } else {
                v.with_suffix(v.pre, v.post, Some(0), Vec::new())
            };
            vec![lt(pv(bound))]
        }
        _ => {
            // `>`: past V's post-releases (and local versions) unless V is one itself.
            vec![match (v.pre, v.post, v.dev) {
                (_, _, Some(d)) => ge(pv(v.with_suffix(
                    v.pre,
                    v.post,
                    Some(d.checked_add(1)?),
                    Vec::new(),
                ))),
                (_, Some(p), None) => ge(pv(v.with_suffix(
                    v.pre,
                    Some(p.checked_add(1)?),
                    Some(0),
                    Vec::new(),
                ))),
                (Some((kind, n)), None, None) => ge(pv(v.with_suffix(
                    Some((kind, n.checked_add(1)?)),
                    None,
                    Some(0),
                    Vec::new(),
                ))),
                (None, None, None) => gt(pv(after_posts(&v))),
            }]
        }
    };
    Some(Clause {
        intervals,
        names_prerelease,
        pins: matches!(op, "==" | "===").then(|| pv(v)),
    })
}

fn pep440(spec: &str) -> Requirement {
    // PEP 508's parenthesised form: `name (>=1.0,<2)`.
    let spec = match spec.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) => inner.trim(),
        None => spec,
    };
    let mut union = vec![Interval::all()];
    let mut names_prerelease = false;
    let mut pins = Vec::new();
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some(c) = pep_clause(clause) else {
            return Requirement::unknown();
        };
        names_prerelease |= c.names_prerelease;
        pins.push(c.pins);
        union = intersect_unions(&union, &c.intervals);
    }
    let prereleases = if names_prerelease {
        Prereleases::All
    } else {
        Prereleases::NONE
    };
    Requirement {
        alternatives: union
            .into_iter()
            .map(|interval| Alternative {
                interval,
                prereleases: prereleases.clone(),
            })
            .collect(),
        pinned: match pins.as_slice() {
            [Some(v)] => Some(v.clone()),
            _ => None,
        },
        known: true,
    }
}

// ---- npm: node-semver's Range in loose mode ----

/// node-semver's regular expressions (`internal/re.js`), loose variants where the
/// range parser uses them in loose mode.
struct NpmRe {
    hyphen: Regex,
    comparator_trim: Regex,
    tilde_trim: Regex,
    caret_trim: Regex,
    tilde: Regex,
    caret: Regex,
    xrange: Regex,
    star: Regex,
    gte0: Regex,
    comparator: Regex,
    build: Regex,
    whitespace: Regex,
}

static NPM_RE: LazyLock<NpmRe> = LazyLock::new(|| {
    let num_loose = "[0-9]+";
    let non_numeric = "[0-9]*[a-zA-Z-][a-zA-Z0-9-]*";
    let pre_id_loose = format!("(?:{non_numeric}|{num_loose})");
    let pre_loose = format!(r"(?:-?({pre_id_loose}(?:\.{pre_id_loose})*))");
    let pre_id = format!("(?:{non_numeric}|0|[1-9][0-9]*)");
    let pre = format!(r"(?:-({pre_id}(?:\.{pre_id})*))");
    let build = r"(?:\+([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*))";
    let loose_plain =
        format!(r"[v=\s]*({num_loose})\.({num_loose})\.({num_loose}){pre_loose}?{build}?");
    let xid_loose = r"[0-9]+|x|X|\*";
    let xid = r"0|[1-9][0-9]*|x|X|\*";
    let xplain_loose = format!(
        r"[v=\s]*({xid_loose})(?:\.({xid_loose})(?:\.({xid_loose})(?:{pre_loose})?{build}?)?)?"
    );
    let xplain = format!(r"[v=\s]*({xid})(?:\.({xid})(?:\.({xid})(?:{pre})?{build}?)?)?");
    let gtlt = "((?:<|>)?=?)";
    let re = |s: &str| Regex::new(s).expect("node-semver pattern compiles");
    NpmRe {
        hyphen: re(&format!(r"^\s*({xplain_loose})\s+-\s+({xplain_loose})\s*$")),
        comparator_trim: re(&format!(r"(\s*){gtlt}\s*({loose_plain}|{xplain})")),
        tilde_trim: re(r"(\s*)(?:~>?)\s+"),
        caret_trim: re(r"(\s*)(?:\^)\s+"),
        tilde: re(&format!(r"^(?:~>?){xplain_loose}$")),
        caret: re(&format!(r"^(?:\^){xplain_loose}$")),
        xrange: re(&format!(r"^{gtlt}\s*{xplain_loose}$")),
        star: re(r"(<|>)?=?\s*\*"),
        gte0: re(r"^\s*>=\s*0\.0\.0\s*$"),
        comparator: re(&format!(r"^{gtlt}\s*({loose_plain})$|^$")),
        build: re(build),
        whitespace: re(r"\s+"),
    }
});

/// node-semver's `isX`: a missing, empty, `x`, `X` or `*` part.
fn is_x(id: Option<&str>) -> bool {
    id.is_none_or(|id| id.is_empty() || id.eq_ignore_ascii_case("x") || id == "*")
}

/// `+id + 1` of node-semver, for a numeric part.
fn plus1(id: Option<&str>) -> String {
    id.and_then(|s| s.parse::<u64>().ok())
        .map_or_else(|| "NaN".to_owned(), |n| n.saturating_add(1).to_string())
}

fn group<'t>(c: &regex::Captures<'t>, i: usize) -> Option<&'t str> {
    c.get(i).map(|m| m.as_str())
}

/// `1.2.3 - 2.3` -> `>=1.2.3 <2.4.0-0` (node-semver's `hyphenReplace`, no
/// `includePrerelease`).
fn npm_hyphen(c: &regex::Captures<'_>) -> String {
    let (from, fm, fmi, fp, fpr) = (
        group(c, 1),
        group(c, 2),
        group(c, 3),
        group(c, 4),
        group(c, 5),
    );
    let (to, tm, tmi, tp, tpr) = (
        group(c, 7),
        group(c, 8),
        group(c, 9),
        group(c, 10),
        group(c, 11),
    );
    let s = |o: Option<&str>| o.unwrap_or("").to_owned();
    let from = if is_x(fm) {
        String::new()
    } else if is_x(fmi) {
        format!(">={}.0.0", s(fm))
    } else if is_x(fp) {
        format!(">={}.{}.0", s(fm), s(fmi))
    } else {
        let _ = fpr;
        format!(">={}", s(from))
    };
    let to = if is_x(tm) {
        String::new()
    } else if is_x(tmi) {
        format!("<{}.0.0-0", plus1(tm))
    } else if is_x(tp) {
        format!("<{}.{}.0-0", s(tm), plus1(tmi))
    } else if let Some(pr) = tpr {
        format!("<={}.{}.{}-{pr}", s(tm), s(tmi), s(tp))
    } else {
        format!("<={}", s(to))
    };
    format!("{from} {to}").trim().to_owned()
}

/// node-semver's `replaceCaret` (loose, no `includePrerelease`).
fn npm_caret(comp: &str) -> String {
    let Some(c) = NPM_RE.caret.captures(comp) else {
        return comp.to_owned();
    };
    let (m, mi, p, pr) = (group(&c, 1), group(&c, 2), group(&c, 3), group(&c, 4));
    let s = |o: Option<&str>| o.unwrap_or("").to_owned();
    let (m_, mi_, p_) = (s(m), s(mi), s(p));
    if is_x(m) {
        String::new()
    } else if is_x(mi) {
        format!(">={m_}.0.0 <{}.0.0-0", plus1(m))
    } else if is_x(p) {
        if m_ == "0" {
            format!(">={m_}.{mi_}.0 <{m_}.{}.0-0", plus1(mi))
        } else {
            format!(">={m_}.{mi_}.0 <{}.0.0-0", plus1(m))
        }
    } else {
        let low = match pr {
            Some(pr) => format!(">={m_}.{mi_}.{p_}-{pr}"),
            None => format!(">={m_}.{mi_}.{p_}"),
        };
        if m_ == "0" {
            if mi_ == "0" {
                format!("{low} <{m_}.{mi_}.{}-0", plus1(p))
            } else {
                format!("{low} <{m_}.{}.0-0", plus1(mi))
            }
        } else {
            format!("{low} <{}.0.0-0", plus1(m))
        }
    }
}

/// node-semver's `replaceTilde` (loose, no `includePrerelease`).
fn npm_tilde(comp: &str) -> String {
    let Some(c) = NPM_RE.tilde.captures(comp) else {
        return comp.to_owned();
    };
    let (m, mi, p, pr) = (group(&c, 1), group(&c, 2), group(&c, 3), group(&c, 4));
    let s = |o: Option<&str>| o.unwrap_or("").to_owned();
    let (m_, mi_, p_) = (s(m), s(mi), s(p));
    if is_x(m) {
        String::new()
    } else if is_x(mi) {
        format!(">={m_}.0.0 <{}.0.0-0", plus1(m))
    } else if is_x(p) {
        format!(">={m_}.{mi_}.0 <{m_}.{}.0-0", plus1(mi))
    } else if let Some(pr) = pr {
        format!(">={m_}.{mi_}.{p_}-{pr} <{m_}.{}.0-0", plus1(mi))
    } else {
        format!(">={m_}.{mi_}.{p_} <{m_}.{}.0-0", plus1(mi))
    }
}

/// node-semver's `replaceXRange` (loose, no `includePrerelease`).
fn npm_xrange(comp: &str) -> String {
    let comp = comp.trim();
    let Some(c) = NPM_RE.xrange.captures(comp) else {
        return comp.to_owned();
    };
    let whole = c.get(0).map_or("", |m| m.as_str()).to_owned();
    let (mut gtlt, m, mi, p) = (
        group(&c, 1).unwrap_or("").to_owned(),
        group(&c, 2),
        group(&c, 3),
        group(&c, 4),
    );
    // invalidXRangeOrder: `*.1`, `1.x.3` stay as written (and fail to parse later).
    if (is_x(m) && !is_x(mi)) || (is_x(mi) && p.is_some_and(|p| !p.is_empty()) && !is_x(p)) {
        return comp.to_owned();
    }
    let xm = is_x(m);
    let xmi = xm || is_x(mi);
    let xp = xmi || is_x(p);
    if gtlt == "=" && xp {
        gtlt.clear();
    }
    let s = |o: Option<&str>| o.unwrap_or("").to_owned();
    if xm {
        if gtlt == ">" || gtlt == "<" {
            "<0.0.0-0".to_owned()
        } else {
            "*".to_owned()
        }
    } else if !gtlt.is_empty() && xp {
        let (mut major, mut minor) = (s(m), if xmi { "0".to_owned() } else { s(mi) });
        let mut pr = "";
        if gtlt == ">" {
            gtlt = ">=".to_owned();
            if xmi {
                major = plus1(m);
                minor = "0".to_owned();
            } else {
                minor = plus1(mi);
            }
        } else if gtlt == "<=" {
            gtlt = "<".to_owned();
            if xmi {
                major = plus1(m);
            } else {
                minor = plus1(mi);
            }
        }
        if gtlt == "<" {
            pr = "-0";
        }
        format!("{gtlt}{major}.{minor}.0{pr}")
    } else if xmi {
        format!(">={}.0.0 <{}.0.0-0", s(m), plus1(m))
    } else if xp {
        format!(">={}.{}.0 <{}.{}.0-0", s(m), s(mi), s(m), plus1(mi))
    } else {
        whole
    }
}

/// node-semver's `parseComparator`: carets, tildes, x-ranges and stars desugared.
fn npm_parse_comparator(comp: &str) -> String {
    let comp = NPM_RE.build.replace(comp, "");
    let each = |s: &str, f: fn(&str) -> String| -> String {
        s.split_whitespace().map(f).collect::<Vec<_>>().join(" ")
    };
    let comp = each(comp.trim(), npm_caret);
    let comp = each(comp.trim(), npm_tilde);
    let comp = each(&comp, npm_xrange);
    NPM_RE.star.replace(comp.trim(), "").into_owned()
}

/// One comparator of a set: the operator (`""` for equality) and version; `None` for
/// node-semver's ANY (`*`, empty).
type NpmComparator = Option<(String, Semver)>;

/// node-semver's `Range.parseRange` in loose mode: one `||` alternative as comparators
/// (empty when nothing in it is a comparator).
fn npm_parse_range(range: &str) -> Vec<NpmComparator> {
    let re = &*NPM_RE;
    let range = re.build.replace_all(range, "");
    let range = match re.hyphen.captures(&range) {
        Some(c) => npm_hyphen(&c),
        None => range.into_owned(),
    };
    let range = re.comparator_trim.replace_all(&range, "${1}${2}${3}");
    let range = re.tilde_trim.replace_all(&range, "${1}~");
    let range = re.caret_trim.replace_all(&range, "${1}^");
    let desugared: Vec<String> = range.split(' ').map(npm_parse_comparator).collect();
    let joined = desugared.join(" ");
    // JavaScript's `split(/\s+/)`: an empty piece at either end (a comparator that
    // desugared to nothing) is node-semver's ANY.
    let comps: Vec<String> = re
        .whitespace
        .split(&joined)
        .map(|c| re.gte0.replace(c.trim(), "").into_owned())
        .collect();
    let mut out: Vec<NpmComparator> = Vec::new();
    for comp in comps {
        // Loose mode drops what is not a comparator.
        let Some(c) = re.comparator.captures(&comp) else {
            continue;
        };
        let parsed = match (group(&c, 1), c.get(2)) {
            (Some(op), Some(_)) => {
                let num = |i: usize| group(&c, i).and_then(|n| n.parse::<u64>().ok());
                let (Some(major), Some(minor), Some(patch)) = (num(3), num(4), num(5)) else {
                    continue;
                };
                let pre = group(&c, 6)
                    .map(|p| {
                        p.split('.')
                            .map(|id| match id.parse::<u64>() {
                                Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => PreId::Num(n),
                                _ => PreId::Alpha(id.to_owned()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let op = if op == "=" { "" } else { op };
                Some((op.to_owned(), Semver::new(major, minor, patch, pre)))
            }
            _ => None,
        };
        // A null set (`<0.0.0-0`) is the whole set.
        if let Some((op, v)) = &parsed
            && op == "<"
            && v.is_minimum_semver()
        {
            return vec![parsed];
        }
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    if out.len() > 1 {
        out.retain(Option::is_some);
    }
    out
}

fn npm(spec: &str) -> Requirement {
    if spec == "latest" {
        // The dist-tag: whichever version it points to.
        return Requirement::of(Interval::all(), Prereleases::NONE);
    }
    if spec.contains(':') || spec.contains('/') {
        return Requirement::unknown(); // git, file:, npm:, URLs, tarballs
    }
    let raw = spec.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut sets: Vec<Vec<NpmComparator>> = raw
        .split("||")
        .map(|r| npm_parse_range(r.trim()))
        .filter(|s| !s.is_empty())
        .collect();
    if sets.is_empty() {
        return Requirement::unknown();
    }
    let is_null = |s: &Vec<NpmComparator>| matches!(s.first(), Some(Some((op, v))) if op == "<" && v.is_minimum_semver());
    if sets.len() > 1 {
        let first = sets[0].clone();
        sets.retain(|s| !is_null(s));
        if sets.is_empty() {
            sets = vec![first];
        } else if sets.len() > 1
            && let Some(any) = sets.iter().find(|s| s.as_slice() == [None])
        {
            sets = vec![any.clone()];
        }
    }
    let pinned = match sets.as_slice() {
        [set] => match set.as_slice() {
            [Some((op, v))] if op.is_empty() => Some(Version::Semver(v.clone())),
            _ => None,
        },
        _ => None,
    };
    let alternatives = sets
        .iter()
        .map(|set| {
            let mut interval = Interval::all();
            let mut of = Vec::new();
            for (op, v) in set.iter().flatten() {
                let ver = Version::Semver(v.clone());
                let i = match op.as_str() {
                    ">" => gt(ver),
                    ">=" => ge(ver),
                    "<" => lt(ver),
                    "<=" => le(ver),
                    _ => Interval::exactly(ver),
                };
                interval = interval.intersection(&i);
                // `<X.Y.Z-0` names a pre-release but admits none of X.Y.Z's.
                if v.is_prerelease() && !(op == "<" && v.pre == [PreId::Num(0)]) {
                    of.push([v.major, v.minor, v.patch]);
                }
            }
            Alternative {
                interval,
                prereleases: Prereleases::Of(of),
            }
        })
        .filter(|a| !a.interval.is_empty())
        .collect();
    Requirement {
        alternatives,
        pinned,
        known: true,
    }
}

// ---- Cargo: the `semver` crate's VersionReq ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum CargoOp {
    Exact,
    Greater,
    GreaterEq,
    Less,
    LessEq,
    Tilde,
    Caret,
    Wildcard,
}

struct CargoComparator {
    op: CargoOp,
    major: u64,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<PreId>,
}

/// Digits without a leading zero (`semver`'s numeric identifier).
fn cargo_number(s: &str) -> Option<(u64, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || (len > 1 && s.starts_with('0')) {
        return None;
    }
    Some((s[..len].parse().ok()?, &s[len..]))
}

fn cargo_wildcard(s: &str) -> Option<&str> {
    s.strip_prefix(['*', 'x', 'X'])
}

/// Dot-separated `[0-9A-Za-z-]+` identifiers; numeric pre-release identifiers without
/// leading zeros.
fn cargo_identifiers(s: &str, pre: bool) -> Option<(Vec<PreId>, &str)> {
    let len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        .count();
    let mut ids = Vec::new();
    for id in s[..len].split('.') {
        if id.is_empty() {
            return None;
        }
        if id.bytes().all(|b| b.is_ascii_digit()) {
            if pre && id.len() > 1 && id.starts_with('0') {
                return None;
            }
            ids.push(PreId::Num(id.parse().unwrap_or(u64::MAX)));
        } else {
            ids.push(PreId::Alpha(id.to_owned()));
        }
    }
    Some((ids, &s[len..]))
}

fn cargo_comparator(input: &str) -> Option<(CargoComparator, &str)> {
    let (mut op, text) = match input.as_bytes() {
        [b'=', ..] => (CargoOp::Exact, &input[1..]),
        [b'>', b'=', ..] => (CargoOp::GreaterEq, &input[2..]),
        [b'>', ..] => (CargoOp::Greater, &input[1..]),
        [b'<', b'=', ..] => (CargoOp::LessEq, &input[2..]),
        [b'<', ..] => (CargoOp::Less, &input[1..]),
        [b'~', ..] => (CargoOp::Tilde, &input[1..]),
        [b'^', ..] => (CargoOp::Caret, &input[1..]),
        _ => (CargoOp::Caret, input),
    };
    let default_op = text.len() == input.len();
    let text = text.trim_start_matches(' ');
    let (major, text) = cargo_number(text)?;
    let mut wildcard = false;
    let (minor, text) = match text.strip_prefix('.') {
        Some(t) => match cargo_wildcard(t) {
            Some(t) => {
                wildcard = true;
                if default_op {
                    op = CargoOp::Wildcard;
                }
                (None, t)
            }
            None => {
                let (n, t) = cargo_number(t)?;
                (Some(n), t)
            }
        },
        None => (None, text),
    };
    let (patch, text) = match text.strip_prefix('.') {
        Some(t) => match cargo_wildcard(t) {
            Some(t) => {
                if default_op {
                    op = CargoOp::Wildcard;
                }
                (None, t)
            }
            None if wildcard => return None,
            None => {
                let (n, t) = cargo_number(t)?;
                (Some(n), t)
            }
        },
        None => (None, text),
    };
    let (pre, text) = match text.strip_prefix('-') {
        Some(t) if patch.is_some() => cargo_identifiers(t, true)?,
        _ => (Vec::new(), text),
    };
    let text = match text.strip_prefix('+') {
        Some(t) if patch.is_some() => cargo_identifiers(t, false)?.1,
        _ => text,
    };
    Some((
        CargoComparator {
            op,
            major,
            minor,
            patch,
            pre,
        },
        text.trim_start_matches(' '),
    ))
}

/// What one comparator allows: an interval; whether it excludes every pre-release; the
/// release family (major, minor) whose pre-releases it excludes (`>=1.2`, `<=1.2`).
struct CargoAllows {
    interval: Interval,
    no_prereleases: bool,
    excludes_family: Option<(u64, Option<u64>)>,
}

fn cargo_allows(c: &CargoComparator) -> Option<CargoAllows> {
    let sv = |major: u64, minor: u64, patch: u64, pre: Vec<PreId>| {
        Version::Semver(Semver::new(major, minor, patch, pre))
    };
    let zero = || vec![PreId::Num(0)];
    let next_major = || Some(sv(c.major.checked_add(1)?, 0, 0, zero()));
    let next_minor = |minor: u64| Some(sv(c.major, minor.checked_add(1)?, 0, zero()));
    let full = |patch: u64, minor: u64| sv(c.major, minor, patch, c.pre.clone());
    let mut out = CargoAllows {
        interval: Interval::all(),
        no_prereleases: false,
        excludes_family: None,
    };
    out.interval = match (c.op, c.minor, c.patch) {
        (CargoOp::Exact | CargoOp::Wildcard, Some(minor), Some(patch)) => {
            Interval::exactly(full(patch, minor))
        }
        (CargoOp::Exact | CargoOp::Wildcard, minor, None) => {
            out.no_prereleases = true;
            match minor {
                Some(minor) => range(sv(c.major, minor, 0, Vec::new()), next_minor(minor)?),
                None => range(sv(c.major, 0, 0, Vec::new()), next_major()?),
            }
        }
        (CargoOp::Greater, None, _) => ge(next_major()?),
        (CargoOp::Greater, Some(minor), None) => ge(next_minor(minor)?),
        (CargoOp::Greater, Some(minor), Some(patch)) => gt(full(patch, minor)),
        (CargoOp::GreaterEq, minor, None) => {
            out.excludes_family = Some((c.major, minor));
            ge(sv(c.major, minor.unwrap_or(0), 0, Vec::new()))
        }
        (CargoOp::GreaterEq, Some(minor), Some(patch)) => ge(full(patch, minor)),
        (CargoOp::Less, minor, None) => lt(sv(c.major, minor.unwrap_or(0), 0, zero())),
        (CargoOp::Less, Some(minor), Some(patch)) => lt(full(patch, minor)),
        (CargoOp::LessEq, minor, None) => {
            out.excludes_family = Some((c.major, minor));
            lt(match minor {
                Some(minor) => next_minor(minor)?,
                None => next_major()?,
            })
        }
        (CargoOp::LessEq, Some(minor), Some(patch)) => le(full(patch, minor)),
        (CargoOp::Tilde, minor, None) => {
            out.no_prereleases = true;
            match minor {
                Some(minor) => range(sv(c.major, minor, 0, Vec::new()), next_minor(minor)?),
                None => range(sv(c.major, 0, 0, Vec::new()), next_major()?),
            }
        }
        (CargoOp::Tilde, Some(minor), Some(patch)) => range(full(patch, minor), next_minor(minor)?),
        (CargoOp::Caret, None, _) => range(sv(c.major, 0, 0, zero()), next_major()?),
        (CargoOp::Caret, Some(minor), None) => {
            let hi = if c.major > 0 {
                next_major()?
            } else {
                next_minor(minor)?
            };
            range(sv(c.major, minor, 0, zero()), hi)
        }
        (CargoOp::Caret, Some(minor), Some(patch)) => {
            let hi = if c.major > 0 {
                next_major()?
            } else if minor > 0 {
                next_minor(minor)?
            } else {
                sv(0, 0, patch.checked_add(1)?, zero())
            };
            range(full(patch, minor), hi)
        }
        // A patch without a minor does not parse.
        (_, None, Some(_)) => return None,
    };
    Some(out)
}

fn cargo(spec: &str) -> Requirement {
    if spec.is_empty() {
        return Requirement::of(Interval::all(), Prereleases::NONE);
    }
    if let Some(rest) = cargo_wildcard(spec) {
        return if rest.trim_start_matches(' ').is_empty() {
            Requirement::of(Interval::all(), Prereleases::NONE)
        } else {
            Requirement::unknown()
        };
    }
    let mut comparators = Vec::new();
    let mut text = spec;
    loop {
        let Some((c, rest)) = cargo_comparator(text) else {
            return Requirement::unknown();
        };
        comparators.push(c);
        if rest.is_empty() {
            break;
        }
        match rest.strip_prefix(',') {
            // `semver` allows at most 32 comparators.
            Some(next) if comparators.len() < 32 => text = next.trim_start_matches(' '),
            _ => return Requirement::unknown(),
        }
    }
    let mut interval = Interval::all();
    let mut no_prereleases = false;
    let mut families = Vec::new();
    let mut of = Vec::new();
    for c in &comparators {
        let Some(a) = cargo_allows(c) else {
            return Requirement::unknown();
        };
        interval = interval.intersection(&a.interval);
        no_prereleases |= a.no_prereleases;
        families.extend(a.excludes_family);
        if !c.pre.is_empty()
            && let (Some(minor), Some(patch)) = (c.minor, c.patch)
        {
            of.push([c.major, minor, patch]);
        }
    }
    if no_prereleases {
        of.clear();
    }
    of.retain(|[major, minor, _]| {
        !families
            .iter()
            .any(|&(fm, fmi)| fm == *major && fmi.is_none_or(|m| m == *minor))
    });
    let pinned = match comparators.as_slice() {
        [c] if c.op == CargoOp::Exact && c.patch.is_some() => {
            cargo_allows(c).and_then(|a| match a.interval.lower {
                Bound::Included(v) => Some(v),
                _ => None,
            })
        }
        _ => None,
    };
    Requirement {
        alternatives: if interval.is_empty() {
            Vec::new()
        } else {
            vec![Alternative {
                interval,
                prereleases: Prereleases::Of(of),
            }]
        },
        pinned,
        known: true,
    }
}

impl Semver {
    /// `0.0.0-0`, the lowest SemVer version.
    fn is_minimum_semver(&self) -> bool {
        Version::Semver(self.clone()).is_minimum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(requirement, allowed versions, versions not allowed)` for one ecosystem.
    type Cases<'a> = &'a [(&'a str, &'a [&'a str], &'a [&'a str])];

    fn table(eco: Ecosystem, cases: Cases<'_>) {
        for &(spec, yes, no) in cases {
            let r = Requirement::parse(eco, spec);
            assert!(r.is_known(), "{spec:?} is understood");
            for v in yes {
                let version = eco.parse_version(v).unwrap();
                assert!(r.allows(&version), "{spec:?} allows {v}");
                assert!(
                    r.allows_any_in(&Interval::exactly(version)),
                    "{spec:?} allows something in [{v}, {v}]"
                );
            }
            for v in no {
                let version = eco.parse_version(v).unwrap();
                assert!(!r.allows(&version), "{spec:?} does not allow {v}");
                assert!(
                    !r.allows_any_in(&Interval::exactly(version)),
                    "{spec:?} allows nothing in [{v}, {v}]"
                );
            }
        }
    }

    #[test]
    fn pep440_specifiers() {
        table(
            Ecosystem::PyPI,
            &[
                (
                    "==2.30.0",
                    &["2.30.0", "2.30", "2.30.0+local"],
                    &["2.30.1", "2.31.0"],
                ),
                (
                    ">=2.0",
                    &["2.0", "3.1", "2.0.post1"],
                    &["1.9", "2.0.dev1", "2.0rc1", "3.0a1"],
                ),
                (">=2.0,<3", &["2.5"], &["3.0", "1.0"]),
                ("~=2.28", &["2.28", "2.99"], &["3.0", "2.27"]),
                ("~=2.28.1", &["2.28.5"], &["2.29.0", "2.28.0"]),
                ("==2.*", &["2.0", "2.31.0", "2.5+local"], &["3.0", "1.9"]),
                ("!=2.30.0", &["2.30.1", "2.29"], &["2.30.0", "2.30.0+local"]),
                ("", &["0.1", "99"], &["1.0a1"]),
                // The bugs of issue 19.
                (
                    ">=1.0,!=1.5",
                    &["1.4", "1.5.1", "1.5.post1"],
                    &["1.5", "1.5.0", "1.5+x"],
                ),
                (
                    "<2.0",
                    &["1.9", "1.9.post1"],
                    &["2.0rc1", "2.0.dev0", "2.0"],
                ),
                (">=1.0a1,<2.0", &["1.0a1", "1.5b2"], &["2.0rc1", "2.0.dev0"]),
                ("<2.0rc2", &["2.0rc1", "1.0"], &["2.0rc2", "2.0"]),
                (
                    ">1.0",
                    &["1.0.1", "1.1.post1"],
                    &["1.0", "1.0.post1", "1.0+local", "1.0.post2+x"],
                ),
                (
                    ">1.0.post1",
                    &["1.0.post2", "1.1"],
                    &["1.0.post1", "1.0.post1+x"],
                ),
                (
                    ">1.0rc1",
                    &["1.0", "1.0.post1", "1.0+x", "1.1"],
                    &["1.0rc1", "1.0rc1.post1"],
                ),
                (
                    "<=1.0",
                    &["1.0", "1.0+local", "0.9"],
                    &["1.0.post1", "1.0.1"],
                ),
                ("~=1!2.0", &["1!2.0", "1!2.5"], &["2.0", "2.5", "1!3.0"]),
                ("==1!2.*", &["1!2.0", "1!2.9"], &["2.0", "1!3.0", "2!2.0"]),
                (
                    "==1!2.0.*",
                    &["1!2.0", "1!2.0.0", "1!2.0.5"],
                    &["2.0", "1!2.1"],
                ),
                ("!=1.5.*", &["1.4", "1.6"], &["1.5", "1.5.9", "1.5.post1"]),
                ("(>=1.0,<2)", &["1.0", "1.9"], &["2.0", "0.9"]),
                ("==1.0+abc", &["1.0+abc"], &["1.0", "1.0+abd"]),
                ("<0", &[], &["0", "0.0.0", "0a1", "0.dev0"]),
                ("<=0.0", &["0", "0.0+local"], &["0.1", "0.0.post1"]),
                ("> 1.0 , < 2", &["1.5"], &["2.0"]),
            ],
        );
        let py = Ecosystem::PyPI;
        assert!(Requirement::parse(py, "==2.30.0").pinned.is_some());
        assert!(Requirement::parse(py, ">=2.0").pinned.is_none());
        for bad in [
            "@ https://x.invalid/a.whl",
            ">=1.0+local",
            "~=1",
            ">=1.*",
            "1.0",
            ">=",
            "== 1.0 .0",
        ] {
            assert!(!Requirement::parse(py, bad).is_known(), "{bad}");
        }
        // Nothing allowed is still a requirement that was understood.
        let none = Requirement::parse(py, "<0");
        assert!(none.is_known() && none.alternatives.is_empty());
    }

    #[test]
    fn npm_ranges() {
        table(
            Ecosystem::Npm,
            &[
                (
                    "^4.17.0",
                    &["4.17.0", "4.17.21", "4.99.0"],
                    &["5.0.0", "4.16.9", "4.18.0-beta"],
                ),
                ("^0.2.3", &["0.2.9"], &["0.3.0", "0.2.2"]),
                ("^0.0.3", &["0.0.3"], &["0.0.4"]),
                ("~1.2.3", &["1.2.9"], &["1.3.0"]),
                ("~1.2", &["1.2.0", "1.2.9"], &["1.3.0"]),
                ("1.2.x", &["1.2.7"], &["1.3.0"]),
                ("1.x", &["1.9.9"], &["2.0.0"]),
                ("*", &["0.0.1", "9.0.0"], &["1.0.0-rc.1"]),
                ("", &["0.0.1"], &["1.0.0-rc.1"]),
                (">=1.0.0 <2", &["1.5.0"], &["2.0.0", "0.9.0"]),
                ("1.2.3 - 2.3.4", &["2.3.4", "1.2.3"], &["2.3.5"]),
                ("1.2 - 2", &["2.9.9"], &["3.0.0"]),
                ("^1.0.0 || ^3.0.0", &["1.5.0", "3.1.0"], &["2.0.0"]),
                ("5.6.1", &["5.6.1"], &["5.6.2"]),
                // The bugs of issue 19: a space after the operator.
                (">= 1.2.3", &["1.2.3", "9.0.0"], &["1.2.2"]),
                ("< 2.0.0", &["1.9.9"], &["2.0.0", "2.0.0-rc.1"]),
                ("^ 1.2.3", &["1.9.0"], &["2.0.0", "1.2.2"]),
                ("~ 1.2.3", &["1.2.9"], &["1.3.0"]),
                ("= 1.2.3", &["1.2.3"], &["1.2.4"]),
                ("v 1.2.3", &["1.2.3"], &["1.2.4"]),
                // Pre-releases: only of a major.minor.patch a comparator names.
                (
                    "^1.2.3-beta.2",
                    &["1.2.3-beta.3", "1.2.3", "1.9.0"],
                    &["1.2.3-beta.1", "1.3.0-alpha"],
                ),
                (
                    ">=1.2.3-alpha <1.2.3",
                    &["1.2.3-alpha", "1.2.3-rc.1"],
                    &["1.2.3", "1.2.2"],
                ),
                ("* || 1.2.3-beta", &["1.2.3"], &["1.2.3-beta"]),
                ("<0", &[], &["0.0.0", "0.0.0-0"]),
                ("<=0.0", &["0.0.9"], &["0.1.0", "0.0.1-rc"]),
            ],
        );
        let n = Ecosystem::Npm;
        for (spec, pin) in [
            ("5.6.1", Some("5.6.1")),
            ("= 1.2.3", Some("1.2.3")),
            ("v 1.2.3", Some("1.2.3")),
            ("^5.6.1", None),
            (">= 1.2.3", None),
        ] {
            assert_eq!(
                Requirement::parse(n, spec)
                    .pinned
                    .map(|v| v.to_string())
                    .as_deref(),
                pin,
                "{spec}"
            );
        }
        for unknown in [
            "git+https://example.invalid/x.git",
            "file:../x",
            "npm:other@1",
            "user/repo",
            "next",
            "1.2.3.4.5",
        ] {
            assert!(!Requirement::parse(n, unknown).is_known(), "{unknown}");
        }
    }

    #[test]
    fn cargo_requirements_and_go() {
        table(
            Ecosystem::CratesIo,
            &[
                ("1.2.3", &["1.9.0"], &["2.0.0", "1.2.2"]),
                ("0.3", &["0.3.9"], &["0.4.0"]),
                ("~1.2", &["1.2.9"], &["1.3.0"]),
                ("=1.2.3", &["1.2.3"], &["1.2.4"]),
                (">=1.0, <1.5", &["1.4.9"], &["1.5.0"]),
                ("1.*", &["1.9.9"], &["2.0.0"]),
                // The bug of issue 19: `1.1.*` is 1.1.x.
                (
                    "1.1.*",
                    &["1.1.0", "1.1.9"],
                    &["1.2.0", "1.0.9", "1.1.5-rc.1"],
                ),
                ("*", &["0.1.0", "9.9.9"], &["1.0.0-alpha"]),
                (
                    "^1.2.3-beta",
                    &["1.2.3-beta.1", "1.2.3", "1.4.0"],
                    &["1.2.4-beta", "1.2.3-alpha"],
                ),
                (
                    ">=1.2, <1.2.5-rc",
                    &["1.2.0", "1.2.4"],
                    &["1.2.5-beta", "1.2.5"],
                ),
                ("<0.0.0", &[], &["0.0.0", "0.0.0-0"]),
                ("^0.0", &["0.0.7"], &["0.1.0"]),
            ],
        );
        let c = Ecosystem::CratesIo;
        assert!(Requirement::parse(c, "=1.2.3").pinned.is_some());
        assert!(
            Requirement::parse(c, "1.2.3").pinned.is_none(),
            "a bare Cargo version is a caret range"
        );
        for bad in ["1.2.3.4", "01.2", "1.*.3", "~>1.2", "1.0,,"] {
            assert!(!Requirement::parse(c, bad).is_known(), "{bad}");
        }
        let g = Requirement::parse(Ecosystem::Go, "v0.17.0");
        assert!(g.pinned.is_some());
        assert!(!Requirement::parse(Ecosystem::Go, "latest").is_known());
    }

    #[test]
    fn affected_intervals_meet_the_prerelease_rules() {
        let n = Ecosystem::Npm;
        let v = |s: &str| n.parse_version(s).unwrap();
        let between = |lo: &str, hi: &str| range(v(lo), v(hi));
        // Only pre-releases of 2.0.0 are affected: `^1.5.0` cannot install them.
        let pre_only = between("2.0.0-alpha", "2.0.0-rc.2");
        assert!(!Requirement::parse(n, "^1.5.0").allows_any_in(&pre_only));
        assert!(!Requirement::parse(n, ">=1.5.0").allows_any_in(&pre_only));
        assert!(Requirement::parse(n, ">=2.0.0-beta").allows_any_in(&pre_only));
        assert!(Requirement::parse(n, ">=1.5.0").allows_any_in(&between("2.0.0-alpha", "2.0.1")));
        // `>1.0.0 <1.0.1-0` holds no version at all.
        assert!(!Requirement::parse(n, ">1.0.0 <1.0.1-0").allows_any_in(&Interval::all()));
        // PEP 440: `>=2.0` never installs a pre-release.
        let py = Ecosystem::PyPI;
        let p = |s: &str| py.parse_version(s).unwrap();
        let rc_only = range(p("3.0rc1"), p("3.0"));
        assert!(!Requirement::parse(py, ">=2.0").allows_any_in(&rc_only));
        assert!(Requirement::parse(py, ">=2.0,!=2.1rc1").allows_any_in(&range(p("2.9"), p("3.0"))));
        assert!(Requirement::parse(py, ">=3.0rc1").allows_any_in(&rc_only));
        // `<0`: nothing, whatever is affected.
        for (eco, spec) in [(py, "<0"), (n, "<0"), (Ecosystem::CratesIo, "<0")] {
            assert!(
                !Requirement::parse(eco, spec).allows_any_in(&Interval::all()),
                "{spec}"
            );
        }
    }
}
