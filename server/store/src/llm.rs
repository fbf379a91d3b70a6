//! LLM interactions and the response cache. Everything stored here is redacted by the
//! caller (secrets are placeholders); API keys are never passed in. Usage totals group
//! by model, day or action; history pages newest first by id. The cache holds what the
//! caller puts (replies that were used) until the caller forgets an entry.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::Result;

/// One stored call (or cache hit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    pub id: i64,
    pub workspace_id: i64,
    pub workspace: String,
    pub request_id: String,
    pub span_id: Option<String>,
    pub action: String,
    pub uri: Option<String>,
    pub provider: String,
    pub model: String,
    /// The redacted request (system prompt and messages) as JSON text.
    pub prompt: String,
    /// The redacted reply.
    pub response: Option<String>,
    pub tokens_input: u64,
    pub tokens_output: u64,
    pub tokens_cached: u64,
    pub tokens_reasoning: u64,
    pub cost_usd: f64,
    pub latency_ms: Option<u64>,
    pub ttft_ms: Option<u64>,
    pub cache_hit: bool,
    /// `ok`, `error` or `cancelled`.
    pub outcome: String,
    pub error: Option<String>,
    pub head: Option<String>,
    pub file_hash: Option<String>,
    pub created_at: String,
}

pub fn insert(conn: &Connection, i: &Interaction) -> Result<i64> {
    conn.execute(
        "INSERT INTO llm_interactions (workspace_id, request_id, span_id, action, uri, provider, model, prompt, response,
            tokens_input, tokens_output, tokens_cached, tokens_reasoning, cost_usd, latency_ms, ttft_ms, cache_hit,
            outcome, error, head, file_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        params![
            i.workspace_id,
            i.request_id,
            i.span_id,
            i.action,
            i.uri,
            i.provider,
            i.model,
            i.prompt,
            i.response,
            i.tokens_input,
            i.tokens_output,
            i.tokens_cached,
            i.tokens_reasoning,
            i.cost_usd,
            i.latency_ms,
            i.ttft_ms,
            i.cache_hit,
            i.outcome,
            i.error,
            i.head,
            i.file_hash,
            i.created_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A page of history, newest first; `cursor` is the last id of the previous page.
pub fn page(
    conn: &Connection,
    workspace_id: Option<i64>,
    cursor: Option<i64>,
    limit: usize,
) -> Result<(Vec<Interaction>, Option<i64>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.workspace_id, w.name, i.request_id, i.span_id, i.action, i.uri, i.provider, i.model, i.prompt,
                i.response, i.tokens_input, i.tokens_output, i.tokens_cached, i.tokens_reasoning, i.cost_usd,
                i.latency_ms, i.ttft_ms, i.cache_hit, i.outcome, i.error, i.head, i.file_hash, i.created_at
         FROM llm_interactions i JOIN workspaces w ON w.id = i.workspace_id
         WHERE (?1 IS NULL OR i.workspace_id = ?1) AND (?2 IS NULL OR i.id < ?2)
         ORDER BY i.id DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![workspace_id, cursor, limit as i64 + 1], |r| {
            Ok(Interaction {
                id: r.get(0)?,
                workspace_id: r.get(1)?,
                workspace: r.get(2)?,
                request_id: r.get(3)?,
                span_id: r.get(4)?,
                action: r.get(5)?,
                uri: r.get(6)?,
                provider: r.get(7)?,
                model: r.get(8)?,
                prompt: r.get(9)?,
                response: r.get(10)?,
                tokens_input: r.get(11)?,
                tokens_output: r.get(12)?,
                tokens_cached: r.get(13)?,
                tokens_reasoning: r.get(14)?,
                cost_usd: r.get(15)?,
                latency_ms: r.get(16)?,
                ttft_ms: r.get(17)?,
                cache_hit: r.get(18)?,
                outcome: r.get(19)?,
                error: r.get(20)?,
                head: r.get(21)?,
                file_hash: r.get(22)?,
                created_at: r.get(23)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut rows = rows;
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|r| r.id)
    });
    Ok((rows, next.flatten()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Model,
    Day,
    Action,
}

/// Totals for one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub key: String,
    pub requests: u64,
    pub cache_hits: u64,
    /// Cache hits over requests.
    pub cache_hit_rate: f64,
    pub tokens_input: u64,
    pub tokens_output: u64,
    pub tokens_cached: u64,
    pub tokens_reasoning: u64,
    pub cost_usd: f64,
    pub errors: u64,
}

/// Usage grouped by `group`, optionally for one workspace and since a time (RFC 3339).
pub fn usage(
    conn: &Connection,
    workspace_id: Option<i64>,
    since: Option<&str>,
    group: GroupBy,
) -> Result<Vec<UsageRow>> {
    let key = match group {
        GroupBy::Model => "provider || '/' || model",
        GroupBy::Day => "substr(created_at, 1, 10)",
        GroupBy::Action => "action",
    };
    let sql = format!(
        "SELECT {key}, COUNT(*), SUM(cache_hit), SUM(tokens_input), SUM(tokens_output), SUM(tokens_cached),
                SUM(tokens_reasoning), SUM(cost_usd), SUM(outcome = 'error')
         FROM llm_interactions
         WHERE (?1 IS NULL OR workspace_id = ?1) AND (?2 IS NULL OR created_at >= ?2)
         GROUP BY 1 ORDER BY 1"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![workspace_id, since], |r| {
            let requests: u64 = r.get(1)?;
            let hits: u64 = r.get(2)?;
            Ok(UsageRow {
                key: r.get(0)?,
                requests,
                cache_hits: hits,
                cache_hit_rate: if requests == 0 {
                    0.0
                } else {
                    hits as f64 / requests as f64
                },
                tokens_input: r.get(3)?,
                tokens_output: r.get(4)?,
                tokens_cached: r.get(5)?,
                tokens_reasoning: r.get(6)?,
                cost_usd: r.get(7)?,
                errors: r.get(8)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A cached reply: the redacted text and the usage JSON of the call that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub response: String,
    pub usage: String,
}

/// Looks up a reply by request hash, counting the hit.
pub fn cache_get(conn: &Connection, key: &str) -> Result<Option<Cached>> {
    let hit = conn
        .query_row(
            "UPDATE llm_cache SET hits = hits + 1 WHERE key = ?1 RETURNING response, usage",
            params![key],
            |r| {
                Ok(Cached {
                    response: r.get(0)?,
                    usage: r.get(1)?,
                })
            },
        )
        .optional()?;
    Ok(hit)
}

pub fn cache_put(
    conn: &Connection,
    key: &str,
    provider: &str,
    model: &str,
    c: &Cached,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO llm_cache (key, provider, model, response, usage, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(key) DO UPDATE SET response = excluded.response, usage = excluded.usage, created_at = excluded.created_at",
        params![key, provider, model, c.response, c.usage, now],
    )?;
    Ok(())
}

/// Forgets a cached reply (one that turned out not to be usable).
pub fn cache_delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM llm_cache WHERE key = ?1", params![key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut c).unwrap();
        c
    }

    fn row(action: &str, model: &str, day: &str, hit: bool, cost: f64) -> Interaction {
        Interaction {
            workspace_id: 1,
            request_id: "r".into(),
            action: action.into(),
            provider: "local".into(),
            model: model.into(),
            prompt: "{}".into(),
            tokens_input: if hit { 0 } else { 100 },
            tokens_output: if hit { 0 } else { 10 },
            cost_usd: cost,
            cache_hit: hit,
            outcome: "ok".into(),
            created_at: format!("{day}T10:00:00.000Z"),
            ..Interaction::default()
        }
    }

    #[test]
    fn usage_groups_and_pages() {
        let c = conn();
        insert(&c, &row("explain", "m1", "2026-11-20", false, 0.5)).unwrap();
        insert(&c, &row("explain", "m1", "2026-11-21", true, 0.0)).unwrap();
        insert(&c, &row("rewrite", "m2", "2026-11-21", false, 0.25)).unwrap();
        let by_action = usage(&c, Some(1), None, GroupBy::Action).unwrap();
        assert_eq!(by_action.len(), 2);
        assert_eq!(
            (
                by_action[0].key.as_str(),
                by_action[0].requests,
                by_action[0].cache_hits
            ),
            ("explain", 2, 1)
        );
        assert_eq!(by_action[0].cache_hit_rate, 0.5);
        assert_eq!(by_action[0].tokens_input, 100);
        let by_model = usage(&c, None, None, GroupBy::Model).unwrap();
        assert_eq!(by_model[1].key, "local/m2");
        let by_day = usage(&c, None, Some("2026-11-21"), GroupBy::Day).unwrap();
        assert_eq!(by_day.len(), 1);
        assert_eq!((by_day[0].requests, by_day[0].cost_usd), (2, 0.25));
        assert!(usage(&c, Some(99), None, GroupBy::Day).unwrap().is_empty());

        let (p1, next) = page(&c, Some(1), None, 2).unwrap();
        assert_eq!(
            p1.iter().map(|i| i.action.as_str()).collect::<Vec<_>>(),
            ["rewrite", "explain"]
        );
        assert_eq!(p1[0].workspace, "default");
        let (p2, end) = page(&c, Some(1), next, 2).unwrap();
        assert_eq!((p2.len(), end), (1, None));
    }

    #[test]
    fn cache_round_trip_counts_hits() {
        let c = conn();
        assert_eq!(cache_get(&c, "k").unwrap(), None);
        let v = Cached {
            response: "hi".into(),
            usage: "{}".into(),
        };
        cache_put(&c, "k", "p", "m", &v, "now").unwrap();
        assert_eq!(cache_get(&c, "k").unwrap(), Some(v.clone()));
        cache_get(&c, "k").unwrap();
        let hits: i64 = c
            .query_row("SELECT hits FROM llm_cache", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hits, 2);
        cache_delete(&c, "k").unwrap();
        assert_eq!(cache_get(&c, "k").unwrap(), None);
        cache_delete(&c, "k").unwrap();
    }
}
