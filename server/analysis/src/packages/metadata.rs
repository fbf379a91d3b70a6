//! Package metadata checks: packages that do not exist in their registry (names an LLM
//! made up, which attackers register: "slopsquatting"), deprecated packages and
//! versions, and releases younger than a cool-down (where compromised versions live
//! until they are caught). Pure: the caller looks the metadata up (`MetaLookup`, `None`
//! when there is no answer yet, or none at all offline) and no answer is never a
//! finding.

use std::sync::Arc;

use super::lock::Lock;
use super::manifest::Manifest;
use super::requirement::Requirement;
use super::version::Ecosystem;
use crate::{Finding, FindingKind, LineIndex, Severity};

/// What the registry says about one package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum PackageMeta {
    /// The registry has no package of this name.
    Unknown,
    Known {
        versions: Vec<VersionMeta>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionMeta {
    pub version: String,
    /// Publication time, seconds since the Unix epoch.
    pub published: Option<i64>,
    /// Deprecated, with the registry's reason (possibly empty).
    pub deprecated: Option<String>,
    /// The registry's default (latest stable) version.
    pub default: bool,
}

impl PackageMeta {
    fn version(&self, v: &str) -> Option<&VersionMeta> {
        match self {
            // Go's versions are `v1.2.3` in the registry, `1.2.3` once parsed.
            PackageMeta::Known { versions } => versions
                .iter()
                .find(|m| m.version == v || m.version.strip_prefix('v') == Some(v)),
            PackageMeta::Unknown => None,
        }
    }

    /// Every version is deprecated (npm's whole-package deprecation).
    fn all_deprecated(&self) -> bool {
        matches!(self, PackageMeta::Known { versions } if !versions.is_empty()
            && versions.iter().all(|v| v.deprecated.is_some()))
    }

    fn default_version(&self) -> Option<&VersionMeta> {
        match self {
            PackageMeta::Known { versions } => versions.iter().find(|v| v.default),
            PackageMeta::Unknown => None,
        }
    }
}

/// Metadata for `(ecosystem, normalized name)`; `None`: no answer (yet).
pub type MetaLookup<'a> = &'a dyn Fn(Ecosystem, &str) -> Option<Arc<PackageMeta>>;

/// Rule ids of the findings.
pub const UNKNOWN: &str = "package-unknown";
pub const DEPRECATED: &str = "package-deprecated";
pub const NEW_RELEASE: &str = "package-new-release";

/// What the checks need besides the text.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Releases younger than this many days are called out.
    pub cooldown_days: u32,
}

fn registry(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::PyPI => "PyPI",
        Ecosystem::Npm => "the npm registry",
        Ecosystem::CratesIo => "crates.io",
        Ecosystem::Go => "the Go module proxy",
    }
}

fn age(seconds: i64) -> String {
    match seconds / 3600 {
        h if h < 1 => "less than an hour".to_owned(),
        1 => "1 hour".to_owned(),
        h if h < 48 => format!("{h} hours"),
        h => format!("{} days", h / 24),
    }
}

/// One metadata verdict on a package: its rule id, severity and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
}

/// Findings for a manifest's dependencies: unknown packages (error), deprecated ones
/// (warning), and pinned or locked versions younger than the cool-down (information).
/// `skip(start, end)`: dependencies already reported worse (a malicious package the
/// registry removed is not also "unknown").
pub fn check_manifest(
    text: &str,
    manifest: &Manifest,
    lock: Option<&Lock>,
    lookup: MetaLookup<'_>,
    policy: Policy,
    skip: &dyn Fn(usize, usize) -> bool,
) -> Vec<Finding> {
    let index = LineIndex::new(text);
    let resolution = lock.map(|l| l.resolve(manifest));
    let mut out = Vec::new();
    for (i, dep) in manifest.dependencies.iter().enumerate() {
        // Not from the registry: a URL, git, path or workspace dependency (no editable
        // version). npm aliases (`npm:real@1`) are parsed to the real package's name.
        if skip(dep.start, dep.end) || dep.spec_range.is_none() || !from_registry(dep) {
            continue;
        }
        let eco = dep.ecosystem;
        let Some(meta) = lookup(eco, &eco.normalize_name(&dep.name)) else {
            continue;
        };
        let locked = resolution.as_ref().and_then(|r| r.direct.get(&i)).cloned();
        let pinned = locked.or_else(|| {
            if dep.spec.starts_with('@') {
                return None;
            }
            Requirement::parse(eco, &dep.spec)
                .pinned
                .map(|v| v.to_string())
        });
        for v in check_package(eco, &dep.name, pinned.as_deref(), &meta, policy) {
            out.push(Finding::at(
                &index,
                FindingKind::Package,
                v.rule,
                v.severity,
                v.message,
                dep.start,
                dep.end,
            ));
        }
    }
    out
}

/// What the registry's answer says about `name` at the exact `version` (pinned or
/// locked; `None`: any): unknown (error, and nothing else), deprecated (warning), a
/// release younger than the cool-down (information).
pub fn check_package(
    eco: Ecosystem,
    name: &str,
    version: Option<&str>,
    meta: &PackageMeta,
    policy: Policy,
) -> Vec<Verdict> {
    let mut out = Vec::new();
    if *meta == PackageMeta::Unknown {
        out.push(Verdict {
            rule: UNKNOWN,
            severity: Severity::Error,
            message: format!(
                "{} has no package named {:?}: a misspelling, or a name an LLM made up \
                 (attackers register such names, \"slopsquatting\"); check it before \
                 installing",
                registry(eco),
                name
            ),
        });
        return out;
    }
    let version = version.and_then(|v| meta.version(v));
    if meta.all_deprecated() {
        let reason = version
            .or_else(|| meta.default_version())
            .and_then(|v| v.deprecated.clone())
            .filter(|r| !r.trim().is_empty());
        out.push(Verdict {
            rule: DEPRECATED,
            severity: Severity::Warning,
            message: match reason {
                Some(r) => format!("{name} is deprecated: {}", r.trim()),
                None => format!("{name} is deprecated (every version)"),
            },
        });
    } else if let Some(v) = version
        && let Some(reason) = &v.deprecated
    {
        let latest = meta
            .default_version()
            .filter(|d| d.deprecated.is_none())
            .map(|d| format!("; {} is not", d.version))
            .unwrap_or_default();
        out.push(Verdict {
            rule: DEPRECATED,
            severity: Severity::Warning,
            message: if reason.trim().is_empty() {
                format!("{name} {} is deprecated{latest}", v.version)
            } else {
                format!(
                    "{name} {} is deprecated: {}{latest}",
                    v.version,
                    reason.trim()
                )
            },
        });
    }
    if let Some(v) = version
        && let Some(published) = v.published
    {
        let young = policy.now - published;
        let cooldown = i64::from(policy.cooldown_days) * 86_400;
        if (0..cooldown).contains(&young) {
            out.push(Verdict {
                rule: NEW_RELEASE,
                severity: Severity::Info,
                message: format!(
                    "{name} {} was published {} ago: compromised releases are usually \
                     caught and removed within days; consider waiting {} days \
                     (packages.cooldownDays) or pinning an older version",
                    v.version,
                    age(young),
                    policy.cooldown_days
                ),
            });
        }
    }
    out
}

/// Whether a dependency comes from its registry (not a path, URL, git or workspace
/// reference, which name no registry package).
fn from_registry(dep: &super::manifest::Dependency) -> bool {
    let spec = dep.spec.trim();
    if spec.starts_with('@') || spec.starts_with(['.', '/', '~']) {
        return false;
    }
    if dep.ecosystem != Ecosystem::Npm {
        return true;
    }
    const NOT_REGISTRY: [&str; 12] = [
        "file:",
        "link:",
        "portal:",
        "workspace:",
        "git+",
        "git:",
        "github:",
        "gitlab:",
        "bitbucket:",
        "gist:",
        "http:",
        "https:",
    ];
    // `user/repo` is GitHub shorthand; an alias (`npm:real@1`) names another package.
    !NOT_REGISTRY.iter().any(|p| spec.starts_with(p))
        && !spec.starts_with("npm:")
        && !spec.contains('/')
}

/// The message for a package named in code or a reply that the registry does not have.
pub fn unknown_message(eco: Ecosystem, name: &str) -> String {
    format!(
        "{} has no package named {name:?}: a misspelling, or a name an LLM made up \
         (attackers register such names, \"slopsquatting\")",
        registry(eco)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::manifest::{self, Kind};

    fn meta(versions: &[(&str, Option<i64>, Option<&str>, bool)]) -> Arc<PackageMeta> {
        Arc::new(PackageMeta::Known {
            versions: versions
                .iter()
                .map(|(v, p, d, def)| VersionMeta {
                    version: (*v).to_owned(),
                    published: *p,
                    deprecated: d.map(str::to_owned),
                    default: *def,
                })
                .collect(),
        })
    }

    const NOW: i64 = 1_800_000_000;

    fn run(kind: Kind, text: &str) -> Vec<(String, Severity, String)> {
        let lookup = |_: Ecosystem, name: &str| -> Option<Arc<PackageMeta>> {
            match name {
                "requests" => Some(meta(&[
                    ("2.30.0", Some(NOW - 400 * 86_400), None, false),
                    ("2.32.3", Some(NOW - 3600 * 5), None, true),
                ])),
                "huggingface-cli-tools" | "left-padd" => Some(Arc::new(PackageMeta::Unknown)),
                "request" => Some(meta(&[(
                    "2.88.2",
                    Some(NOW - 2000 * 86_400),
                    Some(
                        "request has been deprecated, see https://github.com/request/request/issues/3142",
                    ),
                    true,
                )])),
                "urllib3" => Some(meta(&[
                    ("1.26.0", Some(NOW - 900 * 86_400), Some(""), false),
                    ("2.2.1", Some(NOW - 100 * 86_400), None, true),
                ])),
                _ => None,
            }
        };
        let parsed = manifest::parse(kind, text);
        check_manifest(
            text,
            &parsed,
            None,
            &lookup,
            Policy {
                now: NOW,
                cooldown_days: 3,
            },
            &|_, _| false,
        )
        .into_iter()
        .map(|f| (f.rule, f.severity, f.message))
        .collect()
    }

    #[test]
    fn unknown_deprecated_and_new_releases_in_a_requirements_file() {
        let got = run(
            Kind::Requirements,
            "requests==2.32.3\nhuggingface-cli-tools\nurllib3==1.26.0\nrequests-toolbelt\n",
        );
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0].0, NEW_RELEASE);
        assert_eq!(got[0].1, Severity::Info);
        assert!(got[0].2.contains("published 5 hours ago"), "{}", got[0].2);
        assert_eq!(got[1].0, UNKNOWN);
        assert_eq!(got[1].1, Severity::Error);
        assert!(
            got[1]
                .2
                .contains("PyPI has no package named \"huggingface-cli-tools\"")
        );
        assert_eq!(got[2].0, DEPRECATED);
        assert_eq!(got[2].2, "urllib3 1.26.0 is deprecated; 2.2.1 is not");
    }

    #[test]
    fn an_old_pin_and_a_range_are_not_new_and_no_answer_is_no_finding() {
        // 2.30.0 is old; a range names no version; `requests-toolbelt` has no answer.
        let got = run(
            Kind::Requirements,
            "requests==2.30.0\nrequests>=2.0\nrequests-toolbelt==1.0.0\n",
        );
        assert!(got.is_empty(), "{got:#?}");
    }

    #[test]
    fn path_git_url_and_alias_dependencies_are_not_asked_about() {
        let got = run(
            Kind::PackageJson,
            r#"{"dependencies": {"left-padd": "file:../left-padd", "y": "github:a/left-padd", "z": "link:../z", "w": "workspace:*"}}"#,
        );
        assert!(got.is_empty(), "{got:#?}");
        // An alias (`npm:real@1`) is not asked about under its alias name.
        let got = run(
            Kind::PackageJson,
            r#"{"dependencies": {"x": "npm:left-padd@1.0.0"}}"#,
        );
        assert!(got.iter().all(|g| !g.2.contains("\"x\"")), "{got:#?}");
        let got = run(
            Kind::Requirements,
            "huggingface-cli-tools @ https://example.invalid/h.whl\n",
        );
        assert!(got.is_empty(), "{got:#?}");
    }

    #[test]
    fn a_package_deprecated_in_every_version_says_why() {
        let got = run(
            Kind::PackageJson,
            r#"{"dependencies": {"request": "^2.88.0", "left-padd": "1.0.0"}}"#,
        );
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].0, DEPRECATED);
        assert!(
            got[0]
                .2
                .starts_with("request is deprecated: request has been deprecated")
        );
        assert_eq!(got[1].0, UNKNOWN);
        assert!(
            got[1]
                .2
                .starts_with("the npm registry has no package named \"left-padd\"")
        );
    }
}
