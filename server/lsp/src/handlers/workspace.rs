//! Workspace folders and the `warden/workspaces`, `warden/workspaceFor` requests.
//! Folder changes run as an `index` span and end with `warden/workspacesChanged`.

use std::path::PathBuf;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

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

/// Applies folder additions and removals (one `index` span), shows warnings and errors,
/// and publishes the new workspace list.
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
    let change = reg.change_folders(&b.tracer, added, removed).await;
    for w in change.warnings {
        b.client.show_message(MessageType::WARNING, w).await;
    }
    if !change.errors.is_empty() {
        let message = format!(
            "warden could not register folders: {}",
            change.errors.join("; ")
        );
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
    let editor = b.shared.editor().raw.clone();
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
    let editor = b.shared.editor().raw.clone();
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
    let editor = b.shared.editor().raw.clone();
    Ok(reg.info(&row, &editor))
}
