//! Tidy checks over the source tree: every Rust module starts with a `//!` header, and
//! only the `warden-lsp` crate mentions LSP types.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_has_a_header() {
    let root = repo_root();
    let mut files = Vec::new();
    rust_files(&root.join("server"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(files.len() > 10);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a //! header: {missing:?}"
    );
}

#[test]
fn only_the_lsp_crate_knows_lsp() {
    let root = repo_root();
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(root.join("server")).unwrap().flatten() {
        let krate = entry.path();
        if krate.file_name().is_some_and(|n| n == "lsp" || n == "docs") || !krate.is_dir() {
            continue;
        }
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        if manifest.contains("tower-lsp")
            || manifest.contains("ls-types")
            || manifest.contains("lsp-types")
        {
            offenders.push(krate.join("Cargo.toml").display().to_string());
        }
        let mut files = Vec::new();
        rust_files(&krate, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            if text.contains("tower_lsp") || text.contains("ls_types") || text.contains("lsp_types")
            {
                offenders.push(f.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "LSP types outside server/lsp: {offenders:?}"
    );
}
