//! Imports in code checked against malicious-package records: `import x` / `from x
//! import` in Python, `import ... from 'x'` / `require('x')` / `import('x')` in
//! JavaScript and TypeScript, found by each grammar's `imports.scm` (`@module`) and
//! mapped to a package by its `imports.toml`. This is how a typosquat typed into a
//! script is caught before it is ever installed. Only records that make every version
//! of a package malicious count: importing `chalk` is fine even though chalk 5.6.1 was
//! compromised.

use std::collections::HashMap;
use std::ops::Range;

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
    let Some(def) = &grammar.imports else {
        return Vec::new();
    };
    named_packages(def, text, modules(grammar, tree, text))
}

/// The imports among `modules` (byte ranges of module names in `text`) that name
/// packages, in text order.
pub fn named_packages(
    def: &ImportsDef,
    text: &str,
    modules: impl IntoIterator<Item = Range<usize>>,
) -> Vec<Import> {
    let mut out: Vec<Import> = modules
        .into_iter()
        .filter_map(|range| {
            let name = text.get(range.clone())?;
            Some(Import {
                module: name.to_owned(),
                package: package_of(def, name)?,
                start: range.start,
                end: range.end,
            })
        })
        .collect();
    out.sort_by_key(|i| i.start);
    out.dedup_by_key(|i| i.start);
    out
}

/// The byte ranges of the module names the grammar's `imports.scm` query captures
/// (`@module`).
fn modules(
    grammar: &'static GrammarDef,
    tree: &tree_sitter::Tree,
    text: &str,
) -> Vec<Range<usize>> {
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
            if cap.index == module {
                out.push(cap.node.byte_range());
            }
        }
    }
    out
}

/// The module names a Python module imports, from Ruff's syntax tree (the scan's fast
/// path, [`crate::syntax::fast_parse`]): what `grammars/python/imports.scm` captures
/// from tree-sitter's. `import a.b`, `import a.b as c`, `from a.b import c` (not
/// relative ones, nor `__future__`) and `__import__("a")` with one plain string as its
/// first argument.
pub fn python_modules(module: &ruff_python_ast::ModModule) -> Vec<Range<usize>> {
    use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
    use ruff_python_ast::{Expr, Stmt};
    use ruff_text_size::{Ranged, TextRange};

    struct Modules(Vec<Range<usize>>);
    fn bytes(r: TextRange) -> Range<usize> {
        r.start().to_usize()..r.end().to_usize()
    }
    impl<'a> Visitor<'a> for Modules {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::Import(i) => self.0.extend(i.names.iter().map(|a| bytes(a.name.range()))),
                Stmt::ImportFrom(i) if i.level == 0 => self.0.extend(
                    (i.module.as_ref())
                        .filter(|m| m.as_str() != "__future__")
                        .map(|m| bytes(m.range())),
                ),
                _ => {}
            }
            walk_stmt(self, stmt);
        }
        fn visit_expr(&mut self, expr: &'a Expr) {
            if let Expr::Call(call) = expr
                && matches!(&*call.func, Expr::Name(n) if n.id.as_str() == "__import__")
                && let Some(Expr::StringLiteral(s)) = call.arguments.args.first()
                && let [literal] = s.value.as_slice()
            {
                self.0.push(bytes(literal.content_range()));
            }
            walk_expr(self, expr);
        }
    }
    let mut found = Modules(Vec::new());
    found.visit_body(&module.body);
    found.0
}

/// The byte ranges worth querying: for each keyword, the largest node around it that
/// starts on its line (the whole statement, including lines it continues onto), or
/// the statement a keyword token belongs to; merged where they overlap.
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
    let mut covered = 0;
    for at in hits {
        // A keyword inside a statement already taken (several statements can share a
        // line: `import a; import b`).
        if at < covered {
            continue;
        }
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let Some(mut node) = root.descendant_for_byte_range(at, at) else {
            continue;
        };
        // A keyword token belongs to its statement, even one that starts on a line
        // above (`from a \` and `import b` on the next line).
        if !node.is_named()
            && let Some(parent) = node.parent()
            && parent.id() != root.id()
        {
            node = parent;
        }
        // Climb to the largest node still starting on this line.
        while let Some(parent) = node.parent() {
            if parent.id() == root.id() || parent.start_byte() < line_start {
                break;
            }
            node = parent;
        }
        let range = node.start_byte().min(line_start)..node.end_byte().max(at + 1);
        covered = range.end;
        ranges.push(range);
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

/// Findings for `imports` (of a text in `grammar`'s language) of packages that are
/// malicious in every version.
pub fn check(
    grammar: &'static GrammarDef,
    imports: Vec<Import>,
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
    for import in imports {
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
        if lang == "python" {
            assert_eq!(fast_modules(text), query_modules(text), "{text}");
        }
        imports(g, &tree, text)
            .into_iter()
            .map(|i| {
                assert_eq!(&text[i.start..i.end], i.module);
                (i.module, i.package)
            })
            .collect()
    }

    /// Module names by the fast path (Ruff's tree), sorted.
    fn fast_modules(text: &str) -> Vec<Range<usize>> {
        let parsed = ruff_python_parser::parse_module(text).expect("valid Python");
        let mut found = python_modules(parsed.syntax());
        found.sort_by_key(|r| r.start);
        found
    }

    /// Module names by `imports.scm` on tree-sitter's tree, sorted.
    fn query_modules(text: &str) -> Vec<Range<usize>> {
        let Lang::Grammar(g) = Lang::detect(None, Some("python")) else {
            unreachable!()
        };
        let tree = crate::syntax::parse(g, text, None).unwrap();
        let mut found = modules(g, &tree, text);
        found.sort_by_key(|r| r.start);
        found.dedup();
        found
    }

    #[test]
    fn the_fast_path_finds_what_the_query_finds() {
        for text in [
            "import a, b.c as d\nfrom e.f import (g,\n h)\nfrom . import i\nfrom ..j import k\n",
            "def f():\n    try:\n        import x\n    except ImportError:\n        y = __import__('z')\n",
            "m = __import__(name)\nn = __import__('a' 'b')\no = __import__(f'p{q}')\nr = obj.__import__('s')\n",
            "class C:\n    import t\n    u = [__import__(\"v\") for _ in w]\n",
            // Two statements on a line; a statement continued onto the keyword's line.
            "from __future__ import annotations; import pilllow\nfrom a.b \\\n    import c\n",
        ] {
            assert_eq!(fast_modules(text), query_modules(text), "{text}");
        }
    }

    /// The fast path against the query on every file of the interpreter's standard
    /// library that Ruff accepts (about 11,000 files; a minute in a release build):
    /// `cargo test --release -p warden-analysis -- --ignored standard_library`.
    #[test]
    #[ignore = "reads the whole standard library"]
    fn the_fast_path_finds_what_the_query_finds_in_the_standard_library() {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
            ])
            .output()
            .expect("python3");
        let root = String::from_utf8(out.stdout).unwrap();
        let mut stack = vec![std::path::PathBuf::from(root.trim())];
        let (mut compared, mut differ) = (0, Vec::new());
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = e.path();
                if e.file_type().unwrap().is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "py")
                    && let Ok(text) = std::fs::read_to_string(&path)
                    && ruff_python_parser::parse_module(&text).is_ok()
                {
                    compared += 1;
                    let (fast, query) = (fast_modules(&text), query_modules(&text));
                    if fast != query {
                        let show = |v: Vec<Range<usize>>| -> Vec<&str> {
                            v.into_iter().map(|r| &text[r]).collect()
                        };
                        eprintln!("{}: {:?} {:?}", path.display(), show(fast), show(query));
                        differ.push(path);
                    }
                }
            }
        }
        assert!(compared > 1000, "{compared} files");
        assert!(
            differ.is_empty(),
            "{} of {compared} differ: {differ:#?}",
            differ.len()
        );
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
        let f = check(g, imports(g, &tree, text), &LineIndex::new(text), &lookup);
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
        assert!(check(g, imports(g, &tree, js), &LineIndex::new(js), &lookup).is_empty());
    }
}
