//! The LLM gateway's hosts: the language server's (workspaces are the open folders,
//! settings are the editor's under each repository's trusted `.warden.toml`, finished
//! calls go to the editor as `warden/gatewayCall`) and the command line's (`warden
//! gateway`: workspaces from the database, settings from the user configuration file).
//! The gateway itself (`warden-gateway`) knows neither.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use tower_lsp_server::Client;
use warden_analysis::packages::mentions;
use warden_gateway::{Address, CallEvent, Host, RiskyPackages, Workspace};
use warden_store::Store;
use warden_store::workspaces::WorkspaceRow;

use crate::lsp_ext::{GatewayCall, GatewayResult};
use crate::packages::Advisories;
use crate::root_config::{Extras, RootConfig, Stamp, Trust};
use crate::shared::Shared;

/// The endpoints the gateway serves.
pub const APIS: [&str; 4] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/models",
];

/// A workspace as the gateway needs it, from a root's effective configuration and the
/// system prompt set by command (stored with the workspace), which wins over the
/// configuration's.
fn workspace(
    row: Option<WorkspaceRow>,
    (id, name): (i64, &str),
    cfg: &RootConfig,
    root: Option<&Path>,
) -> Workspace {
    Workspace {
        id,
        name: name.to_owned(),
        llm: cfg.settings.llm.clone(),
        rules: cfg.scan().rules.clone(),
        block_malicious: cfg.settings.gateway.block_malicious,
        head: root.and_then(|r| warden_workspace::freshness(r).0),
        system_prompt: row
            .and_then(|r| r.system_prompt)
            .or_else(|| cfg.settings.system_prompt.clone()),
    }
}

/// A workspace's stored row (its command-set system prompt).
fn stored_row(store: Option<&Store>, id: i64) -> Option<WorkspaceRow> {
    store?
        .call_blocking(move |c| warden_store::workspaces::by_id(c, id))
        .ok()
        .flatten()
}

/// The risky packages `reply` brings in: malicious per the advisory data, and unknown
/// to their registry per the stored metadata answers (a package not asked about yet is
/// queued for the background fetcher and is no finding now: the reply is not held up).
fn risky(
    advisories: Option<&Advisories>,
    metadata: Option<&crate::metadata::Metadata>,
    reply: &str,
) -> RiskyPackages {
    use warden_analysis::packages::metadata::PackageMeta;
    let found = mentions::mentions(reply, None);
    let bad = advisories
        .map(|adv| mentions::malicious(&found, &**adv))
        .unwrap_or_default();
    let malicious = mentions::describe(&bad);
    let unknown = metadata
        .map(|meta| {
            mentions::excluding(&found, &bad)
                .iter()
                .filter(|m| {
                    meta.get(m.ecosystem, &m.ecosystem.normalize_name(&m.name))
                        .is_some_and(|p| *p == PackageMeta::Unknown)
                })
                .map(|m| format!("{} ({} {})", m.name, m.ecosystem.as_str(), m.via))
                .collect()
        })
        .unwrap_or_default();
    RiskyPackages { malicious, unknown }
}

/// The answer to `warden/gateway` for a workspace.
pub fn result(addr: &Address, workspace: &str) -> GatewayResult {
    let env = addr.env(Some(workspace));
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    GatewayResult {
        workspace: workspace.to_owned(),
        base_url: addr.base_url(Some(workspace)),
        openai_base_url: get("OPENAI_BASE_URL"),
        anthropic_base_url: get("ANTHROPIC_BASE_URL"),
        token: addr.token.clone(),
        apis: APIS.iter().map(|a| (*a).to_owned()).collect(),
        env: env.into_iter().collect(),
    }
}

/// The workspace of gateway calls that name none: the active workspace when one of its
/// folders is open, else the first open folder's, else the active one.
pub fn default_workspace(roots: &crate::shared::Roots) -> (i64, String) {
    let open = |id: i64| roots.open.iter().find(|r| r.workspace_id == id);
    match (open(roots.active.0), roots.open.first()) {
        (Some(r), _) | (None, Some(r)) => (r.workspace_id, r.name.clone()),
        (None, None) => roots.active.clone(),
    }
}

/// The language server's host.
pub struct LspHost {
    pub shared: Arc<Shared>,
    pub client: Client,
}

impl LspHost {
    /// The open root of a workspace by name (the active workspace without a name), or
    /// `None` for a workspace without an open folder.
    fn root(&self, name: Option<&str>) -> Result<(i64, String, Option<PathBuf>), String> {
        let roots = self.shared.roots.read();
        let (id, name) = match name {
            Some(n) => match roots.open.iter().find(|r| r.name == n) {
                Some(r) => (r.workspace_id, r.name.clone()),
                None => {
                    return Err(format!(
                        "no open workspace is named {n:?}; open its folder in the editor (open: {})",
                        roots
                            .open
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            },
            None => default_workspace(&roots),
        };
        let folder = roots
            .open
            .iter()
            .find(|r| r.workspace_id == id)
            .map(|r| r.folder.clone());
        Ok((id, name, folder))
    }
}

impl Host for LspHost {
    fn workspace(&self, name: Option<&str>) -> Result<Workspace, String> {
        let (id, name, folder) = self.root(name)?;
        let cfg = self.shared.root_config(folder.as_deref());
        let row = stored_row(self.shared.store.get(), id);
        Ok(workspace(row, (id, &name), &cfg, folder.as_deref()))
    }

    fn risky_packages(&self, ws: &Workspace, reply: &str) -> RiskyPackages {
        let folder = self.root(Some(&ws.name)).ok().and_then(|r| r.2);
        let cfg = self.shared.scan_config(folder.as_deref());
        risky(cfg.advisories.as_ref(), cfg.metadata.as_ref(), reply)
    }

    fn finished(&self, event: &CallEvent) {
        let client = self.client.clone();
        let event = event.clone();
        tokio::spawn(async move {
            client.send_notification::<GatewayCall>(event).await;
        });
    }
}

/// `warden gateway`'s host: workspaces from the database, configured by the user
/// configuration file under each repository's trusted `.warden.toml`.
pub struct CliHost {
    pub store: Store,
    /// The workspace of calls whose URL names none.
    pub default: WorkspaceRow,
    advisories: Advisories,
    metadata: crate::metadata::Metadata,
    configs: Mutex<HashMap<PathBuf, Arc<RootConfig>>>,
}

impl CliHost {
    /// Must be called within the runtime: it starts the metadata fetcher.
    pub fn new(store: Store, default: WorkspaceRow) -> CliHost {
        let packages = crate::cli::user_settings().settings.packages.clone();
        let misses: crate::metadata::MissCell = Arc::default();
        let metadata = crate::metadata::Metadata::new(
            store.clone(),
            packages.metadata_ttl_hours,
            misses.clone(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = misses.set(tx);
        // Packages a reply named that the store has no answer for are asked in the
        // background, each once per process (the reply is not held up; the next reply
        // naming them has the answer), as the server's fetcher does.
        let fetcher = metadata.clone();
        tokio::spawn(async move {
            let mut asked = std::collections::HashSet::new();
            let wait =
                std::time::Duration::from_secs(packages.download_timeout_seconds.clamp(1, 60));
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(m) = rx.try_recv() {
                    batch.push(m);
                }
                batch.retain(|m| asked.insert(m.clone()));
                if !batch.is_empty() {
                    fetcher.answer_now(&packages, batch, wait).await;
                }
            }
        });
        CliHost {
            advisories: crate::packages::store_advisories(store.clone()),
            metadata,
            store,
            default,
            configs: Mutex::default(),
        }
    }

    /// A root's configuration, read again when its `.warden.toml` changed.
    fn config(&self, root: &Path) -> Arc<RootConfig> {
        let stamp = Stamp::of(root, 0, 0);
        if let Some(c) = self.configs.lock().get(root)
            && c.stamp == stamp
        {
            return c.clone();
        }
        let key = root.display().to_string();
        let stored = self
            .store
            .call_blocking(move |c| warden_store::trust::get(c, &key))
            .ok()
            .flatten();
        let extras = Extras {
            advisories: Some(self.advisories.clone()),
            ..Extras::default()
        };
        let cfg = Arc::new(crate::cli::load_root(
            root,
            Trust::Stored(stored.as_deref()),
            extras,
        ));
        self.configs.lock().insert(root.to_path_buf(), cfg.clone());
        cfg
    }

    fn row(&self, name: Option<&str>) -> Result<WorkspaceRow, String> {
        match name {
            None => Ok(self.default.clone()),
            Some(n) => {
                let n = n.to_owned();
                self.store
                    .call_blocking(move |c| warden_store::workspaces::require(c, &n))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl Host for CliHost {
    fn workspace(&self, name: Option<&str>) -> Result<Workspace, String> {
        let row = self.row(name)?;
        let Some(root) = row.root.as_ref().map(PathBuf::from) else {
            return Err(format!(
                "workspace {:?} has no folder; start `warden gateway` in a repository, or name one with --workspace",
                row.name
            ));
        };
        let cfg = self.config(&root);
        let fresh = stored_row(Some(&self.store), row.id);
        Ok(workspace(fresh, (row.id, &row.name), &cfg, Some(&root)))
    }

    fn risky_packages(&self, ws: &Workspace, reply: &str) -> RiskyPackages {
        // The workspace's effective settings (a trusted `.warden.toml` may turn it off).
        let metadata_on = match self.row(Some(&ws.name)).ok().and_then(|r| r.root) {
            Some(root) => self.config(Path::new(&root)).settings.packages.metadata,
            None => crate::cli::user_settings().settings.packages.metadata,
        };
        risky(
            Some(&self.advisories),
            metadata_on.then_some(&self.metadata),
            reply,
        )
    }

    fn finished(&self, e: &CallEvent) {
        let warning = e
            .warning
            .as_deref()
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        eprintln!(
            "warden gateway: {} {} {} via {} ({} secrets redacted): {}{warning}",
            e.workspace, e.api, e.model, e.client, e.secrets_redacted, e.outcome
        );
    }
}
