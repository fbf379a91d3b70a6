//! Headless commands: the same jobs as the server, for terminals and CI.

pub mod db;
pub mod gateway;
pub mod run;
pub mod scan;
pub mod search;
pub mod traces;
pub mod trust;
pub mod workspaces;

use std::path::PathBuf;
use std::sync::Arc;

use warden_store::{Store, StoreSink};
use warden_trace::Tracer;

/// `warden mcp`: serves until the client closes stdin.
pub async fn mcp(db: Option<PathBuf>, workspace: Option<String>) -> std::process::ExitCode {
    let (store, tracer) = match open_store(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = crate::mcp::serve(store.clone(), tracer, workspace).await;
    let _ = store.end_session().await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Opens the database the same way the server does, or explains why it cannot.
pub fn open_store(db: Option<PathBuf>) -> Result<(Store, Tracer), String> {
    let path = db.unwrap_or_else(|| warden_store::default_path(dirs::data_dir()));
    let store = Store::open(&path).map_err(|e| format!("warden: {e}"))?;
    let tracer = Tracer::new();
    tracer.add_sink(Arc::new(StoreSink::new(store.clone())));
    export_spans(&tracer, Some(store.clone()));
    Ok((store, tracer))
}

/// Exports `tracer`'s spans when the user configuration file's `[trace.otlp]` or the
/// standard `OTEL_EXPORTER_OTLP_*` variables name an endpoint (the file's keys win, as
/// the editor settings do for `warden lsp`), and continues a `TRACEPARENT`.
pub fn export_spans(tracer: &Tracer, store: Option<Store>) {
    crate::telemetry::attach(tracer);
    if let Err(e) =
        crate::telemetry::global().configure(&user_settings().settings.trace.otlp, store)
    {
        eprintln!("warden: warning: {e}; spans are not exported");
    }
}

/// The user configuration file of the command line: `$XDG_CONFIG_HOME/warden/config.toml`
/// (`~/.config/warden/config.toml`), with the keys of the editor settings (the editor's
/// `warden.llm.model` is `[llm] model`). Read once; its problems go to stderr. Never
/// from a repository: repositories configure through `.warden.toml`, under trust.
pub fn user_settings() -> &'static crate::root_config::EditorSettings {
    static SETTINGS: std::sync::OnceLock<crate::root_config::EditorSettings> =
        std::sync::OnceLock::new();
    SETTINGS.get_or_init(|| {
        let Some(path) = user_config_path() else {
            return Default::default();
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Default::default(),
            Err(e) => {
                eprintln!(
                    "warden: warning: {}: {e}; using the defaults",
                    path.display()
                );
                return Default::default();
            }
        };
        let shown = path.display().to_string();
        let (raw, warnings) = warden_config::parse_file(&text, &shown);
        let settings = crate::root_config::EditorSettings::new(raw, 0);
        for w in warnings.iter().chain(&settings.warnings) {
            eprintln!("warden: warning: {shown}: {w}");
        }
        settings
    })
}

/// Where [`user_settings`] reads from.
pub fn user_config_path() -> Option<std::path::PathBuf> {
    dirs::config_dir().map(|d| d.join("warden").join("config.toml"))
}

/// The workspace a command works in: the one named, else the current directory's
/// repository (registered as an editor opening it would).
pub async fn command_workspace(
    store: &Store,
    name: Option<String>,
) -> Result<warden_store::workspaces::WorkspaceRow, String> {
    match name {
        Some(n) => store
            .call(move |c| warden_store::workspaces::require(c, &n))
            .await
            .map_err(|e| e.to_string()),
        None => {
            let cwd = std::env::current_dir().map_err(|e| format!("the current directory: {e}"))?;
            let mut reg = crate::registry::Registry::new(store.clone())
                .await
                .map_err(|e| e.to_string())?;
            Ok(reg
                .add_folder(&cwd)
                .await
                .map_err(|e| e.to_string())?
                .workspace)
        }
    }
}

/// [`load_root`] with the trust the user stored for the root's `.warden.toml`.
pub async fn load_trusted_root(
    store: &Store,
    root: &std::path::Path,
) -> crate::root_config::RootConfig {
    let key = root.display().to_string();
    let stored = store
        .call(move |c| warden_store::trust::get(c, &key))
        .await
        .ok()
        .flatten();
    load_root(
        root,
        crate::root_config::Trust::Stored(stored.as_deref()),
        Default::default(),
    )
}

/// A root's configuration for a command-line job: `.warden.toml` over the defaults, its
/// guarded keys applied only when `trust` says so. Warnings, and what the file holds
/// back, go to stderr.
pub fn load_root(
    root: &std::path::Path,
    trust: crate::root_config::Trust<'_>,
    extras: crate::root_config::Extras<'_>,
) -> crate::root_config::RootConfig {
    use crate::root_config::{Stamp, build};
    let cfg = build(root, user_settings(), trust, Stamp::of(root, 0, 0), extras);
    for w in &cfg.warnings {
        eprintln!("warden: warning: {w}");
    }
    if let Some(held) = cfg.held_summary() {
        eprintln!(
            "warden: note: {held}. Review it, then `warden trust {}` (or pass --trust-config for this run)",
            root.display()
        );
    }
    cfg
}
