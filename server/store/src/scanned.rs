//! What the last workspace scan found clean, per file: the file's identity on disk
//! (size, modification and change times, inode), the key of everything else its result
//! depends on (the build, the settings, the baseline, the advisories), and its outcome
//! (scanned with no finding, or skipped and why). The next start-up scan re-reads only
//! files whose row is missing or differs. Files with findings have no row: they are
//! scanned again every time.

use std::collections::HashMap;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::Result;

/// One file's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub stat: FileStat,
    /// Why the file was skipped (`binary file`, ...); `None` when it was scanned.
    pub skipped: Option<String>,
    /// Lines too long to scan for secrets.
    pub long_lines: u32,
}

/// A file's identity on disk: any write changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

/// The rows of a workspace written under `key` (rows of another key are stale).
pub fn load(
    conn: &Connection,
    workspace_id: i64,
    key: &str,
) -> Result<HashMap<String, ScannedFile>> {
    let mut stmt = conn.prepare(
        "SELECT path, size, mtime_ns, ctime_ns, inode, skipped, long_lines
         FROM scanned_files WHERE workspace_id = ?1 AND key = ?2",
    )?;
    let rows = stmt
        .query_map(params![workspace_id, key], |r| {
            Ok(ScannedFile {
                path: r.get(0)?,
                stat: FileStat {
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    ctime_ns: r.get(3)?,
                    inode: r.get::<_, i64>(4)? as u64,
                },
                skipped: r.get(5)?,
                long_lines: r.get(6)?,
            })
        })?
        .map(|r| r.map(|f| (f.path.clone(), f)))
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Replaces all of a workspace's rows (after a complete scan).
pub fn replace(
    conn: &mut Connection,
    workspace_id: i64,
    key: &str,
    rows: &[ScannedFile],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM scanned_files WHERE workspace_id = ?1",
        [workspace_id],
    )?;
    {
        let mut stmt = tx.prepare(
            "INSERT OR REPLACE INTO scanned_files
             (workspace_id, path, key, size, mtime_ns, ctime_ns, inode, skipped, long_lines)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for r in rows {
            stmt.execute(params![
                workspace_id,
                r.path,
                key,
                r.stat.size as i64,
                r.stat.mtime_ns,
                r.stat.ctime_ns,
                r.stat.inode as i64,
                r.skipped,
                r.long_lines
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, workspaces};

    #[test]
    fn rows_are_keyed_and_replaced() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let ws = workspaces::ensure(c, &workspaces::test_repo("/r"))?;
                let row = |p: &str, skipped: Option<&str>| ScannedFile {
                    path: p.into(),
                    stat: FileStat {
                        size: 10,
                        mtime_ns: 1_700_000_000_123_456_789,
                        ctime_ns: 1_700_000_000_223_456_789,
                        inode: u64::MAX / 3,
                    },
                    skipped: skipped.map(Into::into),
                    long_lines: 2,
                };
                replace(
                    c,
                    ws.id,
                    "k1",
                    &[row("a.py", None), row("b.bin", Some("binary file"))],
                )?;
                let loaded = load(c, ws.id, "k1")?;
                assert_eq!(loaded.len(), 2);
                assert_eq!(loaded["b.bin"], row("b.bin", Some("binary file")));
                assert!(load(c, ws.id, "k2")?.is_empty(), "another key: stale");
                replace(c, ws.id, "k2", &[row("c.py", None)])?;
                assert!(load(c, ws.id, "k1")?.is_empty(), "replaced");
                workspaces::delete(c, "r")?;
                assert!(
                    load(c, ws.id, "k2")?.is_empty(),
                    "deleted with the workspace"
                );
                Ok(())
            })
            .unwrap();
    }
}
