//! `warden traces`: recent spans as a tree (children under their parent, newest roots
//! first) with a latency bar scaled to the root span, outcome and tokens; or JSON lines.
//! `warden traces export`: stored spans sent to the OpenTelemetry endpoint (a backfill,
//! paced by the exporter's queue so nothing is dropped).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use warden_store::spans::{self, SpanQuery};
use warden_store::workspaces;
use warden_trace::{Span, SpanKind};

pub async fn run(
    db: Option<PathBuf>,
    workspace: Option<String>,
    kind: Option<String>,
    limit: usize,
    json: bool,
) -> ExitCode {
    let (store, _tracer) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let kind = match kind.as_deref().map(|k| (k, SpanKind::parse(k))) {
        None => None,
        Some((_, Some(k))) => Some(k),
        Some((k, None)) => {
            eprintln!("warden: unknown span kind {k:?}; use command, llm, run, scan or index");
            return ExitCode::from(2);
        }
    };
    let result = store
        .call(move |c| {
            let workspace_id = workspace
                .as_deref()
                .map(|name| workspaces::require(c, name).map(|w| w.id))
                .transpose()?;
            spans::query(
                c,
                &SpanQuery {
                    workspace_id,
                    kind,
                    limit: limit.clamp(1, spans::MAX_LIMIT),
                    ..Default::default()
                },
            )
        })
        .await;
    let page = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        for s in &page.traces {
            println!("{}", serde_json::to_string(s).unwrap_or_default());
        }
    } else if page.traces.is_empty() {
        println!("no traces yet");
    } else {
        print!("{}", render_tree(&page.traces));
    }
    let _ = store.end_session().await;
    ExitCode::SUCCESS
}

const BAR: usize = 20;

/// Renders spans (newest first, as queried) as an indented tree.
pub fn render_tree(spans: &[Span]) -> String {
    let ids: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut children: HashMap<&str, Vec<&Span>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        match s.parent_id.as_deref().filter(|p| ids.contains_key(p)) {
            Some(p) => children.entry(p).or_default().push(s),
            None => roots.push(s),
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let name_width = spans
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(48)
        + 4;
    let mut out = String::new();
    for root in roots {
        let scale = root.latency_ms.unwrap_or(0).max(1);
        render(root, 0, scale, name_width, &children, &mut out);
    }
    out
}

fn render(
    s: &Span,
    depth: usize,
    scale: u64,
    name_width: usize,
    children: &HashMap<&str, Vec<&Span>>,
    out: &mut String,
) {
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}└ ", "  ".repeat(depth - 1))
    };
    let label = format!("{indent}{}", s.name);
    let (bar, latency) = match s.latency_ms {
        Some(ms) => {
            let filled = ((ms as f64 / scale as f64) * BAR as f64)
                .round()
                .clamp(1.0, BAR as f64) as usize;
            (
                format!("{}{}", "█".repeat(filled), "░".repeat(BAR - filled)),
                format!("{ms:>6} ms"),
            )
        }
        None => ("░".repeat(BAR), "   running".into()),
    };
    let outcome = s.outcome.map(|o| o.as_str()).unwrap_or("running");
    let mut extra = Vec::new();
    if let Some(ws) = &s.workspace {
        extra.push(format!("[{ws}]"));
    }
    if !s.tokens.is_zero() {
        let t = s.tokens;
        let hit = (100 * t.cached).checked_div(t.input).unwrap_or(0);
        extra.push(format!("tok {}→{} cache {hit}%", t.input, t.output));
    }
    if s.cost_usd > 0.0 {
        extra.push(format!("${:.4}", s.cost_usd));
    }
    if s.output.as_ref().is_some_and(|o| o["cached"] == true) {
        extra.push("response cache hit".into());
    }
    if let Some(e) = &s.error {
        extra.push(format!("— {}", e.chars().take(80).collect::<String>()));
    }
    let line = format!(
        "{label:<name_width$} {bar} {latency}  {outcome:<11} {}",
        extra.join("  ")
    );
    out.push_str(line.trim_end());
    out.push('\n');
    for child in children.get(s.id.as_str()).into_iter().flatten() {
        render(child, depth + 1, scale, name_width, children, out);
    }
}

/// `--since`: RFC 3339, a date (`2026-12-01`), or an age (`30m`, `12h`, `7d`) before
/// `now`; the RFC 3339 instant it names.
fn parse_since(value: &str, now: time::OffsetDateTime) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let v = value.trim();
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Some(warden_trace::format_rfc3339(t));
    }
    if let Ok(d) = time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")) {
        return Some(warden_trace::format_rfc3339(d.midnight().assume_utc()));
    }
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let age = match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => return None,
    };
    Some(warden_trace::format_rfc3339(now - age))
}

/// Longest wait for the endpoint to take queued spans before the backfill gives up.
const STALL: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn export(
    db: Option<PathBuf>,
    since: Option<String>,
    workspace: Option<String>,
    json: bool,
) -> ExitCode {
    let since = match since.as_deref() {
        None => None,
        Some(s) => match parse_since(s, time::OffsetDateTime::now_utc()) {
            Some(t) => Some(t),
            None => {
                eprintln!(
                    "warden: --since {s:?}: use RFC 3339 (2026-12-01T00:00:00Z), a date (2026-12-01) or an age (30m, 12h, 7d)"
                );
                return ExitCode::from(2);
            }
        },
    };
    let (store, _tracer) = match super::open_store(db) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = crate::telemetry::global();
    let Some(exporter) = telemetry.exporter() else {
        let file = super::user_config_path().map_or_else(
            || "the user configuration file".to_owned(),
            |p| p.display().to_string(),
        );
        eprintln!(
            "warden: no OpenTelemetry endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and OTEL_EXPORTER_OTLP_HEADERS for its credentials), or endpoint and headers under [trace.otlp] in {file}"
        );
        return ExitCode::from(2);
    };
    let workspace_id = match workspace {
        None => None,
        Some(name) => match store.call(move |c| workspaces::require(c, &name)).await {
            Ok(w) => Some(w.id),
            Err(e) => {
                eprintln!("warden: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let target = exporter.config().target();
    let room = exporter.config().queue.saturating_sub(1).max(1);
    let mut after: Option<String> = None;
    let mut read = 0u64;
    loop {
        let (s, a) = (since.clone(), after.clone());
        let page = match store
            .read(move |c| {
                spans::finished_after(
                    c,
                    workspace_id,
                    s.as_deref(),
                    a.as_deref(),
                    spans::MAX_LIMIT,
                )
            })
            .await
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warden: {e}");
                return ExitCode::from(2);
            }
        };
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rest = page;
        while !rest.is_empty() {
            // Never queue more than the queue holds: a backfill must not drop its own
            // oldest spans. Wait for the worker to send, giving up when it stalls.
            let mut waited = std::time::Duration::ZERO;
            let mut free = room.saturating_sub(exporter.stats().queued);
            while free == 0 {
                if waited >= STALL {
                    let stats = exporter.stats();
                    eprintln!(
                        "warden: the endpoint {target} took no spans for {STALL:?}: {}",
                        stats.last_error.unwrap_or_default()
                    );
                    return ExitCode::from(1);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                waited += std::time::Duration::from_millis(20);
                free = room.saturating_sub(exporter.stats().queued);
            }
            let n = free.min(rest.len());
            read += n as u64;
            exporter.enqueue(rest.drain(..n));
        }
    }
    let stats = telemetry.shutdown(STALL).await.unwrap_or_default();
    let ok = stats.dropped == 0 && stats.queued == 0 && stats.exported >= read;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "endpoint": target,
                "spans": read,
                "exported": stats.exported,
                "dropped": stats.dropped,
                "failedAttempts": stats.failures,
                "error": if ok { None } else { stats.last_error.clone() },
            })
        );
    } else {
        println!(
            "exported {} of {read} spans to {target}{}",
            stats.exported,
            if stats.failures > 0 {
                format!(" ({} failed attempts retried)", stats.failures)
            } else {
                String::new()
            }
        );
        if !ok {
            eprintln!(
                "warden: {} spans not exported: {}",
                read.saturating_sub(stats.exported),
                stats
                    .last_error
                    .unwrap_or_else(|| "the endpoint did not take them in time".into())
            );
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_trace::{Outcome, Tokens};

    #[test]
    fn since_takes_instants_dates_and_ages() {
        let now = time::macros::datetime!(2026-12-05 12:00 UTC);
        assert_eq!(
            parse_since("2026-12-01T08:30:00+01:00", now).as_deref(),
            Some("2026-12-01T07:30:00.000Z")
        );
        assert_eq!(
            parse_since("2026-12-01", now).as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        assert_eq!(
            parse_since("90m", now).as_deref(),
            Some("2026-12-05T10:30:00.000Z")
        );
        assert_eq!(
            parse_since("7d", now).as_deref(),
            Some("2026-11-28T12:00:00.000Z")
        );
        assert_eq!(parse_since("soon", now), None);
        assert_eq!(parse_since("5w", now), None);
    }

    fn span(id: &str, parent: Option<&str>, name: &str, ms: Option<u64>) -> Span {
        Span {
            id: id.into(),
            parent_id: parent.map(Into::into),
            trace_id: String::new(),
            remote_parent: None,
            workspace: Some("alpha".into()),
            workspace_id: Some(1),
            kind: SpanKind::Command,
            name: name.into(),
            uri: None,
            input: serde_json::Value::Null,
            output: None,
            started_at: "t".into(),
            finished_at: ms.map(|_| "t".into()),
            latency_ms: ms,
            outcome: ms.map(|_| Outcome::Ok),
            error: None,
            tokens: Tokens::default(),
            cost_usd: 0.0,
            content: None,
        }
    }

    #[test]
    fn children_nest_under_parents_with_scaled_bars() {
        let mut child = span("2", Some("1"), "llm.call", Some(50));
        child.tokens = Tokens {
            input: 100,
            output: 20,
            cached: 25,
            reasoning: 0,
        };
        let spans = vec![
            span("3", None, "later", None),
            child,
            span("1", None, "warden.llm.explain", Some(100)),
        ];
        let out = render_tree(&spans);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("later") && lines[0].contains("running"));
        assert!(lines[1].starts_with("warden.llm.explain"));
        assert!(lines[1].contains(&"█".repeat(BAR)));
        assert!(lines[2].starts_with("└ llm.call"), "{out}");
        assert!(lines[2].contains(&format!("{}{}", "█".repeat(10), "░".repeat(10))));
        assert!(lines[2].contains("tok 100→20 cache 25%"));
    }
}
