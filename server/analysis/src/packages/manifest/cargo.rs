//! `Cargo.toml`: `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, their
//! `[target.'cfg(..)'.*]` forms and `[workspace.dependencies]`; `name = "1.2"`,
//! `name = { version = "1.2", package = "real-name" }`, `[dependencies.name]` tables and
//! `name.workspace = true` (resolved from this file's `[workspace.dependencies]` when it
//! has them; otherwise left to the lockfile). Path and git dependencies are not
//! registry packages and are skipped.

use toml::de::{DeTable, DeValue};

use super::toml_util::{self, get, string_content, table};
use super::{Dependency, Manifest};
use crate::packages::Ecosystem;

const TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

pub(super) fn parse(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let Some(doc) = toml_util::parse(text, "Cargo.toml", &mut m) else {
        return m;
    };
    let root = doc.get_ref();
    m.package = get(root, "package")
        .and_then(table)
        .and_then(|p| get(p, "name"))
        .and_then(|n| n.get_ref().as_str().map(str::to_owned));
    let workspace = get(root, "workspace")
        .and_then(table)
        .and_then(|w| get(w, "dependencies"))
        .and_then(table);
    if let Some(ws) = workspace {
        deps_table(text, ws, "workspace.dependencies", None, &mut m);
    }
    for name in TABLES {
        if let Some(t) = get(root, name).and_then(table) {
            deps_table(text, t, name, workspace, &mut m);
        }
    }
    if let Some(targets) = get(root, "target").and_then(table) {
        for (cfg, t) in targets {
            for name in TABLES {
                if let Some(deps) = table(t).and_then(|t| get(t, name)).and_then(table) {
                    let section = format!("target.{}.{name}", cfg.get_ref());
                    deps_table(text, deps, &section, workspace, &mut m);
                }
            }
        }
    }
    m.dependencies.sort_by_key(|d| d.start);
    m
}

fn deps_table(
    text: &str,
    t: &DeTable<'_>,
    section: &str,
    workspace: Option<&DeTable<'_>>,
    m: &mut Manifest,
) {
    for (key, value) in t {
        let mut name = key.get_ref().to_string();
        let (version, inherited) = match value.get_ref() {
            DeValue::String(_) => (Some(value), false),
            DeValue::Table(inner) => {
                if get(inner, "path").is_some() || get(inner, "git").is_some() {
                    continue;
                }
                if let Some(real) = get(inner, "package").and_then(|p| p.get_ref().as_str()) {
                    name = real.to_owned();
                }
                if get(inner, "workspace").and_then(|w| w.get_ref().as_bool()) == Some(true) {
                    // Inherited: the version lives in `[workspace.dependencies]`.
                    let from_ws = workspace.and_then(|ws| get(ws, key.get_ref()));
                    let version = from_ws.and_then(|v| match v.get_ref() {
                        DeValue::String(_) => Some(v),
                        DeValue::Table(t) => get(t, "version"),
                        _ => None,
                    });
                    (version, true)
                } else {
                    (get(inner, "version"), false)
                }
            }
            _ => {
                m.errors.push((
                    format!(
                        "`{}` in [{section}] must be a version string or a table",
                        key.get_ref()
                    ),
                    value.span().start,
                    value.span().end,
                ));
                continue;
            }
        };
        let spec = version
            .and_then(|v| v.get_ref().as_str())
            .map(str::to_owned);
        let (start, end) = toml_util::entry_range(key, value);
        m.dependencies.push(Dependency {
            ecosystem: Ecosystem::CratesIo,
            name,
            // An inherited dependency without a known version is judged by the lockfile.
            spec: spec.unwrap_or_else(|| "workspace".into()),
            start,
            end,
            spec_range: version
                .filter(|_| !inherited)
                .and_then(|v| string_content(text, v)),
            section: Some(section.to_owned()),
            removal: toml_util::entry_removal(text, key, value),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::deps;
    use super::super::{Kind, parse};

    const TEXT: &str = r#"[package]
name = "app"
version = "0.1.0"

[workspace.dependencies]
serde = { version = "1.0.100", features = ["derive"] }

[dependencies]
time = "0.1.42"
serde = { workspace = true }
rand_core = { package = "rand", version = "0.8" }
local = { path = "../local" }
fromgit = { git = "https://example.invalid/x.git" }

[dependencies.smallvec]
version = "1.6.0"
features = ["union"]

[dev-dependencies]
tokio.workspace = true

[target.'cfg(unix)'.build-dependencies]
libc = "=0.2.150"
"#;

    #[test]
    fn every_table_with_renames_and_inheritance() {
        let d = deps(Kind::CargoToml, TEXT);
        let got: Vec<(&str, &str)> = d.iter().map(|(n, s, _)| (n.as_str(), s.as_str())).collect();
        assert_eq!(
            got,
            [
                ("serde", "1.0.100"),
                ("time", "0.1.42"),
                ("serde", "1.0.100"),
                ("rand", "0.8"),
                ("smallvec", "1.6.0"),
                ("tokio", "workspace"),
                ("libc", "=0.2.150"),
            ]
        );
        assert_eq!(d[1].2, "time = \"0.1.42\"");
        assert_eq!(
            d[4].2,
            "[dependencies.smallvec]\nversion = \"1.6.0\"\nfeatures = [\"union\"]"
        );
        let m = parse(Kind::CargoToml, TEXT);
        assert_eq!(m.package.as_deref(), Some("app"));
        let spec = |i: usize| m.dependencies[i].spec_range.map(|(s, e)| &TEXT[s..e]);
        assert_eq!(spec(1), Some("0.1.42"));
        assert_eq!(
            spec(2),
            None,
            "inherited versions are edited in the workspace table"
        );
        assert_eq!(spec(3), Some("0.8"));
        assert_eq!(spec(4), Some("1.6.0"));
        assert_eq!(
            m.dependencies[6].section.as_deref(),
            Some("target.cfg(unix).build-dependencies")
        );
        for dep in &m.dependencies {
            let (s, e) = dep.removal;
            let rest = format!("{}{}", &TEXT[..s], &TEXT[e..]);
            let again = parse(Kind::CargoToml, &rest);
            assert!(again.errors.is_empty(), "{rest}\n{:?}", again.errors);
            assert_eq!(again.dependencies.len(), m.dependencies.len() - 1, "{rest}");
        }
    }

    #[test]
    fn malformed_cargo_toml_is_one_error() {
        let m = parse(Kind::CargoToml, "[dependencies]\nserde = \n");
        assert_eq!(m.errors.len(), 1);
        assert!(
            m.errors[0].0.contains("Cargo.toml is not valid TOML"),
            "{:?}",
            m.errors
        );
        let m = parse(Kind::CargoToml, "[dependencies]\nserde = 1\n");
        assert!(m.errors[0].0.contains("version string"), "{:?}", m.errors);
    }
}
