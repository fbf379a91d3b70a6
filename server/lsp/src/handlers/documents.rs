//! Text document sync (`didOpen`/`didChange`/`didClose`/`didSave`) and watched files.
//! Document edits are applied synchronously, before any await, so they stay in order;
//! each change schedules a background re-analysis. Saving or changing `.warden.toml`
//! or `.warden-baseline.json` reloads the workspace's configuration and re-analyses
//! open documents.

use tower_lsp_server::ls_types::*;
use warden_analysis::secrets::baseline;

use super::analysis;
use crate::documents::{Change, Pos};
use std::sync::Arc;

use tower_lsp_server::Client;

use crate::server::Backend;
use crate::shared::Shared;

fn pos(p: Position) -> Pos {
    Pos {
        line: p.line,
        character: p.character,
    }
}

pub fn did_open(b: &Backend, params: DidOpenTextDocumentParams) {
    let d = params.text_document;
    let uri = d.uri.as_str().to_owned();
    let path = d.uri.to_file_path().map(|p| p.into_owned());
    b.shared
        .docs
        .lock()
        .open(uri.clone(), d.language_id, d.version, d.text, path);
    analysis::analyze_document(b, uri.clone());
    super::worktrees::refresh(&b.shared, &b.client, uri);
}

pub async fn did_change(b: &Backend, params: DidChangeTextDocumentParams) {
    let changes = params
        .content_changes
        .into_iter()
        .map(|c| Change {
            range: c.range.map(|r| (pos(r.start), pos(r.end))),
            text: c.text,
        })
        .collect();
    let uri = params.text_document.uri.as_str().to_owned();
    let changed = b
        .shared
        .docs
        .lock()
        .change(&uri, params.text_document.version, changes);
    if changed {
        // A changed file no longer matches the run that failed.
        b.shared.run_diagnostics.lock().remove(&uri);
        super::search::document_changed(&b.shared, &uri);
        analysis::document_changed(b, uri).await;
    } else {
        tracing::warn!("didChange for {uri} which is not open; ignored");
    }
}

pub fn did_close(b: &Backend, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    b.shared.docs.lock().close(uri.as_str());
    super::worktrees::forget(&b.shared, uri.as_str());
    super::search::document_on_disk(&b.shared, uri.as_str());
    analysis::document_closed(b, uri);
    // The document's text and syntax tree are freed: give the pages back.
    crate::memory::release_soon(&b.shared.tasks);
}

pub async fn did_save(b: &Backend, params: DidSaveTextDocumentParams) {
    let uri = params.text_document.uri;
    analysis::persist_document(b, uri.as_str()).await;
    super::worktrees::refresh(&b.shared, &b.client, uri.as_str().to_owned());
    super::search::document_on_disk(&b.shared, uri.as_str());
    config_file_touched(b, &uri).await;
}

pub async fn did_change_watched_files(b: &Backend, params: DidChangeWatchedFilesParams) {
    for change in params.changes {
        config_file_touched(b, &change.uri).await;
    }
}

async fn config_file_touched(b: &Backend, uri: &Uri) {
    let Some(path) = uri.to_file_path() else {
        return;
    };
    let name = path.file_name().and_then(|n| n.to_str());
    let lockfile = name.and_then(warden_analysis::packages::lock::LockKind::of);
    if name == Some(baseline::FILE_NAME) || lockfile.is_some() {
        reanalyze_open_documents(b);
        return;
    }
    if name != Some(warden_config::FILE_NAME) {
        return;
    }
    let Ok(registry) = b.registry() else { return };
    let mut reg = registry.lock().await;
    if let Some(warnings) = reg.config_file_changed(&path).await {
        for w in warnings {
            b.client.show_message(MessageType::WARNING, w).await;
        }
        super::workspace::notify_changed(b, &reg).await;
        drop(reg);
        reanalyze_open_documents(b);
    }
}

/// Drops cached scan configurations and re-analyses every open document.
pub fn reanalyze_open_documents(b: &Backend) {
    reanalyze_all(&b.shared, &b.client);
}

/// [`reanalyze_open_documents`] for tasks that hold the shared state.
pub fn reanalyze_all(shared: &Arc<Shared>, client: &Client) {
    shared.invalidate_configs();
    // Roots without open documents report their `.warden.toml` state too.
    super::trust::refresh_open_roots(shared);
    let uris: Vec<String> = shared.docs.lock().iter().map(|(u, _)| u.clone()).collect();
    for uri in uris {
        analysis::analyze_in_background(shared.clone(), client.clone(), uri);
    }
}
