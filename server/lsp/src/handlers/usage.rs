//! Read-only LLM requests: `warden/snapshot` (a workspace as Markdown for LLM context,
//! cached until HEAD or the work tree changes), `warden/usage` (tokens, cache-hit rate
//! and cost grouped by model, day or action, since a time in any UTC offset or a date)
//! and `warden/interactions` (paged history). Both read through the store's owner
//! thread, after every interaction row written before them (the LLM actions write theirs
//! before they answer).

use std::path::PathBuf;

use time::format_description::well_known::Rfc3339;
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
    let since = p.since.as_deref().map(since_utc).transpose()?;
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

/// `since` as the store compares it (text against UTC times `YYYY-MM-DDTHH:MM:SS.mmmZ`):
/// an RFC 3339 time in any offset, with or without fractions, becomes that UTC form, so
/// `2026-11-21T10:00:00+02:00` means 08:00 UTC and not 10:00; a date (`2026-11-21`,
/// midnight UTC) stays as it is.
fn since_utc(since: &str) -> Result<String> {
    let s = since.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(warden_trace::format_rfc3339(t));
    }
    if let Ok(d) = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")) {
        return Ok(d.to_string());
    }
    Err(invalid(format!(
        "since: {since:?} is neither an RFC 3339 time (2026-11-21T09:30:00Z, 2026-11-21T10:30:00+01:00) nor a date (2026-11-21)"
    )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_becomes_utc_in_the_stored_form() {
        let utc = |s: &str| since_utc(s).unwrap();
        assert_eq!(utc("2026-11-21T10:00:00+02:00"), "2026-11-21T08:00:00.000Z");
        assert_eq!(utc("2026-11-21T23:30:00-01:00"), "2026-11-22T00:30:00.000Z");
        assert_eq!(utc("2026-11-21T08:00:00Z"), "2026-11-21T08:00:00.000Z");
        assert_eq!(
            utc("2026-11-21T08:00:00.123456Z"),
            "2026-11-21T08:00:00.123Z"
        );
        assert_eq!(utc(" 2026-11-21 "), "2026-11-21");
        // The stored form compares as text with the stored times.
        assert!(utc("2026-11-21T10:00:00+02:00").as_str() <= "2026-11-21T08:00:00.000Z");
        for bad in ["yesterday", "2026-13-01", "2026-11-21 08:00", ""] {
            let e = since_utc(bad).unwrap_err();
            assert!(e.message.contains("RFC 3339"), "{bad}: {}", e.message);
        }
    }
}
