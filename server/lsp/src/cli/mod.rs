//! Headless commands: the same jobs as the server, for terminals and CI.

pub mod db;
pub mod run;
pub mod scan;
pub mod traces;
pub mod trust;
pub mod workspaces;

use std::path::PathBuf;
use std::sync::Arc;

use warden_store::{Store, StoreSink};
use warden_trace::Tracer;

/// Opens the database the same way the server does, or explains why it cannot.
pub fn open_store(db: Option<PathBuf>) -> Result<(Store, Tracer), String> {
    let path = db.unwrap_or_else(|| warden_store::default_path(dirs::data_dir()));
    let store = Store::open(&path).map_err(|e| format!("warden: {e}"))?;
    let tracer = Tracer::new();
    tracer.add_sink(Arc::new(StoreSink::new(store.clone())));
    Ok((store, tracer))
}

/// A root's configuration for a command-line job: `.warden.toml` over the defaults, its
/// guarded keys applied only when `trust` says so. Warnings, and what the file holds
/// back, go to stderr.
pub fn load_root(
    root: &std::path::Path,
    trust: crate::root_config::Trust<'_>,
    extras: crate::root_config::Extras<'_>,
) -> crate::root_config::RootConfig {
    use crate::root_config::{EditorSettings, Stamp, build};
    let cfg = build(
        root,
        &EditorSettings::default(),
        trust,
        Stamp::of(root, 0, 0),
        extras,
    );
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
