//! Sessions: one row per process that opened the database. Spans record their session,
//! so at startup the spans of sessions whose process is gone (a crash, `kill -9`) are
//! marked `interrupted` without touching those of a live second editor window.

use rusqlite::{Connection, TransactionBehavior, params};

use crate::Result;

/// Registers this process and returns its session id.
pub fn register_session(conn: &mut Connection) -> Result<i64> {
    let pid = std::process::id() as i64;
    conn.execute(
        "INSERT INTO sessions (pid, start_ticks, started_at) VALUES (?1, ?2, ?3)",
        params![pid, start_ticks(pid), warden_trace::now_rfc3339()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Removes this process's session row on a clean shutdown.
pub fn end_session(conn: &mut Connection, session_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE spans SET finished_at = ?2, outcome = 'interrupted', error = 'warden exited before the span finished'
         WHERE session_id = ?1 AND finished_at IS NULL",
        params![session_id, warden_trace::now_rfc3339()],
    )?;
    conn.execute("DELETE FROM sessions WHERE id = ?1", [session_id])?;
    Ok(())
}

/// Marks unfinished spans of dead sessions `interrupted` and forgets those sessions.
/// Returns how many spans changed.
pub fn reap_dead_sessions(conn: &mut Connection) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sessions: Vec<(i64, i64, Option<i64>)> = {
        let mut stmt = tx.prepare("SELECT id, pid, start_ticks FROM sessions")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    let now = warden_trace::now_rfc3339();
    let mut changed = 0;
    for (id, pid, ticks) in sessions {
        if is_alive(pid, ticks) {
            continue;
        }
        changed += tx.execute(
            "UPDATE spans SET finished_at = ?2, outcome = 'interrupted',
                    error = 'the warden process that owned this span ended abruptly'
             WHERE session_id = ?1 AND finished_at IS NULL",
            params![id, now],
        )?;
        tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    }
    // Spans whose session row is gone entirely (older crashes) are interrupted too.
    changed += tx.execute(
        "UPDATE spans SET finished_at = ?1, outcome = 'interrupted',
                error = 'the warden process that owned this span ended abruptly'
         WHERE finished_at IS NULL AND (session_id IS NULL OR session_id NOT IN (SELECT id FROM sessions))",
        params![now],
    )?;
    tx.commit()?;
    Ok(changed)
}

/// The process start time in clock ticks since boot (field 22 of `/proc/PID/stat`),
/// which tells a live process from a recycled pid.
fn start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn is_alive(pid: i64, ticks: Option<i64>) -> bool {
    if pid == std::process::id() as i64 && ticks == start_ticks(pid) {
        return true;
    }
    if !std::path::Path::new("/proc/self/stat").exists() {
        // No procfs: we cannot tell, so never interrupt another process's spans.
        return true;
    }
    match start_ticks(pid) {
        Some(now) => ticks.is_none_or(|t| t == now),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_unknown_pid_is_not() {
        let me = std::process::id() as i64;
        assert!(is_alive(me, start_ticks(me)));
        // Same pid, different start time: a recycled pid.
        assert!(!is_alive(me, start_ticks(me).map(|t| t + 1)));
        assert!(!is_alive(i32::MAX as i64, Some(1)));
    }
}
