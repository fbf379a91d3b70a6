//! Workspace folders and the `warden/workspaces`, `warden/workspaceFor` requests.
//! Folder changes run as an `index` span and end with `warden/workspacesChanged`.

use std::path::PathBuf;

use serde_json::json;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use warden_trace::SpanKind;

use super::{invalid, store_error};
use crate::lsp_ext::{UriParams, WorkspaceInfo, WorkspacesChanged, WorkspacesChangedParams};
use crate::registry::Registry;
use crate::server::Backend;

pub async fn did_change_folders(b: &Backend, params: DidChangeWorkspaceFoldersParams) {
    let to_paths = |folders: Vec<WorkspaceFolder>| -> Vec<PathBuf> {
        folders
            .into_iter()
            .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
            .collect()
    };
    let added = to_paths(params.event.added);
    let removed = to_paths(params.event.removed);
    let Ok(registry) = b.registry() else { return };
    let mut reg = registry.lock().await;
    change_folders(b, &mut reg, &added, &removed).await;
}

/// Applies folder additions and removals as one `index` span, reports warnings, and
/// publishes the new workspace list.
pub async fn change_folders(
    b: &Backend,
    reg: &mut Registry,
    added: &[PathBuf],
    removed: &[PathBuf],
) {
    if added.is_empty() && removed.is_empty() {
        notify_changed(b, reg).await;
        return;
    }
    let mut span = b
        .tracer
        .start(SpanKind::Index, "workspace.folders")
        .input(json!({ "added": added.len(), "removed": removed.len() }))
        .begin();
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for folder in removed {
        if let Err(e) = reg.remove_folder(folder).await {
            errors.push(format!("{}: {e}", folder.display()));
        }
    }
    for folder in added {
        match reg.add_folder(folder).await {
            Ok(added) => {
                names.push(added.workspace.name.clone());
                for w in added.warnings {
                    b.client.show_message(MessageType::WARNING, w).await;
                }
            }
            Err(e) => errors.push(format!("{}: {e}", folder.display())),
        }
    }
    span.set_output(json!({ "workspaces": names }));
    if errors.is_empty() {
        span.ok();
    } else {
        let message = format!("warden could not register folders: {}", errors.join("; "));
        span.fail(message.clone());
        b.client.show_message(MessageType::ERROR, message).await;
    }
    notify_changed(b, reg).await;
}

/// Refreshes what background tasks know about workspaces (and drops cached scan
/// configurations), then sends `warden/workspacesChanged` with the full list and the
/// active workspace.
pub async fn notify_changed(b: &Backend, reg: &Registry) {
    match reg.snapshot().await {
        Ok(roots) => *b.shared.roots.write() = roots,
        Err(e) => tracing::warn!("workspace snapshot: {e}"),
    }
    b.shared.invalidate_configs();
    let editor = b.shared.settings.read().clone();
    let (list, active) = match (reg.list(&editor).await, reg.active().await) {
        (Ok(list), Ok(active)) => (list, active.name),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("listing workspaces: {e}");
            return;
        }
    };
    b.client
        .send_notification::<WorkspacesChanged>(WorkspacesChangedParams {
            workspaces: list,
            active,
        })
        .await;
}

/// `warden/workspaces`: every known workspace, `default` first.
pub async fn workspaces(b: &Backend, _: serde_json::Value) -> Result<Vec<WorkspaceInfo>> {
    let reg = b.registry()?.lock().await;
    let editor = b.shared.settings.read().clone();
    reg.list(&editor).await.map_err(store_error)
}

/// `warden/workspaceFor {uri}`: the workspace a file belongs to.
pub async fn workspace_for(b: &Backend, params: UriParams) -> Result<WorkspaceInfo> {
    let uri: Uri = params
        .uri
        .parse()
        .map_err(|_| invalid(format!("{:?} is not a valid URI", params.uri)))?;
    let path = uri.to_file_path().map(|p| p.into_owned());
    let reg = b.registry()?.lock().await;
    let row = reg
        .workspace_for(path.as_deref())
        .await
        .map_err(store_error)?;
    let editor = b.shared.settings.read().clone();
    Ok(reg.info(&row, &editor))
}
