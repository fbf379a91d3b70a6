//! Workspace discovery: which repository a folder belongs to (git2
//! `Repository::discover`), with its root, origin remote, branch and HEAD commit. A
//! folder outside git is keyed by its own canonical path. Never fails: a broken
//! repository degrades to a path-keyed workspace with the reason recorded.

pub mod worktrees;

use std::path::{Path, PathBuf};

use git2::Repository;

/// What a folder resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The workspace key: the canonical repository root, or the folder itself.
    pub key: PathBuf,
    /// Preferred workspace name: the root's directory name.
    pub name_hint: String,
    pub git: Option<GitFacts>,
    /// Why git facts are missing although a repository seemed present.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitFacts {
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub head: Option<String>,
}

/// Resolves `folder` to its workspace key and git facts.
pub fn discover(folder: &Path) -> Discovered {
    let folder = canonical(folder);
    match Repository::discover(&folder) {
        Ok(repo) => {
            let root = repo
                .workdir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| repo.path().to_path_buf());
            let root = canonical(&root);
            Discovered {
                name_hint: dir_name(&root),
                git: Some(facts(&repo)),
                key: root,
                note: None,
            }
        }
        Err(e) if e.code() == git2::ErrorCode::NotFound => Discovered {
            name_hint: dir_name(&folder),
            key: folder,
            git: None,
            note: None,
        },
        Err(e) => Discovered {
            name_hint: dir_name(&folder),
            key: folder,
            git: None,
            note: Some(format!("git repository could not be read: {}", e.message())),
        },
    }
}

fn facts(repo: &Repository) -> GitFacts {
    let remote = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().ok().map(str::to_owned));
    let (branch, head) = match repo.head() {
        Ok(head) => (
            head.is_branch()
                .then(|| head.shorthand().ok().map(str::to_owned))
                .flatten(),
            head.peel_to_commit().ok().map(|c| c.id().to_string()),
        ),
        // An unborn branch (fresh `git init`): HEAD names a branch with no commit yet.
        Err(_) => (
            repo.find_reference("HEAD")
                .ok()
                .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned))
                .map(|t| t.trim_start_matches("refs/heads/").to_owned()),
            None,
        ),
    };
    GitFacts {
        remote,
        branch,
        head,
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn dir_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "root".into())
}

/// Every file under `root` that git tracks or would track (untracked but not ignored),
/// as absolute paths, sorted. Outside git, or when `root` itself is git-ignored (the
/// user named it explicitly), a directory walk honouring the `.gitignore` files inside
/// it and skipping `.git`. Files deleted from the work tree are left out.
pub fn list_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let root = canonical(root);
    let mut files = match Repository::discover(&root) {
        Ok(repo) if !dir_ignored(&repo, &root) => git_files(&repo, &root)?,
        _ => walk_files(&root),
    };
    files.sort();
    files.dedup();
    Ok(files)
}

fn git_files(repo: &Repository, root: &Path) -> Result<Vec<PathBuf>, String> {
    let workdir = repo
        .workdir()
        .map(canonical)
        .ok_or_else(|| "bare repository: no work tree to scan".to_owned())?;
    let mut out = Vec::new();
    let index = repo
        .index()
        .map_err(|e| format!("reading the git index: {}", e.message()))?;
    for entry in index.iter() {
        let rel = String::from_utf8_lossy(&entry.path).into_owned();
        let path = workdir.join(&rel);
        // Submodules (mode 160000) are other repositories; skip them.
        if entry.mode & 0o170000 != 0o160000 && path.starts_with(root) {
            out.push(path);
        }
    }
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(|e| format!("reading git status: {}", e.message()))?;
    for s in statuses.iter() {
        if let (true, Ok(rel)) = (s.status().contains(git2::Status::WT_NEW), s.path()) {
            let path = workdir.join(rel);
            if path.starts_with(root) {
                out.push(path);
            }
        }
    }
    out.retain(|p| p.symlink_metadata().is_ok());
    Ok(out)
}

/// The files git tracks under `root` (the index), sorted; empty outside git.
pub fn tracked_files(root: &Path) -> Vec<PathBuf> {
    let root = canonical(root);
    let Ok(repo) = Repository::discover(&root) else {
        return Vec::new();
    };
    let (Some(workdir), Ok(index)) = (repo.workdir().map(canonical), repo.index()) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = index
        .iter()
        .filter(|e| e.mode & 0o170000 != 0o160000)
        .map(|e| workdir.join(String::from_utf8_lossy(&e.path).as_ref()))
        .filter(|p| p.starts_with(&root) && p.is_file())
        .collect();
    out.sort();
    out
}

/// The HEAD commit of the repository holding `root` and whether its work tree differs
/// from it (tracked changes or new files).
pub fn freshness(root: &Path) -> (Option<String>, bool) {
    let Ok(repo) = Repository::discover(root) else {
        return (None, false);
    };
    let head = repo
        .head()
        .ok()
        .and_then(|h| h.target())
        .map(|o| o.to_string());
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    (head, dirty)
}

/// For repository-relative paths under `root`: the last commit that changed each file
/// (None: never committed) and whether the work tree differs from HEAD for it. Looks
/// back at most 5000 commits; a file unchanged in that window gets the oldest one seen.
pub fn file_versions(
    root: &Path,
    rel_paths: &[String],
) -> std::collections::HashMap<String, (Option<String>, bool)> {
    let mut out = std::collections::HashMap::new();
    let Ok(repo) = Repository::discover(root) else {
        return out;
    };
    let Some(workdir) = repo.workdir().map(canonical) else {
        return out;
    };
    let prefix = canonical(root)
        .strip_prefix(&workdir)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let in_repo = |rel: &str| prefix.join(rel);
    for rel in rel_paths {
        let dirty = repo
            .status_file(&in_repo(rel))
            .map(|s| !s.is_empty())
            .unwrap_or(true);
        out.insert(rel.clone(), (None, dirty));
    }
    let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else {
        return out;
    };
    let blob_at = |tree: &git2::Tree, p: &Path| tree.get_path(p).ok().map(|e| e.id());
    let Ok(mut walk) = repo.revwalk() else {
        return out;
    };
    let _ = walk.push(head.id());
    let _ = walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME);
    let mut pending: Vec<&String> = rel_paths.iter().collect();
    for oid in walk.take(5000).flatten() {
        if pending.is_empty() {
            break;
        }
        let Ok(commit) = repo.find_commit(oid) else {
            continue;
        };
        let Ok(tree) = commit.tree() else { continue };
        let parent_tree = commit.parent(0).ok().and_then(|p| p.tree().ok());
        pending.retain(|rel| {
            let p = in_repo(rel);
            let here = blob_at(&tree, &p);
            if here.is_none() {
                return true;
            }
            let before = parent_tree.as_ref().and_then(|t| blob_at(t, &p));
            if before != here {
                if let Some(v) = out.get_mut(*rel) {
                    v.0 = Some(oid.to_string());
                }
                return false;
            }
            if let Some(v) = out.get_mut(*rel) {
                v.0 = Some(oid.to_string());
            }
            true
        });
    }
    out
}

fn dir_ignored(repo: &Repository, dir: &Path) -> bool {
    let Some(workdir) = repo.workdir().map(canonical) else {
        return false;
    };
    dir.strip_prefix(&workdir)
        .ok()
        .filter(|rel| !rel.as_os_str().is_empty())
        .and_then(|rel| repo.is_path_ignored(rel).ok())
        .unwrap_or(false)
}

fn walk_files(root: &Path) -> Vec<PathBuf> {
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .git_ignore(true)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| e.into_path())
        .collect()
}

/// Whether git ignores `path` (false outside git). A tracked file is never ignored,
/// even when an ignore rule matches it (git keeps tracking it).
pub fn is_ignored(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(path);
    let Ok(repo) = Repository::discover(dir) else {
        return false;
    };
    let Some(workdir) = repo.workdir().map(canonical) else {
        return false;
    };
    let abs = canonical(dir).join(path.file_name().unwrap_or_default());
    let Ok(rel) = abs.strip_prefix(&workdir) else {
        return false;
    };
    let tracked = repo
        .index()
        .ok()
        .is_some_and(|index| index.get_path(rel, 0).is_some());
    !tracked && repo.is_path_ignored(rel).unwrap_or(false)
}

/// The blob id git gives `bytes` (what `git hash-object` prints).
pub fn blob_id(bytes: &[u8]) -> Option<String> {
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .ok()
        .map(|o| o.to_string())
}

/// The committed (HEAD) version of the file at `path`: its blob id and bytes. `None`
/// outside git, without a HEAD, or for a file HEAD does not hold.
pub fn head_version(path: &Path) -> Option<(String, Vec<u8>)> {
    let repo = Repository::discover(path.parent()?).ok()?;
    let workdir = repo.workdir().map(canonical)?;
    let abs = canonical(path.parent()?).join(path.file_name()?);
    let rel = abs.strip_prefix(&workdir).ok()?;
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    let entry = tree.get_path(rel).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some((entry.id().to_string(), blob.content().to_vec()))
}

/// The repository root (work tree) containing `path`, if any.
pub fn repo_root(path: &Path) -> Option<PathBuf> {
    let repo = Repository::discover(path).ok()?;
    repo.workdir().map(canonical)
}

/// Longest accepted workspace name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The rule every workspace name obeys.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the workspace name is empty".into());
    }
    if name.trim() != name {
        return Err("the workspace name has leading or trailing spaces".into());
    }
    let n = name.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(format!(
            "the workspace name has {n} characters; the limit is {MAX_NAME_CHARS}"
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err("the workspace name may not contain slashes or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs git in `dir` with a fixed identity; panics if it fails.
    pub(crate) fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn repository_subfolders_share_the_root_key() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("proj");
        std::fs::create_dir_all(repo.join("a/b")).unwrap();
        git(&repo, &["init", "-q", "-b", "trunk"]);
        git(
            &repo,
            &[
                "remote",
                "add",
                "origin",
                "https://example.invalid/proj.git",
            ],
        );
        std::fs::write(repo.join("a/f.txt"), "x").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "one"]);

        let top = discover(&repo);
        let sub = discover(&repo.join("a/b"));
        assert_eq!(top.key, sub.key);
        assert_eq!(top.name_hint, "proj");
        let g = top.git.unwrap();
        assert_eq!(g.branch.as_deref(), Some("trunk"));
        assert_eq!(
            g.remote.as_deref(),
            Some("https://example.invalid/proj.git")
        );
        assert_eq!(g.head.as_ref().map(String::len), Some(40));
    }

    #[test]
    fn unborn_branch_and_plain_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("fresh");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "dev"]);
        let d = discover(&repo);
        let g = d.git.unwrap();
        assert_eq!(g.branch.as_deref(), Some("dev"));
        assert_eq!(g.head, None);

        let plain = tmp.path().join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        let d = discover(&plain);
        assert!(d.git.is_none());
        assert_eq!(d.key, std::fs::canonicalize(&plain).unwrap());
        assert_eq!(d.name_hint, "plain");
    }

    #[test]
    fn missing_folder_still_resolves() {
        let d = discover(Path::new("/definitely/not/here/x"));
        assert_eq!(d.name_hint, "x");
        assert!(d.git.is_none());
    }

    #[test]
    fn lists_tracked_and_untracked_files_but_not_ignored_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("r");
        std::fs::create_dir_all(repo.join("sub")).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join(".gitignore"), ".env\nbuild/\n").unwrap();
        std::fs::write(repo.join("a.py"), "x").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        std::fs::write(repo.join("sub/new.py"), "y").unwrap();
        std::fs::write(repo.join(".env"), "K=v").unwrap();
        std::fs::create_dir_all(repo.join("build")).unwrap();
        std::fs::write(repo.join("build/out.js"), "z").unwrap();
        let names: Vec<String> = list_files(&repo)
            .unwrap()
            .iter()
            .map(|p| {
                p.strip_prefix(std::fs::canonicalize(&repo).unwrap())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, [".gitignore", "a.py", "sub/new.py"]);
        assert!(is_ignored(&repo.join(".env")));
        assert!(!is_ignored(&repo.join("a.py")));
        // A tracked file stays tracked whatever the ignore rules say.
        std::fs::create_dir_all(repo.join("deploy")).unwrap();
        std::fs::write(repo.join("deploy/.env"), "K=v").unwrap();
        assert!(is_ignored(&repo.join("deploy/.env")));
        git(&repo, &["add", "-f", "deploy/.env"]);
        assert!(!is_ignored(&repo.join("deploy/.env")));
        let sub: Vec<_> = list_files(&repo.join("sub")).unwrap();
        assert_eq!(sub.len(), 1);
        // Naming an ignored directory explicitly scans it.
        let build: Vec<_> = list_files(&repo.join("build")).unwrap();
        assert_eq!(build.len(), 1);

        let plain = tmp.path().join("plain");
        std::fs::create_dir_all(plain.join("node_modules")).unwrap();
        std::fs::write(plain.join(".gitignore"), "node_modules/\n").unwrap();
        std::fs::write(plain.join("x.sh"), "echo").unwrap();
        std::fs::write(plain.join("node_modules/m.js"), "m").unwrap();
        assert_eq!(list_files(&plain).unwrap().len(), 2, ".gitignore and x.sh");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("api-server").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" a").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"n".repeat(65)).is_err());
        assert!(check_name(&"n".repeat(64)).is_ok());
    }
}
