//! The checks every LLM call passes before it is sent, each recorded as a `guard` span
//! under the call's span: the deny-list and the workspace's budgets.

use serde_json::Value;
use warden_config::Budget;
use warden_store::Store;
use warden_trace::{ActiveSpan, SpanKind};

/// Records a guardrail's verdict as a `guard` span under `parent`.
pub fn guard(parent: &ActiveSpan, name: &str, input: Value, verdict: Result<Value, String>) {
    let mut g = parent.child(SpanKind::Guard, name).input(input).begin();
    match verdict {
        Ok(out) => {
            g.set_output(out);
            g.ok();
        }
        Err(why) => {
            g.fail(why);
        }
    }
}

/// Why `text` is refused by `llm.denyList` (case-insensitive regular expressions), if it
/// is; `who` says what refuses (`warden`, `warden gateway`).
pub fn denied(deny_list: &[String], text: &str, who: &str) -> Option<String> {
    deny_list.iter().enumerate().find_map(|(i, p)| {
        regex::RegexBuilder::new(p)
            .case_insensitive(true)
            .build()
            .is_ok_and(|r| r.is_match(text))
            .then(|| {
                format!("{who} refused the request: it matches warden.llm.denyList[{i}] ({p:?})")
            })
    })
}

/// What the workspace spent today (UTC), in USD.
pub async fn spent_today(store: &Store, workspace_id: i64) -> f64 {
    let today = warden_trace::now_rfc3339()[..10].to_owned();
    store
        .call(move |c| {
            warden_store::llm::usage(
                c,
                Some(workspace_id),
                Some(&today),
                warden_store::llm::GroupBy::Day,
            )
        })
        .await
        .map(|rows| rows.iter().map(|r| r.cost_usd).sum())
        .unwrap_or(0.0)
}

/// Why a request of about `prompt_tokens` asking for up to `max_output` tokens is over
/// the workspace's budget, if it is: `llm.budget.requestTokens`, then what the
/// workspace spent today against `llm.budget.dailyUsd`.
pub async fn over_budget(
    budget: &Budget,
    store: Option<&Store>,
    workspace: (i64, &str),
    prompt_tokens: u64,
    max_output: u64,
    who: &str,
) -> Option<String> {
    let (id, name) = workspace;
    let raise = "(editor settings, or [llm.budget] in ~/.config/warden/config.toml)";
    if let Some(limit) = budget.request_tokens
        && prompt_tokens + max_output > limit
    {
        return Some(format!(
            "{who}: this request needs about {} tokens (prompt ~{prompt_tokens} + up to {max_output} output), over the budget llm.budget.requestTokens = {limit} of workspace {name}; raise warden.llm.budget.requestTokens {raise}",
            prompt_tokens + max_output
        ));
    }
    if let (Some(limit), Some(store)) = (budget.daily_usd, store) {
        let spent = spent_today(store, id).await;
        if spent >= limit {
            return Some(format!(
                "{who}: workspace {name} has spent ${spent:.4} today, its budget llm.budget.dailyUsd = ${limit}; raise warden.llm.budget.dailyUsd {raise} or wait until tomorrow (UTC)"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_refuses_and_is_named() {
        let list = vec!["(".to_owned(), "launch\\s+codes".to_owned(), "x".to_owned()];
        let why = denied(&list, "the LAUNCH  codes", "warden").unwrap();
        assert!(why.contains("denyList[1]"), "{why}");
        assert!(
            denied(&list, "nothing here", "warden").is_none(),
            "an invalid rule never matches"
        );
    }

    #[tokio::test]
    async fn budgets_refuse_large_requests_and_a_spent_day() {
        let b = Budget {
            daily_usd: Some(0.01),
            request_tokens: Some(100),
        };
        let why = over_budget(&b, None, (1, "w"), 80, 40, "warden")
            .await
            .unwrap();
        assert!(
            why.contains("requestTokens = 100") && why.contains("about 120"),
            "{why}"
        );
        assert!(
            over_budget(&b, None, (1, "w"), 50, 40, "warden")
                .await
                .is_none()
        );

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let ws = store
            .call(|c| warden_store::workspaces::default(c).map(|w| w.id))
            .await
            .unwrap();
        assert!(
            over_budget(&b, Some(&store), (ws, "w"), 1, 1, "warden")
                .await
                .is_none()
        );
        let row = warden_store::llm::Interaction {
            workspace_id: ws,
            request_id: "r".into(),
            action: "gateway".into(),
            provider: "p".into(),
            model: "m".into(),
            cost_usd: 0.02,
            outcome: "ok".into(),
            created_at: warden_trace::now_rfc3339(),
            ..Default::default()
        };
        store
            .call(move |c| warden_store::llm::insert(c, &row).map(|_| ()))
            .await
            .unwrap();
        let why = over_budget(&b, Some(&store), (ws, "w"), 1, 1, "warden")
            .await
            .unwrap();
        assert!(why.contains("dailyUsd") && why.contains("$0.0200"), "{why}");
    }
}
