//! Differential tests of `packages::requirement` against each ecosystem's reference
//! implementation: does warden's `Requirement::parse(eco, spec).allows(version)` say
//! what the ecosystem itself says?
//!
//! - Cargo: the `semver` crate (a dev-dependency) judges generated cases here.
//! - npm and PyPI: node-semver and Python's `packaging` judge generated cases (plus the
//!   inputs of node-semver's fixture files) in `tests/oracles/npm.js` and
//!   `tests/oracles/pypi.py`, which write tables to `$WARDEN_ORACLE_TABLES` (default
//!   `target/oracles`); `scripts/test-oracles.sh` makes them and runs this test with
//!   `WARDEN_REQUIRE_ORACLES=1`, under which a missing table fails. Without that
//!   variable (a plain `cargo test`), a missing table is reported and its test skipped.
//!
//! Each test prints `oracles: <ecosystem> N cases, M agree` and fails on any
//! disagreement that [`KNOWN_DIFFERENCES`] does not list with its reason.

use std::path::PathBuf;

use warden_analysis::packages::manifest::{self, Kind};
use warden_analysis::packages::osv::{Bound, Interval};
use warden_analysis::packages::requirement::Requirement;
use warden_analysis::packages::{Ecosystem, Version};

/// Known, justified differences: (ecosystem, requirement, version, why). Empty: warden
/// agrees with every reference implementation on every case.
const KNOWN_DIFFERENCES: &[(&str, &str, &str, &str)] = &[];

/// Warden's answer: `None` when it does not understand the requirement; a version it
/// cannot parse is allowed by nothing.
fn judge(eco: Ecosystem, spec: &str, version: &str) -> Option<bool> {
    let r = Requirement::parse(eco, spec);
    r.is_known()
        .then(|| eco.parse_version(version).is_some_and(|v| r.allows(&v)))
}

/// The checker's question agrees with [`Requirement::allows`] on the sample versions
/// (sorted): `allows_any_in` of an exact version is `allows`, and an interval holding an
/// allowed sample version is never judged to hold none. Returns what disagrees.
fn checker_consistency(eco: Ecosystem, spec: &str, sorted: &[Version]) -> Vec<String> {
    let r = Requirement::parse(eco, spec);
    if !r.is_known() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let allowed: Vec<bool> = sorted.iter().map(|v| r.allows(v)).collect();
    for (i, v) in sorted.iter().enumerate() {
        if r.allows_any_in(&Interval::exactly(v.clone())) != allowed[i] {
            out.push(format!(
                "{spec:?}: allows_any_in([{v}, {v}]) is not allows({v})"
            ));
        }
        let mut intervals = vec![Interval {
            lower: Bound::Included(v.clone()),
            upper: Bound::Unbounded,
        }];
        for k in [1, 2, 5] {
            if let Some(hi) = sorted.get(i + k) {
                intervals.push(Interval {
                    lower: Bound::Included(v.clone()),
                    upper: Bound::Excluded(hi.clone()),
                });
            }
        }
        for interval in intervals {
            let holds_allowed = sorted
                .iter()
                .zip(&allowed)
                .any(|(w, a)| *a && interval.contains(w));
            if holds_allowed && !r.allows_any_in(&interval) {
                out.push(format!(
                    "{spec:?}: allows_any_in({interval}) misses an allowed version"
                ));
            }
        }
    }
    out
}

/// The versions of `list` that parse, in order, without duplicates.
fn sorted_versions(eco: Ecosystem, list: impl IntoIterator<Item = String>) -> Vec<Version> {
    let mut out: Vec<Version> = list
        .into_iter()
        .filter_map(|v| eco.parse_version(&v))
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    out.dedup();
    out
}

/// Runs [`checker_consistency`] over every requirement and fails on a disagreement.
fn assert_checker_consistent<'a>(
    label: &str,
    eco: Ecosystem,
    specs: impl IntoIterator<Item = &'a str>,
    sorted: &[Version],
) {
    let mut seen = std::collections::HashSet::new();
    let mut problems = Vec::new();
    for spec in specs {
        if seen.insert(spec) {
            problems.extend(checker_consistency(eco, spec, sorted));
        }
    }
    println!(
        "checker: {label} {} requirements, allows_any_in consistent with allows: {}",
        seen.len(),
        problems.is_empty()
    );
    assert!(
        problems.is_empty(),
        "{} checker disagreements:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Cases and disagreements of one ecosystem.
struct Tally {
    ecosystem: &'static str,
    cases: usize,
    agree: usize,
    disagreements: Vec<String>,
}

impl Tally {
    fn new(ecosystem: &'static str) -> Tally {
        Tally {
            ecosystem,
            cases: 0,
            agree: 0,
            disagreements: Vec::new(),
        }
    }

    /// One case: `expected` is the oracle's answer (`None`: not a valid requirement,
    /// which warden must not read as one either).
    fn case(&mut self, spec: &str, version: &str, expected: Option<bool>, got: Option<bool>) {
        self.cases += 1;
        let known = KNOWN_DIFFERENCES
            .iter()
            .any(|(e, s, v, _)| *e == self.ecosystem && *s == spec && *v == version);
        if expected == got || known {
            self.agree += 1;
        } else {
            let show = |o: Option<bool>| match o {
                None => "not a requirement".to_owned(),
                Some(b) => format!("{b}"),
            };
            self.disagreements.push(format!(
                "{:?} with {version:?}: oracle {}, warden {}",
                spec,
                show(expected),
                show(got)
            ));
        }
    }

    fn finish(self) {
        println!(
            "oracles: {} {} cases, {} agree",
            self.ecosystem, self.cases, self.agree
        );
        assert!(self.cases > 0, "{}: no cases", self.ecosystem);
        if !self.disagreements.is_empty() {
            // The first disagreement of each requirement, 60 requirements at most.
            let mut shown: Vec<&String> = Vec::new();
            let mut specs = std::collections::HashSet::new();
            for d in &self.disagreements {
                let spec = d.split(" with ").next().unwrap_or(d);
                if specs.insert(spec) && shown.len() < 60 {
                    shown.push(d);
                }
            }
            panic!(
                "{}: {} of {} cases ({} requirements) disagree with the reference \
                 implementation:\n{}",
                self.ecosystem,
                self.disagreements.len(),
                self.cases,
                specs.len(),
                shown
                    .iter()
                    .map(|s| format!("  {s}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

#[test]
fn known_differences_are_few_and_explained() {
    for (eco, spec, version, why) in KNOWN_DIFFERENCES {
        assert!(
            why.len() > 20,
            "{eco} {spec:?} {version:?}: say why warden differs"
        );
    }
    assert!(KNOWN_DIFFERENCES.len() <= 10, "too many known differences");
}

// ---- Cargo: the `semver` crate ----

const CARGO_VERSIONS: &[&str] = &[
    "0.0.0-0",
    "0.0.0",
    "0.0.1",
    "0.0.3-rc.1",
    "0.0.3",
    "0.0.4",
    "0.0.9",
    "0.1.0",
    "0.1.5",
    "0.2.0",
    "0.2.3",
    "0.2.9",
    "0.3.0",
    "0.4.0",
    "0.4.5",
    "1.0.0-alpha",
    "1.0.0",
    "1.0.1",
    "1.1.0-rc.1",
    "1.1.0",
    "1.1.9",
    "1.2.0-0",
    "1.2.0",
    "1.2.2",
    "1.2.3-0",
    "1.2.3-alpha",
    "1.2.3-beta.2",
    "1.2.3-beta.3",
    "1.2.3",
    "1.2.3+build.5",
    "1.2.4-alpha",
    "1.2.4",
    "1.2.9",
    "1.3.0-alpha",
    "1.3.0",
    "1.9.9",
    "1.10.2-pre",
    "1.10.2",
    "2.0.0-0",
    "2.0.0-rc.1",
    "2.0.0",
    "2.0.1",
    "2.5.0",
    "3.0.0",
    "10.0.0",
];

const CARGO_ATOMS: &[&str] = &[
    "0",
    "0.0",
    "0.0.0",
    "0.0.3",
    "0.1",
    "0.2.3",
    "0.4",
    "1",
    "1.1",
    "1.2",
    "1.2.3",
    "1.2.3-beta.2",
    "1.2.3-0",
    "0.0.3-rc.1",
    "2.0.0-rc.1",
    "1.*",
    "1.1.*",
    "1.*.*",
    "1.x",
    "1.2.X",
    "*",
    "1.2.3+build.1",
    "0.0.0-0",
    "1.10.2-pre",
    "01.2",
];

/// Requirements: every operator with every atom (with and without a space after it),
/// comma lists of a lower and an upper bound, and a few of three comparators.
fn cargo_requirements() -> Vec<String> {
    let mut out = Vec::new();
    for op in ["", "=", ">", ">=", "<", "<=", "~", "^"] {
        for atom in CARGO_ATOMS {
            out.push(format!("{op}{atom}"));
            if !op.is_empty() {
                out.push(format!("{op} {atom}"));
            }
        }
    }
    for lo in [
        ">=1",
        ">=1.2",
        ">=1.2.3",
        ">=1.2.3-beta.2",
        ">0.2.3",
        "^1.2",
        "~1.2.3",
        "1.1.*",
    ] {
        for hi in [
            "<2",
            "<1.3",
            "<1.2.4",
            "<2.0.0-rc.1",
            "<=1.2.3",
            "<=2.0.0-0",
            "<=1.2",
        ] {
            out.push(format!("{lo}, {hi}"));
            out.push(format!("{lo},{hi}"));
        }
    }
    out.extend(
        [
            ">=1.0, <2.0, !=1.5",
            ">=1.2.3-beta.2, <1.2.3, ^1.2.3-0",
            "=1.2.3, =1.2.3",
            ">=2, <1",
            "<0.0.0",
            "<0",
            "<=0.0",
            "*, 1.0",
            "",
            " ^1.2",
        ]
        .map(str::to_owned),
    );
    out
}

#[test]
fn cargo_matches_the_semver_crate() {
    let mut tally = Tally::new("Cargo");
    let mut warden_only = Vec::new();
    for spec in cargo_requirements() {
        let Ok(req) = semver::VersionReq::parse(&spec) else {
            if Requirement::parse(Ecosystem::CratesIo, &spec).is_known() && !spec.is_empty() {
                warden_only.push(spec);
            }
            continue;
        };
        for version in CARGO_VERSIONS {
            let Ok(v) = semver::Version::parse(version) else {
                continue;
            };
            tally.case(
                &spec,
                version,
                Some(req.matches(&v)),
                judge(Ecosystem::CratesIo, &spec, version),
            );
        }
    }
    tally.finish();
    let specs = cargo_requirements();
    assert_checker_consistent(
        "Cargo",
        Ecosystem::CratesIo,
        specs.iter().map(String::as_str),
        &sorted_versions(
            Ecosystem::CratesIo,
            CARGO_VERSIONS.iter().map(|v| v.to_string()),
        ),
    );
    // Not cases (semver has no answer), but warden should not read more than Cargo.
    assert!(
        warden_only.is_empty(),
        "warden reads requirements the semver crate rejects: {warden_only:?}"
    );
}

// ---- npm and PyPI: tables from the oracle scripts ----

fn table(file: &str) -> Option<serde_json::Value> {
    let dir = std::env::var_os("WARDEN_ORACLE_TABLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/oracles"));
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("an oracle table is JSON")),
        Err(e) => {
            assert!(
                std::env::var_os("WARDEN_REQUIRE_ORACLES").is_none(),
                "WARDEN_REQUIRE_ORACLES is set but {} cannot be read: {e}",
                path.display()
            );
            println!(
                "oracles: {file} absent ({}): skipped; scripts/test-oracles.sh makes it",
                path.display()
            );
            None
        }
    }
}

/// `(requirement, version, expected)` rows of a table.
fn rows(t: &serde_json::Value) -> Vec<(String, String, Option<bool>)> {
    t["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c[0].as_str().expect("requirement").to_owned(),
                c[1].as_str().expect("version").to_owned(),
                c[2].as_bool(),
            )
        })
        .collect()
}

#[test]
fn npm_matches_node_semver() {
    let Some(t) = table("npm.json") else {
        return;
    };
    println!("npm oracle: {}", t["oracle"]);
    let mut tally = Tally::new("npm");
    let rows = rows(&t);
    for (spec, version, expected) in &rows {
        let got = judge(Ecosystem::Npm, spec, version);
        tally.case(spec, version, *expected, got);
    }
    tally.finish();
    let sorted = sorted_versions(Ecosystem::Npm, rows.iter().map(|r| r.1.clone()));
    assert_checker_consistent(
        "npm",
        Ecosystem::Npm,
        rows.iter().map(|r| r.0.as_str()),
        &sorted,
    );
}

#[test]
fn pypi_matches_packaging() {
    let Some(t) = table("pypi.json") else {
        return;
    };
    println!("PyPI oracle: {}", t["oracle"]);
    let mut tally = Tally::new("PyPI");
    let rows = rows(&t);
    for (spec, version, expected) in &rows {
        let got = judge(Ecosystem::PyPI, spec, version);
        tally.case(spec, version, *expected, got);
    }
    let sorted = sorted_versions(Ecosystem::PyPI, rows.iter().map(|r| r.1.clone()));
    assert_checker_consistent(
        "PyPI",
        Ecosystem::PyPI,
        rows.iter().map(|r| r.0.as_str()),
        &sorted,
    );
    // PEP 508 lines, read as a requirements.txt line: the name, and the specifier set.
    for r in t["requirements"].as_array().expect("requirements") {
        let line = r["line"].as_str().expect("line");
        let m = manifest::parse(Kind::Requirements, line);
        let dep = m.dependencies.first();
        let name_ok = match r["name"].as_str() {
            Some(name) => m.errors.is_empty() && dep.is_some_and(|d| d.name == name),
            None => dep.is_none(),
        };
        for c in r["cases"].as_array().expect("cases") {
            let version = c[0].as_str().expect("version");
            let got = dep
                .filter(|_| name_ok)
                .and_then(|d| judge(Ecosystem::PyPI, &d.spec, version));
            tally.case(line, version, c[1].as_bool(), got);
        }
    }
    tally.finish();
}
