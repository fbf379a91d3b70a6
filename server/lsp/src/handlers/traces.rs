//! `warden/traces`: stored spans, newest first, with keyset pagination; and
//! `warden/telemetry`: how their export over OTLP goes.

use tower_lsp_server::jsonrpc::Result;
use warden_store::spans::{self, SpanQuery};

use super::{invalid, store_error};
use crate::lsp_ext::{TRACES_DEFAULT_LIMIT, TelemetryResult, TracesParams, TracesResult};
use crate::server::Backend;

pub async fn traces(b: &Backend, params: TracesParams) -> Result<TracesResult> {
    let workspace_id = match &params.workspace {
        Some(name) => {
            let reg = b.registry()?.lock().await;
            Some(reg.by_name(name).await.map_err(store_error)?.id)
        }
        None => None,
    };
    if params.limit == Some(0) {
        return Err(invalid("limit must be between 1 and 500"));
    }
    let query = SpanQuery {
        workspace_id,
        kind: params.kind,
        uri: params.uri,
        parent_id: params.parent_id,
        cursor: params.cursor,
        limit: params.limit.unwrap_or(TRACES_DEFAULT_LIMIT),
    };
    let store = b
        .store
        .get()
        .cloned()
        .ok_or_else(|| invalid("the server is not initialized"))?;
    let page = store
        .call(move |c| spans::query(c, &query))
        .await
        .map_err(store_error)?;
    Ok(TracesResult {
        traces: page.traces,
        next_cursor: page.next_cursor,
    })
}

/// `warden/telemetry`: the exporter's endpoint and counts (all zero when export is off).
pub async fn telemetry(_: &Backend, _: serde_json::Value) -> Result<TelemetryResult> {
    Ok(match crate::telemetry::global().status() {
        None => TelemetryResult::default(),
        Some((endpoint, stats)) => TelemetryResult {
            endpoint: Some(endpoint),
            exported: stats.exported,
            dropped: stats.dropped,
            failures: stats.failures,
            queued: stats.queued as u64,
            last_error: stats.last_error,
        },
    })
}
