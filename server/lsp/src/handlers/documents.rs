//! Text document sync (`didOpen`/`didChange`/`didClose`/`didSave`) and watched files.
//! Document edits are applied synchronously, before any await, so they stay in order.
//! Saving or changing a `.warden.toml` reloads that workspace's settings overlay.

use tower_lsp_server::ls_types::*;

use crate::documents::{Change, Pos};
use crate::server::Backend;

fn pos(p: Position) -> Pos {
    Pos {
        line: p.line,
        character: p.character,
    }
}

pub fn did_open(b: &Backend, params: DidOpenTextDocumentParams) {
    let d = params.text_document;
    b.docs
        .lock()
        .open(d.uri.as_str().to_owned(), d.language_id, d.version, d.text);
}

pub fn did_change(b: &Backend, params: DidChangeTextDocumentParams) {
    let changes = params
        .content_changes
        .into_iter()
        .map(|c| Change {
            range: c.range.map(|r| (pos(r.start), pos(r.end))),
            text: c.text,
        })
        .collect();
    let uri = params.text_document.uri;
    if !b
        .docs
        .lock()
        .change(uri.as_str(), params.text_document.version, changes)
    {
        tracing::warn!("didChange for {} which is not open; ignored", uri.as_str());
    }
}

pub fn did_close(b: &Backend, params: DidCloseTextDocumentParams) {
    b.docs.lock().close(params.text_document.uri.as_str());
}

pub async fn did_save(b: &Backend, params: DidSaveTextDocumentParams) {
    config_file_touched(b, &params.text_document.uri).await;
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
    if path.file_name().and_then(|n| n.to_str()) != Some(warden_config::FILE_NAME) {
        return;
    }
    let Ok(registry) = b.registry() else { return };
    let mut reg = registry.lock().await;
    if let Some(warnings) = reg.config_file_changed(&path).await {
        for w in warnings {
            b.client.show_message(MessageType::WARNING, w).await;
        }
        super::workspace::notify_changed(b, &reg).await;
    }
}
