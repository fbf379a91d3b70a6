//! Workspace snapshots for LLM context: a Markdown document with the file tree and the
//! contents of the git-tracked files (binaries, files over the size limit and files
//! matching `llm.exclude` left out; secrets replaced by placeholders), fitted to a
//! token budget, with freshness (HEAD and a dirty flag). Built off the message loop and
//! cached until HEAD or the work tree changes (a fingerprint over HEAD and each tracked
//! file's size and modification time).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use parking_lot::Mutex;
use warden_analysis::secrets::redact::{Redactions, redact};
use warden_analysis::secrets::{Context, RuleSet};
use warden_analysis::{Lang, looks_binary};
use warden_llm::prompt::tokens;

/// `llm.exclude` as a matcher over file names and repository-relative paths.
pub fn exclude_set(patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = Glob::new(p) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// The `llm.exclude` pattern a file matches, if any.
pub fn excluded_by<'p>(patterns: &'p [String], rel: &str) -> Option<&'p str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    patterns
        .iter()
        .find(|p| {
            Glob::new(p).is_ok_and(|g| {
                g.compile_matcher().is_match(name) || g.compile_matcher().is_match(rel)
            })
        })
        .map(String::as_str)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub markdown: String,
    /// Estimated tokens of `markdown`.
    pub tokens: usize,
    pub head: Option<String>,
    pub dirty: bool,
    /// Tracked files, and how many of them have their content included.
    pub files: usize,
    pub included: usize,
    pub secrets_redacted: usize,
}

/// Builds a snapshot of `root`. `max_tokens` bounds the Markdown (the tree always
/// fits; file contents are added in path order while they fit).
pub fn build(
    root: &Path,
    name: &str,
    rules: &RuleSet,
    exclude: &GlobSet,
    max_file_size: u64,
    max_tokens: Option<usize>,
) -> Snapshot {
    let (head, dirty) = warden_workspace::freshness(root);
    let files = warden_workspace::tracked_files(root);
    let rels: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let budget = max_tokens.unwrap_or(usize::MAX);
    let short = head
        .as_deref()
        .map_or("no commit", |h| &h[..h.len().min(12)]);
    let mut md = format!(
        "# Workspace snapshot: {name}\n\nHEAD {short}{} · {} tracked files\n\n## File tree\n\n```\n{}```\n",
        if dirty { " (uncommitted changes)" } else { "" },
        files.len(),
        tree(&rels)
    );
    let mut omitted: Vec<(String, &str)> = Vec::new();
    let mut redactions = Redactions::default();
    let mut secrets = 0;
    let mut included = 0;
    for (path, rel) in files.iter().zip(&rels) {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if exclude.is_match(name) || exclude.is_match(rel) {
            omitted.push((rel.clone(), "excluded by llm.exclude"));
            continue;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.len() > max_file_size {
            omitted.push((rel.clone(), "too large"));
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if looks_binary(&bytes) {
            omitted.push((rel.clone(), "binary"));
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let lang = Lang::detect(Some(path), None);
        let ctx = Context {
            lang,
            path: Some(path),
            ..Context::default()
        };
        let (clean, n) = redact(&text, &ctx, rules, &mut redactions);
        let tag = lang.grammar().map_or("", |g| g.name);
        let ticks = if clean.contains("```") { "````" } else { "```" };
        let section = format!(
            "\n## {rel}\n\n{ticks}{tag}\n{}\n{ticks}\n",
            clean.strip_suffix('\n').unwrap_or(&clean)
        );
        if tokens(&md) + tokens(&section) > budget {
            omitted.push((rel.clone(), "over the token budget"));
            continue;
        }
        md.push_str(&section);
        secrets += n;
        included += 1;
    }
    if !omitted.is_empty() {
        md.push_str("\n## Omitted\n\n");
        for (rel, why) in &omitted {
            md.push_str(&format!("- {rel}: {why}\n"));
        }
    }
    Snapshot {
        tokens: tokens(&md),
        markdown: md,
        head,
        dirty,
        files: files.len(),
        included,
        secrets_redacted: secrets,
    }
}

/// The file tree as indented lines, directories first seen first.
fn tree(rels: &[String]) -> String {
    let mut out = String::new();
    let mut open: Vec<&str> = Vec::new();
    for rel in rels {
        let parts: Vec<&str> = rel.split('/').collect();
        let (dirs, file) = parts.split_at(parts.len() - 1);
        let common = open.iter().zip(dirs).take_while(|(a, b)| a == b).count();
        open.truncate(common);
        for d in &dirs[common..] {
            out.push_str(&format!("{}{d}/\n", "  ".repeat(open.len())));
            open.push(d);
        }
        out.push_str(&format!("{}{}\n", "  ".repeat(open.len()), file[0]));
    }
    out
}

/// What a cached snapshot was built from.
pub fn fingerprint(root: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    warden_workspace::freshness(root).hash(&mut h);
    for p in warden_workspace::tracked_files(root) {
        p.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&p) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    h.finish()
}

/// (root, budget) → (fingerprint, snapshot).
type Entries = HashMap<(PathBuf, Option<usize>), (u64, Arc<Snapshot>)>;

/// Snapshots by (root, budget), valid while their fingerprint holds.
#[derive(Default)]
pub struct SnapshotCache {
    entries: Mutex<Entries>,
}

impl SnapshotCache {
    /// The cached snapshot if still fresh, else a new one from `make`. Returns whether
    /// it came from the cache. Blocking: call off the message loop.
    pub fn get_or_build(
        &self,
        root: &Path,
        max_tokens: Option<usize>,
        make: impl FnOnce() -> Snapshot,
    ) -> (Arc<Snapshot>, bool) {
        let fp = fingerprint(root);
        let key = (root.to_path_buf(), max_tokens);
        if let Some((f, s)) = self.entries.lock().get(&key)
            && *f == fp
        {
            return (s.clone(), true);
        }
        let s = Arc::new(make());
        self.entries.lock().insert(key, (fp, s.clone()));
        (s, false)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::process::Command;

    /// `git ARGS` in `dir`, with an identity and no signing (for test repositories).
    pub(crate) fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    #[test]
    fn tracked_text_files_with_secrets_redacted_and_fresh_cache() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("scripts")).unwrap();
        std::fs::write(
            root.join("scripts/a.py"),
            "KEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nprint(KEY)\n",
        )
        .unwrap();
        std::fs::write(root.join("README.md"), "# demo\n").unwrap();
        std::fs::write(root.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0binary").unwrap();
        std::fs::write(root.join(".env"), "TOKEN=x\n").unwrap();
        std::fs::write(root.join("untracked.py"), "x = 1\n").unwrap();
        git(&root, &["init", "-q"]);
        git(&root, &["add", "scripts", "README.md", "logo.png", ".env"]);
        git(&root, &["commit", "-qm", "init"]);
        let exclude = exclude_set(&[".env*".to_owned()]);
        let rules = RuleSet::builtin();
        let s = build(&root, "demo", &rules, &exclude, 1 << 20, None);
        assert_eq!((s.files, s.included, s.secrets_redacted), (4, 2, 1));
        assert!(s.dirty, "untracked.py makes the work tree dirty");
        assert_eq!(s.head.as_deref().map(str::len), Some(40));
        let md = &s.markdown;
        assert!(
            md.contains("## scripts/a.py") && md.contains("__WARDEN_SECRET_1__"),
            "{md}"
        );
        assert!(!md.contains("AKIAQ3EGRB4XY7MNP2KD"));
        assert!(
            md.contains("- .env: excluded by llm.exclude") && md.contains("- logo.png: binary")
        );
        assert!(!md.contains("untracked.py"));
        assert!(md.contains("scripts/\n  a.py\n"), "{md}");
        // A small budget keeps the tree and drops contents.
        let small = build(&root, "demo", &rules, &exclude, 1 << 20, Some(60));
        assert!(small.included < 2 && small.markdown.contains("over the token budget"));

        let cache = SnapshotCache::default();
        let make = || build(&root, "demo", &rules, &exclude, 1 << 20, None);
        assert!(!cache.get_or_build(&root, None, make).1);
        assert!(cache.get_or_build(&root, None, make).1);
        std::fs::write(root.join("README.md"), "# demo, changed\n").unwrap();
        assert!(
            !cache.get_or_build(&root, None, make).1,
            "a worktree change invalidates"
        );
        assert_eq!(
            excluded_by(&["*.pem".to_owned()], "keys/server.pem"),
            Some("*.pem")
        );
        assert_eq!(excluded_by(&["id_*".to_owned()], "a/id_rsa"), Some("id_*"));
        assert_eq!(excluded_by(&["*.pem".to_owned()], "a.py"), None);
    }
}
