//! Diagnostics: open documents are re-analysed on every change in a background task
//! (incremental tree-sitter parse, secrets, shell patterns), published only if the
//! document has not changed since; workspace scans run in the background over every
//! file git tracks or would track, with cancellable `$/progress`, as a `scan` span.
//! Also `warden/findings` and `window/workDoneProgress/cancel`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Uri, WorkDoneProgressCancelParams};
use warden_analysis::secrets::Tracked;
use warden_analysis::{FindingKind, Lang};
use warden_store::findings::{self, FindingRow};
use warden_store::scanned::{self, ScannedFile};
use warden_trace::{SpanKind, Tracer, WorkspaceRef};

use super::{invalid, store_error};
use crate::diagnostics::{FileFindings, FindingInfo};
use crate::documents::Encoding;
use crate::judge::Io;
use crate::progress::Reporter;
use crate::scanner::{FileResult, ScanConfig, Summary};
use crate::server::Backend;
use crate::shared::Shared;

/// Analyses the open document `uri` in the background and publishes its diagnostics,
/// unless it changed meanwhile.
///
/// At most one analysis per document is in flight, and it always takes the newest
/// version: a change arriving while one runs marks the document dirty (and cancels the
/// running re-parse, which would be thrown away), and the same task goes round again
/// when it is done. So a burst of edits costs one analysis at a time per document, not
/// one per edit, and the last edit is analysed as soon as the previous pass ends.
///
/// Each pass has two phases. When the document already has a tree, it has been
/// `Tree::edit`ed with the changes, so analysing against it needs no parse, and the
/// secrets of the last full analysis have been kept through the same edits, so only
/// the edited lines are scanned for secrets again; this first phase is published at
/// once (syntax and shell positions are shifted by the edit). Then the incremental
/// re-parse runs, the syntax, shell and import checks run again on the fresh tree (the
/// first phase's secrets are exact and reused), and the diagnostics are published again
/// only if they differ. After an edit, [`document_changed`] runs the first phase in the
/// handler itself when it is small.
pub fn analyze_document(b: &Backend, uri: String) {
    analyze_in_background(b.shared.clone(), b.client.clone(), uri);
}

/// After an edit: the first phase right here, on the thread that applied the edit, when
/// it is small (the text up to [`INLINE_QUICK_MAX`], a tree to edit, a configuration
/// already built), published without waiting for a re-parse in flight and without a
/// hand-off to another thread (waking an idle thread costs more than the work, up to
/// milliseconds on an idle machine); then the background pass for the rest. At most once
/// per [`INLINE_PACE`] per document: in a burst the background pass coalesces.
pub async fn document_changed(b: &Backend, uri: String) {
    let shared = &b.shared;
    // In a burst (edits faster than a typist's) only the newest version matters: the
    // background pass takes it.
    let now = Instant::now();
    let due = shared.docs.lock().get_mut(&uri).is_some_and(|d| {
        let due = d
            .first_phase_at
            .is_none_or(|t| now.duration_since(t) >= INLINE_PACE);
        if due {
            d.first_phase_at = Some(now);
        }
        due
    });
    let quick = due
        .then(|| snapshot(shared, &uri))
        .flatten()
        .filter(|s| s.tree.is_some() && inline_first_phase(shared, s));
    if let Some(snap) = quick
        && let Some(file) = first_phase(shared, &uri, &snap)
    {
        publish(shared, &b.client, &uri, snap.version, &file).await;
    }
    analyze_in_background(shared.clone(), b.client.clone(), uri);
}

/// [`analyze_document`] for tasks that hold the shared state rather than the backend.
pub fn analyze_in_background(shared: Arc<Shared>, client: Client, uri: String) {
    let cancel = {
        let mut running = shared.analyses.lock();
        if let Some(slot) = running.get_mut(&uri) {
            slot.dirty = true;
            slot.cancel.set();
            return;
        }
        let cancel = Arc::new(Cancel::default());
        running.insert(
            uri.clone(),
            AnalysisSlot {
                dirty: false,
                cancel: cancel.clone(),
            },
        );
        cancel
    };
    let tasks = shared.tasks.clone();
    tasks.spawn(async move {
        let mut cancel = cancel;
        loop {
            analyse_once(&shared, &client, &uri, &cancel).await;
            let mut running = shared.analyses.lock();
            match running.get_mut(&uri) {
                Some(slot) if slot.dirty => {
                    slot.dirty = false;
                    slot.cancel = Arc::new(Cancel::default());
                    cancel = slot.cancel.clone();
                }
                _ => {
                    running.remove(&uri);
                    return;
                }
            }
        }
    });
}

/// The least time between two first phases run in the edit's handler for one document:
/// far below the time between a typist's keystrokes, far above the time between the
/// edits of a burst (a formatter, a multi-cursor edit, a script), whose first phases
/// would otherwise hold the message loop 0.7 ms each.
const INLINE_PACE: Duration = Duration::from_millis(5);

/// Texts up to this size get the first phase of their analysis on the thread that
/// applied the edit (about 1 ms for 400 KB of Python); larger ones on the blocking pool.
const INLINE_QUICK_MAX: usize = 512 * 1024;

/// How long the re-parse waits after the first phase was published. On two cores, a
/// re-parse starting at once (10-20 ms of CPU for a 10,000-line file) competed with the
/// editor reading the publish: edit p90 4-5 ms, p99 5.5-12 ms; with this wait p90 1.7 ms
/// and p99 2 ms (`cargo bench -p warden-lsp --bench edit_latency`).
const REPARSE_SETTLE: Duration = Duration::from_millis(10);

/// The secrets of a document's last full analysis and the configuration they were
/// found with (see [`crate::documents::Document::secrets`]).
type KeptSecrets = (Arc<ScanConfig>, Tracked);

/// The analysis in flight for one document.
pub struct AnalysisSlot {
    /// A change arriving after the pass started: go round again.
    dirty: bool,
    /// Set when the pass's result would be thrown away (its re-parse stops).
    cancel: Arc<Cancel>,
}

/// A pass's cancellation: a flag its re-parse polls, and a wake-up for its wait before
/// the re-parse.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    wake: tokio::sync::Notify,
}

impl Cancel {
    fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// Whether the first phase is small enough to run on the calling thread: the text up to
/// [`INLINE_QUICK_MAX`] and its configuration already built.
fn inline_first_phase(shared: &Shared, snap: &Snapshot) -> bool {
    snap.text.len() <= INLINE_QUICK_MAX && shared.scan_config_built(snap.path.as_deref())
}

/// What a pass reads of a document's current version.
#[derive(Clone)]
struct Snapshot {
    text: Arc<String>,
    version: i32,
    lang: Lang,
    path: Option<PathBuf>,
    /// The last parse, edited since; `None` without a grammar or above the size limit.
    tree: Option<tree_sitter::Tree>,
    secrets: Option<KeptSecrets>,
    encoding: Encoding,
    /// The first phase of this version was published already (by the edit's handler).
    first_phase_done: bool,
}

fn snapshot(shared: &Shared, uri: &str) -> Option<Snapshot> {
    let docs = shared.docs.lock();
    let d = docs.get(uri)?;
    // A document above `scan.maxFileSize` (a minified bundle, a data dump) gets the
    // line-based checks only: a syntax tree of it costs gigabytes and says nothing.
    let oversized = d.text.len() as u64 > shared.editor().settings.scan.max_file_size;
    let lang = if oversized { Lang::Other } else { d.lang };
    Some(Snapshot {
        text: Arc::new(d.text.clone()),
        version: d.version,
        lang,
        path: d.path.clone(),
        tree: d.tree.clone().filter(|_| lang.grammar().is_some()),
        secrets: d.secrets.clone(),
        encoding: docs.encoding(),
        first_phase_done: d.first_phase == Some(d.version),
    })
}

/// One analysis of the snapshot's text against `tree`. With the secrets of the last
/// analysis kept through the edits since (valid under the same configuration only),
/// only the edited lines are scanned for secrets. Also returns the secrets to keep
/// through the next edits (exact for this text either way, see `RuleSet::rescan`).
fn analyse(
    shared: &Shared,
    snap: &Snapshot,
    tree: Option<&tree_sitter::Tree>,
    kept: Option<&KeptSecrets>,
    io: Io,
) -> (FileFindings, KeptSecrets) {
    let path = snap.path.as_deref();
    let cfg = shared.scan_config(path);
    let kept = kept.filter(|(c, _)| Arc::ptr_eq(c, &cfg)).map(|(_, t)| t);
    let mut analysis = cfg.analyze(path, &snap.text, snap.lang, tree, kept, io);
    // Imports of packages the registry does not have: open documents only (the edit's
    // first phase answers from memory: it may not read the store).
    if let (Some(meta), Some(tree), true) = (&cfg.metadata, tree, cfg.checks.packages) {
        let mut unknown =
            crate::packages::unknown_imports(meta, snap.lang, tree, &snap.text, io == Io::Allowed);
        crate::packages::drop_local_imports(&mut unknown, &snap.text, snap.lang, path, &cfg.root);
        let findings = &mut analysis.findings;
        unknown.retain(|u| {
            !findings
                .iter()
                .any(|f| f.start == u.start && f.end == u.end)
        });
        findings.extend(unknown);
        findings.sort_by_key(|f| (f.start, f.end));
    }
    let file = FileFindings::new(
        shared.workspace_of(path),
        path.map(|p| cfg.relative(p)),
        &snap.text,
        analysis.findings,
        snap.encoding,
    );
    (file, (cfg.clone(), Tracked::new(analysis.secrets)))
}

/// The first phase: the snapshot's text against its edited tree (no parse), secrets
/// re-scanned on the edited lines only. Keeps the secrets found for the next edits and
/// for the second phase. `None` without a tree.
fn first_phase(shared: &Shared, uri: &str, snap: &Snapshot) -> Option<FileFindings> {
    let tree = snap.tree.as_ref()?;
    // No process or git lookup here: this may run in the edit's handler.
    let (file, fresh) = analyse(shared, snap, Some(tree), snap.secrets.as_ref(), Io::Cached);
    if let Some(d) = shared
        .docs
        .lock()
        .get_mut(uri)
        .filter(|d| d.version == snap.version)
    {
        d.secrets = Some(fresh);
        d.first_phase = Some(snap.version);
    }
    Some(file)
}

/// One analysis pass over the document's current version (see [`analyze_document`]).
async fn analyse_once(shared: &Arc<Shared>, client: &Client, uri: &str, cancel: &Arc<Cancel>) {
    let Some(mut snap) = snapshot(shared, uri) else {
        return;
    };
    let version = snap.version;
    let published: Option<FileFindings> = if snap.first_phase_done {
        // Published from the edit's handler, which also kept its secrets.
        shared.findings.lock().get(uri).cloned()
    } else if snap.tree.is_some() {
        // Small texts right here (no hand-off); large texts, and configurations still
        // to be built (files to read, rules to compile), on the blocking pool.
        let file = if inline_first_phase(shared, &snap) {
            first_phase(shared, uri, &snap)
        } else {
            let (shared2, uri2, snap2) = (shared.clone(), uri.to_owned(), snap.clone());
            shared
                .tasks
                .spawn_blocking(move || first_phase(&shared2, &uri2, &snap2))
                .await
                .ok()
                .flatten()
        };
        let Some(file) = file else {
            return;
        };
        if !publish(shared, client, uri, version, &file).await {
            return;
        }
        Some(file)
    } else {
        None
    };
    if published.is_some() {
        // Let the editor take in what was just published, and the next keystroke of a
        // burst arrive (which cancels this pass), before the re-parse takes a core.
        tokio::select! {
            () = tokio::time::sleep(REPARSE_SETTLE) => {}
            () = cancel.wake.notified() => {}
        }
    }
    if cancel.is_set() {
        return; // a newer version is waiting: its pass re-parses
    }
    if published.is_some() {
        // The first phase's secrets, exact for this version: nothing left to re-scan.
        let docs = shared.docs.lock();
        match docs.get(uri) {
            Some(d) if d.version == version => snap.secrets = d.secrets.clone(),
            _ => return,
        }
    }
    let shared2 = shared.clone();
    let parse_cancel = cancel.clone();
    let full = move || {
        let tree = match snap.lang.grammar() {
            Some(g) => {
                let tree = warden_analysis::syntax::parse_cancellable(
                    g,
                    &snap.text,
                    snap.tree.as_ref(),
                    &parse_cancel.flag,
                );
                // Cancelled: the next pass parses the newer text.
                tree.as_ref()?;
                tree
            }
            None => None,
        };
        Some((
            analyse(
                &shared2,
                &snap,
                tree.as_ref(),
                snap.secrets.as_ref(),
                Io::Allowed,
            ),
            tree,
        ))
    };
    // After a first phase, on the background pool: its threads yield to the editor and
    // to this server's message loop, so the re-parse never delays the publish the user
    // waits for. Without one (an opened document, full-document sync) this is the
    // publish the user waits for: the blocking pool, at normal priority.
    let reparsed = if published.is_some() {
        shared.tasks.spawn_background(full).await.ok()
    } else {
        shared.tasks.spawn_blocking(full).await.ok()
    };
    let Some(Some(((file, fresh), tree))) = reparsed else {
        return;
    };
    {
        let mut docs = shared.docs.lock();
        match docs.get_mut(uri) {
            Some(d) if d.version == version => {
                d.tree = tree;
                d.secrets = Some(fresh);
            }
            _ => return, // changed or closed meanwhile
        }
    }
    if published.is_none_or(|p| p.findings != file.findings) {
        publish(shared, client, uri, version, &file).await;
    }
}

/// Records and publishes a document's findings if `version` is still current. One
/// publish at a time: a pass that found its version current sends before a newer
/// version's first phase (published from the edit's handler) can, so the client never
/// sees an older version's diagnostics last.
async fn publish(
    shared: &Shared,
    client: &Client,
    uri: &str,
    version: i32,
    file: &FileFindings,
) -> bool {
    let _turn = shared.publishing.lock().await;
    if shared
        .docs
        .lock()
        .get(uri)
        .is_none_or(|d| d.version != version)
    {
        return false;
    }
    shared.findings.lock().set(uri.to_owned(), file.clone());
    if let Ok(parsed) = uri.parse::<Uri>() {
        let mut diagnostics = file.diagnostics(&parsed);
        diagnostics.extend(shared.extra_diagnostics(uri));
        client
            .publish_diagnostics(parsed, diagnostics, Some(version))
            .await;
    }
    true
}

/// Publishes a document's diagnostics again, as they stand: its current findings and
/// the diagnostics from elsewhere ([`Shared::extra_diagnostics`]), for when only the
/// latter changed. Serialized with analysis publishes so versions stay in order.
pub async fn republish(shared: &Shared, client: &Client, uri: &str) {
    let Ok(parsed) = uri.parse::<Uri>() else {
        return;
    };
    let _turn = shared.publishing.lock().await;
    let mut diagnostics = shared
        .findings
        .lock()
        .get(uri)
        .map(|f| f.diagnostics(&parsed))
        .unwrap_or_default();
    diagnostics.extend(shared.extra_diagnostics(uri));
    let version = shared.docs.lock().get(uri).map(|d| d.version);
    client
        .publish_diagnostics(parsed, diagnostics, version)
        .await;
}

/// After `didClose`: the file's diagnostics fall back to what a scan of the file on
/// disk finds (it is part of the workspace), or nothing for files outside it. Nothing
/// is published if the document was opened again meanwhile: its buffer's findings win.
pub fn document_closed(b: &Backend, uri: Uri) {
    let shared = b.shared.clone();
    let client = b.client.clone();
    b.shared.tasks.spawn(async move {
        if let Some(delay) = super::debug::close_rescan_delay() {
            tokio::time::sleep(delay).await;
        }
        let path = uri.to_file_path().map(|p| p.into_owned());
        let in_workspace = path
            .as_deref()
            .is_some_and(|p| shared.roots.read().owner(p).is_some());
        let file = match (path, in_workspace) {
            (Some(path), true) => {
                let shared2 = shared.clone();
                tokio::task::spawn_blocking(move || scan_to_findings(&shared2, &path).1)
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let file = file.unwrap_or_default();
        let mut diagnostics = file.diagnostics(&uri);
        diagnostics.extend(shared.extra_diagnostics(uri.as_str()));
        if record_disk_findings(&shared, uri.as_str(), file).is_none() {
            return; // open again: the buffer's analysis publishes
        }
        client.publish_diagnostics(uri, diagnostics, None).await;
    });
}

/// Records findings of a file's disk text unless the file is open (the open buffer's
/// findings are what the editor shows). Checked under the documents lock, which
/// `didOpen` takes first, so a document opened before this returns is never
/// overwritten. `None` when the file is open; else whether it had findings before.
fn record_disk_findings(shared: &Shared, uri: &str, file: FileFindings) -> Option<bool> {
    let docs = shared.docs.lock();
    if docs.get(uri).is_some() {
        return None;
    }
    Some(shared.findings.lock().set(uri.to_owned(), file))
}

/// Scans one file on disk: its summary, and its findings (None when skipped).
fn scan_to_findings(shared: &Shared, path: &Path) -> (Summary, Option<FileFindings>) {
    let cfg = shared.scan_config(Some(path));
    let result = cfg.scan_file(path);
    to_findings(shared, &cfg, path, result)
}

/// A scanned file's summary and findings (None when skipped).
fn to_findings(
    shared: &Shared,
    cfg: &ScanConfig,
    path: &Path,
    result: FileResult,
) -> (Summary, Option<FileFindings>) {
    let summary = Summary::of(&result);
    let file = match result {
        FileResult::Scanned { findings, text, .. } => Some(FileFindings::new(
            shared.workspace_of(Some(path)),
            Some(cfg.relative(path)),
            &text,
            findings,
            shared.docs.lock().encoding(),
        )),
        FileResult::Skipped(_) => None,
    };
    (summary, file)
}

/// Files changed less than this before a scan starts are read again by the next one: a
/// write in the same clock tick as the scan's read would leave their times unchanged.
const SETTLE_NS: i64 = 2_000_000_000;

/// The key of a workspace scan's per-file cache: the root's configuration key and the
/// advisory data's stamp (new advisories can flag an unchanged file's imports).
fn scan_key(cfg: &ScanConfig, store: Option<&warden_store::Store>) -> String {
    let stamp = store
        .and_then(|s| s.call_blocking(|c| warden_store::advisories::stamp(c)).ok())
        .unwrap_or_default();
    // Whether each ecosystem's data is missing, old or current decides the manifests'
    // freshness findings.
    let fresh = cfg
        .advisories
        .as_ref()
        .map(|a| a.freshness_key(time::OffsetDateTime::now_utc()))
        .unwrap_or_default();
    crate::root_config::sha256_hex(format!("{}\n{stamp}\n{fresh}", cfg.key).as_bytes())
}

/// What a workspace scan needs from the server.
pub struct ScanJob {
    pub client: Client,
    pub shared: Arc<Shared>,
    pub tracer: Tracer,
    pub store: Option<warden_store::Store>,
    pub progress: bool,
    pub workspace: WorkspaceRef,
    pub root: PathBuf,
    pub parent_span: Option<String>,
}

/// Starts a background scan of a workspace; returns its progress token.
pub fn start_workspace_scan(job: ScanJob) -> String {
    let token = format!("warden/scan/{}", uuid::Uuid::now_v7());
    let cancel = tokio_util::sync::CancellationToken::new();
    let registered = job.shared.tasks.register(vec![token.clone()], &cancel);
    let task_token = token.clone();
    let tasks = job.shared.tasks.clone();
    tasks.spawn(async move {
        let listed = {
            let _registered = registered;
            run_workspace_scan(&job, &task_token, cancel).await
        };
        // Then the search index, from the same listing, with its own progress.
        if let Some(files) = listed {
            index_workspace(&job, files).await;
        }
        // Once everything the scan held (a row per file) is freed.
        crate::memory::release_soon(&job.shared.tasks);
    });
    token
}

/// Scans; returns the files listed (for the search index) unless it was cancelled or
/// could not list them.
async fn run_workspace_scan(
    job: &ScanJob,
    token: &str,
    cancel: tokio_util::sync::CancellationToken,
) -> Option<Arc<Vec<PathBuf>>> {
    let mut span = job
        .tracer
        .start(SpanKind::Scan, "workspace.scan")
        .parent(job.parent_span.as_deref())
        .workspace(Some(job.workspace.clone()))
        .input(json!({ "root": job.root.display().to_string() }))
        .begin();
    let title = format!("warden: scanning {}", job.workspace.name);
    let progress = Reporter::begin(&job.client, job.progress, token, &title, true).await;

    let root = job.root.clone();
    let listed = tokio::task::spawn_blocking(move || warden_workspace::list_files(&root)).await;
    let files = match listed {
        Ok(Ok(files)) => files,
        Ok(Err(e)) => {
            let message = format!("cannot list the files of {}: {e}", job.root.display());
            span.fail(message.clone());
            progress.end(message).await;
            return None;
        }
        Err(e) => {
            span.fail(e.to_string());
            progress.end(format!("scan failed: {e}")).await;
            return None;
        }
    };
    // Open documents are analysed live from the editor's text.
    let open: HashSet<PathBuf> = job
        .shared
        .docs
        .lock()
        .iter()
        .filter_map(|(_, d)| d.path.clone())
        .collect();
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !open.contains(f)).collect();
    let total = files.len();
    // The search index is brought up to date from the same listing afterwards.
    let listed = Arc::new(files.clone());

    // What the last complete scan found clean, under the same key: those files are
    // not read again while their size, times and inode are unchanged.
    let settled_before = crate::scanner::now_ns() - SETTLE_NS;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker_shared = job.shared.clone();
    let worker_cancel = cancel.clone();
    let (worker_store, workspace_id, scan_root) =
        (job.store.clone(), job.workspace.id, job.root.clone());
    let worker = tokio::task::spawn_blocking(move || {
        // The scan's own copy of the root's rules and shell patterns: each regular
        // expression keeps a matching cache per thread that used it (about 15 and 4 MB
        // after a large scan), dropped with the copy when the scan ends.
        let scan_cfg = {
            let mut c = (*worker_shared.scan_config(Some(&scan_root))).clone();
            c.rules = Arc::new((*c.rules).clone());
            c.shell = Arc::new((*c.shell).clone());
            Arc::new(c)
        };
        let key = scan_key(&scan_cfg, worker_store.as_ref());
        let previous = worker_store
            .as_ref()
            .and_then(|s| {
                let key = key.clone();
                s.call_blocking(move |c| scanned::load(c, workspace_id, &key))
                    .inspect_err(|e| tracing::warn!("reading the scan cache: {e}"))
                    .ok()
            })
            .unwrap_or_default();
        files.par_iter().for_each(|path| {
            if worker_cancel.is_cancelled() {
                return;
            }
            let mut cfg = worker_shared.scan_config(Some(path));
            // A nested root with its own configuration keeps no rows.
            let same = cfg.root == scan_cfg.root;
            if same {
                cfg = scan_cfg.clone();
            }
            let before = previous.get(&cfg.relative(path)).filter(|_| same);
            let cached = cfg.scan_file_cached(path, before, settled_before);
            let (mut summary, file) = to_findings(&worker_shared, &cfg, path, cached.result);
            summary.unchanged = usize::from(cached.reused);
            let _ = tx.send((path.clone(), summary, file, cached.row.filter(|_| same)));
        });
        // The pool's parsers keep buffers sized by the largest file each parsed.
        rayon::broadcast(|_| warden_analysis::syntax::release_parsers());
        key
    });

    let previously: HashSet<String> = job
        .shared
        .findings
        .lock()
        .uris_of(job.workspace.id)
        .into_iter()
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut summary = Summary::default();
    let mut rows: Vec<FindingRow> = Vec::new();
    let mut clean: Vec<ScannedFile> = Vec::new();
    let mut done = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some((path, file_summary, file, row)) = msg else { break };
                done += 1;
                clean.extend(row);
                summary.merge(file_summary);
                let Some(uri) = Uri::from_file_path(&path) else { continue };
                let uri_s = uri.as_str().to_owned();
                if let Some(file) = file {
                    rows.extend(finding_rows(&file));
                    let mut diagnostics = file.diagnostics(&uri);
                    diagnostics.extend(job.shared.extra_diagnostics(&uri_s));
                    // A document opened during the scan shows its buffer's findings.
                    let recorded = record_disk_findings(&job.shared, &uri_s, file);
                    if recorded.is_some_and(|had| had || !diagnostics.is_empty()) {
                        job.client.publish_diagnostics(uri, diagnostics, None).await;
                    }
                }
                seen.insert(uri_s);
            }
            _ = tick.tick() => {
                let pct = (done * 100).checked_div(total).unwrap_or(100) as u32;
                progress.report(format!("{done}/{total} files"), pct).await;
            }
        }
    }
    let key = worker.await.ok();
    // Files that had findings but are gone (deleted, now ignored) are cleared.
    if !cancel.is_cancelled() {
        for stale in previously.difference(&seen) {
            let is_open = job.shared.docs.lock().get(stale).is_some();
            if !is_open {
                job.shared
                    .findings
                    .lock()
                    .set(stale.clone(), FileFindings::default());
                if let Ok(uri) = stale.parse::<Uri>() {
                    job.client.publish_diagnostics(uri, Vec::new(), None).await;
                }
            }
        }
    }
    let message = format!(
        "{} findings in {} files ({:.1} MB), {} unchanged since the last scan; skipped {} ({}); {} minified lines",
        summary.findings,
        summary.files,
        summary.bytes as f64 / 1e6,
        summary.unchanged,
        summary.skipped_total(),
        summary.skipped_text(),
        summary.long_lines_skipped
    );
    span.set_output(serde_json::to_value(&summary).unwrap_or(Value::Null));
    // The span is final before the client hears the scan is over.
    if cancel.is_cancelled() {
        span.cancel();
        progress
            .end(format!("cancelled after {done}/{total} files"))
            .await;
        return None;
    }
    if let Some(store) = &job.store {
        let id = job.workspace.id;
        if let Err(e) = store
            .call(move |c| findings::replace_workspace(c, id, &rows))
            .await
        {
            tracing::warn!("saving findings: {e}");
        }
        if let Some(key) = key
            && let Err(e) = store
                .call(move |c| scanned::replace(c, id, &key, &clean))
                .await
        {
            tracing::warn!("saving the scan cache: {e}");
        }
    }
    span.ok();
    progress.end(message).await;
    Some(listed)
}

/// The scan's second step: the search index (symbols and text) for the files the scan
/// listed, re-reading only those changed since they were indexed. Its own cancellable
/// progress (`warden: indexing NAME for search`) and `index` span, so the scan's end
/// (and its findings) do not wait for it.
async fn index_workspace(job: &ScanJob, files: Arc<Vec<PathBuf>>) {
    let token = format!("warden/index/{}", uuid::Uuid::now_v7());
    let cancel = tokio_util::sync::CancellationToken::new();
    let _registered = job.shared.tasks.register(vec![token.clone()], &cancel);
    let mut span = job
        .tracer
        .start(SpanKind::Index, "search.index")
        .parent(job.parent_span.as_deref())
        .workspace(Some(job.workspace.clone()))
        .input(json!({ "root": job.root.display().to_string(), "files": files.len() }))
        .begin();
    let title = format!("warden: indexing {} for search", job.workspace.name);
    let progress = Reporter::begin(&job.client, job.progress, &token, &title, true).await;
    let total = files.len();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (shared, root, id) = (job.shared.clone(), job.root.clone(), job.workspace.id);
    let (cancel2, seen2) = (cancel.clone(), seen.clone());
    let work = tokio::task::spawn_blocking(move || {
        super::search::update_index(
            &shared,
            id,
            &root,
            &files,
            &|| cancel2.is_cancelled(),
            &|n| seen2.store(n, std::sync::atomic::Ordering::Relaxed),
        )
    });
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let stats = loop {
        tokio::select! {
            done = &mut work => break done.ok().flatten(),
            _ = tick.tick() => {
                let n = seen.load(std::sync::atomic::Ordering::Relaxed);
                let pct = (n * 100).checked_div(total).unwrap_or(100) as u32;
                progress.report(format!("{n}/{total} files"), pct).await;
            }
        }
    };
    let message = match &stats {
        Some(s) => format!(
            "{} files, {} read again, {} removed, in {:.1} s",
            s.files,
            s.indexed,
            s.removed,
            s.elapsed_ms as f64 / 1000.0
        ),
        None => "the index could not be updated (see the server log)".into(),
    };
    span.set_output(json!(stats));
    if cancel.is_cancelled() {
        span.cancel();
        progress.end(format!("cancelled; {message}")).await;
    } else if stats.is_some() {
        span.ok();
        progress.end(message).await;
    } else {
        span.fail(message.clone());
        progress.end(message).await;
    }
    crate::memory::release_soon(&job.shared.tasks);
}

fn finding_rows(file: &FileFindings) -> Vec<FindingRow> {
    file.findings
        .iter()
        .map(|(f, r)| FindingRow {
            path: file.path.clone().unwrap_or_default(),
            kind: f.kind.as_str().into(),
            rule: f.rule.clone(),
            severity: f.severity.as_str().into(),
            message: f.message.clone(),
            start_line: r.start.line,
            start_col: r.start.character,
            end_line: r.end.line,
            end_col: r.end.character,
            fingerprint: f.fingerprint.clone(),
        })
        .collect()
}

/// Saves a saved document's findings to the store.
pub async fn persist_document(b: &Backend, uri: &str) {
    let Some(store) = b.store.get().cloned() else {
        return;
    };
    let Some((id, path, rows)) = b
        .shared
        .findings
        .lock()
        .get(uri)
        .map(|f| (f.workspace_id, f.path.clone(), finding_rows(f)))
        .or_else(|| {
            // No findings: clear the file's rows.
            let path = uri.parse::<Uri>().ok()?.to_file_path()?.into_owned();
            let (id, _) = b.shared.workspace_of(Some(&path));
            Some((
                id,
                Some(b.shared.scan_config(Some(&path)).relative(&path)),
                Vec::new(),
            ))
        })
    else {
        return;
    };
    let Some(path) = path else { return };
    if let Err(e) = store
        .call(move |c| findings::replace_path(c, id, &path, &rows))
        .await
    {
        tracing::warn!("saving findings: {e}");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsParams {
    pub workspace: Option<String>,
    pub kind: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct FindingsResult {
    pub findings: Vec<FindingInfo>,
}

/// `warden/findings {workspace?, kind?}`: every current finding.
pub async fn findings_request(b: &Backend, params: FindingsParams) -> Result<FindingsResult> {
    let kind = match params.kind.as_deref() {
        None => None,
        Some(k) => Some(FindingKind::parse(k).ok_or_else(|| {
            invalid(format!(
                "unknown kind {k:?}; use secret, syntax, shell or package"
            ))
        })?),
    };
    if let Some(name) = &params.workspace {
        b.registry()?
            .lock()
            .await
            .by_name(name)
            .await
            .map_err(store_error)?;
    }
    Ok(FindingsResult {
        findings: b
            .shared
            .findings
            .lock()
            .list(params.workspace.as_deref(), kind),
    })
}

/// `window/workDoneProgress/cancel`.
pub async fn cancel_progress(b: &Backend, params: WorkDoneProgressCancelParams) {
    let token = match &params.token {
        tower_lsp_server::ls_types::NumberOrString::String(s) => s.clone(),
        tower_lsp_server::ls_types::NumberOrString::Number(n) => n.to_string(),
    };
    if !b.shared.cancel_task(&token) {
        tracing::debug!("cancel for unknown progress {token}");
    }
}
