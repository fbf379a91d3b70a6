//! Read-only LLM requests: `warden/snapshot` (a workspace as Markdown for LLM context,
//! cached until HEAD or the work tree changes), `warden/usage` (tokens, cache-hit rate
//! and cost grouped by model, day or action) and `warden/interactions` (paged history).

use std::path::PathBuf;

use tower_lsp_server::jsonrpc::Result;
use warden_store::WorkspaceRow;
use warden_store::llm::{self, GroupBy, UsageRow};

use super::{internal, invalid, store_error};
use crate::lsp_ext::*;
use crate::server::Backend;

async fn workspace(b: &Backend, name: Option<&str>) -> Result<WorkspaceRow> {
    let reg = b.registry()?.lock().await;
    match name {
        Some(n) => reg.by_name(n).await,
        None => reg.active().await,
    }
    .map_err(store_error)
}

fn store(b: &Backend) -> Result<warden_store::Store> {
    b.store
        .get()
        .cloned()
        .ok_or_else(|| invalid("the server is not initialized"))
}

pub async fn snapshot(b: &Backend, p: SnapshotParams) -> Result<SnapshotResult> {
    let row = workspace(b, p.workspace.as_deref()).await?;
    let root = PathBuf::from(row.root.clone().ok_or_else(|| {
        invalid(format!(
            "workspace {} has no folder on this machine to snapshot",
            row.name
        ))
    })?);
    let shared = b.shared.clone();
    let name = row.name.clone();
    let max = p.max_tokens;
    let (snap, cached) = tokio::task::spawn_blocking(move || {
        let cfg = shared.scan_config(Some(&root));
        let exclude = crate::snapshot::exclude_set(&cfg.llm.exclude);
        shared.snapshots.get_or_build(&root, max, || {
            crate::snapshot::build(&root, &name, &cfg.rules, &exclude, cfg.max_file_size, max)
        })
    })
    .await
    .map_err(|e| internal(e.to_string()))?;
    Ok(SnapshotResult {
        workspace: row.name,
        snapshot: (*snap).clone(),
        cached,
    })
}

pub async fn usage(b: &Backend, p: UsageParams) -> Result<UsageResult> {
    let id = match &p.workspace {
        Some(n) => Some(workspace(b, Some(n)).await?.id),
        None => None,
    };
    let group = p.group_by.unwrap_or(GroupBy::Model);
    let since = p.since.clone();
    let rows = store(b)?
        .call(move |c| llm::usage(c, id, since.as_deref(), group))
        .await
        .map_err(store_error)?;
    let mut total = UsageRow {
        key: "total".into(),
        ..UsageRow::default()
    };
    for r in &rows {
        total.requests += r.requests;
        total.cache_hits += r.cache_hits;
        total.tokens_input += r.tokens_input;
        total.tokens_output += r.tokens_output;
        total.tokens_cached += r.tokens_cached;
        total.tokens_reasoning += r.tokens_reasoning;
        total.cost_usd += r.cost_usd;
        total.errors += r.errors;
    }
    if total.requests > 0 {
        total.cache_hit_rate = total.cache_hits as f64 / total.requests as f64;
    }
    Ok(UsageResult { rows, total })
}

pub async fn interactions(b: &Backend, p: InteractionsParams) -> Result<InteractionsResult> {
    let id = match &p.workspace {
        Some(n) => Some(workspace(b, Some(n)).await?.id),
        None => None,
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit must be between 1 and 500"));
    }
    let cursor = match &p.cursor {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| invalid("cursor: pass the nextCursor of the previous page"))?,
        ),
        None => None,
    };
    let (interactions, next) = store(b)?
        .call(move |c| llm::page(c, id, cursor, limit))
        .await
        .map_err(store_error)?;
    Ok(InteractionsResult {
        interactions,
        next_cursor: next.map(|n| n.to_string()),
    })
}
