//! State shared between the message loop and background tasks (document analysis,
//! workspace scans): open documents, editor settings (parsed once per change), the
//! open-workspace snapshot, effective configurations per repository root (keyed on
//! everything they depend on, see `root_config`), current findings, and cancellable
//! tasks. Everything here is behind sync locks held only briefly, never across an await.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tower_lsp_server::ls_types::Diagnostic;

use crate::diagnostics::FindingsIndex;
use crate::documents::Documents;
use crate::root_config::{self, EditorSettings, RootConfig, Stamp, Trust};
use crate::scanner::ScanConfig;

/// An open folder and the workspace it belongs to, as background tasks need it.
#[derive(Debug, Clone)]
pub struct OpenRoot {
    pub folder: PathBuf,
    pub workspace_id: i64,
    pub name: String,
    /// The workspace root (repository work tree, or the folder).
    pub root: PathBuf,
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
    /// The editor's `warden` section, raw and validated; replaced whole on change.
    editor: RwLock<Arc<EditorSettings>>,
    pub roots: RwLock<Roots>,
    pub findings: Mutex<FindingsIndex>,
    configs: Mutex<HashMap<PathBuf, Arc<RootConfig>>>,
    /// Bumped whenever a trust decision changes.
    trust_generation: AtomicU64,
    /// Told about every root configuration built (the server publishes what its
    /// `.warden.toml` holds back and asks the user once).
    pub config_notices: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Arc<RootConfig>>>,
    /// Diagnostics on `.warden.toml` files naming held-back keys, by document URI.
    pub config_diagnostics: Mutex<HashMap<String, Vec<Diagnostic>>>,
    /// Background work: tracked tasks, and cancellation tokens by the keys clients
    /// cancel them by.
    pub tasks: crate::tasks::Tasks,
    /// The store, once `initialize` opened it (advisory lookups for manifests).
    pub store: std::sync::OnceLock<warden_store::Store>,
    /// The fingerprint of `packages.osvPaths` at the last import; held while importing,
    /// so imports run one at a time.
    pub osv_fingerprint: tokio::sync::Mutex<Option<u64>>,
    /// Told the ecosystem of every manifest checked, for the background advisory update
    /// (`handlers::advisories::start_updater`).
    pub osv_seen: crate::packages::SeenCell,
    /// Where package metadata lookups send misses (`handlers::metadata::start_fetcher`).
    pub metadata_misses: crate::metadata::MissCell,
    /// Downloads from the OSV mirror run one at a time; holds their retry state.
    pub osv_updates: tokio::sync::Mutex<crate::handlers::advisories::UpdateState>,
    /// Workspace snapshots for `warden/snapshot` and LLM context.
    pub snapshots: Arc<crate::snapshot::SnapshotCache>,
    /// The sandbox engine, connected on the first run (or at start-up, to reap).
    pub engine: crate::runs::Engine,
    /// Diagnostics from failed runs by document URI, published with the analysis
    /// diagnostics until the next successful run or change of the file.
    pub run_diagnostics: Mutex<HashMap<String, Vec<Diagnostic>>>,
    /// Worktree-collision warnings by open document URI (`handlers::worktrees`).
    pub worktree_diagnostics: Mutex<HashMap<String, Vec<Diagnostic>>>,
    /// Per open document, a counter bumped by each change: the search index takes a
    /// buffer's text once its counter stops moving (`handlers::search`).
    pub search_edits: Mutex<HashMap<String, u64>>,
    /// Fixes of finished fix-until-green loops waiting for the user's answer, by
    /// request id (`handlers::fix`).
    pub fixes: Mutex<HashMap<String, crate::handlers::fix::PendingFix>>,
    /// The analysis in flight per open document (at most one; see
    /// `handlers::analysis::analyze_document`).
    pub analyses: Mutex<HashMap<String, crate::handlers::analysis::AnalysisSlot>>,
    /// Held while a document's diagnostics are checked current and sent, so that sends
    /// keep the order of versions (see `handlers::analysis::publish`).
    pub publishing: tokio::sync::Mutex<()>,
    /// Runs in progress (shutdown waits for their containers to be removed).
    pub active_runs: std::sync::atomic::AtomicUsize,
    /// Committed versions and the syntax judges' verdicts, by path: they do not depend
    /// on settings, so every configuration built shares them (a rebuilt one must not
    /// forget what the edit's first phase may only read).
    syntax_caches: root_config::SyntaxCaches,
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

    /// The editor settings in force.
    pub fn editor(&self) -> Arc<EditorSettings> {
        self.editor.read().clone()
    }

    /// Replaces the editor settings; configurations built from the old ones go stale.
    pub fn set_editor(&self, raw: Value) -> Arc<EditorSettings> {
        let mut slot = self.editor.write();
        let next = Arc::new(EditorSettings::new(raw, slot.generation + 1));
        *slot = next.clone();
        next
    }

    /// A trust decision changed: every configuration is rebuilt on its next lookup.
    pub fn trust_changed(&self) {
        self.trust_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The root owning a file: its open folder's workspace root, else its repository
    /// root, else its directory.
    pub fn root_of(&self, path: Option<&Path>) -> PathBuf {
        if let Some(r) = path.and_then(|p| self.roots.read().owner(p).map(|r| r.root.clone())) {
            return r;
        }
        let dir = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        warden_workspace::repo_root(&dir).unwrap_or(dir)
    }

    /// The effective configuration of the root owning `path` (editor settings under the
    /// root's `.warden.toml`, as far as trust allows). Cached per root and rebuilt when
    /// any input changed: settings, trust, the file or the baseline. May read files and
    /// the store: call it off the message loop.
    pub fn root_config(&self, path: Option<&Path>) -> Arc<RootConfig> {
        let root = self.root_of(path);
        let editor = self.editor();
        let stamp = Stamp::of(
            &root,
            editor.generation,
            self.trust_generation.load(Ordering::SeqCst),
        );
        if let Some(cfg) = self.configs.lock().get(&root)
            && cfg.stamp == stamp
        {
            return cfg.clone();
        }
        let store = self.store.get().cloned();
        let stored = store.as_ref().and_then(|s| {
            let key = root.display().to_string();
            s.call_blocking(move |c| warden_store::trust::get(c, &key))
                .ok()
                .flatten()
        });
        let packages = &editor.settings.packages;
        let metadata = store
            .clone()
            .filter(|_| !warden_config::offline())
            .map(|s| {
                crate::metadata::Metadata::new(
                    s,
                    packages.metadata_ttl_hours,
                    self.metadata_misses.clone(),
                )
            });
        let extras = root_config::Extras {
            baseline: None,
            metadata,
            advisories: store
                .map(|s| crate::packages::store_advisories(s).reporting_to(self.osv_seen.clone())),
            syntax: self.syntax_caches.clone(),
        };
        let cfg = Arc::new(root_config::build(
            &root,
            &editor,
            Trust::Stored(stored.as_deref()),
            stamp,
            extras,
        ));
        // The server scans every root it configures: build the scan part now, off the
        // message loop, and report its problems with the rest.
        for w in cfg.warnings.iter().chain(cfg.scan_warnings()) {
            tracing::warn!("{}: {w}", root.display());
        }
        self.configs.lock().insert(root, cfg.clone());
        if let Some(tx) = self.config_notices.get() {
            let _ = tx.send(cfg.clone());
        }
        cfg
    }

    /// The scan configuration for a file: [`Shared::root_config`]'s.
    pub fn scan_config(&self, path: Option<&Path>) -> Arc<ScanConfig> {
        self.root_config(path).scan()
    }

    /// Whether [`Shared::scan_config`] for `path` is built and current, so that asking
    /// for it costs a few `stat` calls (no file read, no rules compiled, no store).
    pub fn scan_config_built(&self, path: Option<&Path>) -> bool {
        let root = self.root_of(path);
        let stamp = Stamp::of(
            &root,
            self.editor().generation,
            self.trust_generation.load(Ordering::SeqCst),
        );
        self.configs
            .lock()
            .get(&root)
            .is_some_and(|c| c.stamp == stamp && c.scan_is_built())
    }

    /// Forgets cached configurations (they are rebuilt on their next lookup).
    pub fn invalidate_configs(&self) {
        self.configs.lock().clear();
    }

    /// Diagnostics that come from elsewhere than the document's analysis (a failed run,
    /// a held-back configuration key, another worktree changing the file), published
    /// with it.
    pub fn extra_diagnostics(&self, uri: &str) -> Vec<Diagnostic> {
        let mut out = self.run_diagnostics_of(uri);
        for map in [&self.config_diagnostics, &self.worktree_diagnostics] {
            if let Some(d) = map.lock().get(uri) {
                out.extend(d.iter().cloned());
            }
        }
        out
    }

    /// Run diagnostics to publish with a document's analysis diagnostics.
    pub fn run_diagnostics_of(&self, uri: &str) -> Vec<Diagnostic> {
        self.run_diagnostics
            .lock()
            .get(uri)
            .cloned()
            .unwrap_or_default()
    }

    pub fn cancel_task(&self, token: &str) -> bool {
        self.tasks.cancel(token)
    }
}
