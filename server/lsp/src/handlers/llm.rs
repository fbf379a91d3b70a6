//! `warden.llm.*` actions: explain, fix, rewrite, docstring and tests through the
//! configured provider. The handler gathers the context from the open document (the
//! target lines, the enclosing definition, imports, diagnostics, the test file) and
//! checks the exclusion guard; the call path itself (redaction, routing, deny-list and
//! budgets, the response cache, the stream, the record) is `warden_pipeline::action`,
//! with this module's [`LspSurface`] for what is the editor's: the reply streams to the
//! client as `warden/llmChunk` with cancellable `$/progress`, a risky edit is confirmed
//! with `window/showMessageRequest`, and edits go through `workspace/applyEdit` as
//! minimal line hunks against the version the request saw, carried onto newer text only
//! where they apply cleanly. Each action is a `command` span holding `guard` spans and
//! one `llm` span, outside the registry lock; `noCache` skips the response cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use warden_analysis::outline;
use warden_analysis::packages::mentions;
use warden_analysis::{Lang, LineIndex};
use warden_llm::edit::{self, Hunk};
use warden_llm::prompt::{self, Action, Excerpt};
use warden_llm::route;
use warden_pipeline::action::{ActionError, Surface};
use warden_pipeline::guards::guard;
use warden_trace::{ActiveSpan, SpanKind, WorkspaceRef};

use super::invalid;
use crate::diagnostics;
use crate::documents::{Encoding, Pos, offset};
use crate::lsp_ext::*;
use crate::progress::Reporter;
use crate::scanner::ScanConfig;
use crate::server::Backend;

pub(super) fn task_key(request_id: &str) -> String {
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

/// What the prompt is built from, before redaction, and where the reply goes.
struct Gathered {
    ctx: prompt::Context,
    /// Bytes of the target lines in the document.
    target: (usize, usize),
    /// For tests: the test file's absolute path.
    test_path: Option<PathBuf>,
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
            ctx.snapshot = Some(snap.markdown.clone());
        }

        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let forward = b
            .shared
            .tasks
            .spawn(forward(b.client.clone(), self.request_id.clone(), rx));
        let surface = LspSurface {
            req: self,
            cfg: &cfg,
            target,
            test_path,
            tx,
        };
        let action = warden_pipeline::Action {
            kind: self.action,
            ctx,
            llm,
            rules: &cfg.rules,
            lang: self.doc.lang,
            path: &self.doc.path,
            rel: &rel,
            workspace: self.workspace.clone(),
            request_id: self.request_id.clone(),
            uri: Some(self.doc.uri.clone()),
            head,
            file_hash: Some(crate::root_config::sha256_hex(self.doc.text.as_bytes())),
            no_cache: self.args.no_cache,
        };
        let store = b.shared.store.get();
        let result =
            warden_pipeline::action::run(action, store, span, &surface, &self.cancel).await;
        // Every chunk and the progress end reach the client before the command answers.
        drop(surface);
        let _ = forward.await;
        match result {
            Ok(r) => Ok(LlmResult {
                request_id: self.request_id.clone(),
                text: r.text,
                cached: r.cached,
                provider: r.provider,
                model: r.model,
                tokens: r.tokens,
                cost_usd: r.cost_usd,
                applied: r.applied,
                message: r.message,
                dropped: r.dropped,
            }),
            Err(ActionError::Cancelled) => Err(cancelled()),
            Err(ActionError::Invalid(m)) => Err(invalid(m)),
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

    async fn apply_here(&self, hunks: Vec<Hunk>) -> (bool, Option<String>) {
        let doc = &self.doc;
        apply_hunks(
            self.b,
            &doc.uri,
            &doc.text,
            doc.version,
            hunks,
            &self.cancel,
        )
        .await
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
        send_edit(self.b, changes, &self.cancel).await
    }
}

/// Sends a workspace edit and waits for the editor's answer (or the cancellation).
pub(super) async fn send_edit(
    b: &Backend,
    changes: DocumentChanges,
    cancel: &CancellationToken,
) -> (bool, Option<String>) {
    let edit = WorkspaceEdit {
        document_changes: Some(changes),
        ..Default::default()
    };
    let waited = tokio::select! {
        waited = tokio::time::timeout(APPLY_EDIT_TIMEOUT, b.client.apply_edit(edit)) => waited,
        () = cancel.cancelled() => {
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

/// Applies hunks computed against `base` (the document at `base_version`) to the
/// document as it is now: as they are if unchanged, else carried over where they apply
/// cleanly.
pub(super) async fn apply_hunks(
    b: &Backend,
    uri: &str,
    base: &str,
    base_version: i32,
    hunks: Vec<Hunk>,
    cancel: &CancellationToken,
) -> (bool, Option<String>) {
    if hunks.is_empty() {
        return (false, Some("the reply changes nothing".into()));
    }
    let (current, version, encoding) = {
        let docs = b.shared.docs.lock();
        match docs.get(uri) {
            Some(d) => (d.text.clone(), d.version, docs.encoding()),
            None => {
                return (
                    false,
                    Some("the document was closed; nothing applied".into()),
                );
            }
        }
    };
    let hunks = if version == base_version {
        hunks
    } else {
        match edit::rebase(&hunks, base, &current) {
            Ok(h) => h,
            Err(c) => {
                let msg = format!(
                    "Not applied: {c}, and the suggestion overlaps your edits. Your text is unchanged; run the action again."
                );
                b.client
                    .show_message(MessageType::WARNING, msg.clone())
                    .await;
                return (false, Some(msg));
            }
        }
    };
    let Ok(parsed) = uri.parse::<Uri>() else {
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
            uri: parsed,
            version: Some(version),
        },
        edits,
    }]);
    send_edit(b, change, cancel).await
}

/// The editor's side of an action: chunks and progress to the client, the user's
/// confirmation, the edit through `workspace/applyEdit`.
struct LspSurface<'a> {
    req: &'a Request<'a>,
    cfg: &'a ScanConfig,
    /// Bytes of the target lines in the document.
    target: (usize, usize),
    /// For tests: the test file's absolute path.
    test_path: Option<PathBuf>,
    tx: tokio::sync::mpsc::UnboundedSender<Forward>,
}

/// What [`forward`] sends to the client, in order.
enum Forward {
    Begin(Reporter),
    Chunk(String),
    End(String),
}

/// Sends an action's chunks as `warden/llmChunk` and its progress as `$/progress`, in
/// order, until the surface is dropped.
async fn forward(
    client: tower_lsp_server::Client,
    request_id: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Forward>,
) {
    let mut progress: Option<Reporter> = None;
    let (mut chars, mut reported) = (0usize, 0usize);
    while let Some(m) = rx.recv().await {
        match m {
            Forward::Begin(r) => progress = Some(r),
            Forward::Chunk(text) => {
                chars += text.chars().count();
                client
                    .send_notification::<LlmChunk>(LlmChunkParams {
                        request_id: request_id.clone(),
                        text,
                    })
                    .await;
                if let Some(p) = &progress
                    && chars - reported >= 200
                {
                    reported = chars;
                    p.report(format!("~{} tokens received", chars.div_ceil(4)), 50)
                        .await;
                }
            }
            Forward::End(summary) => {
                if let Some(p) = progress.take() {
                    p.end(summary).await;
                }
            }
        }
    }
}

impl Surface for LspSurface<'_> {
    async fn started(&self, title: &str) {
        let b = self.req.b;
        let progress = Reporter::begin(
            &b.client,
            b.flags().work_done_progress,
            &progress_token(&self.req.request_id),
            title,
            true,
        )
        .await;
        let _ = self.tx.send(Forward::Begin(progress));
    }

    fn chunk(&self, text: String) {
        let _ = self.tx.send(Forward::Chunk(text));
    }

    async fn ended(&self, summary: String) {
        let _ = self.tx.send(Forward::End(summary));
    }

    async fn risky_packages(&self, reply: &str) -> (Vec<String>, Option<String>) {
        risky_packages(&self.req.b.shared, self.cfg, self.req.doc.lang, reply).await
    }

    async fn confirm(&self, warning: &str) -> bool {
        self.req.confirm(warning).await
    }

    async fn apply(&self, code: String) -> (bool, Option<String>) {
        let req = self.req;
        let doc = &req.doc;
        match &self.test_path {
            Some(p) if *p != doc.path => req.apply_to_other(p, &code).await,
            _ => {
                let (s, e) = self.target;
                let new_text = if req.action == Action::Tests {
                    let sep = if doc.text.ends_with('\n') {
                        "\n"
                    } else {
                        "\n\n"
                    };
                    format!("{}{sep}{code}", doc.text)
                } else {
                    let mut code = code;
                    if doc.text[s..e].ends_with('\n') && !code.ends_with('\n') {
                        code.push('\n');
                    }
                    format!("{}{code}{}", &doc.text[..s], &doc.text[e..])
                };
                req.apply_here(edit::diff(&doc.text, &new_text)).await
            }
        }
    }
}

/// The packages a reply brings in (`ecosystem:name`), and a warning when some are
/// malicious (advisories) or unknown to their registry (stored metadata answers).
pub(super) async fn risky_packages(
    shared: &std::sync::Arc<crate::shared::Shared>,
    cfg: &ScanConfig,
    lang: Lang,
    reply: &str,
) -> (Vec<String>, Option<String>) {
    let found = mentions::mentions(reply, lang.grammar());
    let bad = match cfg.advisories.clone() {
        Some(adv) => {
            let f = found.clone();
            tokio::task::spawn_blocking(move || mentions::malicious(&f, &*adv))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let rest = mentions::excluding(&found, &bad);
    let unknown = match &cfg.metadata {
        Some(meta) => unknown_packages(meta, &rest, shared).await,
        None => Vec::new(),
    };
    let malicious = (!bad.is_empty()).then(|| {
        format!(
            "The reply brings in a malicious package: {}.",
            mentions::describe(&bad).join("; ")
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
        (a, b) => Some(a.into_iter().chain(b).collect::<Vec<_>>().join(" ")),
    };
    let names = found
        .iter()
        .map(|m| format!("{}:{}", m.ecosystem.as_str(), m.name))
        .collect();
    (names, warning)
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
    let wanted = found
        .iter()
        .map(|m| (m.ecosystem, m.ecosystem.normalize_name(&m.name)))
        .collect();
    meta.answer_now(&settings, wanted, GUARD_LOOKUP).await;
    let (meta, found) = (meta.clone(), found.to_vec());
    tokio::task::spawn_blocking(move || {
        found
            .into_iter()
            .filter(|m| {
                meta.get(m.ecosystem, &m.ecosystem.normalize_name(&m.name))
                    .is_some_and(|p| *p == PackageMeta::Unknown)
            })
            .collect()
    })
    .await
    .unwrap_or_default()
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
