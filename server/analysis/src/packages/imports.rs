//! Imports in code checked against malicious-package records: `import x` / `from x
//! import` in Python, `import ... from 'x'` / `require('x')` / `import('x')` in
//! JavaScript and TypeScript, found by each grammar's `imports.scm` (`@module`) and
//! mapped to a package by its `imports.toml`. This is how a typosquat typed into a
//! script is caught before it is ever installed. Only records that make every version
//! of a package malicious count: importing `chalk` is fine even though chalk 5.6.1 was
//! compromised.

use std::collections::HashMap;

use tree_sitter::{QueryCursor, StreamingIterator};

use super::check;
use super::requirement::Requirement;
use super::version::Ecosystem;
use crate::language::{GrammarDef, ImportsDef, compiled_query};
use crate::{Finding, FindingKind, LineIndex};

/// One imported module and the package it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub module: String,
    pub package: String,
    /// Bytes of the module name in the text.
    pub start: usize,
    pub end: usize,
}

/// The package an import names, or `None` for built-in, relative and URL modules.
fn package_of(def: &ImportsDef, module: &str) -> Option<String> {
    let first = match def.style {
        "npm" => {
            if module.starts_with(['.', '/']) || module.contains(':') {
                return None;
            }
            let mut parts = module.split('/');
            let first = parts.next()?;
            if first.starts_with('@') {
                return Some(format!("{first}/{}", parts.next()?));
            }
            first
        }
        _ => module.split('.').next()?,
    };
    if first.is_empty() || def.builtin.contains(&first) {
        return None;
    }
    Some(
        def.packages
            .iter()
            .find(|(import, _)| *import == first)
            .map_or(first, |(_, package)| package)
            .to_owned(),
    )
}

/// The imports of a parsed text that name packages.
pub fn imports(grammar: &'static GrammarDef, tree: &tree_sitter::Tree, text: &str) -> Vec<Import> {
    let (Some(def), Some(query)) = (&grammar.imports, compiled_query(grammar, "imports")) else {
        return Vec::new();
    };
    let Some(module) = query.capture_index_for_name("module") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cursor = QueryCursor::new();
    // A query over the whole tree visits every node (tens of milliseconds on a
    // 10,000-line file, on every edit); imports are a handful of statements.
    for range in candidate_ranges(tree, text, def.keywords) {
        cursor.set_byte_range(range);
        let mut captures = cursor.captures(&query, tree.root_node(), text.as_bytes());
        while let Some((m, i)) = captures.next() {
            let cap = m.captures[*i];
            if cap.index != module {
                continue;
            }
            let (start, end) = (cap.node.start_byte(), cap.node.end_byte());
            let Some(name) = text.get(start..end) else {
                continue;
            };
            if let Some(package) = package_of(def, name) {
                out.push(Import {
                    module: name.to_owned(),
                    package,
                    start,
                    end,
                });
            }
        }
    }
    out.sort_by_key(|i| i.start);
    out.dedup_by_key(|i| i.start);
    out
}

/// The byte ranges worth querying: for each line holding a keyword, the largest node
/// that starts on that line (the whole statement, including lines it continues onto),
/// merged where they overlap.
fn candidate_ranges(
    tree: &tree_sitter::Tree,
    text: &str,
    keywords: &[&str],
) -> Vec<std::ops::Range<usize>> {
    let root = tree.root_node();
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    let mut hits: Vec<usize> = keywords
        .iter()
        .flat_map(|k| text.match_indices(k).map(|(at, _)| at))
        .collect();
    hits.sort_unstable();
    let mut done_line = usize::MAX;
    for at in hits {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        if line_start == done_line {
            continue;
        }
        done_line = line_start;
        let Some(mut node) = root.descendant_for_byte_range(at, at) else {
            continue;
        };
        // Climb to the largest node still starting on this line.
        while let Some(parent) = node.parent() {
            if parent.id() == root.id() || parent.start_byte() < line_start {
                break;
            }
            node = parent;
        }
        ranges.push(node.start_byte().min(line_start)..node.end_byte().max(at + 1));
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// Findings for imports of packages that are malicious in every version.
pub fn check(
    grammar: &'static GrammarDef,
    tree: &tree_sitter::Tree,
    text: &str,
    index: &LineIndex,
    lookup: crate::Lookup<'_>,
) -> Vec<Finding> {
    let Some(eco) = grammar
        .imports
        .as_ref()
        .and_then(|d| Ecosystem::parse(d.ecosystem))
    else {
        return Vec::new();
    };
    let mut verdicts: HashMap<String, Option<check::Issue>> = HashMap::new();
    let mut out = Vec::new();
    for import in imports(grammar, tree, text) {
        let issue = verdicts.entry(import.package.clone()).or_insert_with(|| {
            let records = lookup(eco, &eco.normalize_name(&import.package));
            // An unknown requirement matches only records that affect every version.
            check::check(eco, &import.package, &Requirement::unknown(), &records)
        });
        let Some(issue) = issue else { continue };
        let rule = issue
            .advisories
            .first()
            .map_or("advisory", |a| a.id.as_str());
        let ids: Vec<&str> = issue.advisories.iter().map(|a| a.id.as_str()).collect();
        let summary = issue
            .advisories
            .iter()
            .find_map(|a| a.summary.as_deref())
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        let mut f = Finding::at(
            index,
            FindingKind::Package,
            rule,
            issue.severity,
            format!(
                "`{}` names {}, a malicious {} package ({}){summary}. Do not install it; if it was installed, remove it and rotate the credentials this machine holds",
                import.module,
                import.package,
                eco.as_str(),
                ids.join(", ")
            ),
            import.start,
            import.end,
        );
        if issue.advisories.len() > 1 {
            f.related = issue.advisories.iter().map(|a| a.line()).collect();
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;
    use crate::packages::manifest::tests::fixture_lookup;

    fn found(lang: &str, text: &str) -> Vec<(String, String)> {
        let Lang::Grammar(g) = Lang::detect(None, Some(lang)) else {
            panic!("{lang} has a grammar")
        };
        let tree = crate::syntax::parse(g, text, None).unwrap();
        imports(g, &tree, text)
            .into_iter()
            .map(|i| {
                assert_eq!(&text[i.start..i.end], i.module);
                (i.module, i.package)
            })
            .collect()
    }

    #[test]
    fn python_imports_name_packages() {
        let text = "import os, pilllow\nimport numpy.linalg as la\nfrom yaml import safe_load\nfrom . import local\nfrom .x import y\nimport sys\nmod = __import__(\"requests\")\n";
        let got = found("python", text);
        let want = [
            ("pilllow", "pilllow"),
            ("numpy.linalg", "numpy"),
            ("yaml", "pyyaml"),
            ("requests", "requests"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }

    #[test]
    fn javascript_and_typescript_imports_name_packages() {
        let text = "import chalk from 'chalk';\nimport { x } from './local.js';\nconst fs = require('fs');\nconst d = require(\"debug\");\nconst p = require('node:path');\nexport { y } from '@scope/pkg/sub';\nconst lazy = await import('lodash/fp');\n";
        let want = [
            ("chalk", "chalk"),
            ("debug", "debug"),
            ("@scope/pkg/sub", "@scope/pkg"),
            ("lodash/fp", "lodash"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(found("javascript", text), want);
        assert_eq!(found("typescript", text), want);
    }

    #[test]
    fn imports_spanning_lines_or_nested_in_code_are_found() {
        let py = "import os\n\n\ndef f():\n    if True:\n        import pilllow\n    x = (\n        __import__(\n            \"requests\"\n        )\n    )\n\n\nfrom yaml import (\n    safe_load,\n)\n\"\"\"a docstring that\nmentions import numpy\"\"\"\n";
        let want = [
            ("pilllow", "pilllow"),
            ("requests", "requests"),
            ("yaml", "pyyaml"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(found("python", py), want);
        let js = "function g() {\n  const d = require(\n    \"debug\"\n  );\n}\nexport {\n  y,\n} from '@scope/pkg';\nconst lazy = await import(\n  'lodash'\n);\n";
        let want = [
            ("debug", "debug"),
            ("@scope/pkg", "@scope/pkg"),
            ("lodash", "lodash"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(found("javascript", js), want);
    }

    #[test]
    fn the_query_runs_only_around_keyword_lines() {
        let mut text = String::from("import pilllow\n");
        for i in 0..2000 {
            text.push_str(&format!("def f{i}(x):\n    return x + {i}\n\n"));
        }
        let Lang::Grammar(g) = Lang::detect(None, Some("python")) else {
            unreachable!()
        };
        let tree = crate::syntax::parse(g, &text, None).unwrap();
        let ranges = candidate_ranges(&tree, &text, &["import"]);
        assert_eq!(ranges, vec![(0..14)], "one statement, not the whole file");
    }

    #[test]
    fn only_packages_malicious_in_every_version_are_flagged() {
        let lookup = fixture_lookup();
        let text = "import requests\nimport pilllow\n";
        let Lang::Grammar(g) = Lang::detect(None, Some("python")) else {
            unreachable!()
        };
        let tree = crate::syntax::parse(g, text, None).unwrap();
        let f = check(g, &tree, text, &LineIndex::new(text), &lookup);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "MAL-2023-1941");
        assert_eq!(f[0].severity, crate::Severity::Error);
        assert_eq!(&text[f[0].start..f[0].end], "pilllow");
        // chalk is malicious only in 5.6.1: importing it is not flagged.
        let js = "import chalk from 'chalk';\n";
        let Lang::Grammar(g) = Lang::detect(None, Some("javascript")) else {
            unreachable!()
        };
        let tree = crate::syntax::parse(g, js, None).unwrap();
        assert!(check(g, &tree, js, &LineIndex::new(js), &lookup).is_empty());
    }
}
