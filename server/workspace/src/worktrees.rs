//! Worktree collisions: the same file with uncommitted changes in more than one
//! worktree of a repository (`git worktree`, as parallel agents and branches use), so
//! that each copy can say which other worktrees (and branches) are changing it too.
//! Listing the worktrees reads `.git/worktrees/`; a repository with one worktree costs
//! that and nothing more.

use std::path::{Path, PathBuf};

use git2::{Repository, Status, StatusOptions};

/// Another worktree that changes the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The other copy's work tree root.
    pub worktree: PathBuf,
    /// Its checked-out branch (`None`: detached HEAD).
    pub branch: Option<String>,
    /// The same file in that worktree.
    pub copy: PathBuf,
}

/// The work tree roots of every worktree of the repository `repo` belongs to (the main
/// one first), with their branches; pruned or missing worktrees are left out.
fn worktrees(repo: &Repository) -> Vec<(PathBuf, Option<String>)> {
    let main = if repo.is_worktree() {
        match Repository::open(repo.commondir()) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        }
    } else {
        match Repository::open(repo.path()) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        }
    };
    let names = match main.worktrees() {
        Ok(n) if n.is_empty() => return Vec::new(), // one worktree: nothing to compare
        Ok(n) => n,
        Err(_) => return Vec::new(),
    };
    let branch = |r: &Repository| {
        r.head()
            .ok()
            .filter(|h| h.is_branch())
            .and_then(|h| h.shorthand().ok().map(str::to_owned))
    };
    let mut out = Vec::new();
    if let Some(w) = main.workdir() {
        out.push((canonical(w), branch(&main)));
    }
    for name in names.iter().filter_map(|n| n.ok().flatten()) {
        let Ok(wt) = main.find_worktree(name) else {
            continue;
        };
        if wt.validate().is_err() {
            continue;
        }
        if let Ok(r) = Repository::open(wt.path()) {
            out.push((canonical(wt.path()), branch(&r)));
        }
    }
    out
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `rel` (relative to the work tree root) has uncommitted changes in `repo`:
/// modified, added, deleted or renamed, staged or not; untracked counts too.
fn changed(repo: &Repository, rel: &Path) -> bool {
    let mut opts = StatusOptions::new();
    opts.pathspec(rel)
        .disable_pathspec_match(true)
        .include_untracked(true)
        .include_ignored(false);
    let Ok(statuses) = repo.statuses(Some(&mut opts)) else {
        return false;
    };
    statuses
        .iter()
        .any(|s| s.status() != Status::CURRENT && !s.status().contains(Status::IGNORED))
}

/// Whether the repository whose work tree is `root` has more than one worktree, by one
/// or two file-system lookups and without opening it: a linked worktree's `.git` is a
/// file; a main one has entries under `.git/worktrees/`. For pollers that must cost
/// nothing on repositories with one worktree.
pub fn linked(root: &Path) -> bool {
    let git = root.join(".git");
    match std::fs::metadata(&git) {
        Ok(m) if m.is_file() => true,
        Ok(m) if m.is_dir() => std::fs::read_dir(git.join("worktrees"))
            .is_ok_and(|mut entries| entries.next().is_some()),
        _ => false,
    }
}

/// The other worktrees that also have uncommitted changes to the file at `path`, when
/// this copy has some; empty otherwise (and for a repository with one worktree).
pub fn collisions(path: &Path) -> Vec<Collision> {
    let Some(dir) = path.parent() else {
        return Vec::new();
    };
    let Ok(repo) = Repository::discover(dir) else {
        return Vec::new();
    };
    let Some(root) = repo.workdir().map(canonical) else {
        return Vec::new();
    };
    let all = worktrees(&repo);
    if all.len() < 2 {
        return Vec::new();
    }
    let Ok(rel) = canonical(path).strip_prefix(&root).map(Path::to_path_buf) else {
        return Vec::new();
    };
    if !changed(&repo, &rel) {
        return Vec::new();
    }
    all.into_iter()
        .filter(|(w, _)| *w != root)
        .filter(|(w, _)| Repository::open(w).is_ok_and(|r| changed(&r, &rel)))
        .map(|(worktree, branch)| Collision {
            copy: worktree.join(&rel),
            worktree,
            branch,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::git;

    #[test]
    fn a_file_changed_in_two_worktrees_names_the_other_one_from_each() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("app");
        std::fs::create_dir_all(main.join("src")).unwrap();
        git(&main, &["init", "-q", "-b", "main"]);
        std::fs::write(main.join("src/job.py"), "x = 1\n").unwrap();
        std::fs::write(main.join("src/other.py"), "y = 1\n").unwrap();
        git(&main, &["add", "."]);
        git(&main, &["commit", "-q", "-m", "one"]);
        let job = main.join("src/job.py");
        assert!(collisions(&job).is_empty(), "one worktree: nothing");
        assert!(!linked(&main));

        let wt = tmp.path().join("app-agent");
        git(
            &main,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "agent/fix",
                wt.to_str().unwrap(),
            ],
        );
        assert!(collisions(&job).is_empty(), "nothing changed yet");
        assert!(linked(&main) && linked(&wt));
        std::fs::write(&job, "x = 2\n").unwrap();
        assert!(collisions(&job).is_empty(), "changed in one copy only");
        std::fs::write(wt.join("src/job.py"), "x = 3\n").unwrap();

        let from_main = collisions(&job);
        assert_eq!(from_main.len(), 1, "{from_main:?}");
        assert_eq!(from_main[0].worktree, canonical(&wt));
        assert_eq!(from_main[0].branch.as_deref(), Some("agent/fix"));
        assert_eq!(from_main[0].copy, canonical(&wt).join("src/job.py"));
        let from_wt = collisions(&wt.join("src/job.py"));
        assert_eq!(from_wt.len(), 1, "{from_wt:?}");
        assert_eq!(from_wt[0].worktree, canonical(&main));
        assert_eq!(from_wt[0].branch.as_deref(), Some("main"));
        assert!(
            collisions(&main.join("src/other.py")).is_empty(),
            "another file"
        );

        // Staged changes count; a commit in the other worktree ends the collision there.
        git(&wt, &["add", "src/job.py"]);
        assert_eq!(collisions(&job).len(), 1);
        git(&wt, &["commit", "-q", "-m", "agent"]);
        assert!(collisions(&job).is_empty());
    }
}
