//! `pyproject.toml`: PEP 621 `[project]` `dependencies` and `optional-dependencies`,
//! PEP 735 `[dependency-groups]` (PEP 508 strings), and Poetry's
//! `[tool.poetry.dependencies]`, `dev-dependencies` and `group.<name>.dependencies`
//! tables, whose `^`/`~` constraints are translated to PEP 440 bounds for checking.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::requirements::{pep508, truncate};
use super::toml_util::{self, get, string_content, table};
use super::{Dependency, Manifest};
use crate::packages::Ecosystem;

pub(super) fn parse(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let doc = match toml_util::parse(text, "pyproject.toml", &mut m) {
        Some(doc) => doc,
        None => return m,
    };
    let root = doc.get_ref();
    if let Some(project) = get(root, "project").and_then(table) {
        m.package = get(project, "name").and_then(|v| v.get_ref().as_str().map(str::to_owned));
        if let Some(list) = get(project, "dependencies") {
            pep508_list(text, list, "dependencies", &mut m);
        }
        if let Some(groups) = get(project, "optional-dependencies").and_then(table) {
            for (group, list) in groups {
                pep508_list(
                    text,
                    list,
                    &format!("optional-dependencies.{}", group.get_ref()),
                    &mut m,
                );
            }
        }
    }
    if let Some(groups) = get(root, "dependency-groups").and_then(table) {
        for (group, list) in groups {
            pep508_list(
                text,
                list,
                &format!("dependency-groups.{}", group.get_ref()),
                &mut m,
            );
        }
    }
    if let Some(poetry) = get(root, "tool")
        .and_then(table)
        .and_then(|t| get(t, "poetry"))
        .and_then(table)
    {
        if m.package.is_none() {
            m.package = get(poetry, "name").and_then(|v| v.get_ref().as_str().map(str::to_owned));
        }
        for section in ["dependencies", "dev-dependencies"] {
            if let Some(t) = get(poetry, section).and_then(table) {
                poetry_table(text, t, &format!("tool.poetry.{section}"), &mut m);
            }
        }
        if let Some(groups) = get(poetry, "group").and_then(table) {
            for (group, g) in groups {
                if let Some(t) = g
                    .get_ref()
                    .as_table()
                    .and_then(|g| get(g, "dependencies"))
                    .and_then(table)
                {
                    poetry_table(
                        text,
                        t,
                        &format!("tool.poetry.group.{}.dependencies", group.get_ref()),
                        &mut m,
                    );
                }
            }
        }
    }
    m.dependencies.sort_by_key(|d| d.start);
    m
}

/// An array of PEP 508 strings.
fn pep508_list(text: &str, list: &Spanned<DeValue<'_>>, section: &str, m: &mut Manifest) {
    let Some(items) = list.get_ref().as_array() else {
        m.errors.push((
            format!("`{section}` must be an array of requirement strings"),
            list.span().start,
            list.span().end,
        ));
        return;
    };
    let span = list.span();
    let spans: Vec<(usize, usize)> = items
        .iter()
        .map(|i| (i.span().start, i.span().end))
        .collect();
    let close = span.end.saturating_sub(1);
    let removals = super::list_removals(&spans, span.start + 1, close);
    for (item, removal) in items.iter().zip(removals) {
        let Some(value) = item.get_ref().as_str() else {
            continue; // `{include-group = ...}` and the like
        };
        let (s, e) = (item.span().start, item.span().end);
        // Offsets inside the string map to the text only when it is written verbatim.
        let base = string_content(text, item);
        match pep508(value) {
            Ok(p) => {
                let at = |i: usize| base.map_or(s, |(cs, _)| cs + i);
                m.dependencies.push(Dependency {
                    ecosystem: Ecosystem::PyPI,
                    name: value[p.name.0..p.name.1].to_owned(),
                    spec: match p.spec {
                        Some((a, b)) => value[a..b].replace(' ', ""),
                        None => value[p.name.1..p.end].trim().to_owned(),
                    },
                    start: at(0),
                    end: base.map_or(e, |_| at(p.end)),
                    spec_range: base.and(p.spec).map(|(a, b)| (at(a), at(b))),
                    section: Some(section.to_owned()),
                    removal,
                });
            }
            Err(message) => m.errors.push((
                format!("{message} in `{section}`: {:?}", truncate(value)),
                s,
                e,
            )),
        }
    }
}

/// A Poetry dependency table: `name = "spec"` or `name = {version = "spec", ...}`.
fn poetry_table(text: &str, t: &DeTable<'_>, section: &str, m: &mut Manifest) {
    for (key, value) in t {
        let name = key.get_ref();
        if name == "python" {
            continue;
        }
        let version = match value.get_ref() {
            DeValue::String(_) => Some(value),
            DeValue::Table(inner) => get(inner, "version"),
            _ => None, // a list of constraints per marker: not judged
        };
        let Some(version) = version else {
            continue; // git, path and url dependencies carry no registry version
        };
        let Some(spec) = version.get_ref().as_str() else {
            continue;
        };
        let (start, end) = toml_util::entry_range(key, value);
        m.dependencies.push(Dependency {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            spec: poetry_to_pep440(spec),
            start,
            end,
            spec_range: string_content(text, version),
            section: Some(section.to_owned()),
            removal: toml_util::entry_removal(text, key, value),
        });
    }
}

/// Poetry constraints (`^1.2`, `~1.2.3`, `1.2.*`, `>=1,<2`, `1.2.3`, `*`) as PEP 440
/// specifiers; `||` alternatives are not modelled and read as "any version".
pub(crate) fn poetry_to_pep440(spec: &str) -> String {
    let spec = spec.trim();
    if spec.is_empty() || spec == "*" || spec.contains("||") {
        return String::new();
    }
    let mut out = Vec::new();
    for clause in spec
        .split([',', ' '])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let bump_at = |v: &str, caret: bool| -> Option<String> {
            let parts: Vec<u64> = v
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let i = if caret {
                parts
                    .iter()
                    .position(|&p| p != 0)
                    .unwrap_or(parts.len() - 1)
            } else if parts.len() > 1 {
                1
            } else {
                0
            };
            let mut upper: Vec<u64> = parts[..=i].to_vec();
            upper[i] += 1;
            let upper: Vec<String> = upper.iter().map(u64::to_string).collect();
            Some(format!(">={v},<{}", upper.join(".")))
        };
        if let Some(v) = clause.strip_prefix('^') {
            out.push(bump_at(v.trim(), true).unwrap_or_else(|| format!(">={v}")));
        } else if let Some(v) = clause.strip_prefix('~').filter(|v| !v.starts_with('=')) {
            out.push(bump_at(v.trim(), false).unwrap_or_else(|| format!(">={v}")));
        } else if clause.starts_with(|c: char| c.is_ascii_digit()) {
            out.push(format!("=={clause}"));
        } else {
            out.push(clause.to_owned());
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::super::tests::deps;
    use super::super::{Kind, parse};
    use super::*;

    #[test]
    fn pep621_groups_and_poetry_with_exact_ranges() {
        let text = r#"[project]
name = "demo"
dependencies = [
    "requests==2.30.0",
    'pilllow',
    "flask[async] >= 2.3 ; python_version >= '3.9'",
]

[project.optional-dependencies]
docs = ["sphinx>=7"]

[dependency-groups]
dev = ["pytest>=8", {include-group = "docs"}]

[tool.poetry.dependencies]
python = "^3.10"
django = "^4.2.0"
numpy = { version = "~1.26", optional = true }
mylib = { path = "../mylib" }

[tool.poetry.group.test.dependencies]
hypothesis = "6.100.0"
"#;
        let d = deps(Kind::Pyproject, text);
        let expect: [(&str, &str, &str); 8] = [
            ("requests", "==2.30.0", "requests==2.30.0"),
            ("pilllow", "", "pilllow"),
            ("flask", ">=2.3", "flask[async] >= 2.3"),
            ("sphinx", ">=7", "sphinx>=7"),
            ("pytest", ">=8", "pytest>=8"),
            ("django", ">=4.2.0,<5", "django = \"^4.2.0\""),
            (
                "numpy",
                ">=1.26,<1.27",
                "numpy = { version = \"~1.26\", optional = true }",
            ),
            ("hypothesis", "==6.100.0", "hypothesis = \"6.100.0\""),
        ];
        assert_eq!(d, expect.map(|(a, b, c)| (a.into(), b.into(), c.into())));
        let m = parse(Kind::Pyproject, text);
        assert_eq!(m.package.as_deref(), Some("demo"));
        let spec = |i: usize| {
            let (s, e) = m.dependencies[i].spec_range.unwrap();
            &text[s..e]
        };
        assert_eq!(spec(0), "==2.30.0");
        assert_eq!(spec(1), "", "insertion point after the name");
        assert_eq!(spec(5), "^4.2.0");
        assert_eq!(spec(6), "~1.26");
        // Removing any dependency leaves valid TOML without it.
        for dep in &m.dependencies {
            let (s, e) = dep.removal;
            let rest = format!("{}{}", &text[..s], &text[e..]);
            let again = parse(Kind::Pyproject, &rest);
            assert!(again.errors.is_empty(), "{rest}\n{:?}", again.errors);
            assert_eq!(again.dependencies.len(), m.dependencies.len() - 1, "{rest}");
            assert!(
                !again.dependencies.iter().any(|d| d.name == dep.name),
                "{rest}"
            );
        }
    }

    #[test]
    fn poetry_constraints_become_pep440() {
        for (poetry, pep) in [
            ("^1.2.3", ">=1.2.3,<2"),
            ("^0.2.3", ">=0.2.3,<0.3"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("~1.2.3", ">=1.2.3,<1.3"),
            ("~1", ">=1,<2"),
            ("1.2.3", "==1.2.3"),
            (">=1.2 <2.0", ">=1.2,<2.0"),
            ("~=1.4", "~=1.4"),
            ("*", ""),
            ("^1 || ^2", ""),
        ] {
            assert_eq!(poetry_to_pep440(poetry), pep, "{poetry}");
        }
    }

    #[test]
    fn malformed_pyproject_is_one_error_at_the_problem() {
        let text = "[project]\ndependencies = [\"ok==1\",\n";
        let m = parse(Kind::Pyproject, text);
        assert_eq!(m.errors.len(), 1, "{:?}", m.errors);
        assert!(m.errors[0].0.contains("pyproject.toml"), "{:?}", m.errors);
        let m = parse(Kind::Pyproject, "[project]\ndependencies = \"requests\"\n");
        assert!(m.errors[0].0.contains("array"), "{:?}", m.errors);
        let m = parse(Kind::Pyproject, "[project]\ndependencies = [\"!!\"]\n");
        assert_eq!(m.errors.len(), 1);
    }
}
