//! Workspace rows: one per git repository root (or plain folder), plus `default`.
//! Names are unique; a new repository whose directory name is taken gets `-2`, `-3`...
//! Deleting a workspace cascades to everything recorded under it.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use crate::{Result, StoreError};

/// The key and name of the workspace that owns files outside every folder.
pub const DEFAULT_KEY: &str = "default";

/// What discovery found about a folder's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRecord {
    /// Canonical repository root (or folder path when not in git).
    pub key: String,
    /// Preferred name (the directory name).
    pub name_hint: String,
    pub root: String,
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub head: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub key: String,
    pub name: String,
    pub root: Option<String>,
    pub remote: Option<String>,
    pub branch: Option<String>,
    pub head: Option<String>,
    /// The prompt set by command (highest precedence), if any.
    #[serde(skip)]
    pub system_prompt: Option<String>,
    pub archived: bool,
    pub created_at: String,
}

impl WorkspaceRow {
    pub fn is_default(&self) -> bool {
        self.key == DEFAULT_KEY
    }

    pub fn as_ref(&self) -> warden_trace::WorkspaceRef {
        warden_trace::WorkspaceRef {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

const COLUMNS: &str =
    "id, key, name, root, remote, branch, head, system_prompt, archived, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<WorkspaceRow> {
    Ok(WorkspaceRow {
        id: r.get(0)?,
        key: r.get(1)?,
        name: r.get(2)?,
        root: r.get(3)?,
        remote: r.get(4)?,
        branch: r.get(5)?,
        head: r.get(6)?,
        system_prompt: r.get(7)?,
        archived: r.get(8)?,
        created_at: r.get(9)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<WorkspaceRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM workspaces ORDER BY key = 'default' DESC, name"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<WorkspaceRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM workspaces WHERE name = ?1"),
            [name],
            from_row,
        )
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<WorkspaceRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM workspaces WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

pub fn by_key(conn: &Connection, key: &str) -> Result<Option<WorkspaceRow>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM workspaces WHERE key = ?1"),
            [key],
            from_row,
        )
        .optional()?)
}

/// The `default` workspace (created by the first migration; recreated if missing).
pub fn default(conn: &mut Connection) -> Result<WorkspaceRow> {
    if let Some(row) = by_key(conn, DEFAULT_KEY)? {
        return Ok(row);
    }
    let now = warden_trace::now_rfc3339();
    conn.execute(
        "INSERT OR IGNORE INTO workspaces (key, name, created_at, updated_at) VALUES ('default', 'default', ?1, ?1)",
        [&now],
    )?;
    by_key(conn, DEFAULT_KEY)?.ok_or_else(|| StoreError::NotFound("default workspace".into()))
}

/// Records a discovered repository: refreshes its git facts when known, otherwise
/// creates it under a unique name.
pub fn ensure(conn: &mut Connection, rec: &RepoRecord) -> Result<WorkspaceRow> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = warden_trace::now_rfc3339();
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM workspaces WHERE key = ?1",
            [&rec.key],
            |r| r.get(0),
        )
        .optional()?;
    let id = match existing {
        Some(id) => {
            tx.execute(
                "UPDATE workspaces SET root = ?2, remote = ?3, branch = ?4, head = ?5, updated_at = ?6 WHERE id = ?1",
                params![id, rec.root, rec.remote, rec.branch, rec.head, now],
            )?;
            id
        }
        None => {
            let name = unique_name(&tx, &rec.name_hint)?;
            tx.execute(
                "INSERT INTO workspaces (key, name, root, remote, branch, head, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![rec.key, name, rec.root, rec.remote, rec.branch, rec.head, now],
            )?;
            tx.last_insert_rowid()
        }
    };
    let row = tx.query_row(
        &format!("SELECT {COLUMNS} FROM workspaces WHERE id = ?1"),
        [id],
        from_row,
    )?;
    tx.commit()?;
    Ok(row)
}

/// `hint`, or `hint-2`, `hint-3`... whichever is free first.
fn unique_name(conn: &Connection, hint: &str) -> Result<String> {
    let hint = if hint.is_empty() { "workspace" } else { hint };
    let taken = |name: &str| -> Result<bool> {
        Ok(conn
            .query_row("SELECT 1 FROM workspaces WHERE name = ?1", [name], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    };
    if !taken(hint)? {
        return Ok(hint.to_owned());
    }
    for n in 2.. {
        let candidate = format!("{hint}-{n}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some suffix is free")
}

/// The workspace named `name`, or a `NotFound` error saying where to see the names.
pub fn require(conn: &Connection, name: &str) -> Result<WorkspaceRow> {
    by_name(conn, name)?.ok_or_else(|| {
        StoreError::NotFound(format!(
            "no workspace named {name:?}; `warden workspaces` (or warden.workspace.list) shows the names"
        ))
    })
}

pub fn rename(conn: &mut Connection, name: &str, new_name: &str) -> Result<WorkspaceRow> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = require(&tx, name)?;
    if row.is_default() {
        return Err(StoreError::Invalid(
            "the default workspace cannot be renamed".into(),
        ));
    }
    if name != new_name && by_name(&tx, new_name)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a workspace named {new_name:?} already exists; choose another name"
        )));
    }
    tx.execute(
        "UPDATE workspaces SET name = ?2, updated_at = ?3 WHERE id = ?1",
        params![row.id, new_name, warden_trace::now_rfc3339()],
    )?;
    let row = by_id(&tx, row.id)?.expect("row exists inside the transaction");
    tx.commit()?;
    Ok(row)
}

pub fn set_archived(conn: &mut Connection, name: &str, archived: bool) -> Result<WorkspaceRow> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = require(&tx, name)?;
    if row.is_default() && archived {
        return Err(StoreError::Invalid(
            "the default workspace cannot be archived".into(),
        ));
    }
    tx.execute(
        "UPDATE workspaces SET archived = ?2, updated_at = ?3 WHERE id = ?1",
        params![row.id, archived, warden_trace::now_rfc3339()],
    )?;
    let row = by_id(&tx, row.id)?.expect("row exists inside the transaction");
    tx.commit()?;
    Ok(row)
}

pub fn set_system_prompt(
    conn: &mut Connection,
    name: &str,
    prompt: Option<&str>,
) -> Result<WorkspaceRow> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = require(&tx, name)?;
    tx.execute(
        "UPDATE workspaces SET system_prompt = ?2, updated_at = ?3 WHERE id = ?1",
        params![row.id, prompt, warden_trace::now_rfc3339()],
    )?;
    let row = by_id(&tx, row.id)?.expect("row exists inside the transaction");
    tx.commit()?;
    Ok(row)
}

/// Deletes a workspace and (by cascade) its whole history. Returns the deleted row.
pub fn delete(conn: &mut Connection, name: &str) -> Result<WorkspaceRow> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = require(&tx, name)?;
    if row.is_default() {
        return Err(StoreError::Invalid(
            "the default workspace cannot be deleted".into(),
        ));
    }
    tx.execute("DELETE FROM workspaces WHERE id = ?1", [row.id])?;
    tx.commit()?;
    Ok(row)
}

/// A repository without remote, branch or head, rooted at `root` (for tests).
#[cfg(test)]
pub(crate) fn test_repo(root: &str) -> RepoRecord {
    RepoRecord {
        key: root.into(),
        name_hint: root.trim_start_matches('/').into(),
        root: root.into(),
        remote: None,
        branch: None,
        head: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn rec(key: &str, hint: &str) -> RepoRecord {
        RepoRecord {
            key: key.into(),
            name_hint: hint.into(),
            root: key.into(),
            remote: Some("git@example.invalid:a/b.git".into()),
            branch: Some("main".into()),
            head: Some("abc".into()),
        }
    }

    #[test]
    fn ensure_is_idempotent_and_names_are_unique() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let a = ensure(c, &rec("/x/app", "app"))?;
                let b = ensure(c, &rec("/y/app", "app"))?;
                let c3 = ensure(c, &rec("/z/app", "app"))?;
                assert_eq!(
                    (a.name.as_str(), b.name.as_str(), c3.name.as_str()),
                    ("app", "app-2", "app-3")
                );
                let mut moved = rec("/x/app", "app");
                moved.head = Some("def".into());
                let again = ensure(c, &moved)?;
                assert_eq!(again.id, a.id);
                assert_eq!(again.head.as_deref(), Some("def"));
                assert_eq!(list(c)?.len(), 4, "default + three");
                assert!(list(c)?[0].is_default(), "default lists first");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn rename_archive_prompt_delete() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                ensure(c, &rec("/x/app", "app"))?;
                ensure(c, &rec("/x/lib", "lib"))?;
                assert!(matches!(
                    rename(c, "app", "lib"),
                    Err(StoreError::Conflict(_))
                ));
                assert!(matches!(
                    rename(c, "nope", "z"),
                    Err(StoreError::NotFound(_))
                ));
                assert!(matches!(
                    rename(c, "default", "z"),
                    Err(StoreError::Invalid(_))
                ));
                assert_eq!(rename(c, "app", "web")?.name, "web");
                assert!(set_archived(c, "web", true)?.archived);
                assert!(!set_archived(c, "web", false)?.archived);
                assert_eq!(
                    set_system_prompt(c, "web", Some("be terse"))?
                        .system_prompt
                        .as_deref(),
                    Some("be terse")
                );
                assert_eq!(set_system_prompt(c, "web", None)?.system_prompt, None);
                assert!(matches!(delete(c, "default"), Err(StoreError::Invalid(_))));
                delete(c, "web")?;
                assert!(by_name(c, "web")?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
