//! Worktree collisions in the editor: an open file with uncommitted changes that
//! another worktree of its repository also changes gets a warning naming the other
//! worktrees and their branches (with each other copy as related information), and a
//! code action per copy whose client-side command opens a diff of the two
//! ([`CLIENT_CMD_WORKTREE_COMPARE`]). Checked when a document opens and on save, and
//! on a short poll that only looks at repositories with more than one worktree
//! ([`warden_workspace::worktrees::linked`], a stat or two), so one-worktree
//! repositories cost nothing. The finding itself is `warden_workspace::worktrees`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;
use warden_workspace::worktrees::{self, Collision};

use crate::diagnostics::SOURCE;
use crate::lsp_ext::CLIENT_CMD_WORKTREE_COMPARE;
use crate::server::Backend;
use crate::shared::Shared;

/// The diagnostic code of a collision.
pub const CODE: &str = "worktree-collision";

/// How often open files of multi-worktree repositories are checked again, for changes
/// made in the other worktrees (which this editor does not see being saved).
const POLL: Duration = Duration::from_secs(2);

/// Checks `uri` again in the background and republishes its diagnostics if its
/// collisions changed.
pub fn refresh(shared: &Arc<Shared>, client: &Client, uri: String) {
    let (shared, client) = (shared.clone(), client.clone());
    shared.tasks.clone().spawn(async move {
        let _ = check(&shared, &client, vec![uri]).await;
    });
}

/// Forgets a closed document's collisions (its disk copy's diagnostics come from the
/// workspace scan).
pub fn forget(shared: &Shared, uri: &str) {
    shared.worktree_diagnostics.lock().remove(uri);
}

/// Starts the poll over open documents of repositories with linked worktrees.
pub fn start_poll(b: &Backend) {
    let (shared, client) = (b.shared.clone(), b.client.clone());
    let stopping = shared.tasks.stopping();
    shared.tasks.clone().spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = stopping.cancelled() => return,
            }
            let due = polled(&shared);
            if !due.is_empty() && check(&shared, &client, due).await.is_err() {
                return;
            }
        }
    });
}

/// The open documents the poll checks: those in repositories with more than one
/// worktree, and those that had a collision (its worktree may be gone).
fn polled(shared: &Shared) -> Vec<String> {
    let open: Vec<(String, PathBuf)> = shared
        .docs
        .lock()
        .iter()
        .filter_map(|(uri, d)| Some((uri.clone(), d.path.clone()?)))
        .collect();
    let had = shared.worktree_diagnostics.lock();
    let roots = shared.roots.read();
    let mut linked = std::collections::HashMap::new();
    open.into_iter()
        .filter(|(uri, path)| {
            had.contains_key(uri)
                || roots.owner(path).is_some_and(|r| {
                    *linked
                        .entry(r.root.clone())
                        .or_insert_with(|| worktrees::linked(&r.root))
                })
        })
        .map(|(uri, _)| uri)
        .collect()
}

/// Computes the collisions of `uris` off the message loop and republishes those whose
/// diagnostics changed. `Err` when the server is stopping.
async fn check(shared: &Arc<Shared>, client: &Client, uris: Vec<String>) -> Result<(), ()> {
    let paths: Vec<(String, Option<PathBuf>)> = {
        let docs = shared.docs.lock();
        uris.into_iter()
            .map(|u| {
                let p = docs.get(&u).and_then(|d| d.path.clone());
                (u, p)
            })
            .collect()
    };
    let found = shared
        .tasks
        .spawn_blocking(move || {
            paths
                .into_iter()
                .map(|(uri, path)| {
                    let c = path.as_deref().map(worktrees::collisions);
                    (uri, diagnostic(&c.unwrap_or_default()))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| ())?;
    for (uri, diag) in found {
        let publish = {
            // Closed meanwhile: forget it (the close rescan publishes its disk copy).
            let open = shared.docs.lock().get(&uri).is_some();
            let next = diag.filter(|_| open).map(|d| vec![d]);
            let mut map = shared.worktree_diagnostics.lock();
            let before = match &next {
                Some(v) => map.insert(uri.clone(), v.clone()),
                None => map.remove(&uri),
            };
            open && before != next
        };
        if publish {
            super::analysis::republish(shared, client, &uri).await;
        }
    }
    Ok(())
}

/// The warning on the file's first line naming the other worktrees, if any.
fn diagnostic(collisions: &[Collision]) -> Option<Diagnostic> {
    if collisions.is_empty() {
        return None;
    }
    let copies: Vec<(Collision, Option<Uri>)> = collisions
        .iter()
        .map(|c| (c.clone(), Uri::from_file_path(&c.copy)))
        .collect();
    let named: Vec<String> = copies.iter().map(|(c, _)| describe(c)).collect();
    let message = match named.as_slice() {
        [one] => format!("Also changed, uncommitted, in the worktree {one}"),
        many => format!(
            "Also changed, uncommitted, in {} other worktrees: {}",
            many.len(),
            many.join("; ")
        ),
    };
    let related: Vec<DiagnosticRelatedInformation> = copies
        .iter()
        .filter_map(|(c, uri)| {
            Some(DiagnosticRelatedInformation {
                location: Location {
                    uri: uri.clone()?,
                    range: Range::default(),
                },
                message: format!("the copy in {}", describe(c)),
            })
        })
        .collect();
    let others: Vec<_> = copies
        .iter()
        .map(|(c, uri)| {
            json!({
                "worktree": c.worktree.display().to_string(),
                "branch": c.branch,
                "uri": uri.as_ref().map(|u| u.as_str().to_owned()),
            })
        })
        .collect();
    Some(Diagnostic {
        range: Range::default(),
        severity: Some(DiagnosticSeverity::WARNING),
        code: Some(NumberOrString::String(CODE.into())),
        source: Some(SOURCE.into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        data: Some(json!({ "worktrees": others })),
        ..Default::default()
    })
}

/// `/path/to/worktree (branch name)` or `(detached HEAD)`.
fn describe(c: &Collision) -> String {
    match &c.branch {
        Some(b) => format!("{} (branch {b})", c.worktree.display()),
        None => format!("{} (detached HEAD)", c.worktree.display()),
    }
}

/// *Compare with the copy in …* for each collision diagnostic in `range`.
pub fn code_actions(shared: &Shared, uri: &Uri, range: Range) -> Vec<CodeAction> {
    let diags = shared
        .worktree_diagnostics
        .lock()
        .get(uri.as_str())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for d in diags
        .iter()
        .filter(|d| super::code_actions::overlaps(d.range, range))
    {
        let others = d
            .data
            .as_ref()
            .and_then(|v| v["worktrees"].as_array().cloned())
            .unwrap_or_default();
        for other in others {
            let Some(other_uri) = other["uri"].as_str() else {
                continue;
            };
            let branch = other["branch"].as_str();
            let worktree = other["worktree"].as_str().unwrap_or_default();
            let name = Path::new(worktree)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| worktree.to_owned());
            out.push(CodeAction {
                title: match branch {
                    Some(b) => format!("Compare with the copy in worktree {name} ({b})"),
                    None => format!("Compare with the copy in worktree {name} (detached HEAD)"),
                },
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                command: Some(Command {
                    title: "Compare with the other worktree".into(),
                    command: CLIENT_CMD_WORKTREE_COMPARE.into(),
                    arguments: Some(vec![json!({
                        "uri": uri.as_str(),
                        "otherUri": other_uri,
                        "worktree": worktree,
                        "branch": branch,
                    })]),
                }),
                ..Default::default()
            });
        }
    }
    out
}
