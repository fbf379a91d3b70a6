//! Repository configuration trust in the editor. Every root configuration the server
//! builds is reported here (`Shared::config_notices`): the lines of its `.warden.toml`
//! that set held-back keys get an information diagnostic (code
//! `warden-untrusted-config`) with a *Trust this configuration* quick fix, and the user
//! is asked once per file content and session through `window/showMessageRequest`, in
//! a task of its own (the question never holds a request slot). The commands
//! `warden.config.trust`/`untrust` record the decision per root and content hash;
//! `warden/configTrust` reports the state of every open root.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::{internal, invalid, store_error};
use crate::diagnostics::SOURCE;
use crate::lsp_ext::{
    CMD_CONFIG_TRUST, ConfigTrustArgs, ConfigTrustInfo, ConfigTrustResult, HeldKey,
};
use crate::root_config::RootConfig;
use crate::server::Backend;
use crate::shared::Shared;

/// The diagnostic code on `.warden.toml` lines whose keys are held back.
pub const CODE: &str = "warden-untrusted-config";
const TRUST_TITLE: &str = "Trust this configuration";
const OPEN_TITLE: &str = "Open .warden.toml";

/// What trust changes need besides the shared state: re-analysis and re-scans.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    client: Client,
    tracer: warden_trace::Tracer,
    store: Option<warden_store::Store>,
    progress: bool,
}

impl Ctx {
    fn of(b: &Backend) -> Ctx {
        Ctx {
            shared: b.shared.clone(),
            client: b.client.clone(),
            tracer: b.tracer.clone(),
            store: b.store.get().cloned(),
            progress: b.flags().work_done_progress,
        }
    }
}

/// Starts listening to root configurations (at `initialized`), and builds those of the
/// open roots so their files are reported without waiting for a document.
pub fn start(b: &Backend) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Arc<RootConfig>>();
    if b.shared.config_notices.set(tx).is_err() {
        return;
    }
    let ctx = Ctx::of(b);
    let tasks = b.shared.tasks.clone();
    let stopping = tasks.stopping();
    tasks.spawn(async move {
        let mut asked: HashSet<(PathBuf, String)> = HashSet::new();
        loop {
            let cfg = tokio::select! {
                cfg = rx.recv() => match cfg {
                    Some(cfg) => cfg,
                    None => return,
                },
                () = stopping.cancelled() => return,
            };
            publish(&ctx, &cfg).await;
            if let Some(file) = cfg.file.as_ref().filter(|f| !f.held.is_empty())
                && asked.insert((cfg.root.clone(), file.sha256.clone()))
            {
                ctx.shared.tasks.spawn(ask(ctx.clone(), cfg.clone()));
            }
        }
    });
    // Configurations built before this listener existed were reported to nobody.
    b.shared.invalidate_configs();
    refresh_open_roots(&b.shared);
}

/// The configurations of the open roots (each root once), built or re-validated. Reads
/// files and the store: call it off the message loop.
fn open_root_configs(shared: &Shared) -> Vec<Arc<RootConfig>> {
    let roots: Vec<PathBuf> = shared
        .roots
        .read()
        .open
        .iter()
        .map(|r| r.root.clone())
        .collect();
    let mut seen = HashSet::new();
    roots
        .into_iter()
        .filter(|r| seen.insert(r.clone()))
        .map(|r| shared.root_config(Some(&r.join(warden_config::FILE_NAME))))
        .collect()
}

/// Builds (or re-validates) the configuration of every open root in the background, so
/// each reports its `.warden.toml` state.
pub fn refresh_open_roots(shared: &Arc<Shared>) {
    let shared = shared.clone();
    let tasks = shared.tasks.clone();
    tasks.spawn_blocking(move || open_root_configs(&shared));
}

/// The diagnostics a root configuration puts on its `.warden.toml`.
fn diagnostics(cfg: &RootConfig) -> Vec<Diagnostic> {
    let Some(file) = &cfg.file else {
        return Vec::new();
    };
    file.held_lines
        .iter()
        .map(|(line, held)| Diagnostic {
            range: Range::new(Position::new(*line, 0), Position::new(*line, u32::MAX)),
            severity: Some(DiagnosticSeverity::INFORMATION),
            code: Some(NumberOrString::String(CODE.into())),
            source: Some(SOURCE.into()),
            message: format!(
                "{} is ignored until you trust this file: it changes {}",
                held.key, held.reason
            ),
            data: Some(json!({ "root": cfg.root.display().to_string(), "sha256": file.sha256 })),
            ..Default::default()
        })
        .collect()
}

/// Publishes the file's held-key diagnostics (with its other findings) when they changed.
async fn publish(ctx: &Ctx, cfg: &RootConfig) {
    let path = cfg.root.join(warden_config::FILE_NAME);
    let Some(uri) = Uri::from_file_path(&path) else {
        return;
    };
    let key = uri.as_str().to_owned();
    let diags = diagnostics(cfg);
    {
        let mut map = ctx.shared.config_diagnostics.lock();
        let before = map.get(&key).cloned().unwrap_or_default();
        if before == diags {
            return;
        }
        if diags.is_empty() {
            map.remove(&key);
        } else {
            map.insert(key.clone(), diags);
        }
    }
    super::analysis::republish(&ctx.shared, &ctx.client, &key).await;
}

/// Asks the user once whether to trust a file that holds keys back.
async fn ask(ctx: Ctx, cfg: Arc<RootConfig>) {
    let (Some(summary), Some(file)) = (cfg.held_summary(), cfg.file.as_ref()) else {
        return;
    };
    let actions = vec![
        MessageActionItem {
            title: TRUST_TITLE.into(),
            properties: Default::default(),
        },
        MessageActionItem {
            title: OPEN_TITLE.into(),
            properties: Default::default(),
        },
    ];
    let answer = ctx
        .client
        .show_message_request(
            MessageType::WARNING,
            format!("warden: {summary}. Trust it only if you know what it does."),
            Some(actions),
        )
        .await;
    match answer.ok().flatten().map(|a| a.title) {
        Some(t) if t == TRUST_TITLE => {
            if let Err(e) = set_trust(&ctx, &cfg.root, Some(&file.sha256), true).await {
                ctx.client
                    .show_message(MessageType::ERROR, e.message.to_string())
                    .await;
            }
        }
        Some(t) if t == OPEN_TITLE => {
            if let Some(uri) = Uri::from_file_path(&file.path) {
                let _ = ctx
                    .client
                    .show_document(ShowDocumentParams {
                        uri,
                        external: None,
                        take_focus: Some(true),
                        selection: None,
                    })
                    .await;
            }
        }
        _ => {}
    }
}

/// Records (or revokes) trust in `root`'s configuration, then applies it: cached
/// configurations rebuild, open documents are re-analysed and open workspaces rescanned.
async fn set_trust(
    ctx: &Ctx,
    root: &Path,
    reviewed: Option<&str>,
    trust: bool,
) -> Result<ConfigTrustInfo> {
    let store = ctx
        .store
        .clone()
        .ok_or_else(|| internal("no database to record the decision in"))?;
    let key = root.display().to_string();
    if trust {
        let path = root.join(warden_config::FILE_NAME);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        let sha = crate::root_config::sha256_hex(&bytes);
        if reviewed.is_some_and(|r| r != sha) {
            return Err(invalid(format!(
                "{} changed since it was reviewed; review it again before trusting it",
                path.display()
            )));
        }
        let at = warden_trace::now_rfc3339();
        store
            .call(move |c| warden_store::trust::set(c, &key, &sha, &at))
            .await
            .map_err(store_error)?;
    } else {
        store
            .call(move |c| warden_store::trust::revoke(c, &key).map(|_| ()))
            .await
            .map_err(store_error)?;
    }
    ctx.shared.trust_changed();
    super::documents::reanalyze_all(&ctx.shared, &ctx.client);
    let open = ctx
        .shared
        .roots
        .read()
        .open
        .iter()
        .find(|r| r.root == root)
        .cloned();
    if let Some(open) = open {
        super::analysis::start_workspace_scan(super::analysis::ScanJob {
            client: ctx.client.clone(),
            shared: ctx.shared.clone(),
            tracer: ctx.tracer.clone(),
            store: ctx.store.clone(),
            progress: ctx.progress,
            workspace: warden_trace::WorkspaceRef {
                id: open.workspace_id,
                name: open.name.clone(),
            },
            root: open.root.clone(),
            parent_span: None,
        });
    }
    let shared = ctx.shared.clone();
    let probe = root.join(warden_config::FILE_NAME);
    let cfg = tokio::task::spawn_blocking(move || shared.root_config(Some(&probe)))
        .await
        .map_err(|e| internal(e.to_string()))?;
    Ok(info(&ctx.shared, &cfg))
}

fn info(shared: &Shared, cfg: &RootConfig) -> ConfigTrustInfo {
    let workspace = shared
        .roots
        .read()
        .open
        .iter()
        .find(|r| r.root == cfg.root)
        .map(|r| r.name.clone());
    ConfigTrustInfo {
        root: cfg.root.display().to_string(),
        workspace,
        file: cfg.file.as_ref().map(|f| f.path.display().to_string()),
        sha256: cfg.file.as_ref().map(|f| f.sha256.clone()),
        trusted: cfg.file.as_ref().is_some_and(|f| f.trusted),
        held: cfg
            .file
            .iter()
            .flat_map(|f| &f.held)
            .map(|h| HeldKey {
                key: h.key.clone(),
                reason: h.reason.into(),
            })
            .collect(),
        engine: crate::runs::engine_info(&shared.engine, cfg.settings.run.engine.as_deref()),
    }
}

/// [`open_root_configs`] on a blocking thread.
async fn open_configs(shared: &Arc<Shared>) -> Result<Vec<Arc<RootConfig>>> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || open_root_configs(&shared))
        .await
        .map_err(|e| internal(e.to_string()))
}

/// `warden/configTrust`.
pub async fn status(b: &Backend, _: Value) -> Result<ConfigTrustResult> {
    let roots = open_configs(&b.shared)
        .await?
        .iter()
        .map(|c| info(&b.shared, c))
        .collect();
    Ok(ConfigTrustResult { roots })
}

/// `warden.config.trust` and `warden.config.untrust`.
pub async fn execute(b: &Backend, command: &str, args: Map<String, Value>) -> Result<Value> {
    let a: ConfigTrustArgs = super::commands::parse(command, args)?;
    let root = match (&a.root, &a.uri, &a.workspace) {
        (Some(r), _, _) => {
            let p = PathBuf::from(r);
            std::fs::canonicalize(&p).unwrap_or(p)
        }
        (None, Some(u), _) => {
            let uri: Uri = u
                .parse()
                .map_err(|_| invalid(format!("{u:?} is not a valid URI")))?;
            let path = uri
                .to_file_path()
                .ok_or_else(|| invalid(format!("{u} is not a file")))?;
            b.shared.root_of(Some(&path))
        }
        (None, None, Some(name)) => b
            .shared
            .roots
            .read()
            .open
            .iter()
            .find(|r| &r.name == name)
            .map(|r| r.root.clone())
            .ok_or_else(|| invalid(format!("no open folder belongs to workspace {name:?}")))?,
        (None, None, None) => {
            // Trust: the roots whose file holds keys back; untrust: the trusted ones.
            let wanted = |f: &crate::root_config::ConfigFile| match command {
                CMD_CONFIG_TRUST => !f.held.is_empty(),
                _ => f.trusted,
            };
            let holding: Vec<PathBuf> = open_configs(&b.shared)
                .await?
                .iter()
                .filter(|c| c.file.as_ref().is_some_and(wanted))
                .map(|c| c.root.clone())
                .collect();
            match holding.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(invalid(format!(
                        "{command}: no open workspace has a .warden.toml to {}",
                        if command == CMD_CONFIG_TRUST {
                            "trust"
                        } else {
                            "untrust"
                        }
                    )));
                }
                many => {
                    return Err(invalid(format!(
                        "{command}: several roots qualify ({}); name one with root, uri or workspace",
                        many.iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    let trust = command == CMD_CONFIG_TRUST;
    if trust && !root.join(warden_config::FILE_NAME).is_file() {
        return Err(invalid(format!(
            "{} has no {} to trust",
            root.display(),
            warden_config::FILE_NAME
        )));
    }
    let info = set_trust(&Ctx::of(b), &root, a.sha256.as_deref(), trust).await?;
    serde_json::to_value(info).map_err(|e| internal(e.to_string()))
}

/// *Trust this configuration* for held-key diagnostics in the requested range.
pub fn code_actions(params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
    params
        .context
        .diagnostics
        .iter()
        .filter(|d| d.code == Some(NumberOrString::String(CODE.into())))
        .filter_map(|d| {
            let data = d.data.as_ref()?;
            Some((data.get("root")?.clone(), data.get("sha256")?.clone(), d))
        })
        .take(1)
        .map(|(root, sha256, d)| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: TRUST_TITLE.into(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                command: Some(Command {
                    title: TRUST_TITLE.into(),
                    command: CMD_CONFIG_TRUST.into(),
                    arguments: Some(vec![json!({ "root": root, "sha256": sha256 })]),
                }),
                ..Default::default()
            })
        })
        .collect()
}
