//! Span persistence: rows written when a span starts and updated when it ends, and the
//! newest-first keyset-paginated query behind `warden/traces` and `warden traces`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, Row, ToSql, params};
use warden_trace::{Outcome, Span, SpanKind, SpanSink, Tokens};

use crate::{Result, Store, StoreError};

/// Persists span events through the store's owner thread.
pub struct StoreSink {
    store: Store,
}

impl StoreSink {
    pub fn new(store: Store) -> StoreSink {
        StoreSink { store }
    }
}

impl SpanSink for StoreSink {
    fn started(&self, span: &Span) {
        let span = span.clone();
        let session = self.store.session_id();
        self.store
            .submit("record span start", move |c| insert(c, &span, session));
    }

    fn finished(&self, span: &Span) {
        let span = span.clone();
        self.store
            .submit("record span end", move |c| finish(c, &span));
    }
}

pub fn insert(conn: &Connection, span: &Span, session_id: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO spans (id, parent_id, workspace_id, session_id, kind, name, uri, input, started_at,
                            trace_id, remote_parent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            span.id,
            span.parent_id,
            span.workspace_id,
            session_id,
            span.kind.as_str(),
            span.name,
            span.uri,
            span.input.to_string(),
            span.started_at,
            span.trace_id,
            span.remote_parent
        ],
    )?;
    Ok(())
}

pub fn finish(conn: &Connection, span: &Span) -> Result<()> {
    conn.execute(
        "UPDATE spans SET output = ?2, finished_at = ?3, latency_ms = ?4, outcome = ?5, error = ?6,
                tokens_input = ?7, tokens_output = ?8, tokens_cached = ?9, tokens_reasoning = ?10, cost_usd = ?11
         WHERE id = ?1",
        params![
            span.id,
            span.output.as_ref().map(|v| v.to_string()),
            span.finished_at,
            span.latency_ms.map(|v| v as i64),
            span.outcome.map(Outcome::as_str),
            span.error,
            span.tokens.input as i64,
            span.tokens.output as i64,
            span.tokens.cached as i64,
            span.tokens.reasoning as i64,
            span.cost_usd
        ],
    )?;
    Ok(())
}

/// Filters for [`query`]. `cursor` is the opaque `nextCursor` of a previous page.
#[derive(Debug, Clone, Default)]
pub struct SpanQuery {
    pub workspace_id: Option<i64>,
    pub kind: Option<SpanKind>,
    pub uri: Option<String>,
    pub parent_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct SpanPage {
    pub traces: Vec<Span>,
    pub next_cursor: Option<String>,
}

/// The largest page `query` returns.
pub const MAX_LIMIT: usize = 500;

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("s1:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("s1:").map(str::to_owned))
        .ok_or_else(|| {
            StoreError::Invalid(
                "invalid cursor: pass the nextCursor of a previous warden/traces page".into(),
            )
        })
}

/// Newest spans first, `limit` (1..=500) per page.
pub fn query(conn: &Connection, q: &SpanQuery) -> Result<SpanPage> {
    let limit = q.limit.clamp(1, MAX_LIMIT);
    let mut sql = String::from(
        "SELECT s.id, s.parent_id, w.name, s.workspace_id, s.kind, s.name, s.uri, s.input, s.output,
                s.started_at, s.finished_at, s.latency_ms, s.outcome, s.error,
                s.tokens_input, s.tokens_output, s.tokens_cached, s.tokens_reasoning, s.cost_usd,
                s.trace_id, s.remote_parent
         FROM spans s LEFT JOIN workspaces w ON w.id = s.workspace_id WHERE 1=1",
    );
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut push = |clause: &str, v: Box<dyn ToSql>, sql: &mut String| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(ws) = q.workspace_id {
        push("s.workspace_id =", Box::new(ws), &mut sql);
    }
    if let Some(kind) = q.kind {
        push("s.kind =", Box::new(kind.as_str()), &mut sql);
    }
    if let Some(uri) = &q.uri {
        push("s.uri =", Box::new(uri.clone()), &mut sql);
    }
    if let Some(parent) = &q.parent_id {
        push("s.parent_id =", Box::new(parent.clone()), &mut sql);
    }
    if let Some(cursor) = &q.cursor {
        push("s.id <", Box::new(decode_cursor(cursor)?), &mut sql);
    }
    args.push(Box::new((limit + 1) as i64));
    sql.push_str(&format!(" ORDER BY s.id DESC LIMIT ?{}", args.len()));

    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let mut traces: Vec<Span> = stmt
        .query_map(params.as_slice(), from_row)?
        .collect::<Result<_, _>>()?;
    let next_cursor = if traces.len() > limit {
        traces.truncate(limit);
        traces.last().map(|s| encode_cursor(&s.id))
    } else {
        None
    };
    Ok(SpanPage {
        traces,
        next_cursor,
    })
}

/// Finished spans in creation order after the span id `after` (exclusive), optionally
/// of one workspace and started at or after `since` (RFC 3339): the pages of a backfill
/// export.
pub fn finished_after(
    conn: &Connection,
    workspace_id: Option<i64>,
    since: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Span>> {
    let mut stmt = conn.prepare(
        "SELECT s.id, s.parent_id, w.name, s.workspace_id, s.kind, s.name, s.uri, s.input, s.output,
                s.started_at, s.finished_at, s.latency_ms, s.outcome, s.error,
                s.tokens_input, s.tokens_output, s.tokens_cached, s.tokens_reasoning, s.cost_usd,
                s.trace_id, s.remote_parent
         FROM spans s LEFT JOIN workspaces w ON w.id = s.workspace_id
         WHERE s.finished_at IS NOT NULL
           AND (?1 IS NULL OR s.workspace_id = ?1)
           AND (?2 IS NULL OR s.started_at >= ?2)
           AND (?3 IS NULL OR s.id > ?3)
         ORDER BY s.id LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![workspace_id, since, after, limit.clamp(1, MAX_LIMIT) as i64],
            from_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn json_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Span> {
    let kind: String = r.get(4)?;
    let outcome: Option<String> = r.get(12)?;
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    let id: String = r.get(0)?;
    let parent_id: Option<String> = r.get(1)?;
    // Rows whose trace was never recorded (a parent missing at migration): the parent,
    // or the span itself, is taken for the root.
    let trace_id = r
        .get::<_, Option<String>>(19)?
        .unwrap_or_else(|| warden_trace::uuid_hex(parent_id.as_deref().unwrap_or(&id)));
    Ok(Span {
        id,
        parent_id,
        trace_id,
        remote_parent: r.get(20)?,
        workspace: r.get(2)?,
        workspace_id: r.get(3)?,
        kind: SpanKind::parse(&kind).unwrap_or(SpanKind::Command),
        name: r.get(5)?,
        uri: r.get(6)?,
        input: json_col(r, 7)?.unwrap_or(serde_json::Value::Null),
        output: json_col(r, 8)?,
        started_at: r.get(9)?,
        finished_at: r.get(10)?,
        latency_ms: r.get::<_, Option<i64>>(11)?.map(|v| v.max(0) as u64),
        outcome: outcome.as_deref().and_then(Outcome::parse),
        error: r.get(13)?,
        tokens: Tokens {
            input: count(14)?,
            output: count(15)?,
            cached: count(16)?,
            reasoning: count(17)?,
        },
        cost_usd: r.get(18)?,
        content: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use warden_trace::Tracer;

    fn store_with_spans(n: usize) -> (Store, Tracer, Vec<String>) {
        let store = Store::in_memory();
        let tracer = Tracer::new();
        tracer.add_sink(Arc::new(StoreSink::new(store.clone())));
        let ids = (0..n)
            .map(|i| {
                let kind = if i % 2 == 0 {
                    SpanKind::Command
                } else {
                    SpanKind::Scan
                };
                let mut s = tracer.start(kind, format!("span{i}")).begin();
                s.set_output(serde_json::json!({ "i": i }));
                s.ok().id
            })
            .collect();
        (store, tracer, ids)
    }

    fn page(store: &Store, q: SpanQuery) -> SpanPage {
        store.call_blocking(move |c| query(c, &q)).unwrap()
    }

    #[test]
    fn pages_newest_first_until_exhausted() {
        let (store, _t, ids) = store_with_spans(7);
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p = page(
                &store,
                SpanQuery {
                    cursor: cursor.clone(),
                    limit: 3,
                    ..Default::default()
                },
            );
            seen.extend(p.traces.iter().map(|s| s.id.clone()));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut expected = ids.clone();
        expected.reverse();
        assert_eq!(seen, expected);
    }

    #[test]
    fn filters_and_round_trips_fields() {
        let (store, tracer, _) = store_with_spans(4);
        let parent = tracer.start(SpanKind::Command, "parent").begin();
        let mut child = parent
            .child(SpanKind::Llm, "call")
            .uri(Some("file:///a.py".into()))
            .begin();
        child.add_tokens(Tokens {
            input: 10,
            output: 5,
            cached: 2,
            reasoning: 1,
        });
        child.add_cost(0.25);
        let child = child.fail("boom");
        let parent_id = parent.ok().id;
        let p = page(
            &store,
            SpanQuery {
                parent_id: Some(parent_id),
                limit: 10,
                ..Default::default()
            },
        );
        assert_eq!(p.traces.len(), 1);
        let got = &p.traces[0];
        assert_eq!(got, &child);
        let scans = page(
            &store,
            SpanQuery {
                kind: Some(SpanKind::Scan),
                limit: 10,
                ..Default::default()
            },
        );
        assert_eq!(scans.traces.len(), 2);
        let by_uri = page(
            &store,
            SpanQuery {
                uri: Some("file:///a.py".into()),
                limit: 10,
                ..Default::default()
            },
        );
        assert_eq!(by_uri.traces.len(), 1);
    }

    #[test]
    fn bad_cursor_is_invalid_and_limit_is_clamped() {
        let (store, _t, _) = store_with_spans(3);
        let q = SpanQuery {
            cursor: Some("not-a-cursor!".into()),
            limit: 1,
            ..Default::default()
        };
        let err = store.call_blocking(move |c| query(c, &q)).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)));
        let p = page(
            &store,
            SpanQuery {
                limit: 0,
                ..Default::default()
            },
        );
        assert_eq!(p.traces.len(), 1);
        assert!(p.next_cursor.is_some());
    }

    #[test]
    fn unfinished_spans_of_dead_sessions_become_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let store = Store::open(&path).unwrap();
        let tracer = Tracer::new();
        tracer.add_sink(Arc::new(StoreSink::new(store.clone())));
        let span = tracer.start(SpanKind::Run, "long").begin();
        let id = span.id().to_owned();
        // Simulate a crash: the session belongs to a pid that no longer exists.
        store
            .call_blocking(|c| {
                c.execute("UPDATE sessions SET pid = 2147483646, start_ticks = 1", [])?;
                Ok(())
            })
            .unwrap();
        std::mem::forget(span);
        let other = Store::open(&path).unwrap();
        let p = page(
            &other,
            SpanQuery {
                limit: 10,
                ..Default::default()
            },
        );
        let got = p.traces.iter().find(|s| s.id == id).unwrap();
        assert_eq!(got.outcome, Some(Outcome::Interrupted));
        assert!(got.finished_at.is_some());
    }
}
