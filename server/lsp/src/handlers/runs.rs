//! Sandboxed runs from the editor: `warden.run` (the document's current text, saved or
//! not), `warden.run.cancel`, `warden.runAll` (the workspace's scripts by ordering
//! group, members of a group concurrently up to `run.concurrency`, with cancellable
//! progress), and the history requests `warden/runs`, `warden/runLog`,
//! `warden/runSearch`, `warden/runStats` and the catalog `warden/scripts`.
//!
//! A run answers `{runId}` at once and goes on in a task: a `command` span (held until
//! the run ends) with one `run` span per script; output is forwarded in order as
//! `warden/runOutput` through a channel, then `warden/runFinished`. A failed run's
//! traceback lines become diagnostics (source `warden-run`) published with the
//! document's analysis diagnostics, until the next successful run or a change. Files
//! named by the client (the script when not open, the input) are read on a blocking
//! thread, bounded and regular files only, before the engine is contacted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use warden_analysis::LineIndex;
use warden_sandbox::order;
use warden_sandbox::traceback::Finding as RunFinding;
use warden_sandbox::{Event, Status};
use warden_store::{Store, WorkspaceRow};
use warden_trace::{ActiveSpan, SpanKind, Tracer, WorkspaceRef};

use super::{invalid, store_error};
use crate::documents::Encoding;
use crate::lsp_ext::*;
use crate::progress::Reporter;
use crate::runs::{self, Job};
use crate::server::Backend;
use crate::shared::Shared;

pub const SOURCE: &str = "warden-run";

fn task_key(run_id: &str) -> String {
    format!("run:{run_id}")
}

/// What a run task needs from the backend.
#[derive(Clone)]
struct Ctx {
    client: Client,
    shared: Arc<Shared>,
    tracer: Tracer,
    store: Option<Store>,
    progress: bool,
}

impl Ctx {
    fn of(b: &Backend) -> Ctx {
        Ctx {
            client: b.client.clone(),
            shared: b.shared.clone(),
            tracer: b.tracer.clone(),
            store: b.store.get().cloned(),
            progress: b.flags().work_done_progress,
        }
    }
}

pub async fn execute(b: &Backend, command: &str, args: Map<String, Value>) -> Result<Value> {
    match command {
        CMD_RUN_CANCEL => {
            let a: RunCancelArgs = super::commands::parse(command, args)?;
            let found = b.shared.cancel_task(&task_key(&a.run_id));
            Ok(json!({ "cancelled": found }))
        }
        CMD_RUN => run(b, super::commands::parse(command, args)?).await,
        CMD_RUN_ALL => run_all(b, super::commands::parse(command, args)?).await,
        other => Err(invalid(format!("unknown {other}"))),
    }
}

/// The text of a file: the editor's when open (saved or not), else the disk's.
fn text_of(shared: &Shared, uri: &str, path: &Path) -> std::result::Result<String, String> {
    if let Some(d) = shared.docs.lock().get(uri) {
        return Ok(d.text.clone());
    }
    runs::read_script(path)
}

fn file_path(uri: &str) -> Result<PathBuf> {
    uri.parse::<Uri>()
        .ok()
        .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
        .ok_or_else(|| invalid(format!("{uri} is not a file URI")))
}

/// A run's `input` argument as a path: a `file://` URI, an absolute path, or a path
/// relative to the workspace root.
fn input_path(root: &Path, input: &str) -> PathBuf {
    match input.parse::<Uri>() {
        Ok(u) if input.starts_with("file:") => u
            .to_file_path()
            .map(|p| p.into_owned())
            .unwrap_or_else(|| PathBuf::from(input)),
        _ => root.join(input),
    }
}

async fn run(b: &Backend, a: RunArgs) -> Result<Value> {
    let path = file_path(&a.uri)?;
    let shared = b.shared.clone();
    let (uri, p, input) = (a.uri.clone(), path.clone(), a.input.clone());
    // The script, the configuration and the input are read on a blocking thread: a
    // FIFO or a huge file named by the client must not hold up the message loop.
    let (text, cfg, input) = tokio::task::spawn_blocking(move || {
        let text = text_of(&shared, &uri, &p);
        let cfg = shared.scan_config(Some(&p));
        let input = input.map(|i| runs::read_input(&cfg.run.limits, &input_path(&cfg.root, &i)));
        (text, cfg, input)
    })
    .await
    .map_err(|e| super::internal(e.to_string()))?;
    let text = text.map_err(invalid)?;
    let input = input
        .transpose()
        .map_err(|e| invalid(format!("warden.run: {e}")))?;
    let (rel, spec) = runs::prepare(&cfg.run, &cfg.root, &path, &text, input, a.args)
        .map_err(|e| invalid(format!("warden.run: {e}")))?;
    let run_id = a.run_id.unwrap_or_else(warden_trace::new_span_id);
    if b.shared.tasks.contains(&task_key(&run_id)) {
        return Err(invalid(format!(
            "run {run_id} is already running; pick another runId"
        )));
    }
    let (ws_id, ws_name) = b.shared.workspace_of(Some(&path));
    let workspace = WorkspaceRef {
        id: ws_id,
        name: ws_name,
    };
    let span = b
        .tracer
        .start(SpanKind::Command, CMD_RUN)
        .workspace(Some(workspace.clone()))
        .uri(Some(a.uri.clone()))
        .input(json!({ "runId": run_id, "path": rel, "input": a.input }))
        .begin();
    let job = Job {
        run_id: run_id.clone(),
        batch_id: None,
        workspace,
        rel,
        uri: Some(a.uri.clone()),
        root: cfg.root.clone(),
        spec,
        engine: cfg.run.engine.clone(),
    };
    let token = CancellationToken::new();
    b.shared
        .tasks
        .lock()
        .insert(task_key(&run_id), token.clone());
    let ctx = Ctx::of(b);
    let pool = cfg.run.warm_pool;
    b.shared.active_runs.fetch_add(1, Ordering::SeqCst);
    b.shared.tasks.spawn(async move {
        let mut span = span;
        let status = run_one(&ctx, pool, Some(&span), job, token).await;
        span.set_output(json!({ "status": status.as_str() }));
        end_span(span, status);
        ctx.shared.active_runs.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(json!({ "runId": run_id }))
}

fn end_span(span: ActiveSpan, status: Status) {
    match status {
        Status::Succeeded => {
            span.ok();
        }
        Status::Cancelled => {
            span.cancel();
        }
        s => {
            span.fail(s.as_str());
        }
    }
}

/// Runs one job: streams its output, sends `warden/runFinished`, publishes or clears
/// the failure diagnostics. Unregisters the job's cancellation token at the end.
async fn run_one(
    ctx: &Ctx,
    pool: usize,
    parent: Option<&ActiveSpan>,
    job: Job,
    token: CancellationToken,
) -> Status {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let client = ctx.client.clone();
    let run_id = job.run_id.clone();
    let forward = ctx.shared.tasks.spawn(async move {
        while let Some(e) = rx.recv().await {
            if let Event::Output { seq, stream, chunk } = e {
                client
                    .send_notification::<RunOutput>(RunOutputParams {
                        run_id: run_id.clone(),
                        seq,
                        stream,
                        chunk,
                    })
                    .await;
            }
        }
    });
    let (spec, uri, rel, batch) = (
        job.spec.clone(),
        job.uri.clone(),
        job.rel.clone(),
        job.batch_id.clone(),
    );
    let key = task_key(&job.run_id);
    let done = runs::execute(
        runs::Env {
            engine: &ctx.shared.engine,
            warm_pool: pool,
            tracer: &ctx.tracer,
            store: ctx.store.as_ref(),
        },
        parent.map(|s| s.id()),
        job,
        tx,
        token,
    )
    .await;
    ctx.shared.tasks.lock().remove(&key);
    let _ = forward.await;
    let o = &done.outcome;
    ctx.client
        .send_notification::<RunFinished>(RunFinishedParams {
            run_id: done.record.run_id.clone(),
            uri: uri.clone(),
            path: rel,
            batch_id: batch,
            status: o.status.as_str().into(),
            exit_code: o.exit_code,
            duration_ms: done.record.duration_ms,
            truncated: o.truncated(),
            artifacts: done.record.artifacts.clone(),
            message: o.message.clone(),
        })
        .await;
    if o.status == Status::Error {
        let msg = format!(
            "warden: could not run {}: {}",
            done.record.path,
            o.message.as_deref().unwrap_or("unknown error")
        );
        ctx.client.show_message(MessageType::ERROR, msg).await;
    }
    if let Some(uri) = uri {
        let findings = runs::findings(&spec, o);
        match o.status {
            Status::Succeeded => set_run_diagnostics(ctx, &uri, None).await,
            Status::Failed => {
                let script = String::from_utf8_lossy(&spec.script).into_owned();
                set_run_diagnostics(ctx, &uri, Some((&script, &findings, &done.record.run_id)))
                    .await
            }
            _ => {}
        }
    }
    o.status
}

/// Publishes again, at start-up, the diagnostics of each script of the open folders
/// whose last run failed, while its text is still the one that ran: a window reload or
/// a restart forgets them, the store does not. In the background; a script that ran
/// again since, or changed, is left alone.
pub fn republish_failed_runs(b: &Backend) {
    let ctx = Ctx::of(b);
    let Some(store) = ctx.store.clone() else {
        return;
    };
    let workspaces: Vec<i64> = (b.shared.roots.read().open.iter())
        .map(|r| r.workspace_id)
        .collect();
    tokio::spawn(async move {
        for id in workspaces {
            let failed = match store
                .read(move |c| warden_store::runs::last_failed(c, id))
                .await
            {
                Ok(failed) => failed,
                Err(e) => {
                    tracing::warn!("last failed runs of workspace {id}: {e}");
                    continue;
                }
            };
            for run in failed {
                let Some(uri) = run.uri.clone() else { continue };
                let Ok(path) = file_path(&uri) else { continue };
                let shared = ctx.shared.clone();
                let key = uri.clone();
                let text = tokio::task::spawn_blocking(move || text_of(&shared, &key, &path)).await;
                let Ok(Ok(text)) = text else { continue };
                if runs::sha256_hex(text.as_bytes()) != run.content_hash {
                    continue;
                }
                let findings = runs::findings_of_record(&run);
                set_run_diagnostics(&ctx, &uri, Some((&text, &findings, &run.run_id))).await;
            }
        }
    });
}

/// Replaces a document's run diagnostics (none: clears them) and republishes its
/// diagnostics. Skipped when the document changed since the text that ran.
async fn set_run_diagnostics(ctx: &Ctx, uri: &str, failed: Option<(&str, &[RunFinding], &str)>) {
    let (current, encoding) = {
        let docs = ctx.shared.docs.lock();
        (docs.get(uri).map(|d| d.text.clone()), docs.encoding())
    };
    let diags = match failed {
        Some((script, findings, run_id)) => {
            if current.as_deref().is_some_and(|c| c != script) {
                return; // edited during the run: these lines may have moved
            }
            let Ok(parsed) = uri.parse::<Uri>() else {
                return;
            };
            to_diagnostics(script, findings, run_id, &parsed, encoding)
        }
        None => Vec::new(),
    };
    let had = {
        let mut map = ctx.shared.run_diagnostics.lock();
        let had = map.contains_key(uri);
        if diags.is_empty() {
            map.remove(uri);
        } else {
            map.insert(uri.to_owned(), diags.clone());
        }
        had
    };
    if diags.is_empty() && !had {
        return;
    }
    super::analysis::republish(&ctx.shared, &ctx.client, uri).await;
}

/// Run findings → diagnostics on the blamed lines (from the first non-blank character
/// to the line end), with the callers as related information.
fn to_diagnostics(
    text: &str,
    findings: &[RunFinding],
    run_id: &str,
    uri: &Uri,
    encoding: Encoding,
) -> Vec<Diagnostic> {
    let index = LineIndex::new(text);
    let line_range = |line: u32| -> Option<Range> {
        let r = index.line_range(line.checked_sub(1)? as usize, text)?;
        let indent = text[r.clone()].len() - text[r.clone()].trim_start().len();
        Some(crate::diagnostics::range(
            text,
            &index,
            r.start + indent,
            r.end,
            encoding,
        ))
    };
    findings
        .iter()
        .filter_map(|f| {
            let range = line_range(f.line)?;
            let related: Vec<DiagnosticRelatedInformation> = f
                .trace
                .iter()
                .filter_map(|&l| {
                    Some(DiagnosticRelatedInformation {
                        location: Location {
                            uri: uri.clone(),
                            range: line_range(l)?,
                        },
                        message: "called from here".into(),
                    })
                })
                .collect();
            Some(Diagnostic {
                range,
                severity: Some(DiagnosticSeverity::ERROR),
                code: Some(NumberOrString::String("run-failed".into())),
                source: Some(SOURCE.into()),
                message: f.message.clone(),
                related_information: (!related.is_empty()).then_some(related),
                data: Some(json!({ "runId": run_id })),
                ..Default::default()
            })
        })
        .collect()
}

async fn workspace_row(b: &Backend, name: Option<&str>) -> Result<WorkspaceRow> {
    let reg = b.registry()?.lock().await;
    match name {
        Some(n) => reg.by_name(n).await,
        None => reg.active().await,
    }
    .map_err(store_error)
}

fn root_of(row: &WorkspaceRow) -> Result<PathBuf> {
    row.root.clone().map(PathBuf::from).ok_or_else(|| {
        invalid(format!(
            "workspace {:?} has no folder on this machine; open one or name another workspace",
            row.name
        ))
    })
}

/// A script of a workspace, found by `run.scripts` and with a runner.
struct Script {
    path: PathBuf,
    rel: String,
    uri: String,
    text: String,
    order: Option<order::Order>,
}

/// The workspace's scripts (blocking: lists and reads files).
fn scripts_of(shared: &Shared, root: &Path) -> std::result::Result<Vec<Script>, String> {
    let probe = root.join("_");
    let cfg = shared.scan_config(Some(&probe));
    let mut globs = globset::GlobSetBuilder::new();
    for g in &cfg.run.scripts {
        if let Ok(g) = globset::Glob::new(g) {
            globs.add(g);
        }
    }
    let globs = globs.build().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for path in warden_workspace::list_files(root)? {
        let rel = runs::relative(root, &path);
        if !globs.is_match(&rel) || cfg.run.runner_for(&rel).is_none() {
            continue;
        }
        let Some(uri) = Uri::from_file_path(&path) else {
            continue;
        };
        let uri = uri.as_str().to_owned();
        let Ok(text) = text_of(shared, &uri, &path) else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let order = order::order_of(&name, &text);
        out.push(Script {
            path,
            rel,
            uri,
            text,
            order,
        });
    }
    Ok(out)
}

async fn run_all(b: &Backend, a: RunAllArgs) -> Result<Value> {
    let row = workspace_row(b, a.workspace.as_deref()).await?;
    let root = root_of(&row)?;
    let shared = b.shared.clone();
    let root2 = root.clone();
    let (scripts, cfg) = tokio::task::spawn_blocking(move || {
        (
            scripts_of(&shared, &root2),
            shared.scan_config(Some(&root2.join("_"))),
        )
    })
    .await
    .map_err(|e| super::internal(e.to_string()))?;
    let scripts = scripts.map_err(invalid)?;
    if scripts.is_empty() {
        return Err(invalid(format!(
            "no scripts in workspace {:?}: warden.run.scripts ({}) matches no file with a runner",
            row.name,
            cfg.run.scripts.join(", ")
        )));
    }
    let keyed: Vec<(String, Option<order::Order>)> = scripts
        .iter()
        .map(|s| (s.rel.clone(), s.order.clone()))
        .collect();
    let plan = order::plan(&keyed);
    let batch_id = warden_trace::new_span_id();
    let progress_token = format!("warden/runAll/{batch_id}");
    let workspace = row.as_ref();
    let mut groups: Vec<Vec<(PlannedRun, Job)>> = Vec::new();
    for g in &plan {
        let mut jobs = Vec::new();
        for &i in g {
            let s = &scripts[i];
            let (rel, spec) = runs::prepare(&cfg.run, &root, &s.path, &s.text, None, Vec::new())
                .map_err(invalid)?;
            let run_id = warden_trace::new_span_id();
            jobs.push((
                PlannedRun {
                    run_id: run_id.clone(),
                    path: rel.clone(),
                    uri: s.uri.clone(),
                    order: s.order.as_ref().map(|o| o.text.clone()),
                    group: s.order.as_ref().map(order::Order::group),
                },
                Job {
                    run_id,
                    batch_id: Some(batch_id.clone()),
                    workspace: workspace.clone(),
                    rel,
                    uri: Some(s.uri.clone()),
                    root: root.clone(),
                    spec,
                    engine: cfg.run.engine.clone(),
                },
            ));
        }
        groups.push(jobs);
    }
    let result = RunAllResult {
        batch_id: batch_id.clone(),
        workspace: row.name.clone(),
        progress_token: progress_token.clone(),
        groups: groups
            .iter()
            .map(|g| g.iter().map(|(p, _)| p.clone()).collect())
            .collect(),
    };
    let total = scripts.len();
    let span = b
        .tracer
        .start(SpanKind::Command, CMD_RUN_ALL)
        .workspace(Some(workspace))
        .input(json!({
            "batchId": batch_id,
            "scripts": total,
            "groups": groups.len(),
            "stopOnFailure": a.stop_on_failure,
        }))
        .begin();
    let batch = CancellationToken::new();
    {
        let mut tasks = b.shared.tasks.lock();
        tasks.insert(progress_token.clone(), batch.clone());
        tasks.insert(format!("runAll:{batch_id}"), batch.clone());
        for g in &groups {
            for (p, _) in g {
                tasks.insert(task_key(&p.run_id), batch.child_token());
            }
        }
    }
    let members: Vec<String> = groups
        .iter()
        .flat_map(|g| g.iter().map(|(p, _)| task_key(&p.run_id)))
        .collect();
    let ctx = Ctx::of(b);
    let (pool, concurrency) = (cfg.run.warm_pool, cfg.run.concurrency.max(1));
    let stop_on_failure = a.stop_on_failure;
    b.shared.active_runs.fetch_add(1, Ordering::SeqCst);
    b.shared.tasks.spawn(async move {
        let mut span = span;
        let title = format!("warden: running {total} scripts");
        let progress =
            Reporter::begin(&ctx.client, ctx.progress, &progress_token, &title, true).await;
        let mut finished = 0usize;
        let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
        let mut stopped = None;
        for (gi, group) in groups.into_iter().enumerate() {
            if batch.is_cancelled() {
                stopped = Some("cancelled".to_owned());
                break;
            }
            let runs = futures::stream::iter(group.into_iter().map(|(_, job)| {
                let token = ctx
                    .shared
                    .tasks
                    .lock()
                    .get(&task_key(&job.run_id))
                    .cloned()
                    .unwrap_or_else(|| batch.child_token());
                let ctx = ctx.clone();
                let parent = &span;
                async move { run_one(&ctx, pool, Some(parent), job, token).await }
            }))
            .buffer_unordered(concurrency);
            tokio::pin!(runs);
            let mut group_failed = false;
            while let Some(status) = runs.next().await {
                finished += 1;
                *counts.entry(status.as_str()).or_default() += 1;
                group_failed |= status != Status::Succeeded;
                progress
                    .report(
                        format!("{finished}/{total} scripts (group {})", gi + 1),
                        (finished * 100 / total) as u32,
                    )
                    .await;
            }
            if group_failed && stop_on_failure {
                stopped = Some(format!("stopped after group {} failed", gi + 1));
                break;
            }
        }
        // The batch's tokens go, also those of scripts that never ran.
        {
            let mut tasks = ctx.shared.tasks.lock();
            tasks.remove(&progress_token);
            tasks.remove(&format!("runAll:{batch_id}"));
            for k in &members {
                tasks.remove(k);
            }
        }
        let summary = counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        let end = match &stopped {
            Some(why) => format!("{summary}; {why} ({finished}/{total} ran)"),
            None => summary.clone(),
        };
        progress.end(end).await;
        span.set_output(json!({ "ran": finished, "statuses": counts, "stopped": stopped }));
        let status = if batch.is_cancelled() {
            Status::Cancelled
        } else if counts.keys().all(|k| *k == "succeeded") && finished == total {
            Status::Succeeded
        } else {
            Status::Failed
        };
        end_span(span, status);
        ctx.shared.active_runs.fetch_sub(1, Ordering::SeqCst);
    });
    serde_json::to_value(result).map_err(|e| super::internal(e.to_string()))
}

fn store(b: &Backend) -> Result<Store> {
    b.store
        .get()
        .cloned()
        .ok_or_else(|| invalid("the server is not initialized"))
}

pub async fn runs_request(b: &Backend, p: RunsParams) -> Result<RunsResult> {
    let workspace_id = match &p.workspace {
        Some(n) => Some(workspace_row(b, Some(n)).await?.id),
        None => None,
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit must be between 1 and 500"));
    }
    if let Some(s) = &p.status
        && Status::parse(s).is_none()
    {
        return Err(invalid(format!(
            "unknown status {s:?}; use succeeded, failed, timedOut, oomKilled, cancelled or error"
        )));
    }
    let cursor = match &p.cursor {
        Some(c) => Some(warden_store::runs::cursor_of(c).map_err(store_error)?),
        None => None,
    };
    let f = warden_store::runs::Filter {
        workspace_id,
        path: None,
        uri: p.uri.clone(),
        status: p.status.clone(),
    };
    let (runs, next) = store(b)?
        .read(move |c| warden_store::runs::page(c, &f, cursor, limit))
        .await
        .map_err(store_error)?;
    Ok(RunsResult {
        runs,
        next_cursor: next.map(|n| n.to_string()),
    })
}

pub async fn run_log(b: &Backend, p: RunLogParams) -> Result<warden_store::runs::Run> {
    let id = p.run_id.clone();
    store(b)?
        .read(move |c| warden_store::runs::get(c, &id))
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            invalid(format!(
                "no stored run {:?} (a run is stored when it ends)",
                p.run_id
            ))
        })
}

pub async fn run_search(b: &Backend, p: RunSearchParams) -> Result<RunSearchResult> {
    let row = workspace_row(b, p.workspace.as_deref()).await?;
    let re = regex::Regex::new(&p.pattern)
        .map_err(|e| invalid(format!("pattern is not a regular expression: {e}")))?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let context = p.context.unwrap_or(2).min(20);
    let hits = store(b)?
        .read(move |c| warden_store::runs::search(c, row.id, &re, context, limit))
        .await
        .map_err(store_error)?;
    Ok(RunSearchResult { hits })
}

pub async fn run_stats(b: &Backend, p: WorkspaceParams) -> Result<RunStatsResult> {
    let row = workspace_row(b, p.workspace.as_deref()).await?;
    let id = row.id;
    let scripts = store(b)?
        .read(move |c| warden_store::runs::stats(c, id))
        .await
        .map_err(store_error)?;
    Ok(RunStatsResult {
        workspace: row.name,
        scripts,
    })
}

pub async fn scripts(b: &Backend, p: WorkspaceParams) -> Result<ScriptsResult> {
    let row = workspace_row(b, p.workspace.as_deref()).await?;
    let root = root_of(&row)?;
    let id = row.id;
    let last = store(b)?
        .call(move |c| warden_store::runs::last_per_path(c, id))
        .await
        .map_err(store_error)?;
    let shared = b.shared.clone();
    let list = tokio::task::spawn_blocking(move || -> std::result::Result<_, String> {
        let scripts = scripts_of(&shared, &root)?;
        let cfg = shared.scan_config(Some(&root.join("_")));
        let rels: Vec<String> = scripts.iter().map(|s| s.rel.clone()).collect();
        let versions = warden_workspace::file_versions(&root, &rels);
        let out: Vec<ScriptInfo> = scripts
            .into_iter()
            .map(|s| {
                let runner = cfg.run.runner_for(&s.rel).cloned();
                let (commit, mut dirty) = versions.get(&s.rel).cloned().unwrap_or((None, true));
                let on_disk = runs::read_script(&s.path).unwrap_or_default();
                dirty |= on_disk != s.text;
                let name = s
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let last_run = last.iter().find(|(p, _, _)| *p == s.rel);
                ScriptInfo {
                    name: order::description(&name, &s.text),
                    order: s.order.as_ref().map(|o| o.text.clone()),
                    group: s.order.as_ref().map(order::Order::group),
                    image: runner.as_ref().map(|r| r.image.clone()).unwrap_or_default(),
                    command: runner.map(|r| r.command).unwrap_or_default(),
                    commit,
                    dirty,
                    last_status: last_run.map(|l| l.1.clone()),
                    last_run_at: last_run.map(|l| l.2.clone()),
                    path: s.rel,
                    uri: s.uri,
                }
            })
            .collect();
        Ok(out)
    })
    .await
    .map_err(|e| super::internal(e.to_string()))?
    .map_err(invalid)?;
    let mut list = list;
    let keyed: Vec<(String, Option<order::Order>)> = list
        .iter()
        .map(|s| {
            let o = s
                .order
                .as_deref()
                .and_then(|t| order::order_of(&format!("{t}_"), ""));
            (s.path.clone(), o)
        })
        .collect();
    let sequence: Vec<usize> = order::plan(&keyed).into_iter().flatten().collect();
    let mut sorted = Vec::with_capacity(list.len());
    for i in sequence {
        sorted.push(std::mem::replace(
            &mut list[i],
            ScriptInfo {
                path: String::new(),
                uri: String::new(),
                order: None,
                group: None,
                name: String::new(),
                image: String::new(),
                command: Vec::new(),
                commit: None,
                dirty: false,
                last_status: None,
                last_run_at: None,
            },
        ));
    }
    Ok(ScriptsResult {
        workspace: row.name,
        scripts: sorted,
    })
}

/// At start-up: connect to the engine in the background and remove containers left by
/// warden processes that died (a missing engine is only logged here; runs report it).
pub fn reap_orphans(b: &Backend) {
    let shared = b.shared.clone();
    let run = b.shared.editor().settings.run.clone();
    b.shared.tasks.spawn(async move {
        if let Err(e) = shared
            .engine
            .get(run.engine.as_deref(), run.warm_pool)
            .await
        {
            tracing::info!("sandbox: {e}");
        }
    });
}

/// At shutdown: cancel runs, wait (briefly) for their containers to go, drain the pool.
pub async fn shutdown(shared: &Shared) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while shared.active_runs.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    shared.engine.shutdown().await;
}
