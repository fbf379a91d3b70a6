//! `warden.llm.fixUntilGreen`: the fix-until-green loop (`crate::fix_loop`) for a
//! script, in a tracked, cancellable task (the command answers at once with its
//! `requestId`; `warden.llm.cancel` stops it). Each round is sent as
//! `warden/fixRound`; the end as `warden/fixFinished` with the original and the fixed
//! text, which the editor shows as a diff. Nothing touches the user's file until
//! `warden.llm.fixAccept` applies the fix (carried over the user's edits since, where
//! they do not overlap); `warden.llm.fixDiscard` forgets it.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use warden_trace::{SpanKind, WorkspaceRef};

use super::invalid;
use crate::fix_loop::{self, Round};
use crate::lsp_ext::*;
use crate::progress::Reporter;
use crate::scanner::ScanConfig;
use crate::server::Backend;
use crate::shared::Shared;

/// A finished loop's fix, waiting for the user's answer.
#[derive(Debug, Clone)]
pub struct PendingFix {
    pub uri: String,
    /// The document's text and version the loop started from.
    pub original: String,
    pub version: Option<i32>,
    pub fixed: String,
}

/// The editor's side of a loop: packages check, progress, rounds as notifications.
struct LspHost {
    shared: Arc<Shared>,
    client: Client,
    cfg: Arc<ScanConfig>,
    lang: warden_analysis::Lang,
    request_id: String,
    uri: String,
    progress: Reporter,
}

impl fix_loop::Host for LspHost {
    async fn risky_packages(&self, reply: &str) -> (Vec<String>, Option<String>) {
        super::llm::risky_packages(&self.shared, &self.cfg, self.lang, reply).await
    }

    async fn progress(&self, message: String, percent: u32) {
        self.progress.report(message, percent).await;
    }

    async fn round(&self, round: &Round) {
        self.client
            .send_notification::<FixRound>(FixRoundParams {
                request_id: self.request_id.clone(),
                uri: self.uri.clone(),
                round: round.clone(),
            })
            .await;
    }
}

pub async fn execute(b: &Backend, command: &str, args: Map<String, Value>) -> Result<Value> {
    match command {
        CMD_LLM_FIX_ACCEPT => {
            let a: FixAnswerArgs = super::commands::parse(command, args)?;
            accept(b, &a.request_id).await
        }
        CMD_LLM_FIX_DISCARD => {
            let a: FixAnswerArgs = super::commands::parse(command, args)?;
            let found = b.shared.fixes.lock().remove(&a.request_id).is_some();
            Ok(json!({ "discarded": found }))
        }
        _ => {
            let a: FixUntilGreenArgs = super::commands::parse(command, args)?;
            start(b, a).await
        }
    }
}

async fn start(b: &Backend, a: FixUntilGreenArgs) -> Result<Value> {
    let (text, version, lang, path) = {
        let docs = b.shared.docs.lock();
        let d = docs.get(&a.uri).ok_or_else(|| {
            invalid(format!(
                "{CMD_LLM_FIX_UNTIL_GREEN}: {} is not open; open it in the editor first",
                a.uri
            ))
        })?;
        let path: PathBuf = d
            .path
            .clone()
            .ok_or_else(|| invalid(format!("{} is not a file", a.uri)))?;
        (d.text.clone(), d.version, d.lang, path)
    };
    let max_rounds = a.max_rounds.unwrap_or(3);
    if !(1..=10).contains(&max_rounds) {
        return Err(invalid("maxRounds must be between 1 and 10"));
    }
    let shared = b.shared.clone();
    let p = path.clone();
    let (cfg, head) = tokio::task::spawn_blocking(move || {
        let cfg = shared.scan_config(Some(&p));
        let head = warden_workspace::freshness(&cfg.root).0;
        (cfg, head)
    })
    .await
    .map_err(|e| super::internal(e.to_string()))?;
    let rel = cfg.relative(&path);
    // Refused up front: what would fail in the first round anyway.
    crate::runs::prepare(&cfg.run, &cfg.root, &path, &text, None, Vec::new())
        .map_err(|e| invalid(format!("{CMD_LLM_FIX_UNTIL_GREEN}: {e}")))?;
    warden_llm::route::resolve(&cfg.llm, &rel, "fix")
        .map_err(|e| invalid(format!("{CMD_LLM_FIX_UNTIL_GREEN}: {e}")))?;
    if let Some(p) = crate::snapshot::excluded_by(&cfg.llm.exclude, &rel) {
        return Err(invalid(format!(
            "{rel} matches the warden.llm.exclude pattern {p:?}; it is never sent to an LLM"
        )));
    }
    let request_id = a
        .request_id
        .clone()
        .unwrap_or_else(warden_trace::new_span_id);
    let key = super::llm::task_key(&request_id);
    if b.shared.tasks.contains(&key) {
        return Err(invalid(format!("{request_id} is already running")));
    }
    let (ws_id, ws_name) = b.shared.workspace_of(Some(&path));
    let workspace = WorkspaceRef {
        id: ws_id,
        name: ws_name.clone(),
    };
    let system_prompt = {
        let reg = b.registry()?.lock().await;
        match reg.by_name(&ws_name).await {
            Ok(row) => reg.info(&row, &b.shared.editor().raw).system_prompt,
            Err(_) => None,
        }
    };
    // The last run of this very text, when it failed, is the first round's failure.
    let failure = match b.shared.store.get() {
        Some(store) => {
            let (uri, id) = (a.uri.clone(), ws_id);
            let failed = store
                .read(move |c| warden_store::runs::last_failed(c, id))
                .await
                .unwrap_or_default();
            failed
                .iter()
                .find(|r| r.uri.as_deref() == Some(uri.as_str()))
                .and_then(|r| fix_loop::stored_failure(&cfg, &path, r, &text))
        }
        None => None,
    };
    let mut span = b
        .tracer
        .start(SpanKind::Command, CMD_LLM_FIX_UNTIL_GREEN)
        .workspace(Some(workspace.clone()))
        .uri(Some(a.uri.clone()))
        .input(json!({
            "requestId": request_id,
            "maxRounds": max_rounds,
            "budgetUsd": a.budget_usd,
            "failedRun": failure.as_ref().and_then(|f| f.run_id.clone()),
        }))
        .begin();
    let cancel = CancellationToken::new();
    let registered = b.shared.tasks.register(vec![key], &cancel);
    let progress = Reporter::begin(
        &b.client,
        b.flags().work_done_progress,
        &format!("warden/fix/{request_id}"),
        &format!("warden: fixing {rel} until it runs"),
        true,
    )
    .await;
    let host = LspHost {
        shared: b.shared.clone(),
        client: b.client.clone(),
        cfg: cfg.clone(),
        lang,
        request_id: request_id.clone(),
        uri: a.uri.clone(),
        progress,
    };
    let (tracer, client, shared) = (b.tracer.clone(), b.client.clone(), b.shared.clone());
    let (uri, id) = (a.uri.clone(), request_id.clone());
    let budget_usd = a.budget_usd;
    b.shared.tasks.spawn(async move {
        let _registered = registered;
        let store = shared.store.get().cloned();
        let setup = fix_loop::Setup {
            cfg: &cfg,
            path: &path,
            uri: Some(uri.clone()),
            lang,
            text: text.clone(),
            workspace,
            system_prompt,
            head,
            max_rounds,
            budget_usd,
            failure,
            engine: &shared.engine,
            tracer: &tracer,
            store: store.as_ref(),
            request_id: id.clone(),
        };
        let result = fix_loop::run(setup, &mut span, &host, &cancel).await;
        let params = match result {
            Ok(o) => {
                span.set_output(json!({
                    "green": o.green,
                    "rounds": o.rounds.len(),
                    "cached": o.rounds.iter().filter(|r| r.cached).count(),
                    "stopped": o.stopped,
                }));
                span.add_cost(o.cost_usd);
                if let Some(fixed) = &o.fixed {
                    shared.fixes.lock().insert(
                        id.clone(),
                        PendingFix {
                            uri: uri.clone(),
                            original: o.original.clone(),
                            version: Some(version),
                            fixed: fixed.clone(),
                        },
                    );
                }
                if cancel.is_cancelled() {
                    span.cancel();
                } else if o.green {
                    span.ok();
                } else {
                    span.fail(o.stopped.clone());
                }
                FixFinishedParams {
                    request_id: id.clone(),
                    uri: uri.clone(),
                    green: o.green,
                    stopped: o.stopped.clone(),
                    rounds: o.rounds.clone(),
                    cost_usd: o.cost_usd,
                    original: o.fixed.as_ref().map(|_| o.original.clone()),
                    fixed: o.fixed.clone(),
                }
            }
            Err(e) => {
                span.fail(e.clone());
                FixFinishedParams {
                    request_id: id.clone(),
                    uri: uri.clone(),
                    green: false,
                    stopped: e,
                    rounds: Vec::new(),
                    cost_usd: 0.0,
                    original: None,
                    fixed: None,
                }
            }
        };
        host.progress.end(params.stopped.clone()).await;
        client.send_notification::<FixFinished>(params).await;
    });
    Ok(json!({ "requestId": request_id }))
}

/// Applies a finished loop's fix to the document.
async fn accept(b: &Backend, request_id: &str) -> Result<Value> {
    let pending = b
        .shared
        .fixes
        .lock()
        .get(request_id)
        .cloned()
        .ok_or_else(|| {
            invalid(format!(
                "no fix {request_id} waits for an answer (it was accepted, discarded, or the server restarted)"
            ))
        })?;
    let hunks = warden_llm::edit::diff(&pending.original, &pending.fixed);
    let (applied, message) = super::llm::apply_hunks(
        b,
        &pending.uri,
        &pending.original,
        pending.version.unwrap_or(-1),
        hunks,
        &CancellationToken::new(),
    )
    .await;
    if applied {
        b.shared.fixes.lock().remove(request_id);
    }
    Ok(json!({ "applied": applied, "message": message }))
}

/// *Fix until it runs* on a failed run's diagnostics.
pub fn code_actions(cfg: &ScanConfig, uri: &Uri, diagnostics: &[Diagnostic]) -> Vec<CodeAction> {
    let failed: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.code == Some(NumberOrString::String("run-failed".into())))
        .cloned()
        .collect();
    if failed.is_empty() || warden_llm::route::resolve(&cfg.llm, "", "fix").is_err() {
        return Vec::new();
    }
    vec![CodeAction {
        title: "Fix until it runs (LLM and sandbox, up to 3 rounds)".into(),
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(failed),
        command: Some(Command {
            title: "Fix until it runs".into(),
            command: CMD_LLM_FIX_UNTIL_GREEN.into(),
            arguments: Some(vec![json!({ "uri": uri.as_str() })]),
        }),
        ..Default::default()
    }]
}
