//! The package metadata fetcher: lookups that miss (`metadata::Metadata`) are batched
//! here, asked of the metadata API a few at a time and at most 20 a second
//! ([`Client::packages`]), stored, and the open documents re-checked. An answer that
//! fails (offline, a timeout, a 5xx, garbage) is no finding and is not asked again for
//! [`RETRY_AFTER`]; each batch is one `index` span `packages.metadata` with its counts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use warden_trace::SpanKind;

use crate::metadata::{Client, Miss};
use crate::server::Backend;

/// How long misses are collected before a batch is sent.
const GATHER: Duration = Duration::from_millis(100);
/// The most packages asked in one batch (the rest wait for the next).
const BATCH: usize = 64;
/// A package whose answer failed is not asked again before this.
const RETRY_AFTER: Duration = Duration::from_secs(600);

/// Starts the fetcher; lookups send it their misses once it runs.
pub fn start_fetcher(b: &Backend) {
    let Some(store) = b.store.get().cloned() else {
        return;
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Miss>();
    if b.shared.metadata_misses.set(tx).is_err() {
        return;
    }
    let shared = b.shared.clone();
    let client = b.client.clone();
    let tracer = b.tracer.clone();
    let tasks = shared.tasks.clone();
    let stopping = tasks.stopping();
    tasks.spawn(async move {
        let mut failed: HashMap<Miss, Instant> = HashMap::new();
        let mut asked: HashMap<Miss, Instant> = HashMap::new();
        loop {
            let first = tokio::select! {
                got = rx.recv() => match got { Some(m) => m, None => return },
                () = stopping.cancelled() => return,
            };
            tokio::time::sleep(GATHER).await;
            let mut batch = vec![first];
            while let Ok(m) = rx.try_recv() {
                batch.push(m);
            }
            let now = Instant::now();
            failed.retain(|_, at| now.duration_since(*at) < RETRY_AFTER);
            let ttl = Duration::from_secs(
                shared
                    .editor()
                    .settings
                    .packages
                    .metadata_ttl_hours
                    .clamp(1, 24 * 366)
                    * 3600,
            );
            asked.retain(|_, at| now.duration_since(*at) < ttl);
            batch.sort();
            batch.dedup();
            // Answered within the TTL already (a lookup that still misses is one built
            // before the answer was stored) or failing lately.
            batch.retain(|m| !failed.contains_key(m) && !asked.contains_key(m));
            if batch.len() > BATCH {
                // The rest come back with the next lookups.
                batch.truncate(BATCH);
            }
            let settings = shared.editor().settings.packages.clone();
            if batch.is_empty() || warden_config::offline() || !settings.metadata {
                continue;
            }
            let base = settings.metadata_base();
            let timeout = Duration::from_secs(settings.download_timeout_seconds.clamp(1, 60));
            let Ok(api) = Client::new(&base, timeout) else {
                continue;
            };
            let mut span = tracer
                .start(SpanKind::Index, "packages.metadata")
                .input(json!({
                    "api": crate::osv_update::redact_url(&base),
                    "packages": batch.len(),
                }))
                .begin();
            let results: Vec<(Miss, Result<_, String>)> = api.packages(batch).collect().await;
            let (mut stored, mut unknown, mut errors) = (0u64, 0u64, Vec::new());
            for (miss, result) in results {
                match result {
                    Ok(meta) => {
                        if meta == warden_analysis::packages::metadata::PackageMeta::Unknown {
                            unknown += 1;
                        }
                        let body = serde_json::to_string(&meta).unwrap_or_default();
                        let (e, n) = (miss.0.as_str().to_owned(), miss.1.clone());
                        if store
                            .call(move |c| warden_store::metadata::put(c, &e, &n, &body))
                            .await
                            .is_ok()
                        {
                            stored += 1;
                        }
                        asked.insert(miss, Instant::now());
                    }
                    Err(e) => {
                        failed.insert(miss, Instant::now());
                        errors.push(e);
                    }
                }
            }
            span.set_output(json!({
                "stored": stored,
                "unknown": unknown,
                "failed": errors.len(),
                "errors": errors.iter().take(5).collect::<Vec<_>>(),
            }));
            if errors.is_empty() {
                span.ok();
            } else {
                tracing::warn!(
                    "package metadata: {} lookups failed (no finding for them): {}",
                    errors.len(),
                    errors.first().map(String::as_str).unwrap_or("")
                );
                span.fail(format!("{} lookups failed", errors.len()));
            }
            if stored > 0 {
                super::documents::reanalyze_all(&shared, &client);
            }
        }
    });
}
