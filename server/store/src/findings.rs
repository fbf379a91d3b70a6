//! Current findings per workspace file. Rows hold the rule, position and message, and
//! for secrets the SHA-256 of the value, never the value. A file's rows are replaced
//! whenever it is re-analysed; a workspace scan replaces the workspace's rows.

use rusqlite::{Connection, TransactionBehavior, params};
use serde::Serialize;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRow {
    pub path: String,
    pub kind: String,
    pub rule: String,
    pub severity: String,
    pub message: String,
    pub start_line: u32,
    pub start_col: u32,
    pub end_line: u32,
    pub end_col: u32,
    pub fingerprint: Option<String>,
}

fn insert(conn: &Connection, workspace_id: i64, rows: &[FindingRow], now: &str) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO findings (workspace_id, path, kind, rule, severity, message, start_line, start_col, end_line, end_col, fingerprint, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for r in rows {
        stmt.execute(params![
            workspace_id,
            r.path,
            r.kind,
            r.rule,
            r.severity,
            r.message,
            r.start_line,
            r.start_col,
            r.end_line,
            r.end_col,
            r.fingerprint,
            now
        ])?;
    }
    Ok(())
}

/// Replaces one file's findings.
pub fn replace_path(
    conn: &mut Connection,
    workspace_id: i64,
    path: &str,
    rows: &[FindingRow],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM findings WHERE workspace_id = ?1 AND path = ?2",
        params![workspace_id, path],
    )?;
    insert(&tx, workspace_id, rows, &warden_trace::now_rfc3339())?;
    tx.commit()?;
    Ok(())
}

/// Replaces all of a workspace's findings (after a workspace scan).
pub fn replace_workspace(
    conn: &mut Connection,
    workspace_id: i64,
    rows: &[FindingRow],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM findings WHERE workspace_id = ?1",
        [workspace_id],
    )?;
    insert(&tx, workspace_id, rows, &warden_trace::now_rfc3339())?;
    tx.commit()?;
    Ok(())
}

pub fn list(conn: &Connection, workspace_id: i64) -> Result<Vec<FindingRow>> {
    let mut stmt = conn.prepare(
        "SELECT path, kind, rule, severity, message, start_line, start_col, end_line, end_col, fingerprint
         FROM findings WHERE workspace_id = ?1 ORDER BY path, start_line, start_col",
    )?;
    let rows = stmt
        .query_map([workspace_id], |r| {
            Ok(FindingRow {
                path: r.get(0)?,
                kind: r.get(1)?,
                rule: r.get(2)?,
                severity: r.get(3)?,
                message: r.get(4)?,
                start_line: r.get(5)?,
                start_col: r.get(6)?,
                end_line: r.get(7)?,
                end_col: r.get(8)?,
                fingerprint: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, workspaces};

    #[test]
    fn replace_by_path_and_workspace_and_cascade() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let ws = workspaces::ensure(c, &workspaces::test_repo("/r"))?;
                let row = |p: &str| FindingRow {
                    path: p.into(),
                    kind: "secret".into(),
                    rule: "jwt".into(),
                    severity: "error".into(),
                    message: "m".into(),
                    start_line: 1,
                    start_col: 2,
                    end_line: 1,
                    end_col: 9,
                    fingerprint: Some("ab".into()),
                };
                replace_workspace(c, ws.id, &[row("a.py"), row("b.py")])?;
                replace_path(c, ws.id, "a.py", &[])?;
                assert_eq!(list(c, ws.id)?, vec![row("b.py")]);
                workspaces::delete(c, "r")?;
                assert!(list(c, ws.id)?.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
