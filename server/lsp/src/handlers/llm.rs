//! `warden.llm.*` actions: explain, fix, rewrite, docstring and tests through the
//! configured provider. Each runs as a `command` span holding `guard` spans (exclusion,
//! redaction, deny-list, reply packages) and one `llm` span, outside the registry lock,
//! with cancellable `$/progress`. The reply streams to the client as `warden/llmChunk`
//! with secrets restored; edits go through `workspace/applyEdit` as minimal line hunks
//! against the version the request saw, carried onto newer text only where they apply
//! cleanly. Prompts and replies are stored redacted; every call's interaction row is
//! written before the command answers. The response cache keys on the redacted request
//! and keeps only replies that were used (an applied edit, a shown explanation);
//! `noCache` skips the lookup, so a retry reaches the provider.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use warden_analysis::outline;
use warden_analysis::packages::mentions;
use warden_analysis::secrets::Context as SecretsContext;
use warden_analysis::secrets::redact::{Redactions, Restorer, redact};
use warden_analysis::{Lang, LineIndex};
use warden_llm::client::{self, LlmError};
use warden_llm::edit::{self, Hunk};
use warden_llm::prompt::{self, Action, Excerpt};
use warden_llm::route::{self, Route};
use warden_llm::wire::{Chat, Usage};
use warden_store::llm::{Cached, Interaction};
use warden_trace::{ActiveSpan, SpanKind, Tokens, WorkspaceRef};

use super::invalid;
use crate::diagnostics;
use crate::documents::{Encoding, Pos, offset};
use crate::lsp_ext::*;
use crate::progress::Reporter;
use crate::scanner::ScanConfig;
use crate::server::Backend;

fn task_key(request_id: &str) -> String {
    format!("llm:{request_id}")
}

fn progress_token(request_id: &str) -> String {
    format!("warden/llm/{request_id}")
}

/// Fired (cancelled) when a request has ended and is recorded; `warden.llm.cancel`
/// waits for it.
fn done_key(request_id: &str) -> String {
    format!("llm-done:{request_id}")
}

/// How long `warden.llm.cancel` waits for the cancelled request to end.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

fn action_of(command: &str) -> Option<Action> {
    Some(match command {
        CMD_LLM_EXPLAIN => Action::Explain,
        CMD_LLM_FIX => Action::Fix,
        CMD_LLM_REWRITE => Action::Rewrite,
        CMD_LLM_DOCSTRING => Action::Docstring,
        CMD_LLM_TESTS => Action::Tests,
        _ => return None,
    })
}

fn cancelled() -> Error {
    Error {
        code: ErrorCode::RequestCancelled,
        message: "cancelled".into(),
        data: None,
    }
}

/// Unregisters a request's cancellation token when the request ends, however it ends
/// (an aborted future included: `$/cancelRequest` drops it, which cancels the stream),
/// then fires its `done` token.
struct TaskGuard {
    registered: Option<(crate::tasks::TaskGuard, crate::tasks::TaskGuard)>,
    token: CancellationToken,
    done: CancellationToken,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.token.cancel();
        drop(self.registered.take());
        self.done.cancel();
    }
}

/// How long a risky edit waits for the user's "Apply anyway" before it is discarded.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an edit waits for the editor to answer `workspace/applyEdit`: an editor may
/// show the edit for review first (VS Code's diff with Accept/Discard), and the user may
/// take minutes; a cancel (`warden.llm.cancel`) ends the wait at any time.
const APPLY_EDIT_TIMEOUT: Duration = Duration::from_secs(600);

/// An interaction not stored yet. [`PendingRecord::record`] writes it and waits for
/// the write; if the request's future is aborted first (`$/cancelRequest` mid-stream),
/// dropping it queues the row as `cancelled`.
struct PendingRecord {
    store: Option<warden_store::Store>,
    row: Option<Interaction>,
}

impl PendingRecord {
    /// Writes the finished interaction and waits until the store has it, so that
    /// `warden/usage` and `warden/interactions` see it as soon as the command answers.
    async fn record(mut self, row: Interaction) {
        self.row = None;
        let Some(store) = self.store.take() else {
            return;
        };
        if let Err(e) = store
            .call(move |c| warden_store::llm::insert(c, &row).map(|_| ()))
            .await
        {
            tracing::warn!("store: record an LLM interaction failed: {e}");
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        if let (Some(store), Some(mut row)) = (&self.store, self.row.take()) {
            if row.outcome.is_empty() {
                row.outcome = "cancelled".into();
            }
            store.submit("record an LLM interaction", move |c| {
                warden_store::llm::insert(c, &row).map(|_| ())
            });
        }
    }
}

/// The open document a request is about, as the request saw it.
struct Doc {
    uri: String,
    text: String,
    version: i32,
    lang: Lang,
    path: PathBuf,
    tree: Option<tree_sitter::Tree>,
    encoding: Encoding,
}

pub async fn execute(b: &Backend, command: &str, args: Map<String, Value>) -> Result<Value> {
    if command == CMD_LLM_CANCEL {
        let a: LlmCancelArgs = super::commands::parse(command, args)?;
        let done = b.shared.tasks.token(&done_key(&a.request_id));
        let found = b.shared.cancel_task(&task_key(&a.request_id));
        if let (true, Some(done)) = (found, done) {
            // Answer once the request has ended and its spans and interaction are
            // recorded, so what the client asks next sees them (a request waiting on the
            // user, e.g. a confirmation, ends later; then answer anyway).
            let _ = tokio::time::timeout(CANCEL_WAIT, done.cancelled()).await;
        }
        return Ok(json!({ "cancelled": found }));
    }
    let action = action_of(command).ok_or_else(|| invalid(format!("unknown {command}")))?;
    let a: LlmArgs = super::commands::parse(command, args)?;
    let doc = {
        let docs = b.shared.docs.lock();
        let d = docs.get(&a.uri).ok_or_else(|| {
            invalid(format!(
                "{command}: {} is not open; open it in the editor first",
                a.uri
            ))
        })?;
        let path = d
            .path
            .clone()
            .ok_or_else(|| invalid(format!("{command}: {} is not a file", a.uri)))?;
        Doc {
            uri: a.uri.clone(),
            text: d.text.clone(),
            version: d.version,
            lang: d.lang,
            path,
            tree: d.tree.clone(),
            encoding: docs.encoding(),
        }
    };
    let request_id = a
        .request_id
        .clone()
        .unwrap_or_else(warden_trace::new_span_id);
    let (ws_id, ws_name) = b.shared.workspace_of(Some(&doc.path));
    let mut span = b
        .tracer
        .start(SpanKind::Command, command)
        .workspace(Some(WorkspaceRef {
            id: ws_id,
            name: ws_name.clone(),
        }))
        .uri(Some(doc.uri.clone()))
        .input(json!({
            "requestId": request_id,
            "range": a.range,
            "position": a.position,
            "diagnostic": a.diagnostic.as_ref().map(|d| &d.message),
            "instructionChars": a.instruction.as_ref().map(|i| i.chars().count()),
            "noCache": a.no_cache,
        }))
        .begin();
    let token = CancellationToken::new();
    let done = CancellationToken::new();
    let registered = (
        b.shared.tasks.register(
            vec![task_key(&request_id), progress_token(&request_id)],
            &token,
        ),
        b.shared.tasks.register(vec![done_key(&request_id)], &done),
    );
    // Dropped when this returns, after the command span ended: fires `done`.
    let _guard = TaskGuard {
        registered: Some(registered),
        token: token.clone(),
        done,
    };
    let req = Request {
        b,
        action,
        args: a,
        doc,
        request_id,
        workspace: (ws_id, ws_name),
        cancel: token.clone(),
    };
    match req.run(&mut span).await {
        Ok(r) => {
            span.set_output(json!({
                "cached": r.cached,
                "applied": r.applied,
                "message": r.message,
                "dropped": r.dropped,
                "chars": r.text.chars().count(),
            }));
            span.add_tokens(r.tokens);
            span.add_cost(r.cost_usd);
            span.ok();
            serde_json::to_value(r).map_err(|e| super::internal(e.to_string()))
        }
        Err(_) if token.is_cancelled() => {
            span.cancel();
            Err(cancelled())
        }
        Err(e) => {
            span.fail(e.message.to_string());
            Err(e)
        }
    }
}

struct Request<'a> {
    b: &'a Backend,
    action: Action,
    args: LlmArgs,
    doc: Doc,
    request_id: String,
    workspace: (i64, String),
    cancel: CancellationToken,
}

/// A guardrail's verdict, recorded as a `guard` span under the command span.
fn guard(
    parent: &ActiveSpan,
    name: &str,
    input: Value,
    verdict: std::result::Result<Value, String>,
) {
    let mut g = parent.child(SpanKind::Guard, name).input(input).begin();
    match verdict {
        Ok(out) => {
            g.set_output(out);
            g.ok();
        }
        Err(why) => {
            g.fail(why);
        }
    }
}

/// What the prompt is built from, before redaction, and where the reply goes.
struct Gathered {
    ctx: prompt::Context,
    /// Bytes of the target lines in the document.
    target: (usize, usize),
    /// For tests: the test file's absolute path.
    test_path: Option<PathBuf>,
}

/// The reply of a call or the cache.
struct Called {
    /// Redacted, as the provider wrote it.
    text: String,
    usage: Usage,
    cost: f64,
    cached: bool,
    provider: String,
    model: String,
    /// The response-cache key, with the cache on.
    cache_key: Option<String>,
    /// A fresh reply's cache entry, written only once the reply is used
    /// ([`Request::settle`]); `None` for a cache hit.
    fresh: Option<Cached>,
}

impl Request<'_> {
    async fn run(&self, span: &mut ActiveSpan) -> Result<LlmResult> {
        let b = self.b;
        let shared = b.shared.clone();
        let path = self.doc.path.clone();
        let (cfg, head) = tokio::task::spawn_blocking(move || {
            let cfg = shared.scan_config(Some(&path));
            let head = warden_workspace::freshness(&cfg.root).0;
            (cfg, head)
        })
        .await
        .map_err(|e| super::internal(e.to_string()))?;
        let llm = &cfg.llm;
        let rel = cfg.relative(&self.doc.path);

        // Guard: excluded files (and, for tests, an excluded test file) are never sent.
        let test_rel = match (self.action, self.doc.lang.grammar()) {
            (Action::Tests, Some(g)) => Some(g.conventions.test_file(&rel)),
            _ => None,
        };
        let exclusion = crate::snapshot::excluded_by(&llm.exclude, &rel)
            .map(|p| {
                format!(
                    "{rel} matches the warden.llm.exclude pattern {p:?}; it is never sent to an LLM"
                )
            })
            .or_else(|| {
                let t = test_rel.as_deref()?;
                crate::snapshot::excluded_by(&llm.exclude, t).map(|p| {
                    format!("the test file {t} matches the warden.llm.exclude pattern {p:?}")
                })
            });
        guard(
            span,
            "guard.exclude",
            json!({ "path": rel, "patterns": llm.exclude }),
            exclusion
                .clone()
                .map_or(Ok(json!({ "allowed": true })), Err),
        );
        if let Some(why) = exclusion {
            return Err(invalid(why));
        }
        let Gathered {
            mut ctx,
            target,
            test_path,
        } = self.gather(&cfg, &rel).map_err(invalid)?;
        let route = route::resolve(llm, &rel, self.action.as_str()).map_err(invalid)?;

        // System prompt and snapshot.
        ctx.system_prompt = self.system_prompt().await;
        if llm.include_snapshot {
            let root = cfg.root.clone();
            let rules = cfg.rules.clone();
            let exclude = crate::snapshot::exclude_set(&llm.exclude);
            let (name, max) = (self.workspace.1.clone(), cfg.max_file_size);
            let budget = Some(llm.context_tokens / 2);
            let cache = b.shared.snapshots.clone();
            let snap = tokio::task::spawn_blocking(move || {
                cache
                    .get_or_build(&root, budget, || {
                        crate::snapshot::build(&root, &name, &rules, &exclude, max, budget)
                    })
                    .0
            })
            .await
            .map_err(|e| super::internal(e.to_string()))?;
            // Snapshot secrets use their own numbering; they are not restorable here,
            // and never needed: replies edit only the file.
            ctx.snapshot = Some(snap.markdown.clone());
        }

        // Guard: redaction of everything that leaves.
        let mut red = Redactions::default();
        let sctx = SecretsContext {
            lang: self.doc.lang,
            path: Some(&self.doc.path),
            ..SecretsContext::default()
        };
        let mut count = 0;
        let mut clean = |s: &mut String| {
            let (out, n) = redact(s, &sctx, &cfg.rules, &mut red);
            *s = out;
            count += n;
        };
        clean(&mut ctx.target.text);
        if let Some(e) = &mut ctx.enclosing {
            clean(&mut e.text);
        }
        ctx.imports.iter_mut().for_each(&mut clean);
        ctx.diagnostics.iter_mut().for_each(&mut clean);
        for s in [&mut ctx.instruction, &mut ctx.fix, &mut ctx.system_prompt]
            .into_iter()
            .flatten()
        {
            clean(s);
        }
        if let Some((_, Some(existing))) = &mut ctx.test_file {
            clean(existing);
        }
        guard(
            span,
            "guard.redact",
            json!({ "path": rel }),
            Ok(json!({ "secretsRedacted": count })),
        );

        let (chat, dropped) = prompt::build(
            self.action,
            &ctx,
            &route.model,
            llm.max_tokens,
            llm.temperature,
            llm.context_tokens,
        )
        .map_err(invalid)?;

        // Guard: the deny-list.
        let sent = format!(
            "{}\n{}",
            chat.system.as_deref().unwrap_or(""),
            chat.messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<String>()
        );
        let denied = llm.deny_list.iter().enumerate().find(|(_, p)| {
            regex::RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .is_ok_and(|r| r.is_match(&sent))
        });
        let denial = denied
            .map(|(i, p)| format!("refused: the prompt matches warden.llm.denyList[{i}] ({p:?})"));
        guard(
            span,
            "guard.denyList",
            json!({ "rules": llm.deny_list.len() }),
            denial.clone().map_or(Ok(json!({ "allowed": true })), Err),
        );
        if let Some(why) = denial {
            return Err(invalid(why));
        }

        let called = self
            .call(span, &route, &chat, llm, &red, head.clone())
            .await;
        let called = called?;
        let restored = red.restore(&called.text);
        let tokens = Tokens {
            input: called.usage.input,
            output: called.usage.output,
            cached: called.usage.cached,
            reasoning: called.usage.reasoning,
        };
        let mut result = LlmResult {
            request_id: self.request_id.clone(),
            text: restored.clone(),
            cached: called.cached,
            provider: called.provider.clone(),
            model: called.model.clone(),
            tokens,
            cost_usd: called.cost,
            applied: None,
            message: None,
            dropped: dropped.iter().map(|d| d.to_string()).collect(),
        };
        if !self.action.edits() {
            // Shown to the user: an empty explanation is not worth replaying.
            self.settle(&called, !restored.trim().is_empty());
            return Ok(result);
        }

        let Some(code) = prompt::code_block(&called.text) else {
            self.settle(&called, false);
            return Err(invalid(format!(
                "the reply of {}/{} had no code block to apply; nothing changed",
                called.provider, called.model
            )));
        };
        let code = red.restore(&code);

        // Guard: packages the reply would bring in.
        let found = mentions::mentions(&restored, self.doc.lang.grammar());
        let bad = match cfg.advisories.clone() {
            Some(adv) => {
                let f = found.clone();
                tokio::task::spawn_blocking(move || mentions::malicious(&f, &*adv))
                    .await
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let unknown = match &cfg.metadata {
            Some(meta) => unknown_packages(meta, &found, &self.b.shared).await,
            None => Vec::new(),
        };
        let malicious = (!bad.is_empty()).then(|| {
            let list: Vec<String> = bad
                .iter()
                .map(|(m, issue)| {
                    let ids: Vec<&str> = issue.advisories.iter().map(|a| a.id.as_str()).collect();
                    format!(
                        "{} ({} {}, {})",
                        m.name,
                        m.ecosystem.as_str(),
                        m.via,
                        ids.join(", ")
                    )
                })
                .collect();
            format!(
                "The reply brings in a malicious package: {}.",
                list.join("; ")
            )
        });
        let made_up = (!unknown.is_empty()).then(|| {
            let list: Vec<String> = unknown
                .iter()
                .map(|m| format!("{} ({} {})", m.name, m.ecosystem.as_str(), m.via))
                .collect();
            format!(
                "The reply brings in a package its registry does not have: {} (a misspelling, or a name the model made up, which attackers register).",
                list.join("; ")
            )
        });
        let warning = match (malicious, made_up) {
            (None, None) => None,
            (a, b) => Some(format!(
                "{} Apply the edit anyway?",
                a.into_iter().chain(b).collect::<Vec<_>>().join(" ")
            )),
        };
        guard(
            span,
            "guard.packages",
            json!({ "packages": found.iter().map(|m| format!("{}:{}", m.ecosystem.as_str(), m.name)).collect::<Vec<_>>() }),
            warning
                .clone()
                .map_or(Ok(json!({ "malicious": 0, "unknown": 0 })), Err),
        );
        if let Some(w) = &warning {
            result.message = Some(w.clone());
            if !self.confirm(w).await {
                self.settle(&called, false);
                result.applied = Some(false);
                result.message = Some(format!("{w} Not applied: the user declined."));
                return Ok(result);
            }
        }

        let (applied, message) = match test_path {
            Some(p) if p != self.doc.path => self.apply_to_other(&p, &code).await,
            _ => {
                let (s, e) = target;
                let new_text = if self.action == Action::Tests {
                    let sep = if self.doc.text.ends_with('\n') {
                        "\n"
                    } else {
                        "\n\n"
                    };
                    format!("{}{sep}{code}", self.doc.text)
                } else {
                    let mut code = code;
                    if self.doc.text[s..e].ends_with('\n') && !code.ends_with('\n') {
                        code.push('\n');
                    }
                    format!("{}{code}{}", &self.doc.text[..s], &self.doc.text[e..])
                };
                self.apply_here(edit::diff(&self.doc.text, &new_text)).await
            }
        };
        result.applied = Some(applied);
        if message.is_some() {
            result.message = message;
        }
        self.settle(&called, applied);
        Ok(result)
    }

    /// The response cache after a reply was used or not. A used fresh reply is cached
    /// (replacing an older entry for the same request); a reply that was not used (no
    /// code block, no change, refused by the editor or the user) is never cached, and a
    /// cached one that was not used is forgotten: asking again reaches the provider
    /// instead of replaying it. Queued before the command answers, so the next request
    /// sees it.
    fn settle(&self, called: &Called, used: bool) {
        let (Some(key), Some(store)) = (&called.cache_key, self.b.shared.store.get()) else {
            return;
        };
        let k = key.clone();
        match (&called.fresh, used) {
            (Some(fresh), true) => {
                let (c, p, m) = (fresh.clone(), called.provider.clone(), called.model.clone());
                store.submit("cache an LLM reply", move |conn| {
                    warden_store::llm::cache_put(conn, &k, &p, &m, &c, &warden_trace::now_rfc3339())
                });
            }
            (None, false) if called.cached => {
                store.submit("forget a cached LLM reply", move |conn| {
                    warden_store::llm::cache_delete(conn, &k)
                });
            }
            _ => {}
        }
    }

    /// The workspace's effective system prompt (command > `.warden.toml` > settings).
    async fn system_prompt(&self) -> Option<String> {
        let reg = self.b.registry().ok()?.lock().await;
        let row = reg.by_name(&self.workspace.1).await.ok()?;
        let editor = self.b.shared.editor().raw.clone();
        reg.info(&row, &editor).system_prompt
    }

    /// The target lines, the context around them and the test file.
    fn gather(&self, cfg: &ScanConfig, rel: &str) -> std::result::Result<Gathered, String> {
        let d = &self.doc;
        let text = d.text.as_str();
        let a = &self.args;
        let to_off = |p: Position| {
            offset(
                text,
                Pos {
                    line: p.line,
                    character: p.character,
                },
                d.encoding,
            )
        };
        let grammar = d.lang.grammar();
        let tree = match (&d.tree, grammar) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(g)) => warden_analysis::syntax::parse(g, text, None),
            _ => None,
        };
        let enclosing_of = |s: usize, e: usize| match (grammar, &tree) {
            (Some(g), Some(t)) => outline::enclosing(g, t, text, s, e),
            _ => None,
        };
        let selection = a.range.map(|r| (to_off(r.start), to_off(r.end)));
        let at = a
            .position
            .map(to_off)
            .or(selection.map(|s| s.0))
            .unwrap_or(0);
        let name = self.action.as_str();
        let mut fix = None;
        let (s, e) = match self.action {
            Action::Rewrite => {
                match selection {
                    Some((s, e)) if e > s => (s, e),
                    _ => return Err(
                        "warden.llm.rewrite needs a non-empty range: select the code to rewrite"
                            .into(),
                    ),
                }
            }
            Action::Fix => {
                let diag = a
                    .diagnostic
                    .as_ref()
                    .ok_or("warden.llm.fix needs the diagnostic to fix")?;
                let (s, e) = (to_off(diag.range.start), to_off(diag.range.end));
                let source = diag.source.as_deref().unwrap_or("diagnostic");
                let code = match &diag.code {
                    Some(NumberOrString::String(c)) => format!(" {c}"),
                    Some(NumberOrString::Number(n)) => format!(" {n}"),
                    None => String::new(),
                };
                fix = Some(format!(
                    "[{source}{code}] {} (line {})",
                    diag.message,
                    diag.range.start.line + 1
                ));
                match enclosing_of(s, e) {
                    Some(def) if text[def.start..def.end].lines().count() <= 200 => {
                        (def.start, def.end)
                    }
                    _ => (s, e),
                }
            }
            Action::Docstring => {
                let def = enclosing_of(at, at).ok_or(
                    "no function or class encloses the cursor; place it inside the definition to document",
                )?;
                (def.start, def.end)
            }
            Action::Explain | Action::Tests => match selection {
                Some((s, e)) if e > s => (s, e),
                _ => match enclosing_of(at, at) {
                    Some(def) => (def.start, def.end),
                    None if self.action == Action::Explain => (at, at),
                    None => {
                        return Err(format!(
                            "warden.llm.{name}: select code, or place the cursor inside a function or class"
                        ));
                    }
                },
            },
        };
        let (ts, te) = whole_lines(text, s, e);
        let index = LineIndex::new(text);
        let line = index.line_col(ts).line as usize;
        let enclosing = enclosing_of(ts, te.saturating_sub(1).max(ts))
            .map(|def| whole_lines(text, def.start, def.end))
            .filter(|&(es, ee)| es < ts || ee > te)
            .map(|(es, ee)| Excerpt {
                line: index.line_col(es).line as usize,
                text: text[es..ee].to_owned(),
            });
        let imports = match (grammar, &tree) {
            (Some(g), Some(t)) => outline::import_statements(g, t, text),
            _ => Vec::new(),
        };
        let last_line = line + text[ts..te].trim_end_matches('\n').matches('\n').count();
        let diagnostics: Vec<String> = self
            .b
            .shared
            .findings
            .lock()
            .get(&d.uri)
            .map(|f| {
                f.findings
                    .iter()
                    .filter(|(_, r)| {
                        (r.start.line as usize) <= last_line && (r.end.line as usize) >= line
                    })
                    .map(|(f, r)| {
                        format!(
                            "line {}: [warden {}] {}",
                            r.start.line + 1,
                            f.rule,
                            f.message
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let conventions = grammar.map(|g| &g.conventions);
        let (test_file, test_path) = match (self.action, conventions) {
            (Action::Tests, Some(c)) => {
                let test_rel = c.test_file(rel);
                let abs = cfg.root.join(&test_rel);
                let existing = if abs == d.path {
                    None
                } else {
                    self.open_text(&abs)
                        .or_else(|| std::fs::read_to_string(&abs).ok())
                };
                (Some((test_rel, existing)), Some(abs))
            }
            (Action::Tests, None) => {
                return Err(format!(
                    "warden.llm.tests: no test convention for {} files",
                    d.lang.name()
                ));
            }
            _ => (None, None),
        };
        Ok(Gathered {
            ctx: prompt::Context {
                path: rel.to_owned(),
                language: grammar.map_or("", |g| g.name).to_owned(),
                target: Excerpt {
                    line,
                    text: text[ts..te].to_owned(),
                },
                enclosing,
                imports,
                diagnostics,
                instruction: a.instruction.clone(),
                fix,
                docstring_convention: conventions.map_or("", |c| c.docstring).to_owned(),
                test_framework: conventions.map_or("", |c| c.test_framework).to_owned(),
                test_file,
                system_prompt: None,
                snapshot: None,
            },
            target: (ts, te),
            test_path,
        })
    }

    fn open_text(&self, path: &Path) -> Option<String> {
        let uri = Uri::from_file_path(path)?;
        self.b
            .shared
            .docs
            .lock()
            .get(uri.as_str())
            .map(|d| d.text.clone())
    }

    /// Answers from the cache or streams from the provider; records the `llm` span and
    /// the interaction either way.
    async fn call(
        &self,
        span: &mut ActiveSpan,
        route: &Route,
        chat: &Chat,
        llm: &warden_config::LlmSettings,
        red: &Redactions,
        head: Option<String>,
    ) -> Result<Called> {
        let b = self.b;
        let key = prompt::cache_key(&route.provider.name, &route.provider.base_url, chat);
        let mut call_span = span
            .child(SpanKind::Llm, format!("{}/{}", route.provider.name, route.model))
            .uri(Some(self.doc.uri.clone()))
            .input(json!({
                "provider": route.provider.name,
                "model": route.model,
                "action": self.action.as_str(),
                "muxRule": route.rule,
                "promptTokensEstimate": chat.messages.iter().map(|m| prompt::tokens(&m.content)).sum::<usize>()
                    + prompt::tokens(chat.system.as_deref().unwrap_or("")),
                "cacheKey": &key[..16],
            }))
            .begin();
        let store = b.shared.store.get().cloned();
        let cached = match (&store, llm.cache && !self.args.no_cache) {
            (Some(store), true) => {
                let k = key.clone();
                store
                    .call(move |c| warden_store::llm::cache_get(c, &k))
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let started = std::time::Instant::now();
        let interaction = Interaction {
            workspace_id: self.workspace.0,
            request_id: self.request_id.clone(),
            span_id: Some(span.id().to_owned()),
            action: self.action.as_str().to_owned(),
            uri: Some(self.doc.uri.clone()),
            provider: route.provider.name.clone(),
            model: route.model.clone(),
            prompt: serde_json::to_string(chat).unwrap_or_default(),
            head,
            file_hash: Some(
                Sha256::digest(self.doc.text.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            ),
            created_at: warden_trace::now_rfc3339(),
            ..Interaction::default()
        };
        // Recorded below before this call returns, or as cancelled when the request is
        // aborted mid-stream (`pending` drops holding the row).
        let mut pending = PendingRecord {
            store: store.clone(),
            row: Some(interaction),
        };
        let outcome: std::result::Result<(String, Usage, Option<Duration>, bool), LlmError> =
            match cached {
                Some(hit) => {
                    let text = hit.response;
                    b.client
                        .send_notification::<LlmChunk>(LlmChunkParams {
                            request_id: self.request_id.clone(),
                            text: red.restore(&text),
                        })
                        .await;
                    Ok((text, Usage::default(), Some(started.elapsed()), true))
                }
                None => self.stream(route, chat, red).await,
            };
        let mut interaction = pending.row.take().expect("taken once");
        interaction.latency_ms = Some(started.elapsed().as_millis() as u64);
        match outcome {
            Ok((text, usage, ttft, from_cache)) => {
                let cost = warden_llm::price::cost(&route.model, &usage, &llm.prices);
                let tokens = Tokens {
                    input: usage.input,
                    output: usage.output,
                    cached: usage.cached,
                    reasoning: usage.reasoning,
                };
                call_span.add_tokens(tokens);
                call_span.add_cost(cost);
                call_span.set_output(json!({
                    "cached": from_cache,
                    "ttftMs": ttft.map(|t| t.as_millis() as u64),
                    "chars": text.chars().count(),
                }));
                call_span.ok();
                let fresh = (!from_cache).then(|| Cached {
                    response: text.clone(),
                    usage: serde_json::to_string(&usage).unwrap_or_default(),
                });
                interaction.response = Some(text.clone());
                interaction.tokens_input = usage.input;
                interaction.tokens_output = usage.output;
                interaction.tokens_cached = usage.cached;
                interaction.tokens_reasoning = usage.reasoning;
                interaction.cost_usd = cost;
                interaction.ttft_ms = ttft.map(|t| t.as_millis() as u64);
                interaction.cache_hit = from_cache;
                interaction.outcome = "ok".into();
                pending.record(interaction).await;
                Ok(Called {
                    text,
                    usage,
                    cost,
                    cached: from_cache,
                    provider: route.provider.name.clone(),
                    model: route.model.clone(),
                    cache_key: llm.cache.then_some(key),
                    fresh,
                })
            }
            Err(LlmError::Cancelled) => {
                call_span.cancel();
                interaction.outcome = "cancelled".into();
                pending.record(interaction).await;
                Err(cancelled())
            }
            Err(e) => {
                let message = e.to_string();
                call_span.fail(message.clone());
                interaction.outcome = "error".into();
                interaction.error = Some(message.clone());
                pending.record(interaction).await;
                Err(invalid(message))
            }
        }
    }

    /// Streams from the provider with cancellable progress, forwarding restored chunks.
    async fn stream(
        &self,
        route: &Route,
        chat: &Chat,
        red: &Redactions,
    ) -> std::result::Result<(String, Usage, Option<Duration>, bool), LlmError> {
        let b = self.b;
        let key = client::api_key(&route.provider)?;
        let title = format!("warden: {} ({})", self.action.as_str(), route.model);
        let progress = Reporter::begin(
            &b.client,
            b.flags().work_done_progress,
            &progress_token(&self.request_id),
            &title,
            true,
        )
        .await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let client = b.client.clone();
        let request_id = self.request_id.clone();
        let forward = b.shared.tasks.spawn(async move {
            let mut chars = 0usize;
            let mut reported = 0usize;
            while let Some(text) = rx.recv().await {
                chars += text.chars().count();
                client
                    .send_notification::<LlmChunk>(LlmChunkParams {
                        request_id: request_id.clone(),
                        text,
                    })
                    .await;
                if chars - reported >= 200 {
                    reported = chars;
                    progress
                        .report(format!("~{} tokens received", chars.div_ceil(4)), 50)
                        .await;
                }
            }
            progress
        });
        let mut restorer = Restorer::new(red);
        let result = client::stream(
            &route.provider,
            key.as_deref(),
            chat,
            &self.cancel,
            |chunk| {
                let out = restorer.push(chunk);
                if !out.is_empty() {
                    let _ = tx.send(out);
                }
            },
        )
        .await;
        let tail = restorer.finish();
        if !tail.is_empty() {
            let _ = tx.send(tail);
        }
        drop(tx);
        let progress = forward.await.ok();
        let end = match &result {
            Ok(r) => format!("~{} tokens received", r.usage.output),
            Err(LlmError::Cancelled) => "cancelled".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        if let Some(p) = progress {
            p.end(end).await;
        }
        result.map(|r| (r.text, r.usage, r.first_token, false))
    }

    /// Asks the user to confirm a risky edit (`window/showMessageRequest`). No answer
    /// within [`CONFIRM_TIMEOUT`] is a "Discard": the request does not wait forever.
    async fn confirm(&self, warning: &str) -> bool {
        let apply = MessageActionItem {
            title: "Apply anyway".into(),
            properties: Default::default(),
        };
        let discard = MessageActionItem {
            title: "Discard".into(),
            properties: Default::default(),
        };
        let asked = self.b.client.show_message_request(
            MessageType::WARNING,
            warning.to_owned(),
            Some(vec![apply, discard]),
        );
        matches!(
            tokio::time::timeout(CONFIRM_TIMEOUT, asked).await,
            Ok(Ok(Some(item))) if item.title == "Apply anyway"
        )
    }

    /// Applies hunks computed against the text the request saw to the document as it is
    /// now: as they are if unchanged, else carried over where they apply cleanly.
    async fn apply_here(&self, hunks: Vec<Hunk>) -> (bool, Option<String>) {
        if hunks.is_empty() {
            return (false, Some("the reply changes nothing".into()));
        }
        let (current, version, encoding) = {
            let docs = self.b.shared.docs.lock();
            match docs.get(&self.doc.uri) {
                Some(d) => (d.text.clone(), d.version, docs.encoding()),
                None => {
                    return (
                        false,
                        Some("the document was closed; nothing applied".into()),
                    );
                }
            }
        };
        let hunks = if version == self.doc.version {
            hunks
        } else {
            match edit::rebase(&hunks, &self.doc.text, &current) {
                Ok(h) => h,
                Err(c) => {
                    let msg = format!(
                        "Not applied: {c}, and the suggestion overlaps your edits. Your text is unchanged; run the action again."
                    );
                    self.b
                        .client
                        .show_message(MessageType::WARNING, msg.clone())
                        .await;
                    return (false, Some(msg));
                }
            }
        };
        let Ok(uri) = self.doc.uri.parse::<Uri>() else {
            return (false, Some("bad document URI".into()));
        };
        let index = LineIndex::new(&current);
        let edits = hunks
            .iter()
            .map(|h| {
                OneOf::Left(TextEdit {
                    range: diagnostics::range(&current, &index, h.start, h.end, encoding),
                    new_text: h.text.clone(),
                })
            })
            .collect();
        let change = DocumentChanges::Edits(vec![TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier {
                uri,
                version: Some(version),
            },
            edits,
        }]);
        self.send_edit(change).await
    }

    /// Appends tests to another file, creating it when it does not exist.
    async fn apply_to_other(&self, path: &Path, code: &str) -> (bool, Option<String>) {
        let ops = super::code_actions::append_to_file(self.b, path, code, true);
        if ops.is_empty() {
            return (
                false,
                Some(format!("{} is not a valid path", path.display())),
            );
        }
        self.send_edit(DocumentChanges::Operations(ops)).await
    }

    async fn send_edit(&self, changes: DocumentChanges) -> (bool, Option<String>) {
        let edit = WorkspaceEdit {
            document_changes: Some(changes),
            ..Default::default()
        };
        let waited = tokio::select! {
            waited = tokio::time::timeout(APPLY_EDIT_TIMEOUT, self.b.client.apply_edit(edit)) => waited,
            () = self.cancel.cancelled() => {
                return (false, Some("cancelled while the editor had the edit; warden applied nothing".into()));
            }
        };
        let answer = match waited {
            Ok(answer) => answer,
            Err(_) => {
                return (
                    false,
                    Some(format!(
                        "the editor did not answer workspace/applyEdit within {} s; nothing was applied by warden",
                        APPLY_EDIT_TIMEOUT.as_secs()
                    )),
                );
            }
        };
        match answer {
            Ok(r) if r.applied => (true, None),
            Ok(r) => (
                false,
                Some(format!(
                    "the editor did not apply the edit: {}",
                    r.failure_reason.unwrap_or_else(|| "no reason given".into())
                )),
            ),
            Err(e) => (
                false,
                Some(format!("the editor did not apply the edit: {e}")),
            ),
        }
    }
}

/// `start..end` widened to whole lines (an end at a line start stays there).
fn whole_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let s = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let e = if end > s && text[..end].ends_with('\n') {
        end
    } else {
        text[end..].find('\n').map_or(text.len(), |i| end + i + 1)
    };
    (s, e)
}

/// LLM code actions for a range: explain, fix each diagnostic in the request's context
/// (from any source), document the enclosing definition, write tests. Offered only when
/// a model is configured for the file.
pub fn code_actions(
    cfg: &ScanConfig,
    uri: &Uri,
    path: &Path,
    lang: Lang,
    range: Range,
    diagnostics: &[Diagnostic],
) -> Vec<CodeAction> {
    let rel = cfg.relative(path);
    if crate::snapshot::excluded_by(&cfg.llm.exclude, &rel).is_some() {
        return Vec::new();
    }
    let resolvable = |a: Action| route::resolve(&cfg.llm, &rel, a.as_str()).is_ok();
    let action = |title: String,
                  kind: CodeActionKind,
                  command: &str,
                  args: Value,
                  diags: Option<Vec<Diagnostic>>| CodeAction {
        title: title.clone(),
        kind: Some(kind),
        diagnostics: diags,
        command: Some(Command {
            title,
            command: command.into(),
            arguments: Some(vec![args]),
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    for d in diagnostics {
        if resolvable(Action::Fix) {
            out.push(action(
                format!("Fix with LLM: {}", d.message.lines().next().unwrap_or("")),
                CodeActionKind::QUICKFIX,
                CMD_LLM_FIX,
                json!({ "uri": uri.as_str(), "diagnostic": d }),
                Some(vec![d.clone()]),
            ));
        }
    }
    if resolvable(Action::Explain) {
        out.push(action(
            "Explain with LLM".into(),
            CodeActionKind::new("warden.llm.explain"),
            CMD_LLM_EXPLAIN,
            json!({ "uri": uri.as_str(), "range": range }),
            None,
        ));
    }
    if lang.grammar().is_some() {
        if resolvable(Action::Docstring) {
            out.push(action(
                "Add docstring with LLM".into(),
                CodeActionKind::REFACTOR_REWRITE,
                CMD_LLM_DOCSTRING,
                json!({ "uri": uri.as_str(), "position": range.start }),
                None,
            ));
        }
        if resolvable(Action::Tests) {
            out.push(action(
                "Write tests with LLM".into(),
                CodeActionKind::REFACTOR,
                CMD_LLM_TESTS,
                json!({ "uri": uri.as_str(), "range": range }),
                None,
            ));
        }
    }
    out
}

/// How long the guard waits for the metadata API per reply before applying without
/// its answer (no answer is no warning).
const GUARD_LOOKUP: std::time::Duration = std::time::Duration::from_secs(5);

/// The packages a reply brings in that their registry does not have: stored answers,
/// else asked now (within [`GUARD_LOOKUP`]) and stored.
async fn unknown_packages(
    meta: &crate::metadata::Metadata,
    found: &[mentions::Mention],
    shared: &crate::shared::Shared,
) -> Vec<mentions::Mention> {
    use warden_analysis::packages::metadata::PackageMeta;
    let settings = shared.editor().settings.packages.clone();
    let mut out = Vec::new();
    let mut ask = Vec::new();
    for m in found {
        let name = m.ecosystem.normalize_name(&m.name);
        let (meta, name2, eco) = (meta.clone(), name.clone(), m.ecosystem);
        let stored = tokio::task::spawn_blocking(move || meta.get(eco, &name2))
            .await
            .ok()
            .flatten();
        match stored {
            Some(p) if *p == PackageMeta::Unknown => out.push(m.clone()),
            Some(_) => {}
            None => ask.push((m.clone(), name)),
        }
    }
    if ask.is_empty() || warden_config::offline() {
        return out;
    }
    let Ok(api) = crate::metadata::Client::new(&settings.metadata_base(), GUARD_LOOKUP) else {
        return out;
    };
    let store = shared.store.get().cloned();
    let asked = futures::future::join_all(ask.into_iter().map(|(m, name)| {
        let api = api.clone();
        async move {
            let r = api.package(m.ecosystem, &name).await;
            (m, name, r)
        }
    }));
    let Ok(answers) = tokio::time::timeout(GUARD_LOOKUP, asked).await else {
        return out;
    };
    for (m, name, r) in answers {
        let Ok(p) = r else { continue };
        if let Some(store) = &store {
            let (e, body) = (
                m.ecosystem.as_str().to_owned(),
                serde_json::to_string(&p).unwrap_or_default(),
            );
            store.submit("store package metadata", move |c| {
                warden_store::metadata::put(c, &e, &name, &body)
            });
        }
        if p == PackageMeta::Unknown {
            out.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_widen_and_keep_line_starts() {
        let t = "a\nbb\nccc\n";
        assert_eq!(whole_lines(t, 3, 4), (2, 5));
        assert_eq!(whole_lines(t, 2, 5), (2, 5), "ends at a line start");
        assert_eq!(whole_lines(t, 2, 2), (2, 5), "empty range: its line");
        assert_eq!(
            whole_lines("x\ny", 2, 3),
            (2, 3),
            "last line without newline"
        );
    }
}
