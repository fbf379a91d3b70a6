//! The language server: [`Backend`] owns the session state (documents, settings, the
//! workspace registry, the store and the tracer) and implements tower-lsp-server's
//! `LanguageServer` by delegating to `handlers::*`. [`serve_stdio`] wires it to stdin and
//! stdout behind the panic-catching middleware, and ends the process on `exit`, when
//! stdin closes (after a short grace for handlers still running) or when the editor
//! process named by `initialize`'s `processId` dies; the exit code is 0 only after a
//! successful `shutdown`.
//!
//! Concurrency: tower-lsp-server polls up to [`MAX_IN_FLIGHT`] handlers at once,
//! interleaving at every `.await`. Documents change synchronously before any await;
//! workspace state changes hold the registry's async mutex for their whole duration, so
//! they are serialized; store work runs on the store's owner thread.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};
use warden_store::Store;
use warden_trace::{Span, SpanSink, Tracer};

use crate::handlers;
use crate::lsp_ext::{self, TraceFinished, TraceStarted, TraceStartedParams};
use crate::middleware::Guarded;
use crate::registry::Registry;
use crate::shared::Shared;

/// What the client told us it can do, captured at `initialize`.
#[derive(Debug, Clone, Default)]
pub struct ClientFlags {
    pub configuration: bool,
    pub work_done_progress: bool,
    pub watched_files_dynamic: bool,
}

pub struct Backend {
    pub client: Client,
    pub tracer: Tracer,
    /// `--db` / `WARDEN_DB`: wins over the `database.path` setting.
    pub db_override: Option<PathBuf>,
    pub store: Arc<OnceLock<Store>>,
    /// Why the configured database could not be used (reported after `initialized`).
    pub store_problem: parking_lot::Mutex<Option<String>>,
    pub registry: OnceLock<tokio::sync::Mutex<Registry>>,
    /// Documents, settings, findings: what background tasks share with handlers.
    pub shared: Arc<Shared>,
    pub flags: OnceLock<ClientFlags>,
    pub initial_folders: parking_lot::Mutex<Vec<PathBuf>>,
    /// The LLM gateway for the workspaces' AI tools, started at `initialized`.
    pub gateway: tokio::sync::OnceCell<Option<warden_gateway::Gateway>>,
    live_traces: Arc<AtomicBool>,
    live_tx: tokio::sync::mpsc::UnboundedSender<LiveEvent>,
}

impl Backend {
    pub fn new(client: Client, db_override: Option<PathBuf>, store: Arc<OnceLock<Store>>) -> Self {
        let tracer = Tracer::new();
        crate::telemetry::attach(&tracer);
        let live_traces = Arc::new(AtomicBool::new(true));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LiveEvent>();
        let forward = client.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                match event {
                    LiveEvent::Started(p) => forward.send_notification::<TraceStarted>(p).await,
                    LiveEvent::Finished(end) => {
                        forward.send_notification::<TraceFinished>(end).await
                    }
                }
            }
        });
        Backend {
            client,
            tracer,
            db_override,
            store,
            store_problem: parking_lot::Mutex::new(None),
            registry: OnceLock::new(),
            shared: Arc::new(Shared::default()),
            flags: OnceLock::new(),
            initial_folders: parking_lot::Mutex::new(Vec::new()),
            gateway: tokio::sync::OnceCell::new(),
            live_traces,
            live_tx: tx,
        }
    }

    /// Adds the store and the live-notification sinks, in that order: a span event is
    /// published only after the store has recorded it (the live sink queues its send
    /// behind the write on the store's owner thread).
    pub fn attach_store(&self, store: Store) {
        self.tracer
            .add_sink(Arc::new(warden_store::StoreSink::new(store.clone())));
        self.tracer.add_sink(Arc::new(LiveSink {
            tx: self.live_tx.clone(),
            enabled: self.live_traces.clone(),
            store,
        }));
    }

    pub fn flags(&self) -> ClientFlags {
        self.flags.get().cloned().unwrap_or_default()
    }

    pub fn set_live_traces(&self, on: bool) {
        self.live_traces.store(on, Ordering::Relaxed);
    }

    /// The registry; exists from `initialize` on (tower-lsp-server refuses earlier calls).
    pub fn registry(&self) -> Result<&tokio::sync::Mutex<Registry>> {
        self.registry
            .get()
            .ok_or_else(tower_lsp_server::jsonrpc::Error::invalid_request)
    }
}

enum LiveEvent {
    Started(TraceStartedParams),
    Finished(warden_trace::SpanEnd),
}

/// Forwards span events to the editor as `warden/traceStarted`/`warden/traceFinished`,
/// through the store's queue so each is sent after the store recorded it.
struct LiveSink {
    tx: tokio::sync::mpsc::UnboundedSender<LiveEvent>,
    enabled: Arc<AtomicBool>,
    store: Store,
}

impl LiveSink {
    fn forward(&self, event: LiveEvent) {
        let tx = self.tx.clone();
        self.store.submit("publish a span event", move |_| {
            let _ = tx.send(event);
            Ok(())
        });
    }
}

impl SpanSink for LiveSink {
    fn started(&self, span: &Span) {
        if self.enabled.load(Ordering::Relaxed) {
            self.forward(LiveEvent::Started(span.into()));
        }
    }

    fn finished(&self, span: &Span) {
        if let (true, Some(end)) = (self.enabled.load(Ordering::Relaxed), span.end()) {
            self.forward(LiveEvent::Finished(end));
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        handlers::lifecycle::initialize(self, params).await
    }

    async fn initialized(&self, _: InitializedParams) {
        handlers::lifecycle::initialized(self).await
    }

    async fn shutdown(&self) -> Result<()> {
        handlers::lifecycle::shutdown(self).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        handlers::documents::did_open(self, params)
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        handlers::documents::did_change(self, params).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        handlers::documents::did_save(self, params).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        handlers::documents::did_close(self, params)
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        handlers::lifecycle::did_change_configuration(self, params).await
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        handlers::workspace::did_change_folders(self, params).await
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        handlers::documents::did_change_watched_files(self, params).await
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        handlers::search::workspace_symbol(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let trust = handlers::trust::code_actions(&params);
        let mut actions = handlers::code_actions::code_action(self, params)
            .await?
            .unwrap_or_default();
        actions.extend(trust);
        Ok((!actions.is_empty()).then_some(actions))
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        Ok(handlers::packages::hover(self, params).await)
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        handlers::commands::execute(self, params.command, params.arguments).await
    }
}

/// Messages handled at once. tower-lsp-server polls handlers through one
/// `buffer_unordered`, notifications included: with its default of 4, four requests that
/// wait (LLM actions streaming, a confirmation the user has not answered, an
/// `applyEdit` the client is slow to answer) stop every edit, cancel and hover behind
/// them. Waiting handlers cost a future each, so the limit is high; the work itself runs
/// in bounded pools (one analysis per document, the blocking pool, the store thread).
const MAX_IN_FLIGHT: usize = 256;

/// How long handlers may still run once stdin has closed without `exit`.
const INPUT_CLOSED_GRACE: Duration = Duration::from_secs(1);
/// How often the editor process named by `initialize` is checked.
const PARENT_POLL: Duration = Duration::from_secs(2);
/// How long the output may take to drain at exit (a client that stopped reading).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves LSP on stdin/stdout until `exit`, the end of stdin or the death of the editor
/// process. Returns the process exit code: 0 if `shutdown` succeeded before, else 1.
pub async fn serve_stdio(db_override: Option<PathBuf>) -> ExitCode {
    let store = Arc::new(OnceLock::new());
    let store_for_service = store.clone();
    let mut builder = LspService::build(move |client| {
        Backend::new(client, db_override.clone(), store_for_service.clone())
    })
    .custom_method(lsp_ext::REQ_WORKSPACES, handlers::workspace::workspaces)
    .custom_method(
        lsp_ext::REQ_WORKSPACE_FOR,
        handlers::workspace::workspace_for,
    )
    .custom_method(lsp_ext::REQ_TRACES, handlers::traces::traces)
    .custom_method(lsp_ext::REQ_FINDINGS, handlers::analysis::findings_request)
    .custom_method(lsp_ext::REQ_SNAPSHOT, handlers::usage::snapshot)
    .custom_method(lsp_ext::REQ_USAGE, handlers::usage::usage)
    .custom_method(lsp_ext::REQ_INTERACTIONS, handlers::usage::interactions)
    .custom_method(lsp_ext::REQ_SEARCH, handlers::search::search)
    .custom_method(lsp_ext::REQ_RUNS, handlers::runs::runs_request)
    .custom_method(lsp_ext::REQ_RUN_LOG, handlers::runs::run_log)
    .custom_method(lsp_ext::REQ_RUN_SEARCH, handlers::runs::run_search)
    .custom_method(lsp_ext::REQ_RUN_STATS, handlers::runs::run_stats)
    .custom_method(lsp_ext::REQ_SCRIPTS, handlers::runs::scripts)
    .custom_method(lsp_ext::REQ_CONFIG_TRUST, handlers::trust::status)
    .custom_method(lsp_ext::REQ_TELEMETRY, handlers::traces::telemetry)
    .custom_method(lsp_ext::REQ_GATEWAY, handlers::gateway::gateway)
    .custom_method(
        "window/workDoneProgress/cancel",
        handlers::analysis::cancel_progress,
    );
    if std::env::var("WARDEN_DEBUG_HOOKS").as_deref() == Ok("1") {
        builder = builder
            .custom_method(lsp_ext::REQ_DEBUG_PANIC, handlers::debug::panic)
            .custom_method(lsp_ext::REQ_DEBUG_DOCUMENT, handlers::debug::document)
            .custom_method(lsp_ext::REQ_DEBUG_HOLD, handlers::debug::hold);
    }
    crate::tasks::background_pool();
    let (service, socket) = builder.finish();
    let transport = crate::transport::stdio();
    let input_closed = transport.input_closed();
    let (input, output, writer) = transport.into_parts();
    let service = Guarded::new(service);
    let session = service.session();
    // `serve` returns when stdin closes and every handler is done; after `exit` we stop at
    // once instead of waiting for handlers that may be waiting on a client that has gone,
    // and once stdin has closed they get a short grace, for the same reason.
    let why = tokio::select! {
        () = Server::new(input, output, socket)
            .concurrency_level(MAX_IN_FLIGHT)
            .serve(service) => "input closed",
        () = session.exited() => "exit",
        () = async {
            input_closed.notified().await;
            tokio::time::sleep(INPUT_CLOSED_GRACE).await;
        } => "input closed; pending handlers dropped",
        pid = parent_gone(session.parent()) => {
            tracing::warn!("the editor process {pid} is gone");
            "editor process gone"
        }
    };
    tracing::info!("exit: protocol loop ended ({why})");
    // Everything the server queued for stdout is written before we exit (unless nobody
    // reads it any more).
    let flushed = tokio::time::timeout(
        FLUSH_TIMEOUT,
        tokio::task::spawn_blocking(move || crate::transport::Transport::finish(writer)),
    )
    .await;
    if flushed.is_err() {
        tracing::warn!("exit: output not drained within {FLUSH_TIMEOUT:?}");
    }
    tracing::info!("exit: output flushed");
    if let Some(Err(e)) = match store.get() {
        Some(store) => Some(store.end_session().await),
        None => None,
    } {
        tracing::warn!("closing the database session: {e}");
    }
    tracing::info!("exit: database session closed");
    if session.shut_down() {
        ExitCode::SUCCESS
    } else {
        tracing::info!("exit code 1: the session ended without a shutdown request");
        ExitCode::from(1)
    }
}

/// Resolves with the pid once the process `initialize` named has died: checked every
/// [`PARENT_POLL`] through `/proc/<pid>/stat`, whose start time tells a recycled pid from
/// the original and whose state tells a zombie. Never resolves when no `processId` was
/// given, or when it cannot be seen at the start (no `/proc`, another pid namespace).
async fn parent_gone(mut parent: tokio::sync::watch::Receiver<Option<u32>>) -> u32 {
    let pid = match parent.wait_for(Option::is_some).await {
        Ok(pid) => pid.unwrap_or_default(),
        Err(_) => return std::future::pending().await,
    };
    let Some(started) = process_start(pid) else {
        tracing::info!("not watching the editor process {pid}: it cannot be seen in /proc");
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(PARENT_POLL).await;
        if process_start(pid).as_ref() != Some(&started) {
            return pid;
        }
    }
}

/// The start time of a live (not zombie) process, from `/proc/<pid>/stat`.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold anything.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    // `starttime` is field 22 of the line; `state` was field 3.
    fields.nth(18).map(str::to_owned)
}
