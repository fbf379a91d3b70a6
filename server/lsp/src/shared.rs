//! State shared between the message loop and background tasks (document analysis,
//! workspace scans): open documents, editor settings, the open-workspace snapshot,
//! scan configurations per repository, current findings, and cancellable tasks.
//! Everything here is behind sync locks held only briefly, never across an await.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::diagnostics::FindingsIndex;
use crate::documents::Documents;
use crate::scanner::ScanConfig;

/// An open folder and the workspace it belongs to, as background tasks need it.
#[derive(Debug, Clone)]
pub struct OpenRoot {
    pub folder: PathBuf,
    pub workspace_id: i64,
    pub name: String,
    /// The workspace root (repository work tree, or the folder).
    pub root: PathBuf,
    /// The root's `.warden.toml` overlay.
    pub overlay: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Roots {
    pub open: Vec<OpenRoot>,
    /// The active workspace (owner of files outside every folder).
    pub active: (i64, String),
}

impl Roots {
    /// The open root owning `path`: the deepest folder containing it.
    pub fn owner(&self, path: &Path) -> Option<&OpenRoot> {
        self.open
            .iter()
            .filter(|r| path.starts_with(&r.folder))
            .max_by_key(|r| r.folder.components().count())
    }
}

#[derive(Default)]
pub struct Shared {
    pub docs: Mutex<Documents>,
    /// The raw `warden` settings section from the editor.
    pub settings: RwLock<Value>,
    pub roots: RwLock<Roots>,
    pub findings: Mutex<FindingsIndex>,
    configs: Mutex<HashMap<PathBuf, Arc<ScanConfig>>>,
    /// Cancellable background work by progress token.
    pub tasks: Mutex<HashMap<String, CancellationToken>>,
    /// The store, once `initialize` opened it (advisory lookups for manifests).
    pub store: std::sync::OnceLock<warden_store::Store>,
    /// The fingerprint of `packages.osvPaths` at the last import; held while importing,
    /// so imports run one at a time.
    pub osv_fingerprint: tokio::sync::Mutex<Option<u64>>,
    /// Workspace snapshots for `warden/snapshot` and LLM context.
    pub snapshots: Arc<crate::snapshot::SnapshotCache>,
}

impl Shared {
    /// The workspace (id, name) owning `path`.
    pub fn workspace_of(&self, path: Option<&Path>) -> (i64, String) {
        let roots = self.roots.read();
        match path.and_then(|p| roots.owner(p)) {
            Some(r) => (r.workspace_id, r.name.clone()),
            None => roots.active.clone(),
        }
    }

    /// The scan configuration for a file: its workspace root's settings (editor
    /// settings under `.warden.toml`), rules and baseline; built once per root and kept
    /// until settings, `.warden.toml` or the baseline change. May read files: call it
    /// off the message loop.
    pub fn scan_config(&self, path: Option<&Path>) -> Arc<ScanConfig> {
        let (root, overlay) = {
            let roots = self.roots.read();
            match path.and_then(|p| roots.owner(p)) {
                Some(r) => (r.root.clone(), r.overlay.clone()),
                None => {
                    let dir = path
                        .and_then(Path::parent)
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    (
                        warden_workspace::repo_root(&dir).unwrap_or(dir),
                        Value::Null,
                    )
                }
            }
        };
        if let Some(cfg) = self.configs.lock().get(&root) {
            return cfg.clone();
        }
        let editor = self.settings.read().clone();
        let (settings, _) = warden_config::effective(&editor, Some(&overlay));
        let (mut cfg, warnings) = ScanConfig::new(&root, &settings, None);
        cfg.advisories = self
            .store
            .get()
            .cloned()
            .map(crate::packages::store_advisories);
        for w in warnings {
            tracing::warn!("{}: {w}", root.display());
        }
        let cfg = Arc::new(cfg);
        self.configs.lock().insert(root, cfg.clone());
        cfg
    }

    /// Forgets cached scan configurations (settings, overlays or baselines changed).
    pub fn invalidate_configs(&self) {
        self.configs.lock().clear();
    }

    pub fn cancel_task(&self, token: &str) -> bool {
        match self.tasks.lock().get(token) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    pub fn cancel_all(&self) {
        for t in self.tasks.lock().values() {
            t.cancel();
        }
    }
}
