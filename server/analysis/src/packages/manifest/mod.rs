//! Dependency manifests, each dependency with its exact byte range: `requirements*.txt`,
//! `pyproject.toml` (PEP 621, PEP 735 groups, Poetry), `package.json`, `Cargo.toml`
//! (every dependency table, renames, workspace inheritance) and `go.mod` (require
//! blocks, replace). A malformed manifest yields one error at the problem, never a
//! panic. [`check`] then judges every dependency against the advisory records a lookup
//! returns, using a lockfile's resolved versions when one is given, and attributes
//! vulnerable transitive packages to the direct dependency that brings them in.

mod cargo;
mod gomod;
mod package_json;
mod pyproject;
mod requirements;
mod toml_util;

use std::path::Path;

use super::check::{self, Issue};
use super::lock::{Lock, Resolution};
use super::osv::Record;
use super::requirement::Requirement;
use super::upgrade;
use super::version::Ecosystem;
use crate::{Finding, FindingKind, LineIndex};

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    /// The package name (for renamed Cargo dependencies, the real package).
    pub name: String,
    /// The version requirement in the ecosystem's checkable syntax (Poetry's `^`/`~`
    /// become PEP 440 bounds); empty when none. The text as written is at `spec_range`.
    pub spec: String,
    /// Bytes of the whole dependency (name through requirement).
    pub start: usize,
    pub end: usize,
    /// Bytes of the version requirement as written, for upgrade edits: an empty range
    /// where one would be inserted when the dependency has none; `None` when a version
    /// cannot be edited here (URL, git and path dependencies, inherited versions).
    pub spec_range: Option<(usize, usize)>,
    /// The manifest section (`dependencies`, `devDependencies`, `require`...).
    pub section: Option<String>,
    /// Bytes to delete to remove the dependency (whole lines, or a list item with its
    /// separator), leaving the manifest well-formed.
    pub removal: (usize, usize),
}

/// How a dependency's version requirement is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// PEP 440 specifiers (`requirements.txt`, PEP 621).
    Pep440,
    /// Poetry constraints (`^1.2`, `~1.2`, bare versions are exact).
    Poetry,
    Npm,
    Cargo,
    /// A Go module version (`v1.2.3`).
    Go,
}

impl Dependency {
    pub fn syntax(&self) -> Syntax {
        match self.ecosystem {
            Ecosystem::PyPI
                if self
                    .section
                    .as_deref()
                    .is_some_and(|s| s.starts_with("tool.poetry")) =>
            {
                Syntax::Poetry
            }
            Ecosystem::PyPI => Syntax::Pep440,
            Ecosystem::Npm => Syntax::Npm,
            Ecosystem::CratesIo => Syntax::Cargo,
            Ecosystem::Go => Syntax::Go,
        }
    }
}

impl Syntax {
    /// The requirement a spec written in this syntax means.
    pub fn requirement(self, spec: &str) -> Requirement {
        match self {
            Syntax::Pep440 => Requirement::parse(Ecosystem::PyPI, spec),
            Syntax::Poetry => {
                Requirement::parse(Ecosystem::PyPI, &pyproject::poetry_to_pep440(spec))
            }
            Syntax::Npm => Requirement::parse(Ecosystem::Npm, spec),
            Syntax::Cargo => Requirement::parse(Ecosystem::CratesIo, spec),
            Syntax::Go => Requirement::parse(Ecosystem::Go, spec),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// The manifest's own package (`name` in package.json, `[package]`, `[project]`,
    /// `module`), used to find its entry in a lockfile.
    pub package: Option<String>,
    pub dependencies: Vec<Dependency>,
    /// Other requirement files named by `-r`/`-c`, with their byte range.
    pub includes: Vec<(String, usize, usize)>,
    /// Problems, with their byte range.
    pub errors: Vec<(String, usize, usize)>,
}

/// Which manifest format a path is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Requirements,
    Pyproject,
    PackageJson,
    CargoToml,
    GoMod,
}

pub fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    match name {
        "package.json" => Some(Kind::PackageJson),
        "pyproject.toml" => Some(Kind::Pyproject),
        "Cargo.toml" => Some(Kind::CargoToml),
        "go.mod" => Some(Kind::GoMod),
        _ if name.starts_with("requirements") && name.ends_with(".txt")
            || name.ends_with("-requirements.txt") =>
        {
            Some(Kind::Requirements)
        }
        _ => None,
    }
}

impl Kind {
    /// Lockfile names that resolve this manifest's versions, in preference order. Cargo
    /// workspaces keep `Cargo.lock` at the workspace root, so callers look upwards.
    pub fn lockfiles(self) -> &'static [&'static str] {
        match self {
            Kind::PackageJson => &["package-lock.json", "npm-shrinkwrap.json"],
            Kind::CargoToml => &["Cargo.lock"],
            Kind::Pyproject => &["uv.lock", "poetry.lock"],
            Kind::Requirements | Kind::GoMod => &[],
        }
    }
}

pub fn parse(kind: Kind, text: &str) -> Manifest {
    match kind {
        Kind::Requirements => requirements::parse(text),
        Kind::Pyproject => pyproject::parse(text),
        Kind::PackageJson => package_json::parse(text),
        Kind::CargoToml => cargo::parse(text),
        Kind::GoMod => gomod::parse(text),
    }
}

/// Removal ranges for the items of a delimited list (`[a, b]`, `{"a": 1, "b": 2}`):
/// an item with a successor goes up to the successor; the last item goes back to the
/// end of its predecessor (taking the separator); a lone item empties the brackets.
/// `open_end` is just after the opening bracket, `close` the closing one.
pub(super) fn list_removals(
    items: &[(usize, usize)],
    open_end: usize,
    close: usize,
) -> Vec<(usize, usize)> {
    (0..items.len())
        .map(|i| match (i.checked_sub(1), items.get(i + 1)) {
            (_, Some(next)) => (items[i].0, next.0),
            (Some(prev), None) => (items[prev].1, items[i].1),
            (None, None) => (open_end, close),
        })
        .collect()
}

/// The range of whole lines covering `start..end`, with the final newline.
pub(super) fn whole_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let s = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let e = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    (s, e)
}

// ---- checking ----

/// A dependency with its issue, for diagnostics, hovers and fixes.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The direct dependency (for a transitive package, the one that brings it in).
    pub dependency: Dependency,
    pub issue: Issue,
    /// The version judged: the lockfile's, or the pin.
    pub version: Option<String>,
    /// The lockfile the version comes from, when it does.
    pub lockfile: Option<String>,
    /// For a transitive package, the path from the direct dependency to it (both
    /// included); empty for the direct dependency itself.
    pub via: Vec<String>,
    /// The upgrade edit: the target version and the new requirement text for
    /// `dependency.spec_range`. The target is the lowest fixed version whose
    /// requirement, written in the user's style, allows it and no affected version,
    /// without lowering the old requirement's floor.
    pub upgrade: Option<(String, String)>,
}

impl Checked {
    /// The diagnostic finding: on the direct dependency, coded by the first advisory,
    /// with one related line per advisory when there are several.
    pub fn finding(&self, index: &LineIndex) -> Finding {
        let mut f = Finding::at(
            index,
            FindingKind::Package,
            self.issue
                .advisories
                .first()
                .map_or("advisory", |a| a.id.as_str()),
            self.issue.severity,
            self.issue.message.clone(),
            self.dependency.start,
            self.dependency.end,
        );
        if self.issue.advisories.len() > 1 {
            f.related = self.issue.advisories.iter().map(|a| a.line()).collect();
        }
        f
    }
}

/// The lowest upgrade whose new requirement is re-checked clean: it allows the version
/// it names (and never lowers the floor, nor turns to a pre-release: `upgraded`), and
/// the advisories no longer flag it. None when no fixed version gives one.
fn upgrade_of(
    text: &str,
    dep: &Dependency,
    issue: &Issue,
    records: &[Record],
) -> Option<(String, String)> {
    let (s, e) = dep.spec_range?;
    let written = text.get(s..e)?;
    let syntax = dep.syntax();
    issue.fixed_candidates.iter().find_map(|v| {
        let new = upgrade::upgraded(syntax, written, v)?;
        let req = syntax.requirement(&new);
        (!check::flags(dep.ecosystem, &dep.name, &req, records)).then(|| (v.clone(), new))
    })
}

/// Judges every dependency of a manifest. `lookup(ecosystem, normalized name)` returns
/// the advisory records for a package; `lock` overrides ranges with resolved versions
/// and adds the transitive packages.
pub fn check(
    text: &str,
    manifest: &Manifest,
    lock: Option<&Lock>,
    lookup: crate::Lookup<'_>,
) -> (Vec<Finding>, Vec<Checked>) {
    let index = LineIndex::new(text);
    let finding = |rule: &str, severity, message: String, start, end| {
        Finding::at(
            &index,
            FindingKind::Package,
            rule,
            severity,
            message,
            start,
            end,
        )
    };
    let mut findings: Vec<Finding> = manifest
        .errors
        .iter()
        .map(|(msg, s, e)| {
            finding(
                "manifest-error",
                crate::Severity::Error,
                msg.clone(),
                *s,
                *e,
            )
        })
        .collect();
    let resolution = lock.map(|l| l.resolve(manifest));
    let mut checked = Vec::new();
    for (i, dep) in manifest.dependencies.iter().enumerate() {
        let records = lookup(dep.ecosystem, &dep.ecosystem.normalize_name(&dep.name));
        let written = if dep.spec.starts_with('@') {
            Requirement::unknown()
        } else {
            Requirement::parse(dep.ecosystem, &dep.spec)
        };
        // A locked version the manifest no longer allows is stale: the next install
        // resolves again, so the manifest's requirement is what counts.
        let locked = resolution
            .as_ref()
            .and_then(|r| r.direct.get(&i))
            .filter(|v| {
                !written.is_known()
                    || dep
                        .ecosystem
                        .parse_version(v)
                        .is_some_and(|v| written.allows(&v))
            });
        if !records.is_empty() {
            let req = match locked {
                Some(v) => Requirement::locked(dep.ecosystem, v),
                None => written,
            };
            if let Some(mut issue) = check::check(dep.ecosystem, &dep.name, &req, &records) {
                if let (Some(_), Some(lock)) = (locked, lock) {
                    issue
                        .message
                        .push_str(&format!(" (locked in {})", lock.file));
                }
                let version = locked
                    .cloned()
                    .or_else(|| req.pinned.as_ref().map(ToString::to_string));
                let upgrade = upgrade_of(text, dep, &issue, &records);
                checked.push(Checked {
                    dependency: dep.clone(),
                    issue,
                    version,
                    lockfile: lock.filter(|_| locked.is_some()).map(|l| l.file.clone()),
                    via: Vec::new(),
                    upgrade,
                });
            }
        }
    }
    if let (Some(Resolution { transitive, .. }), Some(lock)) = (&resolution, lock) {
        for t in transitive {
            let node = &lock.nodes[t.node];
            let records = lookup(lock.ecosystem, &lock.ecosystem.normalize_name(&node.name));
            if records.is_empty() {
                continue;
            }
            let req = Requirement::locked(lock.ecosystem, &node.version);
            if let Some(mut issue) = check::check(lock.ecosystem, &node.name, &req, &records) {
                let dep = &manifest.dependencies[t.direct];
                issue.message = format!(
                    "{} brings in {} {} (via {}, locked in {}): {}",
                    dep.name,
                    node.name,
                    node.version,
                    t.path.join(" → "),
                    lock.file,
                    issue.message
                );
                checked.push(Checked {
                    dependency: dep.clone(),
                    issue,
                    version: Some(node.version.clone()),
                    lockfile: Some(lock.file.clone()),
                    via: t.path.clone(),
                    upgrade: None,
                });
            }
        }
    }
    findings.extend(checked.iter().map(|c| c.finding(&index)));
    findings.sort_by_key(|f| (f.start, f.end));
    (findings, checked)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `(name, checkable spec, text of the dependency's range)` for each dependency.
    pub(in crate::packages) fn deps(kind: Kind, text: &str) -> Vec<(String, String, String)> {
        let m = parse(kind, text);
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        m.dependencies
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    d.spec.clone(),
                    text[d.start..d.end].to_owned(),
                )
            })
            .collect()
    }

    /// A lookup over the fixture advisories.
    pub(in crate::packages) fn fixture_lookup()
    -> impl Fn(Ecosystem, &str) -> crate::packages::Records {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
        let mut records: Vec<Record> = Vec::new();
        for eco in std::fs::read_dir(&dir).unwrap() {
            for f in std::fs::read_dir(eco.unwrap().path()).unwrap() {
                let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
                records.push(serde_json::from_str(&text).unwrap());
            }
        }
        move |eco: Ecosystem, name: &str| -> crate::packages::Records {
            records
                .iter()
                .filter(|r| {
                    r.affected.iter().any(|a| {
                        Ecosystem::parse(&a.package.ecosystem) == Some(eco)
                            && eco.normalize_name(&a.package.name) == name
                    })
                })
                .cloned()
                .collect()
        }
    }

    #[test]
    fn checking_a_manifest_finds_each_issue_at_its_line() {
        let lookup = fixture_lookup();
        let text = "requests==2.30.0\npilllow\nflask==3.0.0\n";
        let (findings, checked) = check(text, &parse(Kind::Requirements, text), None, &lookup);
        let got: Vec<(u32, &str, crate::Severity)> = findings
            .iter()
            .map(|f| (f.range.start.line, f.rule.as_str(), f.severity))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "PYSEC-2023-74", crate::Severity::Warning),
                (1, "MAL-2023-1941", crate::Severity::Error)
            ]
        );
        assert_eq!(checked[0].issue.safe_version.as_deref(), Some("2.31.0"));
        let pkg = "{\"dependencies\": {\"chalk\": \"5.6.1\"}}";
        let (findings, _) = check(pkg, &parse(Kind::PackageJson, pkg), None, &lookup);
        assert_eq!(findings[0].rule, "MAL-2025-46969");
        assert_eq!(
            &pkg[findings[0].start..findings[0].end],
            "\"chalk\": \"5.6.1\""
        );
        let kinds = [
            ("a/requirements-dev.txt", Some(Kind::Requirements)),
            ("package.json", Some(Kind::PackageJson)),
            ("x/pyproject.toml", Some(Kind::Pyproject)),
            ("Cargo.toml", Some(Kind::CargoToml)),
            ("go.mod", Some(Kind::GoMod)),
            ("notes.txt", None),
        ];
        for (path, kind) in kinds {
            assert_eq!(kind_of(std::path::Path::new(path)), kind, "{path}");
        }
    }

    #[test]
    fn several_advisories_are_one_finding_with_related_lines() {
        let lookup = fixture_lookup();
        let pkg = "{\"dependencies\": {\"lodash\": \"4.17.11\"}}";
        let (findings, checked) = check(pkg, &parse(Kind::PackageJson, pkg), None, &lookup);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(checked[0].issue.advisories.len() > 1);
        assert_eq!(findings[0].related.len(), checked[0].issue.advisories.len());
        assert!(findings[0].related[0].starts_with("GHSA-"));
    }

    #[test]
    fn upgrades_clear_the_finding_in_every_ecosystem() {
        let lookup = fixture_lookup();
        let cases = [
            (Kind::Requirements, "requests==2.30.0\nDjango >= 4.2, <5\n"),
            (
                Kind::PackageJson,
                "{\"dependencies\": {\"lodash\": \"^4.17.0\"}}",
            ),
            (
                Kind::CargoToml,
                "[dependencies]\ntime = \"0.1.42\"\nsmallvec = { version = \"1.6.0\" }\n",
            ),
            (Kind::GoMod, "module x\nrequire golang.org/x/net v0.5.0\n"),
            (
                Kind::Pyproject,
                "[project]\ndependencies = [\"django>=4.2,<5\"]\n[tool.poetry.dependencies]\nrequests = \"^2.30\"\n",
            ),
        ];
        for (kind, text) in cases {
            let (_, checked) = check(text, &parse(kind, text), None, &lookup);
            assert!(!checked.is_empty(), "{text}");
            let mut edits: Vec<((usize, usize), String)> = checked
                .iter()
                .map(|c| {
                    (
                        c.dependency.spec_range.unwrap(),
                        c.upgrade.clone().unwrap().1,
                    )
                })
                .collect();
            edits.sort_by_key(|e| std::cmp::Reverse(e.0.0));
            let mut fixed = text.to_owned();
            for ((s, e), new) in edits {
                fixed.replace_range(s..e, &new);
            }
            let (findings, _) = check(&fixed, &parse(kind, &fixed), None, &lookup);
            assert!(findings.is_empty(), "{fixed}\n{findings:#?}");
        }
        // Cargo's `0.2.0` would still allow the affected 0.2.7..0.2.22, so the edit
        // goes to 0.2.23 although 0.2.0 itself is not affected.
        let text = "[dependencies]\ntime = \"0.1.42\"\n";
        let (_, checked) = check(text, &parse(Kind::CargoToml, text), None, &lookup);
        assert_eq!(checked[0].upgrade, Some(("0.2.23".into(), "0.2.23".into())));
    }

    #[test]
    fn an_upgrade_is_offered_only_when_re_checked_clean() {
        let records: Vec<Record> = [
            r#"{"id": "FIXED", "affected": [{"package": {"ecosystem": "npm", "name": "pkg"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]}]}]}"#,
            r#"{"id": "UNFIXED", "affected": [{"package": {"ecosystem": "npm", "name": "pkg"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "2.0.0"}]}]}]}"#,
        ]
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
        let lookup = move |_: Ecosystem, name: &str| -> crate::packages::Records {
            if name == "pkg" {
                records.clone().into()
            } else {
                Vec::new().into()
            }
        };
        let upgrade = |spec: &str| {
            let text = format!("{{\"dependencies\": {{\"pkg\": \"{spec}\"}}}}");
            let (_, checked) = check(&text, &parse(Kind::PackageJson, &text), None, &lookup);
            assert_eq!(checked.len(), 1, "{spec} is flagged");
            checked[0].upgrade.clone()
        };
        // `^1.5.0` allows no affected version.
        assert_eq!(upgrade("^1.0.0"), Some(("1.5.0".into(), "^1.5.0".into())));
        // `>=1.5.0` would still allow 2.x, which nothing fixes: no edit is offered.
        assert_eq!(upgrade(">=1.0.0"), None);
        assert_eq!(upgrade("*"), Some(("1.5.0".into(), "^1.5.0".into())));
    }

    #[test]
    fn lockfiles_pin_direct_dependencies_unless_stale() {
        let lookup = fixture_lookup();
        let lock = crate::packages::lock::parse(
            crate::packages::lock::LockKind::PackageLock,
            "package-lock.json",
            r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"lodash": "^4.17.0"}}, "node_modules/lodash": {"version": "4.17.15"}}}"#,
        )
        .unwrap();
        let pinned = "{\"dependencies\": {\"lodash\": \"^4.17.0\"}}";
        let (f, c) = check(
            pinned,
            &parse(Kind::PackageJson, pinned),
            Some(&lock),
            &lookup,
        );
        assert_eq!(
            f[0].severity,
            crate::Severity::Warning,
            "judged at the locked 4.17.15"
        );
        assert_eq!(c[0].version.as_deref(), Some("4.17.15"));
        assert!(f[0].message.ends_with("(locked in package-lock.json)"));
        let upgraded = "{\"dependencies\": {\"lodash\": \"^4.17.21\"}}";
        let (f, _) = check(
            upgraded,
            &parse(Kind::PackageJson, upgraded),
            Some(&lock),
            &lookup,
        );
        assert!(
            f.is_empty(),
            "a lock the manifest no longer allows is stale: {f:#?}"
        );
    }

    #[test]
    fn list_removals_keep_lists_well_formed() {
        let text = "[a, b, c]";
        let items = [(1, 2), (4, 5), (7, 8)];
        let r = list_removals(&items, 1, 8);
        let cut = |(s, e): (usize, usize)| format!("{}{}", &text[..s], &text[e..]);
        assert_eq!(cut(r[0]), "[b, c]");
        assert_eq!(cut(r[1]), "[a, c]");
        assert_eq!(cut(r[2]), "[a, b]");
        let lone = list_removals(&[(1, 2)], 1, 2)[0];
        assert_eq!(format!("{}{}", &"[a]"[..lone.0], &"[a]"[lone.1..]), "[]");
        assert_eq!(whole_lines("a\nbb\nc", 3, 4), (2, 5));
    }
}
