//! Workspace discovery: which repository a folder belongs to (git2
//! `Repository::discover`), with its root, origin remote, branch and HEAD commit. A
//! folder outside git is keyed by its own canonical path. Never fails: a broken
//! repository degrades to a path-keyed workspace with the reason recorded.

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

    fn git(dir: &Path, args: &[&str]) {
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
    fn names_are_checked() {
        assert!(check_name("api-server").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(" a").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"n".repeat(65)).is_err());
        assert!(check_name(&"n".repeat(64)).is_ok());
    }
}
