//! Dependency manifests, each dependency with its exact byte range: `requirements*.txt`
//! (extras, markers, hashes, comments, `name @ URL`, `-r`/`-c` includes, line
//! continuations) and `package.json` (dependencies, devDependencies,
//! optionalDependencies, peerDependencies). A malformed manifest yields one error at the
//! problem, never a panic. Then [`check`] judges every dependency against the advisory
//! records a lookup returns.

use std::path::Path;

use super::check::{self, Issue};
use super::osv::Record;
use super::requirement::Requirement;
use super::version::Ecosystem;
use crate::{Finding, FindingKind, LineIndex};

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The version requirement as written (empty when none).
    pub spec: String,
    /// Bytes of the whole dependency (name through requirement).
    pub start: usize,
    pub end: usize,
    /// Bytes of the requirement text (for upgrade edits); `None` when there is none.
    pub spec_range: Option<(usize, usize)>,
    /// The manifest section (`dependencies`, `devDependencies`, ...).
    pub section: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
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
    PackageJson,
}

pub fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    if name == "package.json" {
        Some(Kind::PackageJson)
    } else if name.starts_with("requirements") && name.ends_with(".txt")
        || name.ends_with("-requirements.txt")
    {
        Some(Kind::Requirements)
    } else {
        None
    }
}

pub fn parse(kind: Kind, text: &str) -> Manifest {
    match kind {
        Kind::Requirements => requirements(text),
        Kind::PackageJson => package_json(text),
    }
}

// ---- requirements.txt ----

fn requirements(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let mut offset = 0;
    let mut logical = String::new();
    let mut logical_start = 0;
    // (offset in `logical`, offset in `text`) at the start of each physical piece.
    let mut map: Vec<(usize, usize)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if logical.is_empty() {
            logical_start = offset;
            map.clear();
        }
        map.push((logical.len(), offset));
        if let Some(stripped) = content.strip_suffix('\\') {
            logical.push_str(stripped);
            logical.push(' ');
        } else {
            logical.push_str(content);
            requirement_line(&logical, logical_start, &map, &mut m);
            logical.clear();
        }
        offset += line.len();
    }
    if !logical.is_empty() {
        requirement_line(&logical, logical_start, &map, &mut m);
    }
    m
}

/// Maps an offset in a logical (continued) line to the text.
fn to_text(map: &[(usize, usize)], at: usize) -> usize {
    let (l, t) = map
        .iter()
        .rev()
        .find(|(l, _)| *l <= at)
        .copied()
        .unwrap_or((0, 0));
    t + (at - l)
}

fn requirement_line(line: &str, _start: usize, map: &[(usize, usize)], m: &mut Manifest) {
    // Comments: a `#` at the start or after whitespace.
    let code_end = line
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))
        .map_or(line.len(), |(i, _)| i);
    let code = &line[..code_end];
    let lead = code.len() - code.trim_start().len();
    let body = code.trim();
    if body.is_empty() {
        return;
    }
    let at = |i: usize| to_text(map, lead + i);
    if let Some(rest) = ["-r ", "--requirement ", "-c ", "--constraint ", "-r", "-c"]
        .iter()
        .find_map(|p| {
            body.strip_prefix(p)
                .map(|r| (body.len() - r.len(), r.trim()))
        })
    {
        let (skip, file) = rest;
        m.includes.push((
            file.split_whitespace().next().unwrap_or("").to_owned(),
            at(skip),
            at(body.len()),
        ));
        return;
    }
    if body.starts_with('-') {
        return; // -e, --index-url, --hash and other options
    }
    // The name, then extras, then `@ url` or a specifier, then `; markers`.
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(body.len());
    if name_len == 0 || !body.as_bytes()[0].is_ascii_alphanumeric() {
        m.errors.push((
            format!("cannot read this requirement: {:?}", truncate(body)),
            at(0),
            at(body.len()),
        ));
        return;
    }
    let name = &body[..name_len];
    let mut rest = &body[name_len..];
    let mut pos = name_len;
    let skip_ws = |rest: &mut &str, pos: &mut usize| {
        let t = rest.trim_start();
        *pos += rest.len() - t.len();
        *rest = t;
    };
    skip_ws(&mut rest, &mut pos);
    if rest.starts_with('[') {
        match rest.find(']') {
            Some(close) => {
                pos += close + 1;
                rest = &rest[close + 1..];
            }
            None => {
                m.errors
                    .push(("unclosed extras `[`".into(), at(pos), at(body.len())));
                return;
            }
        }
        skip_ws(&mut rest, &mut pos);
    }
    // End of the specifier: markers or hash options.
    let spec_end = [rest.find(';'), rest.find(" --"), rest.find("\t--")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    let raw = &rest[..spec_end];
    let spec = raw.trim_end();
    let (spec_text, spec_range) = if spec.starts_with('@') {
        (spec.to_owned(), None) // a direct URL: no version to judge
    } else if spec.is_empty() {
        (String::new(), None)
    } else {
        (spec.replace(' ', ""), Some((at(pos), at(pos + spec.len()))))
    };
    m.dependencies.push(Dependency {
        ecosystem: Ecosystem::PyPI,
        name: name.to_owned(),
        spec: spec_text,
        start: at(0),
        end: at(if spec.is_empty() {
            name_len
        } else {
            pos + spec.len()
        }),
        spec_range,
        section: None,
    });
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

// ---- package.json ----

const SECTIONS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

fn package_json(text: &str) -> Manifest {
    let mut m = Manifest::default();
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let index = LineIndex::new(text);
        let line = e.line().saturating_sub(1);
        let start = index
            .line_range(line, text)
            .map_or(0, |r| (r.start + e.column().saturating_sub(1)).min(r.end));
        let end = index
            .line_range(line, text)
            .map_or(text.len(), |r| r.end.max(start));
        m.errors
            .push((format!("package.json is not valid JSON: {e}"), start, end));
        return m;
    }
    let mut p = Spans {
        text: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if !p.eat(b'{') {
        m.errors.push((
            "package.json must be a JSON object".into(),
            0,
            text.len().min(1),
        ));
        return m;
    }
    loop {
        p.ws();
        if p.eat(b'}') || p.i >= text.len() {
            break;
        }
        let Some((key, _, _)) = p.string() else { break };
        p.ws();
        p.eat(b':');
        p.ws();
        if SECTIONS.contains(&key.as_str()) && p.peek() == Some(b'{') {
            p.eat(b'{');
            loop {
                p.ws();
                if p.eat(b'}') || p.i >= text.len() {
                    break;
                }
                let Some((name, ns, _)) = p.string() else {
                    break;
                };
                p.ws();
                p.eat(b':');
                p.ws();
                if p.peek() == Some(b'"') {
                    let Some((spec, ss, se)) = p.string() else {
                        break;
                    };
                    m.dependencies.push(Dependency {
                        ecosystem: Ecosystem::Npm,
                        name,
                        spec,
                        start: ns,
                        end: se,
                        spec_range: Some((ss + 1, se - 1)),
                        section: Some(key.clone()),
                    });
                } else {
                    p.value();
                }
                p.ws();
                p.eat(b',');
            }
        } else {
            p.value();
        }
        p.ws();
        p.eat(b',');
    }
    m
}

/// A minimal JSON walker over text already known to be valid JSON, tracking offsets.
struct Spans<'a> {
    text: &'a [u8],
    i: usize,
}

impl Spans<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// A string: (decoded value, start of the opening quote, end after the closing one).
    fn string(&mut self) -> Option<(String, usize, usize)> {
        let start = self.i;
        if !self.eat(b'"') {
            return None;
        }
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'\\' => self.i += 1,
                b'"' => {
                    let raw = std::str::from_utf8(&self.text[start..self.i]).ok()?;
                    let value: String = serde_json::from_str(raw).ok()?;
                    return Some((value, start, self.i));
                }
                _ => {}
            }
        }
        None
    }

    /// Skips any value.
    fn value(&mut self) {
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                loop {
                    self.ws();
                    if self.eat(close) || self.i >= self.text.len() {
                        break;
                    }
                    self.value();
                    self.ws();
                    if self.eat(b':') {
                        self.ws();
                        self.value();
                        self.ws();
                    }
                    self.eat(b',');
                }
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
            }
        }
    }
}

// ---- checking ----

/// A dependency with its issue, for diagnostics, hovers and fixes.
#[derive(Debug, Clone)]
pub struct Checked {
    pub dependency: Dependency,
    pub issue: Issue,
}

/// Judges every dependency of a manifest. `lookup(ecosystem, normalized name)` returns
/// the advisory records for a package.
pub fn check(
    text: &str,
    manifest: &Manifest,
    lookup: &dyn Fn(Ecosystem, &str) -> Vec<Record>,
) -> (Vec<Finding>, Vec<Checked>) {
    let index = LineIndex::new(text);
    let mut findings: Vec<Finding> = manifest
        .errors
        .iter()
        .map(|(msg, s, e)| {
            Finding::at(
                &index,
                FindingKind::Package,
                "manifest-error",
                crate::Severity::Error,
                msg.clone(),
                *s,
                *e,
            )
        })
        .collect();
    let mut checked = Vec::new();
    for dep in &manifest.dependencies {
        let records = lookup(dep.ecosystem, &dep.ecosystem.normalize_name(&dep.name));
        if records.is_empty() {
            continue;
        }
        let req = if dep.spec.starts_with('@') {
            Requirement::unknown()
        } else {
            Requirement::parse(dep.ecosystem, &dep.spec)
        };
        if let Some(issue) = check::check(dep.ecosystem, &dep.name, &req, &records) {
            let rule = issue
                .advisories
                .first()
                .map_or("advisory", |a| a.id.as_str());
            findings.push(Finding::at(
                &index,
                FindingKind::Package,
                rule,
                issue.severity,
                issue.message.clone(),
                dep.start,
                dep.end,
            ));
            checked.push(Checked {
                dependency: dep.clone(),
                issue,
            });
        }
    }
    (findings, checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(kind: Kind, text: &str) -> Vec<(String, String, String)> {
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

    #[test]
    fn requirements_lines_with_exact_ranges() {
        let text = "# pinned\nrequests==2.30.0\nDjango >= 4.2, <5  # web\npilllow\nuvicorn[standard]~=0.29 ; python_version >= \"3.8\"\nflask==3.0.0 \\\n    --hash=sha256:abc\n-r dev-requirements.txt\n-e .\n--index-url https://pypi.example.invalid/simple\nmypkg @ https://example.invalid/mypkg-1.0.whl\n";
        let d = deps(Kind::Requirements, text);
        assert_eq!(
            d,
            vec![
                (
                    "requests".into(),
                    "==2.30.0".into(),
                    "requests==2.30.0".into()
                ),
                (
                    "Django".into(),
                    ">=4.2,<5".into(),
                    "Django >= 4.2, <5".into()
                ),
                ("pilllow".into(), "".into(), "pilllow".into()),
                (
                    "uvicorn".into(),
                    "~=0.29".into(),
                    "uvicorn[standard]~=0.29".into()
                ),
                ("flask".into(), "==3.0.0".into(), "flask==3.0.0".into()),
                (
                    "mypkg".into(),
                    "@ https://example.invalid/mypkg-1.0.whl".into(),
                    "mypkg @ https://example.invalid/mypkg-1.0.whl".into()
                ),
            ]
        );
        let m = parse(Kind::Requirements, text);
        assert_eq!(m.includes[0].0, "dev-requirements.txt");
        let spec = m.dependencies[0].spec_range.unwrap();
        assert_eq!(&text[spec.0..spec.1], "==2.30.0");
        let bad = parse(Kind::Requirements, "ok==1\n!!nonsense\nextras[oops==1\n");
        assert_eq!(bad.errors.len(), 2);
        assert_eq!(bad.dependencies.len(), 1);
    }

    #[test]
    fn package_json_sections_with_exact_ranges() {
        let text = "{\n  \"name\": \"app\",\n  \"scripts\": {\"dependencies\": \"not a section\"},\n  \"dependencies\": {\n    \"chalk\": \"5.6.1\",\n    \"lodash\": \"^4.17.0\"\n  },\n  \"devDependencies\": {\"@types/node\": \"^20\", \"weird\\\"name\": \"1.0.0\"},\n  \"peerDependencies\": {}\n}\n";
        let d = deps(Kind::PackageJson, text);
        assert_eq!(d.len(), 4);
        assert_eq!(
            d[0],
            (
                "chalk".into(),
                "5.6.1".into(),
                "\"chalk\": \"5.6.1\"".into()
            )
        );
        assert_eq!(d[1].2, "\"lodash\": \"^4.17.0\"");
        assert_eq!(d[2].0, "@types/node");
        assert_eq!(d[3].0, "weird\"name");
        let m = parse(Kind::PackageJson, text);
        let (s, e) = m.dependencies[1].spec_range.unwrap();
        assert_eq!(&text[s..e], "^4.17.0");
        assert_eq!(
            m.dependencies[2].section.as_deref(),
            Some("devDependencies")
        );
        let broken = parse(
            Kind::PackageJson,
            "{\n  \"dependencies\": {\n    \"a\": \"1\"\n    \"b\": \"2\"\n}\n",
        );
        assert_eq!(broken.errors.len(), 1);
        assert!(broken.errors[0].0.contains("line 4"), "{:?}", broken.errors);
        assert!(
            parse(Kind::PackageJson, "[1,2]").errors[0]
                .0
                .contains("object")
        );
    }

    #[test]
    fn checking_a_manifest_finds_each_issue_at_its_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv");
        let records: Vec<Record> = [
            "PyPI/PYSEC-2023-74",
            "PyPI/MAL-2023-1941",
            "npm/MAL-2025-46969",
        ]
        .iter()
        .map(|f| {
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{f}.json"))).unwrap())
                .unwrap()
        })
        .collect();
        let lookup = |eco: Ecosystem, name: &str| -> Vec<Record> {
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
        };
        let text = "requests==2.30.0\npilllow\nflask==3.0.0\n";
        let (findings, checked) = check(text, &parse(Kind::Requirements, text), &lookup);
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
        let (findings, _) = check(pkg, &parse(Kind::PackageJson, pkg), &lookup);
        assert_eq!(findings[0].rule, "MAL-2025-46969");
        assert_eq!(
            &pkg[findings[0].start..findings[0].end],
            "\"chalk\": \"5.6.1\""
        );
        assert_eq!(
            kind_of(std::path::Path::new("a/requirements-dev.txt")),
            Some(Kind::Requirements)
        );
        assert_eq!(
            kind_of(std::path::Path::new("package.json")),
            Some(Kind::PackageJson)
        );
        assert_eq!(kind_of(std::path::Path::new("notes.txt")), None);
    }
}
