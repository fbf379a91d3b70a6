//! `workspace/symbol` and `warden/search` over the workspace index (`crate::search`),
//! and keeping the index current for open documents: a buffer's text is indexed half a
//! second after its last change (so search finds what the editor shows), and a saved
//! or closed file is indexed from disk again. The workspace scan indexes the rest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::{internal, invalid};
use crate::documents::Encoding;
use crate::lsp_ext::{SearchMatch, SearchParams, SearchResult};
use crate::search;
use crate::server::Backend;
use crate::shared::{OpenRoot, Shared};

/// How long a document must be left alone before its buffer is indexed: indexing a
/// large file costs tens of milliseconds of CPU, which must not compete with the
/// analysis of the next keystroke.
const SETTLE: Duration = Duration::from_millis(1500);

/// At most this many symbols answer one `workspace/symbol` request.
const SYMBOL_LIMIT: usize = 256;

/// The open root owning `path`.
fn owner(shared: &Shared, path: &Path) -> Option<OpenRoot> {
    shared.roots.read().owner(path).cloned()
}

/// `path` relative to `root`, `/`-separated.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// After a change: indexes the buffer once it has been left alone for [`SETTLE`].
pub fn document_changed(shared: &Arc<Shared>, uri: &str) {
    let generation = {
        let mut pending = shared.search_edits.lock();
        let g = pending.entry(uri.to_owned()).or_default();
        *g += 1;
        *g
    };
    let (shared2, uri) = (shared.clone(), uri.to_owned());
    shared.tasks.spawn(async move {
        tokio::time::sleep(SETTLE).await;
        if shared2.search_edits.lock().get(&uri) != Some(&generation) {
            return; // changed again meanwhile: that change's task indexes it
        }
        let shared3 = shared2.clone();
        let _ = shared2
            .tasks
            .spawn_blocking(move || index_buffer(&shared3, &uri))
            .await;
    });
}

fn index_buffer(shared: &Shared, uri: &str) {
    // The document's own tree (kept current by its analysis) when it matches the text.
    let Some((text, path, tree)) = shared
        .docs
        .lock()
        .get(uri)
        .and_then(|d| Some((d.text.clone(), d.path.clone()?, d.tree.clone())))
    else {
        return;
    };
    let (Some(store), Some(root)) = (shared.store.get(), owner(shared, &path)) else {
        return;
    };
    let Some(rel) = relative(&root.root, &path) else {
        return;
    };
    let cfg = shared.scan_config(Some(&root.root));
    let entry = search::entry(&cfg, &path, rel, &text, None, tree.as_ref());
    if let Err(e) = search::put(store, root.workspace_id, &cfg, entry) {
        tracing::warn!("indexing {uri}: {e}");
    }
}

/// After a save or close: the file as it is on disk.
pub fn document_on_disk(shared: &Arc<Shared>, uri: &str) {
    shared.search_edits.lock().remove(uri);
    let Some(path) = uri
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
    else {
        return;
    };
    let shared2 = shared.clone();
    shared.tasks.spawn_blocking(move || {
        let (Some(store), Some(root)) = (shared2.store.get(), owner(&shared2, &path)) else {
            return;
        };
        let cfg = shared2.scan_config(Some(&root.root));
        if let Err(e) = search::refresh_file(store, root.workspace_id, &cfg, &path) {
            tracing::warn!("indexing {}: {e}", path.display());
        }
    });
}

/// Indexes a workspace's files after its scan (the same listing), reporting as it goes.
pub fn update_index(
    shared: &Shared,
    workspace_id: i64,
    root: &Path,
    files: &[PathBuf],
    cancelled: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> Option<search::UpdateStats> {
    let store = shared.store.get()?;
    let open: std::collections::HashSet<PathBuf> = shared
        .docs
        .lock()
        .iter()
        .filter_map(|(_, d)| d.path.clone())
        .collect();
    let cfg = shared.scan_config(Some(root));
    let stats = match search::update(store, workspace_id, &cfg, files, &open, cancelled, progress) {
        Ok(stats) => stats,
        Err(e) => {
            tracing::warn!("indexing {}: {e}", root.display());
            return None;
        }
    };
    // Open documents were left to their buffers: index those of this root now (a
    // document opened before or during the scan has not changed since, so nothing
    // else would).
    let uris: Vec<String> = shared
        .docs
        .lock()
        .iter()
        .filter(|(_, d)| d.path.as_deref().is_some_and(|p| p.starts_with(root)))
        .map(|(u, _)| u.clone())
        .collect();
    for uri in uris {
        index_buffer(shared, &uri);
    }
    Some(stats)
}

/// The open workspaces a request covers: the one named, or all.
fn workspaces(b: &Backend, name: Option<&str>) -> Result<Vec<OpenRoot>> {
    let roots = b.shared.roots.read();
    let mut out: Vec<OpenRoot> = Vec::new();
    for r in &roots.open {
        if name.is_none_or(|n| n == r.name) && !out.iter().any(|o| o.workspace_id == r.workspace_id)
        {
            out.push(r.clone());
        }
    }
    match name {
        Some(n) if out.is_empty() => Err(invalid(format!("no open workspace is named {n:?}"))),
        _ => Ok(out),
    }
}

/// Columns of a byte offset into `line` in the negotiated encoding.
fn column(line: &str, byte: usize, encoding: Encoding) -> u32 {
    let b = byte.min(line.len());
    let head = line.get(..b).unwrap_or(line);
    match encoding {
        Encoding::Utf8 => head.len() as u32,
        Encoding::Utf16 => head.encode_utf16().count() as u32,
    }
}

fn symbol_kind(kind: &str) -> SymbolKind {
    match kind {
        "function" | "macro" => SymbolKind::FUNCTION,
        "method" => SymbolKind::METHOD,
        "class" => SymbolKind::CLASS,
        "struct" => SymbolKind::STRUCT,
        "enum" => SymbolKind::ENUM,
        "interface" | "trait" => SymbolKind::INTERFACE,
        "type" => SymbolKind::TYPE_PARAMETER,
        "constant" => SymbolKind::CONSTANT,
        "module" => SymbolKind::MODULE,
        _ => SymbolKind::VARIABLE,
    }
}

pub async fn workspace_symbol(
    b: &Backend,
    params: WorkspaceSymbolParams,
) -> Result<Option<WorkspaceSymbolResponse>> {
    let Some(store) = b.shared.store.get().cloned() else {
        return Ok(None);
    };
    let open = workspaces(b, None)?;
    let ids = open.iter().map(|r| r.workspace_id).collect();
    let query = params.query;
    let hits = search::symbols(&store, ids, &query, SYMBOL_LIMIT)
        .await
        .map_err(|e| internal(e.to_string()))?;
    let encoding = b.shared.docs.lock().encoding();
    let symbols = hits
        .into_iter()
        .filter_map(|h| {
            let root = open.iter().find(|r| r.workspace_id == h.workspace_id)?;
            let uri = Uri::from_file_path(root.root.join(&h.path))?;
            let s = h.symbol;
            let (start, len) = match encoding {
                Encoding::Utf8 => (s.col8, s.name.len() as u32),
                Encoding::Utf16 => (s.col16, s.name.encode_utf16().count() as u32),
            };
            Some(WorkspaceSymbol {
                kind: symbol_kind(&s.kind),
                tags: None,
                container_name: s.container,
                location: OneOf::Left(Location {
                    uri,
                    range: Range::new(
                        Position::new(s.line, start),
                        Position::new(s.line, start + len),
                    ),
                }),
                name: s.name,
                data: None,
            })
        })
        .collect();
    Ok(Some(WorkspaceSymbolResponse::Nested(symbols)))
}

pub async fn search(b: &Backend, params: SearchParams) -> Result<SearchResult> {
    let started = Instant::now();
    let Some(store) = b.shared.store.get().cloned() else {
        return Err(invalid(
            "search needs the database, which is not open (see the server log)",
        ));
    };
    let open = workspaces(b, params.workspace.as_deref())?;
    let ids = open.iter().map(|r| r.workspace_id).collect();
    let query = search::Query {
        text: params.query,
        regex: params.regex,
        glob: params.glob,
        limit: params.limit.unwrap_or(200).clamp(1, 5000),
        context: params.context.unwrap_or(1).min(10),
    };
    let found = search::search(&store, ids, &query).await.map_err(invalid)?;
    let encoding = b.shared.docs.lock().encoding();
    let results = found
        .hits
        .into_iter()
        .filter_map(|h| {
            let root = open.iter().find(|r| r.workspace_id == h.workspace_id)?;
            let uri = Uri::from_file_path(root.root.join(&h.path))?;
            let ranges: Vec<Range> = h
                .matches
                .iter()
                .map(|&(s, e)| {
                    Range::new(
                        Position::new(h.line, column(&h.text, s, encoding)),
                        Position::new(h.line, column(&h.text, e, encoding)),
                    )
                })
                .collect();
            Some(SearchMatch {
                workspace: root.name.clone(),
                uri: uri.as_str().to_owned(),
                path: h.path,
                range: *ranges.first()?,
                ranges,
                text: h.text,
                before: h.before,
                after: h.after,
            })
        })
        .collect();
    Ok(SearchResult {
        results,
        truncated: found.truncated,
        files_searched: found.files_searched,
        indexed: found.indexed,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
