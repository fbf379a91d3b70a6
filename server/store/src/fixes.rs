//! Fix-until-green rounds, cached by the hash of what a round started from (see
//! `warden_lsp`'s `fix_loop`): the round as JSON, its fixed text with secrets as
//! placeholders. A later loop on the same file text and failure replays the round
//! instead of asking the model and running the sandbox again.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// The round stored under `key`, if any.
pub fn get(conn: &Connection, key: &str) -> Result<Option<serde_json::Value>> {
    let raw: Option<String> = conn
        .query_row("SELECT round FROM fix_rounds WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

/// Stores (or replaces) the round under `key`.
pub fn put(
    conn: &Connection,
    workspace_id: i64,
    key: &str,
    round: &serde_json::Value,
) -> Result<()> {
    conn.execute(
        "INSERT INTO fix_rounds (key, workspace_id, created_at, round) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET round = ?4, created_at = ?3",
        params![
            key,
            workspace_id,
            warden_trace::now_rfc3339(),
            round.to_string()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, workspaces};

    #[test]
    fn rounds_round_trip_and_replace() {
        Store::in_memory()
            .call_blocking(|c| {
                let ws = workspaces::ensure(c, &workspaces::test_repo("/r"))?.id;
                assert_eq!(get(c, "k")?, None);
                put(c, ws, "k", &serde_json::json!({"n": 1}))?;
                put(c, ws, "k", &serde_json::json!({"n": 2}))?;
                assert_eq!(get(c, "k")?, Some(serde_json::json!({"n": 2})));
                Ok(())
            })
            .unwrap();
    }
}
