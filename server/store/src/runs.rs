//! Script runs: one row per finished run (what ran, how it ended, capped output) and
//! its artifacts. History pages newest first by id; output search is a regex over the
//! stored output with context lines; statistics give per-script success rate and
//! p50/p95 duration.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// A finished run. `stdout`/`stderr` are the kept (capped) output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run id (`runId` in the protocol).
    pub run_id: String,
    pub workspace_id: i64,
    pub workspace: String,
    pub span_id: Option<String>,
    /// The `warden.runAll` batch it belonged to.
    pub batch_id: Option<String>,
    /// Repository-relative path of the script (absolute outside a repository).
    pub path: String,
    pub uri: Option<String>,
    pub head: Option<String>,
    /// The work tree differed from HEAD when it ran.
    pub dirty: bool,
    /// SHA-256 of the text that ran (unsaved edits included).
    pub content_hash: String,
    pub image: String,
    pub command: Vec<String>,
    pub limits: serde_json::Value,
    /// The input file's name, when one was given.
    pub input: Option<String>,
    pub status: String,
    pub exit_code: Option<i64>,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub first_output_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub truncated: bool,
    pub artifacts: Vec<ArtifactInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactInfo {
    pub path: String,
    pub size: u64,
}

/// Stores a finished run with its artifacts (`(path, data)`); returns its row id.
pub fn insert(conn: &mut Connection, r: &Run, artifacts: &[(String, Vec<u8>)]) -> Result<i64> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO runs (run_id, workspace_id, span_id, batch_id, path, uri, head, dirty, content_hash, image,
            command, limits, input, status, exit_code, message, started_at, finished_at, duration_ms,
            first_output_ms, stdout, stderr, stdout_bytes, stderr_bytes, truncated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
            ?21, ?22, ?23, ?24, ?25)",
        params![
            r.run_id,
            r.workspace_id,
            r.span_id,
            r.batch_id,
            r.path,
            r.uri,
            r.head,
            r.dirty,
            r.content_hash,
            r.image,
            serde_json::to_string(&r.command).unwrap_or_default(),
            r.limits.to_string(),
            r.input,
            r.status,
            r.exit_code,
            r.message,
            r.started_at,
            r.finished_at,
            r.duration_ms,
            r.first_output_ms,
            r.stdout.as_deref().unwrap_or(""),
            r.stderr.as_deref().unwrap_or(""),
            r.stdout_bytes,
            r.stderr_bytes,
            r.truncated,
        ],
    )?;
    let id = tx.last_insert_rowid();
    for (path, data) in artifacts {
        tx.execute(
            "INSERT OR REPLACE INTO run_artifacts (run_id, path, size, data) VALUES (?1, ?2, ?3, ?4)",
            params![id, path, data.len() as i64, data],
        )?;
    }
    tx.commit()?;
    Ok(id)
}

const COLUMNS: &str = "r.id, r.run_id, r.workspace_id, w.name, r.span_id, r.batch_id, r.path, r.uri, r.head, r.dirty,
    r.content_hash, r.image, r.command, r.limits, r.input, r.status, r.exit_code, r.message, r.started_at,
    r.finished_at, r.duration_ms, r.first_output_ms, r.stdout_bytes, r.stderr_bytes, r.truncated";

fn row(r: &rusqlite::Row) -> rusqlite::Result<(i64, Run)> {
    let command: String = r.get(12)?;
    let limits: String = r.get(13)?;
    Ok((
        r.get(0)?,
        Run {
            run_id: r.get(1)?,
            workspace_id: r.get(2)?,
            workspace: r.get(3)?,
            span_id: r.get(4)?,
            batch_id: r.get(5)?,
            path: r.get(6)?,
            uri: r.get(7)?,
            head: r.get(8)?,
            dirty: r.get(9)?,
            content_hash: r.get(10)?,
            image: r.get(11)?,
            command: serde_json::from_str(&command).unwrap_or_default(),
            limits: serde_json::from_str(&limits).unwrap_or_default(),
            input: r.get(14)?,
            status: r.get(15)?,
            exit_code: r.get(16)?,
            message: r.get(17)?,
            started_at: r.get(18)?,
            finished_at: r.get(19)?,
            duration_ms: r.get(20)?,
            first_output_ms: r.get(21)?,
            stdout: None,
            stderr: None,
            stdout_bytes: r.get(22)?,
            stderr_bytes: r.get(23)?,
            truncated: r.get(24)?,
            artifacts: Vec::new(),
        },
    ))
}

fn artifacts_of(conn: &Connection, id: i64) -> Result<Vec<ArtifactInfo>> {
    let mut stmt = conn
        .prepare_cached("SELECT path, size FROM run_artifacts WHERE run_id = ?1 ORDER BY path")?;
    let rows = stmt
        .query_map(params![id], |r| {
            Ok(ArtifactInfo {
                path: r.get(0)?,
                size: r.get(1)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub workspace_id: Option<i64>,
    pub path: Option<String>,
    pub uri: Option<String>,
    pub status: Option<String>,
}

/// A page of history, newest first, without output; `cursor` is the last row id of
/// the previous page.
pub fn page(
    conn: &Connection,
    f: &Filter,
    cursor: Option<i64>,
    limit: usize,
) -> Result<(Vec<Run>, Option<i64>)> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs r JOIN workspaces w ON w.id = r.workspace_id
         WHERE (?1 IS NULL OR r.workspace_id = ?1) AND (?2 IS NULL OR r.path = ?2)
           AND (?3 IS NULL OR r.uri = ?3) AND (?4 IS NULL OR r.status = ?4) AND (?5 IS NULL OR r.id < ?5)
         ORDER BY r.id DESC LIMIT ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(
            params![
                f.workspace_id,
                f.path,
                f.uri,
                f.status,
                cursor,
                limit as i64 + 1
            ],
            row,
        )?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| r.0)
    });
    let mut out = Vec::with_capacity(rows.len());
    for (id, mut run) in rows {
        run.artifacts = artifacts_of(conn, id)?;
        out.push(run);
    }
    Ok((out, next.flatten()))
}

/// Decodes a cursor handed out by [`page`].
pub fn cursor_of(text: &str) -> Result<i64> {
    text.parse()
        .map_err(|_| StoreError::Invalid(format!("{text:?} is not a cursor from warden/runs")))
}

/// One run with its full stored output.
pub fn get(conn: &Connection, run_id: &str) -> Result<Option<Run>> {
    let sql = format!(
        "SELECT {COLUMNS}, r.stdout, r.stderr FROM runs r JOIN workspaces w ON w.id = r.workspace_id
         WHERE r.run_id = ?1"
    );
    let found = conn
        .query_row(&sql, params![run_id], |r| {
            let (id, mut run) = row(r)?;
            run.stdout = Some(r.get(25)?);
            run.stderr = Some(r.get(26)?);
            Ok((id, run))
        })
        .optional()?;
    match found {
        Some((id, mut run)) => {
            run.artifacts = artifacts_of(conn, id)?;
            Ok(Some(run))
        }
        None => Ok(None),
    }
}

/// An artifact's bytes.
pub fn artifact(conn: &Connection, run_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .query_row(
            "SELECT a.data FROM run_artifacts a JOIN runs r ON r.id = a.run_id WHERE r.run_id = ?1 AND a.path = ?2",
            params![run_id, path],
            |r| r.get(0),
        )
        .optional()?)
}

/// A line of stored output matching a search, with context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub run_id: String,
    pub path: String,
    pub status: String,
    pub started_at: String,
    pub stream: String,
    /// 1-based line number in that stream's output.
    pub line: usize,
    pub text: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// Lines of stored output (newest runs first) matching `re`, with `context` lines
/// around each, at most `limit` hits.
pub fn search(
    conn: &Connection,
    workspace_id: i64,
    re: &regex::Regex,
    context: usize,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let mut stmt = conn.prepare_cached(
        "SELECT run_id, path, status, started_at, stdout, stderr FROM runs WHERE workspace_id = ?1 ORDER BY id DESC",
    )?;
    let mut rows = stmt.query(params![workspace_id])?;
    let mut hits = Vec::new();
    while let Some(r) = rows.next()? {
        let (run_id, path, status, started_at): (String, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        for (stream, idx) in [("stdout", 4), ("stderr", 5)] {
            let text: String = r.get(idx)?;
            let lines: Vec<&str> = text.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                if !re.is_match(l) {
                    continue;
                }
                let from = i.saturating_sub(context);
                let to = (i + 1 + context).min(lines.len());
                hits.push(SearchHit {
                    run_id: run_id.clone(),
                    path: path.clone(),
                    status: status.clone(),
                    started_at: started_at.clone(),
                    stream: stream.into(),
                    line: i + 1,
                    text: (*l).to_owned(),
                    before: lines[from..i].iter().map(|s| s.to_string()).collect(),
                    after: lines[i + 1..to].iter().map(|s| s.to_string()).collect(),
                });
                if hits.len() >= limit {
                    return Ok(hits);
                }
            }
        }
    }
    Ok(hits)
}

/// Per-script statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptStats {
    pub path: String,
    pub runs: u64,
    pub succeeded: u64,
    /// Succeeded over runs.
    pub success_rate: f64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub last_status: String,
    pub last_run_at: String,
}

/// Success rate and duration percentiles (nearest rank) per script path.
pub fn stats(conn: &Connection, workspace_id: i64) -> Result<Vec<ScriptStats>> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, status, duration_ms, started_at FROM runs WHERE workspace_id = ?1 ORDER BY path, id",
    )?;
    let rows = stmt
        .query_map(params![workspace_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut out: Vec<ScriptStats> = Vec::new();
    let mut durations: Vec<u64> = Vec::new();
    let finish = |s: &mut ScriptStats, d: &mut Vec<u64>| {
        d.sort_unstable();
        s.p50_ms = percentile(d, 50);
        s.p95_ms = percentile(d, 95);
        s.success_rate = s.succeeded as f64 / s.runs as f64;
        d.clear();
    };
    for (path, status, ms, at) in rows {
        if out.last().is_none_or(|s| s.path != path) {
            if let Some(prev) = out.last_mut() {
                finish(prev, &mut durations);
            }
            out.push(ScriptStats {
                path: path.clone(),
                runs: 0,
                succeeded: 0,
                success_rate: 0.0,
                p50_ms: 0,
                p95_ms: 0,
                last_status: String::new(),
                last_run_at: String::new(),
            });
        }
        let s = out.last_mut().expect("pushed");
        s.runs += 1;
        s.succeeded += u64::from(status == "succeeded");
        s.last_status = status;
        s.last_run_at = at;
        durations.push(ms);
    }
    if let Some(prev) = out.last_mut() {
        finish(prev, &mut durations);
    }
    Ok(out)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The last run of each path in a workspace: `(path, status, started_at)`.
pub fn last_per_path(
    conn: &Connection,
    workspace_id: i64,
) -> Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, status, started_at FROM runs WHERE id IN
           (SELECT MAX(id) FROM runs WHERE workspace_id = ?1 GROUP BY path)",
    )?;
    let rows = stmt
        .query_map(params![workspace_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The last run of each script of a workspace, where it failed: the runs whose
/// diagnostics the editor shows until the script runs again or changes.
pub fn last_failed(conn: &Connection, workspace_id: i64) -> Result<Vec<Run>> {
    let mut stmt = conn.prepare_cached(
        "SELECT run_id FROM runs WHERE id IN
           (SELECT MAX(id) FROM runs WHERE workspace_id = ?1 GROUP BY path)
         AND status = 'failed' ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![workspace_id], |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(get(conn, &id)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut c).unwrap();
        c
    }

    fn run(id: &str, path: &str, status: &str, ms: u64, out: &str) -> Run {
        Run {
            run_id: id.into(),
            workspace_id: 1,
            path: path.into(),
            content_hash: "h".into(),
            image: "img".into(),
            command: vec!["python3".into()],
            limits: serde_json::json!({"memoryMb": 256}),
            status: status.into(),
            exit_code: Some(0),
            started_at: format!("2026-11-21T10:00:{:02}.000Z", ms % 60),
            finished_at: "2026-11-21T10:01:00.000Z".into(),
            duration_ms: ms,
            stdout: Some(out.into()),
            stderr: Some(String::new()),
            stdout_bytes: out.len() as u64,
            ..Run::default()
        }
    }

    #[test]
    fn insert_page_get_and_artifacts() {
        let mut c = conn();
        insert(&mut c, &run("a", "s/1.py", "succeeded", 10, "one\n"), &[]).unwrap();
        insert(
            &mut c,
            &run("b", "s/2.py", "failed", 20, "two\n"),
            &[("x.txt".into(), b"xyz".to_vec())],
        )
        .unwrap();
        insert(&mut c, &run("c", "s/1.py", "succeeded", 30, "three\n"), &[]).unwrap();
        let (p, next) = page(&c, &Filter::default(), None, 2).unwrap();
        assert_eq!(
            p.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["c", "b"]
        );
        assert_eq!(p[0].workspace, "default");
        assert_eq!(p[0].stdout, None, "pages carry no output");
        assert_eq!(
            p[1].artifacts,
            [ArtifactInfo {
                path: "x.txt".into(),
                size: 3
            }]
        );
        let (p2, end) = page(&c, &Filter::default(), next, 2).unwrap();
        assert_eq!((p2.len(), end), (1, None));
        let failed = Filter {
            status: Some("failed".into()),
            ..Filter::default()
        };
        assert_eq!(page(&c, &failed, None, 10).unwrap().0.len(), 1);
        let full = get(&c, "b").unwrap().unwrap();
        assert_eq!(full.stdout.as_deref(), Some("two\n"));
        assert_eq!(full.command, ["python3"]);
        assert_eq!(artifact(&c, "b", "x.txt").unwrap().unwrap(), b"xyz");
        assert!(get(&c, "nope").unwrap().is_none());
    }

    #[test]
    fn search_with_context_and_stats() {
        let mut c = conn();
        insert(
            &mut c,
            &run("a", "s/1.py", "failed", 100, "a\nb\nERROR x\nc\nd\n"),
            &[],
        )
        .unwrap();
        for (i, ms) in [10u64, 20, 30, 40].iter().enumerate() {
            let status = if i == 0 { "failed" } else { "succeeded" };
            insert(
                &mut c,
                &run(&format!("r{i}"), "s/2.py", status, *ms, ""),
                &[],
            )
            .unwrap();
        }
        let re = regex::Regex::new("ERROR").unwrap();
        let hits = search(&c, 1, &re, 1, 10).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].line, hits[0].text.as_str()), (3, "ERROR x"));
        assert_eq!(
            (hits[0].before.clone(), hits[0].after.clone()),
            (vec!["b".to_string()], vec!["c".to_string()])
        );
        let st = stats(&c, 1).unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(
            (st[1].path.as_str(), st[1].runs, st[1].succeeded),
            ("s/2.py", 4, 3)
        );
        assert_eq!(st[1].success_rate, 0.75);
        assert_eq!((st[1].p50_ms, st[1].p95_ms), (20, 40));
        assert_eq!(st[1].last_status, "succeeded");
        let last = last_per_path(&c, 1).unwrap();
        assert_eq!(last.len(), 2);
        // s/1.py failed last; s/2.py failed once, then succeeded three times.
        let failed = last_failed(&c, 1).unwrap();
        assert_eq!(
            failed.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(failed[0].stdout.as_deref(), Some("a\nb\nERROR x\nc\nd\n"));
        assert!(last_failed(&c, 2).unwrap().is_empty());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[5], 95), 5);
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&v, 50), percentile(&v, 95)), (50, 95));
    }
}
