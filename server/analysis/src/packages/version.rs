//! Versions as the package ecosystems order them: Semantic Versioning 2.0 for npm,
//! crates.io and Go (a leading `v` allowed), and PEP 440 for PyPI (epochs, pre-, post-
//! and dev-releases, local versions, trailing-zero equivalence). Parsing never panics;
//! an unparseable version is `None`, and callers treat it as unknown.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

/// A package ecosystem, named as OSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    PyPI,
    Npm,
    CratesIo,
    Go,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::CratesIo,
        Ecosystem::Go,
    ];

    pub fn parse(s: &str) -> Option<Ecosystem> {
        match s {
            "PyPI" => Some(Ecosystem::PyPI),
            "npm" => Some(Ecosystem::Npm),
            "crates.io" => Some(Ecosystem::CratesIo),
            "Go" => Some(Ecosystem::Go),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
        }
    }

    /// The name under which a package is indexed: PEP 503 for PyPI (lower case, runs
    /// of `-_.` as one `-`), lower case for npm and crates.io, unchanged for Go modules.
    pub fn normalize_name(self, name: &str) -> String {
        let name = name.trim();
        match self {
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut sep = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        sep = true;
                    } else {
                        if sep && !out.is_empty() {
                            out.push('-');
                        }
                        sep = false;
                        out.extend(c.to_lowercase());
                    }
                }
                out
            }
            Ecosystem::Npm | Ecosystem::CratesIo => name.to_lowercase(),
            Ecosystem::Go => name.to_owned(),
        }
    }

    /// Whether `raw` normalizes to `normalized` (ASCII names without allocating).
    pub fn is_named(self, raw: &str, normalized: &str) -> bool {
        let raw = raw.trim();
        if !raw.is_ascii() {
            return self.normalize_name(raw) == normalized;
        }
        match self {
            Ecosystem::Go => raw == normalized,
            Ecosystem::Npm | Ecosystem::CratesIo => raw.eq_ignore_ascii_case(normalized),
            Ecosystem::PyPI => {
                let mut want = normalized.bytes();
                let mut sep = false;
                let mut started = false;
                for b in raw.bytes() {
                    if matches!(b, b'-' | b'_' | b'.') {
                        sep = true;
                        continue;
                    }
                    if sep && started && want.next() != Some(b'-') {
                        return false;
                    }
                    sep = false;
                    started = true;
                    if want.next() != Some(b.to_ascii_lowercase()) {
                        return false;
                    }
                }
                want.next().is_none()
            }
        }
    }

    pub fn parse_version(self, s: &str) -> Option<Version> {
        match self {
            Ecosystem::PyPI => Pep440::parse(s).map(Version::Pep440),
            _ => Semver::parse(s).map(Version::Semver),
        }
    }
}

/// A parsed version of some ecosystem. Versions of different schemes do not compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Semver(Semver),
    Pep440(Pep440),
}

impl Version {
    /// A pre-release: SemVer with a pre-release part; PEP 440 with a pre or dev part.
    pub fn is_prerelease(&self) -> bool {
        match self {
            Version::Semver(v) => v.is_prerelease(),
            Version::Pep440(v) => v.is_prerelease(),
        }
    }

    /// The lowest version of its scheme (`0.0.0-0`, `0.dev0`): nothing sorts below it.
    pub fn is_minimum(&self) -> bool {
        match self {
            Version::Semver(v) => {
                (v.major, v.minor, v.patch) == (0, 0, 0) && v.pre == [PreId::Num(0)]
            }
            Version::Pep440(v) => {
                v.epoch == 0
                    && v.release.iter().all(|&r| r == 0)
                    && v.pre.is_none()
                    && v.post.is_none()
                    && v.dev == Some(0)
                    && v.local.is_empty()
            }
        }
    }

    /// Whether no version sorts strictly between `self` and the greater `next`
    /// (SemVer only: `1.0.0` is followed by `1.0.1-0`, `1.0.0-a` by `1.0.0-a.0`; PEP 440
    /// local versions leave room between any two versions).
    pub fn is_followed_by(&self, next: &Version) -> bool {
        match (self, next) {
            (Version::Semver(a), Version::Semver(b)) => {
                let succ = if a.pre.is_empty() {
                    Semver::new(
                        a.major,
                        a.minor,
                        a.patch.saturating_add(1),
                        vec![PreId::Num(0)],
                    )
                } else {
                    let mut pre = a.pre.clone();
                    pre.push(PreId::Num(0));
                    Semver::new(a.major, a.minor, a.patch, pre)
                };
                succ == *b
            }
            _ => false,
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp(b)),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Semver(v) => write!(f, "{}", v.text),
            Version::Pep440(v) => write!(f, "{}", v.text),
        }
    }
}

/// Semantic Versioning 2.0. Missing minor/patch parts read as 0 (`1.2` = `1.2.0`).
#[derive(Debug, Clone)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Vec<PreId>,
    /// As written (without a leading `v`), for display.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreId {
    Num(u64),
    Alpha(String),
}

impl Ord for PreId {
    fn cmp(&self, other: &PreId) -> Ordering {
        match (self, other) {
            (PreId::Num(a), PreId::Num(b)) => a.cmp(b),
            (PreId::Num(_), PreId::Alpha(_)) => Ordering::Less,
            (PreId::Alpha(_), PreId::Num(_)) => Ordering::Greater,
            (PreId::Alpha(a), PreId::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for PreId {
    fn partial_cmp(&self, other: &PreId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Semver {
    /// A version from its parts, with its canonical text.
    pub fn new(major: u64, minor: u64, patch: u64, pre: Vec<PreId>) -> Semver {
        let mut text = format!("{major}.{minor}.{patch}");
        for (i, id) in pre.iter().enumerate() {
            text.push(if i == 0 { '-' } else { '.' });
            match id {
                PreId::Num(n) => text.push_str(&n.to_string()),
                PreId::Alpha(a) => text.push_str(a),
            }
        }
        Semver {
            major,
            minor,
            patch,
            pre,
            text,
        }
    }

    /// The same major.minor.patch without the pre-release part.
    pub fn release(&self) -> Semver {
        Semver::new(self.major, self.minor, self.patch, Vec::new())
    }

    pub fn parse(s: &str) -> Option<Semver> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let s = s.split('+').next()?; // build metadata does not order
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<u64> {
            match p {
                None => Some(0),
                Some(x) if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) => x.parse().ok(),
                Some(_) => None,
            }
        };
        let first = parts.next().filter(|p| !p.is_empty())?;
        let major = num(Some(first))?;
        let minor = num(parts.next())?;
        let patch = num(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some("") => return None,
            Some(p) => p
                .split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => Some(PreId::Num(n)),
                    _ if !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        Some(PreId::Alpha(id.to_owned()))
                    }
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Semver {
            major,
            minor,
            patch,
            pre,
            text: s.to_owned(),
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl PartialEq for Semver {
    fn eq(&self, other: &Semver) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Semver {}

impl Ord for Semver {
    fn cmp(&self, other: &Semver) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Semver) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A PEP 440 version.
#[derive(Debug, Clone)]
pub struct Pep440 {
    pub epoch: u64,
    pub release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pub pre: Option<(u8, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    pub local: Vec<LocalSeg>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalSeg {
    Num(u64),
    Str(String),
}

static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("PEP 440 pattern compiles")
});

impl Pep440 {
    pub fn parse(s: &str) -> Option<Pep440> {
        // Fast path for plain releases (`2.31.0`), most of what advisories list.
        let plain = s.trim();
        if !plain.is_empty()
            && plain.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && let Some(release) = plain
                .split('.')
                .map(|p| p.parse::<u64>().ok())
                .collect::<Option<Vec<u64>>>()
        {
            return Some(Pep440 {
                epoch: 0,
                release,
                pre: None,
                post: None,
                dev: None,
                local: Vec::new(),
                text: plain.to_owned(),
            });
        }
        let c = PEP440.captures(s)?;
        let n = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u64>().ok());
        let release = c
            .name("release")?
            .as_str()
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        let pre = c.name("pre_l").map(|l| {
            let kind = match l.as_str().to_ascii_lowercase().as_str() {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2, // c, rc, pre, preview
            };
            (kind, n("pre_n").unwrap_or(0))
        });
        let post = if c.name("post").is_some() {
            Some(n("post_n1").or_else(|| n("post_n2")).unwrap_or(0))
        } else {
            None
        };
        let dev = c.name("dev").map(|_| n("dev_n").unwrap_or(0));
        let local = c
            .name("local")
            .map(|l| {
                l.as_str()
                    .split(['-', '_', '.'])
                    .map(|seg| match seg.parse::<u64>() {
                        Ok(v) => LocalSeg::Num(v),
                        Err(_) => LocalSeg::Str(seg.to_ascii_lowercase()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Pep440 {
            epoch: n("epoch").unwrap_or(0),
            release,
            pre,
            post,
            dev,
            local,
            text: s.trim().to_owned(),
        })
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// A version from its parts, with its normalized text (`1!2.0rc1.post3.dev4+ab.5`).
    pub fn from_parts(
        epoch: u64,
        release: Vec<u64>,
        pre: Option<(u8, u64)>,
        post: Option<u64>,
        dev: Option<u64>,
        local: Vec<LocalSeg>,
    ) -> Pep440 {
        let mut text = String::new();
        if epoch != 0 {
            text.push_str(&format!("{epoch}!"));
        }
        let parts: Vec<String> = release.iter().map(u64::to_string).collect();
        text.push_str(&parts.join("."));
        if let Some((kind, n)) = pre {
            text.push_str(["a", "b", "rc"][usize::from(kind.min(2))]);
            text.push_str(&n.to_string());
        }
        if let Some(p) = post {
            text.push_str(&format!(".post{p}"));
        }
        if let Some(d) = dev {
            text.push_str(&format!(".dev{d}"));
        }
        for (i, seg) in local.iter().enumerate() {
            text.push(if i == 0 { '+' } else { '.' });
            match seg {
                LocalSeg::Num(n) => text.push_str(&n.to_string()),
                LocalSeg::Str(t) => text.push_str(t),
            }
        }
        Pep440 {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
            text,
        }
    }

    /// This version with other pre/post/dev/local parts (same epoch and release).
    pub fn with_suffix(
        &self,
        pre: Option<(u8, u64)>,
        post: Option<u64>,
        dev: Option<u64>,
        local: Vec<LocalSeg>,
    ) -> Pep440 {
        Pep440::from_parts(self.epoch, self.release.clone(), pre, post, dev, local)
    }

    /// A post-release (`1.0.post1`, `1.0-1`, also `1.0.post1.dev2`).
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// The pre/post/dev part of the comparison key of `packaging.version`, where a dev
    /// release with no pre or post sorts before every pre-release of it.
    fn suffix_key(&self) -> SuffixKey {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
            (Some((k, n)), _, _) => (0, k, n),
        };
        let post = self.post.map_or((-1, 0), |p| (0, p));
        let dev = self.dev.map_or((1, 0), |d| (0, d));
        (pre, post, dev)
    }
}

/// (pre, post, dev) with the "infinities" of `packaging.version` in the leading `i8`s.
type SuffixKey = ((i8, u8, u64), (i8, u64), (i8, u64));

/// Local segments compare numbers above strings.
fn local_key(s: &LocalSeg) -> (i8, u64, &str) {
    match s {
        LocalSeg::Num(n) => (1, *n, ""),
        LocalSeg::Str(t) => (0, 0, t.as_str()),
    }
}

impl PartialEq for Pep440 {
    fn eq(&self, other: &Pep440) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pep440 {}

impl Ord for Pep440 {
    /// `packaging.version` order, without allocating: release segments compare as if
    /// padded with zeros (the same as trimming trailing zeros).
    fn cmp(&self, other: &Pep440) -> Ordering {
        let n = self.release.len().max(other.release.len());
        let seg = |r: &[u64], i: usize| r.get(i).copied().unwrap_or(0);
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| {
                (0..n)
                    .map(|i| seg(&self.release, i).cmp(&seg(&other.release, i)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| self.suffix_key().cmp(&other.suffix_key()))
            .then_with(|| {
                self.local
                    .iter()
                    .map(local_key)
                    .cmp(other.local.iter().map(local_key))
            })
    }
}

impl PartialOrd for Pep440 {
    fn partial_cmp(&self, other: &Pep440) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(eco: Ecosystem, list: &[&str]) {
        let parsed: Vec<Version> = list
            .iter()
            .map(|s| eco.parse_version(s).unwrap_or_else(|| panic!("{s} parses")))
            .collect();
        for w in parsed.windows(2) {
            assert_eq!(
                w[0].partial_cmp(&w[1]),
                Some(Ordering::Less),
                "{} < {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn pep440_ordering_matches_packaging() {
        // The ordering example of PEP 440, plus epochs and locals.
        sorted(
            Ecosystem::PyPI,
            &[
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
                "1!0.1",
            ],
        );
    }

    #[test]
    fn pep440_normalization() {
        let v = |s: &str| Pep440::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0alpha1"), v("1.0a1"));
        assert_eq!(v("1.0-rc.1"), v("1.0rc1"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("1.0.rev1"), v("1.0.post1"));
        assert_eq!(v("v2.31.0"), v("2.31"));
        assert_eq!(v("1.0.DEV"), v("1.0.dev0"));
        assert!(v("2.0.0b1").is_prerelease());
        for bad in ["", "1.0.x", "abc", "1..0", "1.0+", "=1.0"] {
            assert!(Pep440::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn semver_ordering_with_prereleases_and_go_prefix() {
        sorted(
            Ecosystem::Npm,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.1.0",
                "2.0.0",
            ],
        );
        sorted(
            Ecosystem::Go,
            &[
                "v0.0.0-20200101000000-abcdef123456",
                "v0.1.0",
                "v1.2.3",
                "v1.10.0",
            ],
        );
        let s = |x: &str| Semver::parse(x).unwrap();
        assert_eq!(s("v1.2.3"), s("1.2.3"));
        assert_eq!(s("1.2.3+build.7"), s("1.2.3"));
        assert_eq!(s("1.2"), s("1.2.0"));
        for bad in ["", "1.2.3.4", "x.1", "1.-2", "1.0.0-", "1.0.0-a..b"] {
            assert!(Semver::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_normalize_per_ecosystem() {
        assert_eq!(Ecosystem::PyPI.normalize_name("Pillow"), "pillow");
        assert_eq!(
            Ecosystem::PyPI.normalize_name("zope.interface"),
            "zope-interface"
        );
        assert_eq!(
            Ecosystem::PyPI.normalize_name("Foo__Bar-._baz"),
            "foo-bar-baz"
        );
        assert_eq!(Ecosystem::Npm.normalize_name("@Scope/Pkg"), "@scope/pkg");
        assert_eq!(
            Ecosystem::Go.normalize_name("github.com/BurntSushi/toml"),
            "github.com/BurntSushi/toml"
        );
        assert_eq!(Ecosystem::parse("crates.io"), Some(Ecosystem::CratesIo));
        assert_eq!(Ecosystem::parse("Maven"), None);
        // `is_named` agrees with `normalize_name` without allocating.
        for (eco, raw) in [
            (Ecosystem::PyPI, "Foo__Bar-._baz"),
            (Ecosystem::PyPI, "_leading.Dots_"),
            (Ecosystem::PyPI, "zope.interface"),
            (Ecosystem::PyPI, "Pillöw"),
            (Ecosystem::Npm, "@Scope/Pkg"),
            (Ecosystem::CratesIo, "Serde_JSON"),
            (Ecosystem::Go, "github.com/BurntSushi/toml"),
        ] {
            let normalized = eco.normalize_name(raw);
            assert!(eco.is_named(raw, &normalized), "{raw}");
            assert!(!eco.is_named(raw, &format!("{normalized}x")), "{raw}");
            assert!(!eco.is_named(&format!("{raw}-x"), &normalized), "{raw}");
        }
        assert!(!Ecosystem::PyPI.is_named("foo-bar", "foobar"));
        assert!(!Ecosystem::PyPI.is_named("foobar", "foo-bar"));
    }
}
