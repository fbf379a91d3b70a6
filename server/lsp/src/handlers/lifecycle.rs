//! `initialize`, `initialized`, `shutdown` and configuration: opening the store (with an
//! in-memory fallback when the configured database is unusable), capability
//! negotiation, pulling the `warden` settings section and reporting bad keys.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use warden_store::Store;

use super::internal;
use crate::documents::Encoding;
use crate::lsp_ext;
use crate::registry::Registry;
use crate::server::{Backend, ClientFlags};

pub async fn initialize(b: &Backend, params: InitializeParams) -> Result<InitializeResult> {
    let caps = &params.capabilities;
    let flags = ClientFlags {
        work_done_progress: caps
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false),
        configuration: caps
            .workspace
            .as_ref()
            .and_then(|w| w.configuration)
            .unwrap_or(false),
        watched_files_dynamic: caps
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false),
    };
    let _ = b.flags.set(flags);

    let utf8 = caps
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|e| e.contains(&PositionEncodingKind::UTF8));
    b.shared.docs.lock().set_encoding(if utf8 {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    });

    // Validated (and reported) in `initialized`, when the client can show messages.
    let init_settings = params.initialization_options.clone().unwrap_or(Value::Null);
    let editor = b.shared.set_editor(init_settings);

    // Database: --db/WARDEN_DB, then the `database.path` setting, then the default.
    let path = b
        .db_override
        .clone()
        .or_else(|| editor.settings.database.path.clone().map(PathBuf::from))
        .unwrap_or_else(|| warden_store::default_path(dirs::data_dir()));
    let opened = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Store::open(&path)
    })
    .await
    .map_err(|e| internal(format!("opening the database: {e}")))?;
    let store = match opened {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("{e}");
            *b.store_problem.lock() = Some(format!(
                "warden cannot use its database: {e}. Using a temporary in-memory database: workspaces, prompts and traces will not be saved this session. Set warden.database.path or WARDEN_DB to a writable file."
            ));
            Store::in_memory()
        }
    };
    b.attach_store(store.clone());
    let _ = b.shared.store.set(store.clone());
    let registry = Registry::new(store.clone())
        .await
        .map_err(|e| internal(e.to_string()))?;
    // Until the folders are registered (at `initialized`), files belong to `default`:
    // work recorded meanwhile (an early LLM call) needs a real workspace row.
    if let Ok(roots) = registry.snapshot().await {
        *b.shared.roots.write() = roots;
    }
    let _ = b.store.set(store);
    let _ = b.registry.set(tokio::sync::Mutex::new(registry));

    #[allow(deprecated)]
    let folders: Vec<PathBuf> = match (&params.workspace_folders, &params.root_uri) {
        (Some(folders), _) => folders
            .iter()
            .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
            .collect(),
        (None, Some(root)) => root
            .to_file_path()
            .map(|p| p.into_owned())
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    *b.initial_folders.lock() = folders;

    Ok(InitializeResult {
        server_info: Some(ServerInfo {
            name: "warden".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        capabilities: ServerCapabilities {
            position_encoding: Some(if utf8 {
                PositionEncodingKind::UTF8
            } else {
                PositionEncodingKind::UTF16
            }),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                        include_text: Some(false),
                    })),
                    ..Default::default()
                },
            )),
            workspace: Some(WorkspaceServerCapabilities {
                workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                    supported: Some(true),
                    change_notifications: Some(OneOf::Left(true)),
                }),
                file_operations: None,
            }),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            workspace_symbol_provider: Some(OneOf::Left(true)),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                ..Default::default()
            })),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: lsp_ext::COMMANDS.iter().map(|c| (*c).to_owned()).collect(),
                work_done_progress_options: Default::default(),
            }),
            experimental: Some(serde_json::json!({ "wardenProtocol": 1 })),
            ..Default::default()
        },
        offset_encoding: None,
    })
}

pub async fn initialized(b: &Backend) {
    let Ok(registry) = b.registry() else { return };
    // Hold the registry for the whole start-up so requests wait for the folders.
    let mut reg = registry.lock().await;
    let pulled = if b.flags().configuration {
        pull_settings(b).await
    } else {
        None
    };
    let section = pulled.unwrap_or_else(|| b.shared.editor().raw.clone());
    apply_settings(b, section).await;
    if b.flags().watched_files_dynamic {
        // Settings, the secrets baseline, and lockfiles (they change package verdicts).
        let watched = [
            warden_config::FILE_NAME,
            warden_analysis::secrets::baseline::FILE_NAME,
            "{package-lock.json,npm-shrinkwrap.json,Cargo.lock,poetry.lock,uv.lock}",
        ];
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: watched
                .iter()
                .map(|name| FileSystemWatcher {
                    glob_pattern: GlobPattern::String(format!("**/{name}")),
                    kind: None,
                })
                .collect(),
        };
        let registration = Registration {
            id: "warden-config-watcher".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        if let Err(e) = b.client.register_capability(vec![registration]).await {
            tracing::warn!("client refused the file watchers: {e}");
        }
    }
    // Before any configuration is built: each one reports its manifests' ecosystems.
    super::advisories::start_updater(b);
    super::metadata::start_fetcher(b);
    super::worktrees::start_poll(b);
    let folders = std::mem::take(&mut *b.initial_folders.lock());
    super::workspace::change_folders(b, &mut reg, &folders, &[]).await;
    // Reports what each open root's .warden.toml holds back (and asks once).
    super::trust::start(b);
    super::advisories::sync(b);
    super::advisories::start_polling(b);
    let startup_scan = b.shared.editor().settings.scan.on_startup;
    if startup_scan {
        for root in b.shared.roots.read().open.iter() {
            super::analysis::start_workspace_scan(super::analysis::ScanJob {
                client: b.client.clone(),
                shared: b.shared.clone(),
                tracer: b.tracer.clone(),
                store: b.store.get().cloned(),
                progress: b.flags().work_done_progress,
                workspace: warden_trace::WorkspaceRef {
                    id: root.workspace_id,
                    name: root.name.clone(),
                },
                root: root.root.clone(),
                parent_span: None,
            });
        }
    }
    // Before requests are let in: `warden/gateway` answers from the first request on.
    super::gateway::start(b).await;
    drop(reg);
    super::runs::republish_failed_runs(b);
    super::runs::reap_orphans(b);
    let problem = b.store_problem.lock().clone();
    if let Some(problem) = problem {
        b.client.show_message(MessageType::ERROR, problem).await;
    }
}

/// How long `shutdown` waits for background work to end.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

pub async fn shutdown(b: &Backend) -> Result<()> {
    // Everything in the background is cancelled and waited for, at most a few seconds:
    // runs remove their containers, scans and imports stop between files.
    let left = b.shared.tasks.shutdown(SHUTDOWN_DEADLINE).await;
    if left > 0 {
        tracing::warn!(
            "shutdown: {left} background task(s) still running after {SHUTDOWN_DEADLINE:?}"
        );
    }
    super::runs::shutdown(&b.shared).await;
    crate::telemetry::global()
        .shutdown(Duration::from_secs(2))
        .await;
    if let Some(store) = b.store.get() {
        // A barrier: every span event queued so far reaches the disk before we answer.
        let _ = store.call(|_| Ok(())).await;
    }
    Ok(())
}

pub async fn did_change_configuration(b: &Backend, params: DidChangeConfigurationParams) {
    let section = if b.flags().configuration {
        pull_settings(b).await
    } else {
        None
    };
    let section = section.unwrap_or_else(|| match params.settings {
        Value::Object(mut m) if m.contains_key("warden") => m.remove("warden").unwrap_or_default(),
        other => other,
    });
    let before = b.shared.editor();
    apply_settings(b, section).await;
    let after = b.shared.editor();
    // Settings that steer analysis changed: open documents show what they now find.
    let (x, y) = (&before.settings, &after.settings);
    if x.secrets != y.secrets || x.scan != y.scan || x.packages != y.packages {
        super::documents::reanalyze_all(&b.shared, &b.client);
    }
    super::advisories::sync(b);
    if let Ok(registry) = b.registry() {
        let reg = registry.lock().await;
        super::workspace::notify_changed(b, &reg).await;
    }
}

/// Asks the client for the `warden` section; `None` if it has none or does not answer.
async fn pull_settings(b: &Backend) -> Option<Value> {
    let item = ConfigurationItem {
        scope_uri: None,
        section: Some("warden".into()),
    };
    match tokio::time::timeout(Duration::from_secs(5), b.client.configuration(vec![item])).await {
        Ok(Ok(mut values)) if !values.is_empty() => {
            Some(values.swap_remove(0)).filter(|v| !v.is_null())
        }
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            tracing::warn!("workspace/configuration failed: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("the client did not answer workspace/configuration within 5 s");
            None
        }
    }
}

/// Validates and stores the editor's settings; warns the user about each bad key.
async fn apply_settings(b: &Backend, section: Value) {
    // Configurations built from the previous settings go stale with the generation.
    let editor = b.shared.set_editor(section);
    b.set_live_traces(editor.settings.trace.live);
    if let Err(e) = crate::telemetry::global()
        .configure(&editor.settings.trace.otlp, b.shared.store.get().cloned())
    {
        tracing::warn!("{e}");
        b.client
            .show_message(
                MessageType::WARNING,
                format!("warden: {e}; spans are not exported"),
            )
            .await;
    }
    if !editor.warnings.is_empty() {
        let list: Vec<String> = editor.warnings.iter().map(ToString::to_string).collect();
        tracing::warn!("settings: {}", list.join("; "));
        b.client
            .show_message(
                MessageType::WARNING,
                format!("warden settings: {}", list.join("; ")),
            )
            .await;
    }
}
