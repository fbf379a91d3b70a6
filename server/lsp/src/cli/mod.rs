//! Headless commands: the same jobs as the server, for terminals and CI.

pub mod db;
pub mod run;
pub mod scan;
pub mod traces;
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
