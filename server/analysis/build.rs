//! Generates the language table from `grammars/<lang>/language.toml` and its query files,
//! so adding a language is adding a folder (and the grammar crate's dependency); and the
//! list of built-in secret rule files (`rules/secrets/*.toml`), so adding a provider
//! family is adding a file.

use std::fmt::Write as _;
use std::path::Path;

#[derive(serde::Deserialize)]
struct LanguageToml {
    name: String,
    #[serde(rename = "crate")]
    krate: String,
    language: String,
    extensions: Vec<String>,
    #[serde(default)]
    file_names: Vec<String>,
    language_ids: Vec<String>,
    line_comment: String,
    /// How code is documented, in words for an LLM prompt.
    docstring: String,
    /// Where tests go: `{dir}`, `{stem}`, `{ext}` and `{path}` (this file) expand.
    test_path: String,
    test_framework: String,
}

/// `imports.toml`: how imports in this language name packages.
#[derive(serde::Deserialize, Default)]
struct ImportsToml {
    inherits: Option<String>,
    #[serde(default)]
    ecosystem: String,
    #[serde(default)]
    style: String,
    #[serde(default)]
    builtin: Vec<String>,
    #[serde(default)]
    packages: std::collections::BTreeMap<String, String>,
    /// Words on the first line of every import form; the query runs only on the
    /// statements that start on a line holding one.
    #[serde(default)]
    keywords: Vec<String>,
}

fn imports_toml(root: &Path, dir: &Path) -> Option<ImportsToml> {
    let file = dir.join("imports.toml");
    println!("cargo:rerun-if-changed={}", file.display());
    let text = std::fs::read_to_string(&file).ok()?;
    let t: ImportsToml =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    match &t.inherits {
        Some(parent) => imports_toml(root, &root.join(parent)),
        None => Some(t),
    }
}

/// A query's text, with nvim-treesitter's `; inherits: lang[,lang]` first line replaced
/// by the same-named query of those languages (then this file's own patterns).
fn resolve_query(root: &Path, file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let Some(first) = text.lines().next() else {
        return text;
    };
    let Some(langs) = first.strip_prefix("; inherits:") else {
        return text;
    };
    let name = file.file_name().unwrap();
    let mut out = String::new();
    for lang in langs.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        let parent = root.join(lang).join(name);
        println!("cargo:rerun-if-changed={}", parent.display());
        out.push_str(&resolve_query(root, &parent));
        out.push('\n');
    }
    out.push_str(&text[first.len()..]);
    out
}

/// Read when the script runs, not when it was compiled: a build directory moved to
/// another checkout reuses the compiled script.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
}

fn main() {
    let root = manifest_dir().join("../../grammars");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("grammars/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("language.toml").exists())
        .collect();
    dirs.sort();
    let mut out = String::from("pub static GRAMMARS: &[GrammarDef] = &[\n");
    for dir in dirs {
        println!("cargo:rerun-if-changed={}", dir.display());
        let text = std::fs::read_to_string(dir.join("language.toml")).unwrap();
        let lang: LanguageToml = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("language.toml").display()));
        let mut queries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "scm"))
            .collect();
        queries.sort();
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            out,
            "    GrammarDef {{ name: {:?}, language: || {}::{}.into(), extensions: &[{}], file_names: &[{}], language_ids: &[{}], line_comment: {:?}, conventions: Conventions {{ docstring: {:?}, test_path: {:?}, test_framework: {:?} }}, ",
            lang.name,
            lang.krate,
            lang.language,
            list(&lang.extensions),
            list(&lang.file_names),
            list(&lang.language_ids),
            lang.line_comment,
            lang.docstring,
            lang.test_path,
            lang.test_framework
        )
        .unwrap();
        match imports_toml(&root, &dir) {
            Some(i) => write!(
                out,
                "imports: Some(ImportsDef {{ ecosystem: {:?}, style: {:?}, keywords: &[{}], builtin: &[{}], packages: &[{}] }}), queries: &[",
                i.ecosystem,
                i.style,
                list(&i.keywords),
                list(&i.builtin),
                i.packages
                    .iter()
                    .map(|(k, v)| format!("({k:?}, {v:?})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .unwrap(),
            None => out.push_str("imports: None, queries: &["),
        }
        for q in queries {
            println!("cargo:rerun-if-changed={}", q.display());
            let stem = q.file_stem().unwrap().to_string_lossy().into_owned();
            let source = resolve_query(&root, &q);
            write!(out, "({stem:?}, {source:?}), ").unwrap();
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("grammars.rs");
    std::fs::write(dest, out).unwrap();
    secret_rule_files();
}

/// `SECRET_RULE_FILES`: every `rules/secrets/*.toml`, by name, with its text.
fn secret_rule_files() {
    let dir = manifest_dir().join("rules/secrets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("rules/secrets/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from("pub const SECRET_RULE_FILES: &[(&str, &str)] = &[\n");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("secret_rules.rs");
    std::fs::write(dest, out).unwrap();
}
