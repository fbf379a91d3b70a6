//! Lockfiles as dependency graphs: `package-lock.json`/`npm-shrinkwrap.json` (v2/v3
//! `packages`, resolved with node's nested `node_modules` lookup), `Cargo.lock`,
//! `poetry.lock` and `uv.lock`. [`Lock::resolve`] maps a manifest's direct
//! dependencies to their locked versions and finds every transitive package with the
//! shortest path that brings it in.

use std::collections::{HashMap, VecDeque};

use serde_json::Value as Json;

use super::manifest::Manifest;
use super::version::Ecosystem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    PackageLock,
    CargoLock,
    PoetryLock,
    UvLock,
}

impl LockKind {
    pub fn of(file_name: &str) -> Option<LockKind> {
        match file_name {
            "package-lock.json" | "npm-shrinkwrap.json" => Some(LockKind::PackageLock),
            "Cargo.lock" => Some(LockKind::CargoLock),
            "poetry.lock" => Some(LockKind::PoetryLock),
            "uv.lock" => Some(LockKind::UvLock),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub version: String,
    /// Indices of the nodes this one depends on.
    pub deps: Vec<usize>,
    /// The project itself or a workspace member (not a registry package).
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pub ecosystem: Ecosystem,
    /// The lockfile's name, for messages.
    pub file: String,
    pub nodes: Vec<Node>,
}

/// A transitive package and how it is reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitive {
    /// Index of the manifest dependency that brings it in.
    pub direct: usize,
    /// Index into [`Lock::nodes`].
    pub node: usize,
    /// Names from the direct dependency to this package, both included.
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolution {
    /// Manifest dependency index -> locked version.
    pub direct: HashMap<usize, String>,
    pub transitive: Vec<Transitive>,
}

/// Parses a lockfile; an error says what is wrong (the caller then falls back to the
/// manifest's ranges).
pub fn parse(kind: LockKind, file: &str, text: &str) -> Result<Lock, String> {
    let (ecosystem, nodes) = match kind {
        LockKind::PackageLock => (Ecosystem::Npm, package_lock(text)?),
        LockKind::CargoLock => (Ecosystem::CratesIo, cargo_lock(text)?),
        LockKind::PoetryLock => (Ecosystem::PyPI, poetry_lock(text)?),
        LockKind::UvLock => (Ecosystem::PyPI, uv_lock(text)?),
    };
    Ok(Lock {
        ecosystem,
        file: file.to_owned(),
        nodes,
    })
}

impl Lock {
    /// Locked versions of the manifest's dependencies and the transitive packages they
    /// bring in. The manifest's own entry (a local node of the same name, or npm's
    /// root) says which node each direct dependency is; without one, nodes are matched
    /// by name.
    pub fn resolve(&self, manifest: &Manifest) -> Resolution {
        let eco = self.ecosystem;
        let norm = |n: &str| eco.normalize_name(n);
        let own = manifest.package.as_deref().map(norm);
        let root = self
            .nodes
            .iter()
            .position(|n| n.local && (own.as_deref() == Some(&norm(&n.name)) || n.name.is_empty()));
        let candidates: Vec<usize> = match root {
            Some(r) => self.nodes[r].deps.clone(),
            None => (0..self.nodes.len())
                .filter(|&i| !self.nodes[i].local)
                .collect(),
        };
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for &i in candidates.iter().rev() {
            by_name.insert(norm(&self.nodes[i].name), i);
        }
        let mut out = Resolution::default();
        let mut seen = vec![false; self.nodes.len()];
        let mut queue = VecDeque::new();
        if let Some(r) = root {
            seen[r] = true;
        }
        for (d, dep) in manifest.dependencies.iter().enumerate() {
            if dep.ecosystem != eco {
                continue;
            }
            if let Some(&i) = by_name.get(&norm(&dep.name)) {
                out.direct.insert(d, self.nodes[i].version.clone());
                if !seen[i] {
                    seen[i] = true;
                    queue.push_back((i, d, vec![self.nodes[i].name.clone()]));
                }
            }
        }
        while let Some((i, direct, path)) = queue.pop_front() {
            for &c in &self.nodes[i].deps {
                if seen[c] {
                    continue;
                }
                seen[c] = true;
                let mut next = path.clone();
                next.push(self.nodes[c].name.clone());
                if !self.nodes[c].local {
                    out.transitive.push(Transitive {
                        direct,
                        node: c,
                        path: next.clone(),
                    });
                }
                queue.push_back((c, direct, next));
            }
        }
        out
    }
}

// ---- package-lock.json ----

fn package_lock(text: &str) -> Result<Vec<Node>, String> {
    let doc: Json = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(packages) = doc.get("packages").and_then(Json::as_object) else {
        return Err(format!(
            "lockfileVersion {} has no `packages` map; warden reads lockfile v2 and v3 (npm 7 or later)",
            doc.get("lockfileVersion").unwrap_or(&Json::Null)
        ));
    };
    let keys: Vec<&String> = packages.keys().collect();
    let index: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut nodes = Vec::with_capacity(keys.len());
    for (key, entry) in packages {
        let name = entry
            .get("name")
            .and_then(Json::as_str)
            .filter(|_| !key.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| key.rsplit("node_modules/").next().unwrap_or("").to_owned());
        let mut deps = Vec::new();
        let mut sections = vec!["dependencies", "optionalDependencies"];
        if key.is_empty() {
            sections.extend(["devDependencies", "peerDependencies"]);
        }
        for section in sections {
            for dep in entry
                .get(section)
                .and_then(Json::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
            {
                if let Some(i) = node_lookup(&index, key, dep) {
                    deps.push(i);
                }
            }
        }
        nodes.push(Node {
            name,
            version: entry
                .get("version")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned(),
            deps,
            local: key.is_empty() || entry.get("link").and_then(Json::as_bool) == Some(true),
        });
    }
    Ok(nodes)
}

/// Node's module resolution: `<from>/node_modules/<dep>`, then each ancestor's.
fn node_lookup(index: &HashMap<&str, usize>, from: &str, dep: &str) -> Option<usize> {
    let mut base = from;
    loop {
        let key = if base.is_empty() {
            format!("node_modules/{dep}")
        } else {
            format!("{base}/node_modules/{dep}")
        };
        if let Some(&i) = index.get(key.as_str()) {
            return Some(i);
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(i) => &base[..i],
            None if base.starts_with("node_modules/") => "",
            None => "", // a workspace folder: look at the root next
        };
    }
}

// ---- TOML lockfiles ----

fn toml_doc(text: &str) -> Result<toml::Table, String> {
    toml::from_str(text).map_err(|e| format!("not valid TOML: {}", e.message().trim()))
}

fn packages(doc: &toml::Table) -> Vec<&toml::Table> {
    doc.get("package")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_table).collect())
        .unwrap_or_default()
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key).and_then(toml::Value::as_str).unwrap_or("")
}

/// A `[[package]]` entry's node; edges come from [`link_versions`].
fn toml_node(p: &toml::Table, local: bool) -> Node {
    Node {
        name: str_of(p, "name").to_owned(),
        version: str_of(p, "version").to_owned(),
        deps: Vec::new(),
        local,
    }
}

fn cargo_lock(text: &str) -> Result<Vec<Node>, String> {
    let doc = toml_doc(text)?;
    let mut nodes = Vec::new();
    let mut wanted = Vec::new();
    for p in packages(&doc) {
        nodes.push(toml_node(p, p.get("source").is_none()));
        // "name", "name version" or "name version (source)".
        wanted.push(
            p.get("dependencies")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .map(|d| {
                    let mut parts = d.split_whitespace();
                    (
                        parts.next().unwrap_or("").to_owned(),
                        parts.next().map(str::to_owned),
                    )
                })
                .collect(),
        );
    }
    Ok(link_versions(nodes, wanted, Ecosystem::CratesIo))
}

fn poetry_lock(text: &str) -> Result<Vec<Node>, String> {
    let doc = toml_doc(text)?;
    let mut nodes = Vec::new();
    let mut wanted = Vec::new();
    for p in packages(&doc) {
        nodes.push(toml_node(p, false));
        wanted.push(
            p.get("dependencies")
                .and_then(toml::Value::as_table)
                .into_iter()
                .flat_map(|t| t.keys())
                .map(|k| (k.clone(), None))
                .collect(),
        );
    }
    Ok(link_versions(nodes, wanted, Ecosystem::PyPI))
}

fn uv_lock(text: &str) -> Result<Vec<Node>, String> {
    let doc = toml_doc(text)?;
    let mut nodes = Vec::new();
    let mut wanted = Vec::new();
    for p in packages(&doc) {
        let source = p.get("source").and_then(toml::Value::as_table);
        let local = source.is_some_and(|s| {
            ["editable", "virtual", "directory", "path"]
                .iter()
                .any(|k| s.contains_key(*k))
        });
        nodes.push(toml_node(p, local));
        let entries = |v: Option<&toml::Value>| -> Vec<(String, Option<String>)> {
            v.and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_table)
                .map(|d| {
                    (
                        str_of(d, "name").to_owned(),
                        d.get("version")
                            .and_then(toml::Value::as_str)
                            .map(str::to_owned),
                    )
                })
                .collect()
        };
        let mut w = entries(p.get("dependencies"));
        for groups in ["optional-dependencies", "dev-dependencies"] {
            for list in p
                .get(groups)
                .and_then(toml::Value::as_table)
                .into_iter()
                .flat_map(|t| t.values())
            {
                w.extend(entries(Some(list)));
            }
        }
        wanted.push(w);
    }
    Ok(link_versions(nodes, wanted, Ecosystem::PyPI))
}

/// Links nodes to their dependencies by name, and by version when the lockfile gives
/// one (several versions of a package can be locked at once).
fn link_versions(
    mut nodes: Vec<Node>,
    wanted: Vec<Vec<(String, Option<String>)>>,
    eco: Ecosystem,
) -> Vec<Node> {
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        by_name
            .entry(eco.normalize_name(&n.name))
            .or_default()
            .push(i);
    }
    let versions: Vec<String> = nodes.iter().map(|n| n.version.clone()).collect();
    for (node, wants) in nodes.iter_mut().zip(wanted) {
        node.deps = wants
            .iter()
            .filter_map(|(name, version)| {
                let candidates = by_name.get(&eco.normalize_name(name))?;
                candidates
                    .iter()
                    .copied()
                    .find(|&i| version.as_deref().is_none_or(|v| versions[i] == v))
            })
            .collect();
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::manifest::{Kind, parse as manifest};

    fn resolved(lock: &Lock, m: &Manifest) -> (Vec<(String, String)>, Vec<String>) {
        let r = lock.resolve(m);
        let mut direct: Vec<(String, String)> = r
            .direct
            .iter()
            .map(|(&d, v)| (m.dependencies[d].name.clone(), v.clone()))
            .collect();
        direct.sort();
        let transitive = r
            .transitive
            .iter()
            .map(|t| {
                format!(
                    "{}@{}: {}",
                    lock.nodes[t.node].name,
                    lock.nodes[t.node].version,
                    t.path.join(">")
                )
            })
            .collect();
        (direct, transitive)
    }

    #[test]
    fn package_lock_nested_and_hoisted() {
        let pkg = r#"{"name": "app", "dependencies": {"express": "^4.18.0", "lodash": "^4.17.0"}}"#;
        let lock = r#"{
  "name": "app", "lockfileVersion": 3,
  "packages": {
    "": {"name": "app", "dependencies": {"express": "^4.18.0", "lodash": "^4.17.0"}},
    "node_modules/express": {"version": "4.18.2", "dependencies": {"debug": "2.6.9", "body-parser": "1.20.1"}},
    "node_modules/debug": {"version": "2.6.9", "dependencies": {"ms": "2.0.0"}},
    "node_modules/body-parser": {"version": "1.20.1", "dependencies": {"debug": "4.4.2"}},
    "node_modules/body-parser/node_modules/debug": {"version": "4.4.2"},
    "node_modules/ms": {"version": "2.0.0"},
    "node_modules/lodash": {"version": "4.17.15"}
  }
}"#;
        let l = parse(LockKind::PackageLock, "package-lock.json", lock).unwrap();
        let (direct, transitive) = resolved(&l, &manifest(Kind::PackageJson, pkg));
        assert_eq!(
            direct,
            [
                ("express".into(), "4.18.2".into()),
                ("lodash".into(), "4.17.15".into())
            ]
        );
        assert_eq!(
            transitive,
            [
                "body-parser@1.20.1: express>body-parser",
                "debug@2.6.9: express>debug",
                "debug@4.4.2: express>body-parser>debug",
                "ms@2.0.0: express>debug>ms",
            ]
        );
        let v1 = parse(
            LockKind::PackageLock,
            "package-lock.json",
            r#"{"lockfileVersion": 1, "dependencies": {}}"#,
        );
        assert!(v1.unwrap_err().contains("v2 and v3"));
        assert!(parse(LockKind::PackageLock, "package-lock.json", "{").is_err());
    }

    #[test]
    fn cargo_lock_with_two_versions_of_a_crate() {
        let manifest_text =
            "[package]\nname = \"app\"\n[dependencies]\ntime = \"0.1\"\nchrono = \"0.4\"\n";
        let lock = r#"
version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["chrono", "time 0.1.42"]

[[package]]
name = "chrono"
version = "0.4.19"
source = "registry+https://example.invalid/index"
dependencies = ["time 0.1.45"]

[[package]]
name = "time"
version = "0.1.42"
source = "registry+https://example.invalid/index"

[[package]]
name = "time"
version = "0.1.45"
source = "registry+https://example.invalid/index"
"#;
        let l = parse(LockKind::CargoLock, "Cargo.lock", lock).unwrap();
        let (direct, transitive) = resolved(&l, &manifest(Kind::CargoToml, manifest_text));
        assert_eq!(
            direct,
            [
                ("chrono".into(), "0.4.19".into()),
                ("time".into(), "0.1.42".into())
            ]
        );
        assert_eq!(transitive, ["time@0.1.45: chrono>time"]);
    }

    #[test]
    fn poetry_and_uv_locks() {
        let pyproject = "[project]\nname = \"demo\"\ndependencies = [\"requests>=2\"]\n";
        let poetry = "[[package]]\nname = \"requests\"\nversion = \"2.30.0\"\n[package.dependencies]\nurllib3 = \">=1.21.1,<3\"\n\n[[package]]\nname = \"urllib3\"\nversion = \"1.26.5\"\n";
        let l = parse(LockKind::PoetryLock, "poetry.lock", poetry).unwrap();
        let (direct, transitive) = resolved(&l, &manifest(Kind::Pyproject, pyproject));
        assert_eq!(direct, [("requests".into(), "2.30.0".into())]);
        assert_eq!(transitive, ["urllib3@1.26.5: requests>urllib3"]);
        let uv = "version = 1\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [{ name = \"requests\" }]\n\n[[package]]\nname = \"requests\"\nversion = \"2.30.0\"\nsource = { registry = \"https://example.invalid/simple\" }\ndependencies = [{ name = \"urllib3\" }]\n\n[[package]]\nname = \"urllib3\"\nversion = \"1.26.5\"\nsource = { registry = \"https://example.invalid/simple\" }\n";
        let l = parse(LockKind::UvLock, "uv.lock", uv).unwrap();
        let (direct, transitive) = resolved(&l, &manifest(Kind::Pyproject, pyproject));
        assert_eq!(direct, [("requests".into(), "2.30.0".into())]);
        assert_eq!(transitive, ["urllib3@1.26.5: requests>urllib3"]);
        assert!(
            parse(LockKind::UvLock, "uv.lock", "[[package]\n")
                .unwrap_err()
                .contains("TOML")
        );
        assert_eq!(LockKind::of("Cargo.lock"), Some(LockKind::CargoLock));
        assert_eq!(LockKind::of("yarn.lock"), None);
    }
}
