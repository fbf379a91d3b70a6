//! The workspace registry of one warden process: which folders are open, which
//! workspace each belongs to, which workspace is active, and each repository's
//! `.warden.toml` overlay. Rows live in the store; this holds only session state.
//! Callers serialize access (the server keeps it behind one async mutex).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_store::{RepoRecord, Store, StoreError, WorkspaceRow, workspaces};

use crate::lsp_ext::{PromptSource, WorkspaceInfo};

/// A folder the editor has open and the workspace it maps to.
#[derive(Debug, Clone)]
struct OpenFolder {
    workspace_id: i64,
}

#[derive(Debug)]
pub struct Registry {
    store: Store,
    folders: BTreeMap<PathBuf, OpenFolder>,
    active_id: i64,
    /// `.warden.toml` overlays by workspace id.
    overlays: HashMap<i64, Value>,
}

/// What a traced folder change produced.
#[derive(Debug, Default)]
pub struct FolderChange {
    /// Warnings to show (broken `.warden.toml`, unreadable repository).
    pub warnings: Vec<String>,
    /// Folders that could not be registered, with the reason.
    pub errors: Vec<String>,
}

/// What adding a folder produced: the workspace and any warnings (broken
/// `.warden.toml`, unreadable repository).
#[derive(Debug)]
pub struct Added {
    pub workspace: WorkspaceRow,
    pub warnings: Vec<String>,
}

impl Registry {
    pub async fn new(store: Store) -> Result<Registry, StoreError> {
        let default = store.call(workspaces::default).await?;
        Ok(Registry {
            store,
            folders: BTreeMap::new(),
            active_id: default.id,
            overlays: HashMap::new(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Opens a folder: discovers its repository (on a blocking thread), records the
    /// workspace and loads its `.warden.toml`.
    pub async fn add_folder(&mut self, folder: &Path) -> Result<Added, StoreError> {
        let folder_owned = folder.to_path_buf();
        let found = tokio::task::spawn_blocking(move || warden_workspace::discover(&folder_owned))
            .await
            .map_err(|e| StoreError::Invalid(format!("discovery failed: {e}")))?;
        let mut warnings: Vec<String> = found.note.iter().cloned().collect();
        let git = found.git.clone().unwrap_or_default();
        let record = RepoRecord {
            key: found.key.display().to_string(),
            name_hint: found.name_hint.clone(),
            root: found.key.display().to_string(),
            remote: git.remote,
            branch: git.branch,
            head: git.head,
        };
        let row = self
            .store
            .call(move |c| workspaces::ensure(c, &record))
            .await?;
        self.folders.insert(
            folder.to_path_buf(),
            OpenFolder {
                workspace_id: row.id,
            },
        );
        warnings.extend(self.reload_overlay(row.id, &found.key).await);
        Ok(Added {
            workspace: row,
            warnings,
        })
    }

    /// Applies folder removals and additions as one `index` span named
    /// `workspace.folders` (the editor's folder change, or `warden workspaces PATH...`).
    pub async fn change_folders(
        &mut self,
        tracer: &warden_trace::Tracer,
        added: &[PathBuf],
        removed: &[PathBuf],
    ) -> FolderChange {
        let mut span = tracer
            .start(warden_trace::SpanKind::Index, "workspace.folders")
            .input(serde_json::json!({ "added": added.len(), "removed": removed.len() }))
            .begin();
        let mut change = FolderChange::default();
        let mut names = Vec::new();
        for folder in removed {
            if let Err(e) = self.remove_folder(folder).await {
                change.errors.push(format!("{}: {e}", folder.display()));
            }
        }
        for folder in added {
            match self.add_folder(folder).await {
                Ok(added) => {
                    names.push(added.workspace.name);
                    change.warnings.extend(added.warnings);
                }
                Err(e) => change.errors.push(format!("{}: {e}", folder.display())),
            }
        }
        span.set_output(serde_json::json!({ "workspaces": names }));
        if change.errors.is_empty() {
            span.ok();
        } else {
            span.fail(change.errors.join("; "));
        }
        change
    }

    /// Closes a folder. Its workspace stays in the store (with its history); if no other
    /// open folder maps to it and it was active, `default` becomes active.
    pub async fn remove_folder(&mut self, folder: &Path) -> Result<bool, StoreError> {
        let Some(gone) = self.folders.remove(folder) else {
            return Ok(false);
        };
        let still_open = self
            .folders
            .values()
            .any(|f| f.workspace_id == gone.workspace_id);
        if !still_open {
            self.overlays.remove(&gone.workspace_id);
            if self.active_id == gone.workspace_id {
                self.active_id = self.default_row().await?.id;
            }
        }
        Ok(true)
    }

    /// Re-reads `.warden.toml` at `root` for workspace `id`. Returns warnings.
    async fn reload_overlay(&mut self, id: i64, root: &Path) -> Vec<String> {
        // The same bounded reader as the root configurations (a FIFO or a huge file is
        // a warning, not a wait while the registry is held).
        let root = root.to_path_buf();
        let read = tokio::task::spawn_blocking(move || {
            let mut warnings = Vec::new();
            let file = crate::root_config::read_file(&root, &mut warnings);
            (file.map(|(_, overlay, _)| overlay), warnings)
        })
        .await;
        match read {
            Ok((Some(overlay), warnings)) => {
                self.overlays.insert(id, overlay);
                warnings
            }
            Ok((None, warnings)) => {
                self.overlays.remove(&id);
                warnings
            }
            Err(e) => vec![format!("reading {}: {e}", warden_config::FILE_NAME)],
        }
    }

    /// Reloads the overlay of whichever open workspace has its root at `file`'s parent.
    /// Returns `None` when `file` is no open workspace's `.warden.toml`.
    pub async fn config_file_changed(&mut self, file: &Path) -> Option<Vec<String>> {
        if file.file_name()? != warden_config::FILE_NAME {
            return None;
        }
        let dir = file.parent()?;
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let ids: Vec<i64> = self.folders.values().map(|f| f.workspace_id).collect();
        for id in ids {
            let Ok(Some(row)) = self.store.call(move |c| workspaces::by_id(c, id)).await else {
                continue;
            };
            if row.root.as_deref().map(Path::new) == Some(dir.as_path()) {
                return Some(self.reload_overlay(id, &dir).await);
            }
        }
        None
    }

    async fn default_row(&self) -> Result<WorkspaceRow, StoreError> {
        self.store.call(workspaces::default).await
    }

    pub async fn by_name(&self, name: &str) -> Result<WorkspaceRow, StoreError> {
        let owned = name.to_owned();
        self.store
            .call(move |c| workspaces::require(c, &owned))
            .await
    }

    pub async fn active(&self) -> Result<WorkspaceRow, StoreError> {
        let id = self.active_id;
        match self.store.call(move |c| workspaces::by_id(c, id)).await? {
            Some(row) => Ok(row),
            None => self.default_row().await,
        }
    }

    pub async fn activate(&mut self, name: &str) -> Result<WorkspaceRow, StoreError> {
        let row = self.by_name(name).await?;
        if row.archived {
            return Err(StoreError::Invalid(format!(
                "workspace {name:?} is archived; restore it with warden.workspace.restore first"
            )));
        }
        self.active_id = row.id;
        Ok(row)
    }

    /// Archives a workspace; if it was active, `default` becomes active.
    pub async fn archive(
        &mut self,
        name: &str,
        archived: bool,
    ) -> Result<WorkspaceRow, StoreError> {
        let owned = name.to_owned();
        let row = self
            .store
            .call(move |c| workspaces::set_archived(c, &owned, archived))
            .await?;
        if archived && row.id == self.active_id {
            self.active_id = self.default_row().await?.id;
        }
        Ok(row)
    }

    /// Deletes a workspace and its history. Refused while one of its folders is open,
    /// because the editor would recreate it at once.
    pub async fn delete(&mut self, name: &str) -> Result<WorkspaceRow, StoreError> {
        let row = self.by_name(name).await?;
        if self.is_open(row.id) {
            return Err(StoreError::Invalid(format!(
                "workspace {name:?} has a folder open in the editor; remove the folder from the editor first, or archive the workspace instead"
            )));
        }
        let owned = name.to_owned();
        let deleted = self
            .store
            .call(move |c| workspaces::delete(c, &owned))
            .await?;
        if deleted.id == self.active_id {
            self.active_id = self.default_row().await?.id;
        }
        Ok(deleted)
    }

    fn is_open(&self, id: i64) -> bool {
        self.folders.values().any(|f| f.workspace_id == id)
    }

    /// The workspace owning `path`: the deepest open folder containing it, else the
    /// active workspace.
    pub async fn workspace_for(&self, path: Option<&Path>) -> Result<WorkspaceRow, StoreError> {
        let owner = path.and_then(|p| {
            self.folders
                .iter()
                .filter(|(folder, _)| p.starts_with(folder))
                .max_by_key(|(folder, _)| folder.components().count())
                .map(|(_, f)| f.workspace_id)
        });
        match owner {
            Some(id) => match self.store.call(move |c| workspaces::by_id(c, id)).await? {
                Some(row) => Ok(row),
                None => self.active().await,
            },
            None => self.active().await,
        }
    }

    /// The effective system prompt and its source: command > `.warden.toml` > settings.
    pub fn system_prompt(
        &self,
        row: &WorkspaceRow,
        editor: &Value,
    ) -> (Option<String>, Option<PromptSource>) {
        if let Some(p) = &row.system_prompt {
            return (Some(p.clone()), Some(PromptSource::Command));
        }
        let overlay = self.overlays.get(&row.id);
        if let Some(p) = overlay
            .and_then(|o| o.get("systemPrompt"))
            .and_then(Value::as_str)
            .filter(|p| warden_config::check_prompt(p).is_ok())
        {
            return (Some(p.to_owned()), Some(PromptSource::File));
        }
        let (settings, _) = warden_config::from_editor(editor);
        match settings.system_prompt {
            Some(p) => (Some(p), Some(PromptSource::Settings)),
            None => (None, None),
        }
    }

    pub fn info(&self, row: &WorkspaceRow, editor: &Value) -> WorkspaceInfo {
        let (system_prompt, system_prompt_source) = self.system_prompt(row, editor);
        WorkspaceInfo {
            name: row.name.clone(),
            root: row.root.clone(),
            remote: row.remote.clone(),
            branch: row.branch.clone(),
            head: row.head.clone(),
            active: row.id == self.active_id,
            archived: row.archived,
            open: self.is_open(row.id),
            system_prompt,
            system_prompt_source,
            created_at: row.created_at.clone(),
        }
    }

    /// The open folders with their workspaces, for background tasks.
    pub async fn snapshot(&self) -> Result<crate::shared::Roots, StoreError> {
        let rows = self.store.call(|c| workspaces::list(c)).await?;
        let by_id: HashMap<i64, &WorkspaceRow> = rows.iter().map(|r| (r.id, r)).collect();
        let open = self
            .folders
            .iter()
            .filter_map(|(folder, f)| {
                let row = by_id.get(&f.workspace_id)?;
                Some(crate::shared::OpenRoot {
                    folder: folder.clone(),
                    workspace_id: row.id,
                    name: row.name.clone(),
                    root: row
                        .root
                        .as_deref()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| folder.clone()),
                })
            })
            .collect();
        let active = by_id
            .get(&self.active_id)
            .map(|r| (r.id, r.name.clone()))
            .unwrap_or((self.active_id, "default".into()));
        Ok(crate::shared::Roots { open, active })
    }

    /// Every stored workspace, `default` first.
    pub async fn list(&self, editor: &Value) -> Result<Vec<WorkspaceInfo>, StoreError> {
        let rows = self.store.call(|c| workspaces::list(c)).await?;
        Ok(rows.iter().map(|r| self.info(r, editor)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn folders_map_to_workspaces_and_active_falls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(a.join("deep")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join(".warden.toml"), "system_prompt = \"from file\"\n").unwrap();
        let mut reg = Registry::new(Store::in_memory()).await.unwrap();
        let wa = reg.add_folder(&a).await.unwrap().workspace;
        reg.add_folder(&b).await.unwrap();
        assert_eq!(
            reg.workspace_for(Some(&a.join("deep/x.py")))
                .await
                .unwrap()
                .id,
            wa.id
        );
        assert_eq!(
            reg.workspace_for(Some(Path::new("/elsewhere")))
                .await
                .unwrap()
                .name,
            "default"
        );

        let editor = json!({"systemPrompt": "from settings"});
        assert_eq!(
            reg.system_prompt(&wa, &editor),
            (Some("from file".into()), Some(PromptSource::File))
        );
        let wb = reg.by_name("b").await.unwrap();
        assert_eq!(
            reg.system_prompt(&wb, &editor).1,
            Some(PromptSource::Settings)
        );

        reg.activate("a").await.unwrap();
        assert_eq!(reg.workspace_for(None).await.unwrap().name, "a");
        assert!(matches!(reg.delete("a").await, Err(StoreError::Invalid(_))));
        reg.remove_folder(&a).await.unwrap();
        assert_eq!(reg.active().await.unwrap().name, "default");
        let list = reg.list(&editor).await.unwrap();
        let a_info = list.iter().find(|w| w.name == "a").unwrap();
        assert!(!a_info.open && !a_info.active);
        reg.delete("a").await.unwrap();
        assert!(reg.by_name("a").await.is_err());
    }
}
