//! Keeping the advisory database current:
//! - `packages.osvPaths` are imported at start-up, when the setting changes, and when
//!   their files change (a fingerprint of names, sizes and modification times, polled
//!   every `packages.osvPollSeconds`);
//! - the ecosystems of the manifests checked (and `packages.ecosystems`) are downloaded
//!   from the OSV mirror in the background when their data is older than
//!   `packages.updateHours` (`osv_update`); a failure keeps the old data, is said once
//!   with the data's age, and is retried with backoff; `packages.update: false` and
//!   `WARDEN_OFFLINE=1` turn it off;
//! - the `warden.packages.updateAdvisories` command (the *Download advisories now*
//!   action) downloads at once.
//!
//! Imports and downloads run in background tasks with `$/progress` and a span;
//! afterwards open documents are re-checked.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;
use warden_analysis::packages::Ecosystem;
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

/// The first retry after a failed download (each failure doubles it, up to
/// `packages.updateHours`), which is also how often the background update looks for
/// ecosystems that are due: a minute, or `WARDEN_DEBUG_OSV_RETRY_MS` with
/// `WARDEN_DEBUG_HOOKS=1` (tests).
fn first_retry() -> Duration {
    static RETRY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *RETRY.get_or_init(|| {
        let debug = std::env::var("WARDEN_DEBUG_HOOKS").as_deref() == Ok("1");
        std::env::var("WARDEN_DEBUG_OSV_RETRY_MS")
            .ok()
            .filter(|_| debug)
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(60), Duration::from_millis)
    })
}

/// Ecosystems seen, and the retry state of those whose download failed.
#[derive(Default)]
pub struct UpdateState {
    wanted: BTreeSet<Ecosystem>,
    retry: HashMap<Ecosystem, Retry>,
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    failures: u32,
    next: std::time::Instant,
}

/// Why an update runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Background,
    Command,
}

/// Starts the background update: it listens for the ecosystems of the manifests
/// checked and downloads those that are due.
pub fn start_updater(b: &Backend) {
    let Some(s) = OsvSync::of(b) else { return };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if s.shared.osv_seen.set(tx).is_err() {
        return;
    }
    let tasks = s.shared.tasks.clone();
    let stopping = tasks.stopping();
    tasks.spawn(async move {
        loop {
            let mut seen = BTreeSet::new();
            tokio::select! {
                got = rx.recv() => match got {
                    Some(eco) => { seen.insert(eco); }
                    None => return,
                },
                () = tokio::time::sleep(first_retry()) => {}
                () = stopping.cancelled() => return,
            }
            while let Ok(eco) = rx.try_recv() {
                seen.insert(eco);
            }
            let due = {
                let mut state = s.shared.osv_updates.lock().await;
                state.wanted.extend(seen);
                s.due(&state).await
            };
            if !due.is_empty() {
                s.download(due, false, Trigger::Background, stopping.child_token())
                    .await;
            }
        }
    });
}

/// `warden.packages.updateAdvisories {ecosystems?, full?}`: downloads now, in the
/// background; returns the progress token.
pub fn update_now(b: &Backend, ecosystems: Vec<Ecosystem>, full: bool) -> Result<String, String> {
    if warden_config::offline() {
        return Err("WARDEN_OFFLINE is set: warden downloads nothing".into());
    }
    let s = OsvSync::of(b).ok_or("no database is open, so there is nowhere to store advisories")?;
    let token = format!("warden/osv/{}", uuid::Uuid::now_v7());
    let cancel = CancellationToken::new();
    let registered = s.shared.tasks.register(vec![token.clone()], &cancel);
    let tasks = s.shared.tasks.clone();
    let t = token.clone();
    tasks.spawn(async move {
        let _registered = registered;
        let ecosystems = if ecosystems.is_empty() {
            s.shared.osv_updates.lock().await.wanted.iter().copied().collect()
        } else {
            ecosystems
        };
        if ecosystems.is_empty() {
            s.client
                .show_message(
                    MessageType::INFO,
                    "warden: no manifest seen yet, so no ecosystem to download advisories for; name one (PyPI, npm, crates.io, Go)",
                )
                .await;
            return;
        }
        s.download_with_token(ecosystems, full, Trigger::Command, cancel, &t)
            .await;
    });
    Ok(token)
}

impl OsvSync {
    /// The wanted ecosystems whose data is older than `packages.updateHours` and that
    /// are not waiting for a retry; none when updates are off.
    async fn due(&self, state: &UpdateState) -> Vec<Ecosystem> {
        let settings = self.settings();
        if !settings.update || warden_config::offline() {
            return Vec::new();
        }
        let configured = settings.ecosystems.iter().filter_map(|n| {
            Ecosystem::ALL
                .into_iter()
                .find(|e| e.as_str().eq_ignore_ascii_case(n))
        });
        let wanted: BTreeSet<Ecosystem> = state.wanted.iter().copied().chain(configured).collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        // Due by the last check against the mirror (not by imports: records of other
        // ecosystems' archives or an old local copy say nothing about this mirror).
        let store = self.store.clone();
        let mirror = crate::osv_update::redact_url(&settings.mirror());
        let ages: HashMap<Ecosystem, time::OffsetDateTime> = store
            .call(|c| warden_store::advisories::sources(c))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.base_url == mirror)
            .filter_map(|s| {
                let at = time::OffsetDateTime::parse(
                    &s.checked_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?;
                Some((Ecosystem::parse(&s.ecosystem)?, at))
            })
            .collect();
        let now = time::OffsetDateTime::now_utc();
        let every = time::Duration::hours(update_hours(&settings));
        let instant = std::time::Instant::now();
        wanted
            .into_iter()
            .filter(|e| state.retry.get(e).is_none_or(|r| r.next <= instant))
            .filter(|e| ages.get(e).is_none_or(|&at| now - at >= every))
            .collect()
    }

    async fn download(
        &self,
        ecosystems: Vec<Ecosystem>,
        full: bool,
        trigger: Trigger,
        cancel: CancellationToken,
    ) {
        let token = format!("warden/osv/{}", uuid::Uuid::now_v7());
        let registered = self.shared.tasks.register(vec![token.clone()], &cancel);
        self.download_with_token(ecosystems, full, trigger, cancel, &token)
            .await;
        drop(registered);
    }

    /// Downloads (one update at a time), reports progress under `token`, keeps the
    /// retry state, says what failed, and re-checks open documents.
    async fn download_with_token(
        &self,
        ecosystems: Vec<Ecosystem>,
        full: bool,
        trigger: Trigger,
        cancel: CancellationToken,
        token: &str,
    ) {
        let mut state = self.shared.osv_updates.lock().await;
        let settings = self.settings();
        let opts = crate::osv_update::Options {
            mirror: settings.mirror(),
            ecosystems: ecosystems.clone(),
            max_download_bytes: settings.max_download_mb.saturating_mul(1 << 20),
            timeout: Duration::from_secs(settings.download_timeout_seconds.max(1)),
            cache_dir: crate::osv_update::cache_dir(&self.store),
            full,
        };
        let names: Vec<&str> = ecosystems.iter().map(|e| e.as_str()).collect();
        let reporter = Reporter::begin(
            &self.client,
            self.progress,
            token,
            &format!("warden: downloading {} advisories", names.join(", ")),
            true,
        )
        .await;
        let reporter = Arc::new(reporter);
        let (tx, mut rx) = tokio::sync::watch::channel(None::<crate::osv_update::Progress>);
        let forward = {
            let reporter = reporter.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let Some(p) = rx.borrow_and_update().clone() else {
                        continue;
                    };
                    let pct = p
                        .total
                        .filter(|&t| t > 0)
                        .map_or(0, |t| (p.done * 100 / t) as u32);
                    reporter.report(p.message, pct).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let progress = move |p: crate::osv_update::Progress| {
            let _ = tx.send(Some(p));
        };
        let report =
            crate::osv_update::update_traced(&self.store, &self.tracer, &opts, &progress, &cancel)
                .await;
        drop(progress);
        let _ = forward.await;
        let ages = {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || crate::packages::advisory_ages(&store))
                .await
                .unwrap_or_default()
        };
        let mut failed = Vec::new();
        for e in &report.ecosystems {
            let Some(eco) = Ecosystem::parse(&e.ecosystem) else {
                continue;
            };
            match &e.error {
                None => {
                    state.retry.remove(&eco);
                }
                Some(err) => {
                    let r = state.retry.entry(eco).or_insert(Retry {
                        failures: 0,
                        next: std::time::Instant::now(),
                    });
                    r.failures += 1;
                    let cap = Duration::from_secs(update_hours(&settings) as u64 * 3600);
                    let wait = first_retry()
                        .saturating_mul(1 << (r.failures - 1).min(16))
                        .min(cap);
                    r.next = std::time::Instant::now() + wait;
                    // Said once per run of failures (and every time the user asked).
                    if r.failures == 1 || trigger == Trigger::Command {
                        failed.push(failure_message(eco, err, ages.get(&eco), wait, trigger));
                    }
                }
            }
        }
        drop(state);
        let ok = report
            .ecosystems
            .iter()
            .filter(|e| e.error.is_none())
            .count();
        let reporter = Arc::try_unwrap(reporter).ok();
        if let Some(r) = reporter {
            r.end(report.summary()).await;
        }
        if ok > 0 {
            // The data, or at least its age, changed: re-check open documents.
            super::documents::reanalyze_all(&self.shared, &self.client);
        }
        if trigger == Trigger::Command && failed.is_empty() {
            self.client
                .show_message(
                    MessageType::INFO,
                    format!("warden: advisories updated: {}", report.summary()),
                )
                .await;
        }
        for message in failed {
            self.client
                .show_message(MessageType::WARNING, message)
                .await;
        }
    }
}

/// `packages.updateHours`, between 1 hour and a year.
fn update_hours(settings: &warden_config::PackagesSettings) -> i64 {
    settings.update_hours.clamp(1, 24 * 366) as i64
}

/// What the user reads when a download fails: which data, why, what is kept, and when
/// it is tried again.
fn failure_message(
    eco: Ecosystem,
    error: &str,
    age: Option<&time::OffsetDateTime>,
    retry: Duration,
    trigger: Trigger,
) -> String {
    let kept = match age {
        Some(&at) => {
            let days = (time::OffsetDateTime::now_utc() - at).whole_days();
            let when = match days {
                0 => "today".to_owned(),
                1 => "yesterday".to_owned(),
                d => format!("{d} days ago"),
            };
            format!("the {} data from {when} is kept", eco.as_str())
        }
        None => format!(
            "there is no {} data yet, so its packages are not checked",
            eco.as_str()
        ),
    };
    let again = match trigger {
        Trigger::Background => format!("; trying again in {} min", retry.as_secs().div_ceil(60)),
        Trigger::Command => String::new(),
    };
    format!(
        "warden: cannot download {} advisories ({error}): {kept}{again}",
        eco.as_str()
    )
}
