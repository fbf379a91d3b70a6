//! `warden traces`: recent spans as a tree (children under their parent, newest roots
//! first) with a latency bar scaled to the root span, outcome and tokens; or JSON lines.

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

#[cfg(test)]
mod tests {
    use super::*;
    use warden_trace::{Outcome, Tokens};

    fn span(id: &str, parent: Option<&str>, name: &str, ms: Option<u64>) -> Span {
        Span {
            id: id.into(),
            parent_id: parent.map(Into::into),
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
