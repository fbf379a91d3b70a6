//! Languages: the tree-sitter grammars generated from `grammars/<lang>/` by `build.rs`,
//! plus the file kinds analysed without a grammar (Dockerfile, Makefile, YAML, TOML,
//! JSON, `.env`). Detection uses the LSP languageId first, then the file name.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

/// One grammar folder: the language, how files are recognized, and its queries.
#[derive(Debug)]
pub struct GrammarDef {
    pub name: &'static str,
    pub language: fn() -> tree_sitter::Language,
    pub extensions: &'static [&'static str],
    pub file_names: &'static [&'static str],
    pub language_ids: &'static [&'static str],
    pub line_comment: &'static str,
    pub conventions: Conventions,
    /// From `imports.toml`: how imports name packages (for malicious-import checks).
    pub imports: Option<ImportsDef>,
    /// `(query name, source)`, e.g. `("definitions", "(function_definition ...)")`.
    pub queries: &'static [(&'static str, &'static str)],
}

/// How code in a language is documented and tested (for LLM actions).
#[derive(Debug)]
pub struct Conventions {
    /// The docstring convention, in words.
    pub docstring: &'static str,
    /// Where tests for `{dir}/{stem}.{ext}` go; `{path}` means the file itself.
    pub test_path: &'static str,
    pub test_framework: &'static str,
}

impl Conventions {
    /// The test file for a source file at `rel` (relative to the repository root).
    pub fn test_file(&self, rel: &str) -> String {
        let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
        let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
        let out = self
            .test_path
            .replace("{path}", rel)
            .replace("{dir}", dir)
            .replace("{stem}", stem)
            .replace("{ext}", ext);
        out.trim_start_matches('/').to_owned()
    }
}

/// How a language's imports name packages.
#[derive(Debug)]
pub struct ImportsDef {
    /// The OSV ecosystem of the packages (`PyPI`, `npm`).
    pub ecosystem: &'static str,
    /// `dotted` (first segment of `a.b.c`) or `npm` (`@scope/name` or first segment).
    pub style: &'static str,
    /// Words on the first line of every import form (`import`, `require`): the imports
    /// query runs only on statements starting on a line that holds one.
    pub keywords: &'static [&'static str],
    /// Modules that ship with the language and are never packages.
    pub builtin: &'static [&'static str],
    /// Import name -> package name, where they differ.
    pub packages: &'static [(&'static str, &'static str)],
}

impl GrammarDef {
    pub fn query(&self, name: &str) -> Option<&'static str> {
        self.queries
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, q)| *q)
    }
}

include!(concat!(env!("OUT_DIR"), "/grammars.rs"));

type QueryCache = HashMap<(&'static str, &'static str), Option<Arc<tree_sitter::Query>>>;
static QUERIES: LazyLock<Mutex<QueryCache>> = LazyLock::new(Default::default);

/// A grammar's query `name`, compiled once per process; `None` if the grammar has no
/// such query (or it does not compile, which a unit test rules out).
pub fn compiled_query(
    grammar: &'static GrammarDef,
    name: &'static str,
) -> Option<Arc<tree_sitter::Query>> {
    let mut cache = QUERIES.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry((grammar.name, name))
        .or_insert_with(|| {
            let source = grammar.query(name)?;
            tree_sitter::Query::new(&(grammar.language)(), source)
                .ok()
                .map(Arc::new)
        })
        .clone()
}

#[derive(Debug, Clone, Copy)]
pub enum Lang {
    Grammar(&'static GrammarDef),
    Dockerfile,
    Makefile,
    Yaml,
    Toml,
    Json,
    Dotenv,
    Other,
}

impl PartialEq for Lang {
    fn eq(&self, other: &Lang) -> bool {
        self.name() == other.name()
    }
}

impl Lang {
    /// Detects the language from an LSP languageId and/or a path.
    pub fn detect(path: Option<&Path>, language_id: Option<&str>) -> Lang {
        if let Some(id) = language_id {
            if let Some(g) = GRAMMARS.iter().find(|g| g.language_ids.contains(&id)) {
                return Lang::Grammar(g);
            }
            match id {
                "dockerfile" => return Lang::Dockerfile,
                "makefile" => return Lang::Makefile,
                "yaml" => return Lang::Yaml,
                "toml" => return Lang::Toml,
                "json" | "jsonc" => return Lang::Json,
                "dotenv" => return Lang::Dotenv,
                _ => {}
            }
        }
        let Some(path) = path else { return Lang::Other };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if let Some(g) = GRAMMARS
            .iter()
            .find(|g| g.file_names.contains(&name) || g.extensions.contains(&ext))
        {
            return Lang::Grammar(g);
        }
        let lower = name.to_ascii_lowercase();
        if lower == "dockerfile"
            || lower.starts_with("dockerfile.")
            || ext == "dockerfile"
            || lower == "containerfile"
        {
            Lang::Dockerfile
        } else if lower == "makefile" || lower == "gnumakefile" || ext == "mk" {
            Lang::Makefile
        } else if ext == "yml" || ext == "yaml" {
            Lang::Yaml
        } else if ext == "toml" {
            Lang::Toml
        } else if ext == "json" {
            Lang::Json
        } else if lower == ".env" || lower.starts_with(".env.") || ext == "env" {
            Lang::Dotenv
        } else {
            Lang::Other
        }
    }

    pub fn by_name(name: &str) -> Option<&'static GrammarDef> {
        GRAMMARS.iter().find(|g| g.name == name)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Lang::Grammar(g) => g.name,
            Lang::Dockerfile => "dockerfile",
            Lang::Makefile => "makefile",
            Lang::Yaml => "yaml",
            Lang::Toml => "toml",
            Lang::Json => "json",
            Lang::Dotenv => "dotenv",
            Lang::Other => "other",
        }
    }

    pub fn grammar(&self) -> Option<&'static GrammarDef> {
        match self {
            Lang::Grammar(g) => Some(g),
            _ => None,
        }
    }

    /// The line comment token, for "allow on this line" (JSON has none).
    pub fn line_comment(&self) -> Option<&'static str> {
        match self {
            Lang::Grammar(g) => Some(g.line_comment),
            Lang::Json | Lang::Other => None,
            _ => Some("#"),
        }
    }

    /// Files whose every line is a shell command (or may be).
    pub fn is_shell_like(&self) -> bool {
        matches!(self, Lang::Dockerfile | Lang::Makefile) || self.name() == "bash"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_id_then_path() {
        let p = |s: &str| Lang::detect(Some(Path::new(s)), None).name();
        assert_eq!(p("a/b.py"), "python");
        assert_eq!(p("x.tsx"), "tsx");
        assert_eq!(p("x.ts"), "typescript");
        assert_eq!(p("deploy.sh"), "bash");
        assert_eq!(p("Dockerfile"), "dockerfile");
        assert_eq!(p("Makefile"), "makefile");
        assert_eq!(p(".env.local"), "dotenv");
        assert_eq!(p("c.yml"), "yaml");
        assert_eq!(p("README"), "other");
        assert_eq!(Lang::detect(None, Some("shellscript")).name(), "bash");
        assert_eq!(
            Lang::detect(Some(Path::new("x.txt")), Some("javascriptreact")).name(),
            "javascript"
        );
        assert_eq!(Lang::Json.line_comment(), None);
        assert_eq!(Lang::detect(None, Some("rust")).line_comment(), Some("//"));
    }

    #[test]
    fn every_grammar_folder_is_complete_and_its_queries_compile() {
        assert!(
            GRAMMARS.len() >= 7,
            "python, javascript, typescript, tsx, rust, go, bash"
        );
        for g in GRAMMARS {
            let lang = (g.language)();
            for required in ["comments", "strings", "definitions", "imports"] {
                assert!(
                    g.query(required).is_some(),
                    "{} lacks {required}.scm",
                    g.name
                );
            }
            for (name, source) in g.queries {
                tree_sitter::Query::new(&lang, source)
                    .unwrap_or_else(|e| panic!("grammars/{}/{name}.scm: {e}", g.name));
            }
        }
    }

    #[test]
    fn test_files_follow_each_language_convention() {
        let t = |lang: &str, rel: &str| Lang::by_name(lang).unwrap().conventions.test_file(rel);
        assert_eq!(
            t("python", "scripts/1.00_load.py"),
            "tests/test_1.00_load.py"
        );
        assert_eq!(t("javascript", "src/app.mjs"), "src/app.test.mjs");
        assert_eq!(t("javascript", "app.js"), "app.test.js");
        assert_eq!(t("go", "cmd/probe/main.go"), "cmd/probe/main_test.go");
        assert_eq!(t("rust", "src/main.rs"), "src/main.rs");
        assert_eq!(t("bash", "deploy.sh"), "tests/deploy.bats");
        for g in GRAMMARS {
            assert!(!g.conventions.docstring.is_empty(), "{}", g.name);
            assert!(!g.conventions.test_framework.is_empty(), "{}", g.name);
        }
    }
}
