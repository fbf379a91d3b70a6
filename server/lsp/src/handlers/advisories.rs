//! Keeping the advisory database in step with the `packages.osvPaths` setting: the
//! paths are imported at start-up, when the setting changes, and when their files
//! change (a fingerprint of names, sizes and modification times, polled every
//! `packages.osvPollSeconds`). Imports run one at a time in a background task with
//! `$/progress` and an `index` span; afterwards open documents are re-checked.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;
use warden_store::Store;
use warden_trace::{SpanKind, Tracer};

use crate::progress::Reporter;
use crate::server::Backend;
use crate::shared::Shared;

/// What a background import needs (cheap to clone into tasks).
#[derive(Clone)]
struct OsvSync {
    client: Client,
    shared: Arc<Shared>,
    tracer: Tracer,
    store: Store,
    progress: bool,
}

impl OsvSync {
    fn of(b: &Backend) -> Option<OsvSync> {
        Some(OsvSync {
            client: b.client.clone(),
            shared: b.shared.clone(),
            tracer: b.tracer.clone(),
            store: b.store.get()?.clone(),
            progress: b.flags().work_done_progress,
        })
    }

    fn settings(&self) -> warden_config::PackagesSettings {
        self.shared.editor().settings.packages.clone()
    }

    /// The configured paths: `~/` expanded, relative ones against the first folder.
    fn paths(&self) -> Vec<PathBuf> {
        let base = self
            .shared
            .roots
            .read()
            .open
            .first()
            .map(|r| r.root.clone())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        self.settings()
            .osv_paths
            .iter()
            .map(|p| match p.strip_prefix("~/") {
                Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
                None => base.join(p),
            })
            .collect()
    }

    /// Imports the paths if they changed since the last import.
    async fn run(&self) {
        let paths = self.paths();
        let mut last = self.shared.osv_fingerprint.lock().await;
        if paths.is_empty() {
            *last = None;
            return;
        }
        let probe = paths.clone();
        let Ok(fp) = tokio::task::spawn_blocking(move || fingerprint(&probe)).await else {
            return;
        };
        if *last == Some(fp) {
            return;
        }
        let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let mut span = self
            .tracer
            .start(SpanKind::Index, "osv.import")
            .input(json!({ "paths": listed }))
            .begin();
        let token = format!("warden/osv/{}", uuid::Uuid::now_v7());
        let progress = Reporter::begin(
            &self.client,
            self.progress,
            &token,
            "warden: importing OSV advisories",
            false,
        )
        .await;
        match crate::osv_import::import(&self.store, &paths).await {
            Ok(report) => {
                *last = Some(fp);
                let counts: u64 = report
                    .by_ecosystem
                    .values()
                    .map(|c| c.added + c.updated)
                    .sum();
                let summary = format!(
                    "{} files, {counts} advisories added or updated, {} problems",
                    report.files, report.invalid
                );
                span.set_output(serde_json::to_value(&report).unwrap_or_default());
                span.ok();
                progress.end(summary.clone()).await;
                if !report.problems.is_empty() {
                    self.client
                        .show_message(
                            MessageType::WARNING,
                            format!(
                                "warden: OSV import: {summary}: {}",
                                report.problems.join("; ")
                            ),
                        )
                        .await;
                }
                super::documents::reanalyze_all(&self.shared, &self.client);
            }
            Err(e) => {
                // Remembered too, so the poll warns again only when something changes.
                *last = Some(fp);
                let message = format!("warden: cannot import packages.osvPaths: {e}");
                span.fail(e);
                progress.end(message.clone()).await;
                self.client
                    .show_message(MessageType::WARNING, message)
                    .await;
            }
        }
    }
}

/// Imports `packages.osvPaths` in the background if they changed.
pub fn sync(b: &Backend) {
    if let Some(s) = OsvSync::of(b) {
        let tasks = s.shared.tasks.clone();
        tasks.spawn(async move { s.run().await });
    }
}

/// Starts the poll that re-imports `packages.osvPaths` when their files change.
pub fn start_polling(b: &Backend) {
    let Some(s) = OsvSync::of(b) else { return };
    let tasks = s.shared.tasks.clone();
    let stopping = tasks.stopping();
    tasks.spawn(async move {
        loop {
            let every = s.settings().osv_poll_seconds;
            let wait = Duration::from_secs(if every == 0 { 60 } else { every });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopping.cancelled() => return,
            }
            if every > 0 && !s.settings().osv_paths.is_empty() {
                s.run().await;
            }
        }
    });
}

/// A hash of the names, sizes and modification times of the files to import.
fn fingerprint(paths: &[PathBuf]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for path in paths {
        path.hash(&mut h);
        for file in crate::osv_import::batches(path).unwrap_or_default() {
            file.hash(&mut h);
            stamp(&file).hash(&mut h);
        }
    }
    h.finish()
}

fn stamp(file: &Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(file).ok()?;
    Some((m.modified().ok()?, m.len()))
}
