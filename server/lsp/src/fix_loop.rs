//! Fix until green, LSP-free: run a script in the sandbox; while it fails, ask the
//! model for a fix of the whole file given the failure (the LLM action pipeline, with
//! its guards, redaction and record), run the fixed copy, and go on until it runs or
//! the rounds or the budget run out. The user's file is never written here: the
//! result is the final text, for the editor to offer as a diff.
//!
//! Each round is a `command` span (`fix.round`) holding its `llm` and `run` spans.
//! Rounds are cached by the hash of (prompt version, model, file text, failure) in
//! the store, the fixed text with secrets as placeholders and the failure with them
//! masked: a loop started again on the same failure replays its finished rounds
//! without the model or the sandbox and continues where it stopped.

use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use warden_analysis::Lang;
use warden_analysis::secrets::redact::{Redactions, redact};
use warden_analysis::secrets::{Context as SecretsContext, RuleSet};
use warden_llm::prompt::{self, Excerpt};
use warden_sandbox::Status;
use warden_store::Store;
use warden_trace::{ActiveSpan, SpanKind, Tokens, Tracer, WorkspaceRef};

use crate::runs::{self, Engine, Job};
use crate::scanner::ScanConfig;

/// Bumped whenever the prompt or what a round keys on changes: old rounds stop
/// matching.
pub const PROMPT_VERSION: u32 = 1;

/// Lines of the failing run's output the model is shown (its end).
const TAIL_LINES: usize = 40;

/// How a run failed, as the model is told (secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub status: String,
    pub exit_code: Option<i64>,
    /// The end of the error output (stderr, else stdout), secrets masked.
    pub output: String,
    /// The lines of the script the traceback blames (1-based) and their messages.
    pub blamed: Vec<(u32, String)>,
    pub run_id: Option<String>,
}

/// A finished run as a failure is made from.
struct Ran<'a> {
    status: Status,
    exit_code: Option<i64>,
    stdout: &'a str,
    stderr: &'a str,
    run_id: Option<String>,
}

impl Failure {
    /// The failure of a finished run, or `None` when it succeeded.
    fn of(
        cfg: &ScanConfig,
        path: &Path,
        ran: Ran<'_>,
        findings: &[warden_sandbox::traceback::Finding],
    ) -> Option<Failure> {
        let Ran {
            status,
            exit_code,
            stdout,
            stderr,
            run_id,
        } = ran;
        if status == Status::Succeeded {
            return None;
        }
        let out = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        let lines: Vec<&str> = out.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
        Some(Failure {
            status: status.as_str().to_owned(),
            exit_code,
            output: crate::search::masked_text(cfg, path, &tail),
            blamed: findings
                .iter()
                .map(|f| (f.line, crate::search::masked_text(cfg, path, &f.message)))
                .collect(),
            run_id,
        })
    }

    /// The problem statement for the prompt.
    fn describe(&self) -> String {
        let code = self
            .exit_code
            .map_or(String::new(), |c| format!(" with exit code {c}"));
        format!(
            "the script fails when run ({}{code}); the end of its output:\n{}",
            self.status, self.output
        )
    }
}

/// One round as the editors see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Round {
    /// 1-based.
    pub n: u32,
    /// `green` (the fixed copy ran), `failing` (it still fails), `noFix` (no change or
    /// no code in the reply), `refused` (a guard or the packages check), `error`
    /// (the model or the sandbox could not be reached), `cancelled`.
    pub outcome: String,
    /// Replayed from the cache: neither the model nor the sandbox was asked.
    pub cached: bool,
    pub message: Option<String>,
    pub run_id: Option<String>,
    pub run_status: Option<String>,
    pub exit_code: Option<i64>,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// The round's span.
    #[serde(default)]
    pub span_id: String,
}

/// What a cached round holds besides the [`Round`].
#[derive(Serialize, Deserialize)]
struct Stored {
    round: Round,
    /// The fixed text, secrets as placeholders of the round's starting text.
    text: String,
    failure: Option<Failure>,
}

/// What differs between hosts: the packages check of a reply, and progress.
pub trait Host: Sync {
    /// The packages the reply brings in, and a warning when some are malicious or
    /// unknown (see `warden_pipeline::Surface::risky_packages`).
    fn risky_packages(
        &self,
        reply: &str,
    ) -> impl Future<Output = (Vec<String>, Option<String>)> + Send;
    /// Where the loop is (`round 2/3: asking the model`).
    fn progress(&self, message: String, percent: u32) -> impl Future<Output = ()> + Send;
    /// A round ended.
    fn round(&self, round: &Round) -> impl Future<Output = ()> + Send;
}

/// Everything a loop needs.
pub struct Setup<'a> {
    pub cfg: &'a ScanConfig,
    pub path: &'a Path,
    pub uri: Option<String>,
    pub lang: Lang,
    /// The script as the editor has it.
    pub text: String,
    pub workspace: WorkspaceRef,
    pub system_prompt: Option<String>,
    pub head: Option<String>,
    pub max_rounds: u32,
    pub budget_usd: Option<f64>,
    /// How the current text failed, when a stored run already says (else it runs).
    pub failure: Option<Failure>,
    pub engine: &'a Engine,
    pub tracer: &'a Tracer,
    pub store: Option<&'a Store>,
    pub request_id: String,
}

/// How a loop ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub rounds: Vec<Round>,
    /// The last fixed copy ran.
    pub green: bool,
    /// Why it stopped, for the user.
    pub stopped: String,
    /// The text the loop started from and the last fixed copy (when a round changed
    /// it): what the editor's diff shows.
    #[serde(skip)]
    pub original: String,
    #[serde(skip)]
    pub fixed: Option<String>,
    pub cost_usd: f64,
}

/// The pipeline's surface for one round: the reply's code is kept, not applied.
struct RoundSurface<'h, H: Host> {
    host: &'h H,
    code: Mutex<Option<String>>,
    warning: Mutex<Option<String>>,
}

impl<H: Host> warden_pipeline::Surface for RoundSurface<'_, H> {
    async fn started(&self, _title: &str) {}

    fn chunk(&self, _text: String) {}

    async fn ended(&self, _summary: String) {}

    async fn risky_packages(&self, reply: &str) -> (Vec<String>, Option<String>) {
        self.host.risky_packages(reply).await
    }

    async fn confirm(&self, warning: &str) -> bool {
        // Nobody is asked in the middle of a loop: a risky fix ends it.
        *self.warning.lock().unwrap_or_else(|e| e.into_inner()) = Some(warning.to_owned());
        false
    }

    async fn apply(&self, code: String) -> (bool, Option<String>) {
        *self.code.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
        (true, None)
    }
}

/// The cache key of a round starting from `text` failing as `failure`.
fn round_key(model: &str, text: &str, failure: &Failure) -> String {
    let f = serde_json::to_string(&(
        &failure.status,
        failure.exit_code,
        &failure.output,
        &failure.blamed,
    ))
    .unwrap_or_default();
    crate::root_config::sha256_hex(
        format!("fix-until-green/{PROMPT_VERSION}\0{model}\0{text}\0{f}").as_bytes(),
    )
}

/// Placeholders for the secrets of `base`, then of `text` (same numbering on replay:
/// the key holds `base`).
fn placeholders(
    rules: &RuleSet,
    ctx: &SecretsContext<'_>,
    base: &str,
    text: &str,
) -> (Redactions, String) {
    let mut red = Redactions::default();
    let _ = redact(base, ctx, rules, &mut red);
    let (out, _) = redact(text, ctx, rules, &mut red);
    (red, out)
}

/// Runs the loop. Errors are for a loop that could not start (no runner, no route).
pub async fn run<H: Host>(
    s: Setup<'_>,
    span: &mut ActiveSpan,
    host: &H,
    cancel: &CancellationToken,
) -> Result<Outcome, String> {
    let cfg = s.cfg;
    let rel = cfg.relative(s.path);
    let route = warden_llm::route::resolve(&cfg.llm, &rel, "fix")?;
    let sctx = SecretsContext {
        lang: s.lang,
        path: Some(s.path),
        ..SecretsContext::default()
    };
    let mut out = Outcome {
        rounds: Vec::new(),
        green: false,
        stopped: String::new(),
        original: s.text.clone(),
        fixed: None,
        cost_usd: 0.0,
    };
    let mut current = s.text.clone();
    let mut failure = match s.failure.clone() {
        Some(f) => f,
        None => {
            host.progress("running the script".into(), 0).await;
            match run_text(&s, span.id(), &current, cancel).await? {
                None => {
                    out.green = true;
                    out.stopped = "the script already runs; nothing to fix".into();
                    return Ok(out);
                }
                // Not a failure of the script: nothing for the model to fix.
                Some(f) if f.status == Status::Error.as_str() => {
                    out.stopped = format!("the sandbox could not run the script: {}", f.output);
                    return Ok(out);
                }
                Some(f) if f.status == Status::Cancelled.as_str() => {
                    out.stopped = "cancelled".into();
                    return Ok(out);
                }
                Some(f) => f,
            }
        }
    };
    for n in 1..=s.max_rounds {
        if cancel.is_cancelled() {
            out.stopped = "cancelled".into();
            break;
        }
        if let Some(budget) = s.budget_usd
            && out.cost_usd >= budget
        {
            out.stopped = format!(
                "the budget of ${budget:.2} is spent (${:.4} so far)",
                out.cost_usd
            );
            break;
        }
        let pct = (n - 1) * 100 / s.max_rounds.max(1);
        let key = round_key(&route.model, &current, &failure);
        let mut rspan = span
            .child(SpanKind::Command, "fix.round")
            .uri(s.uri.clone())
            .input(json!({ "round": n, "maxRounds": s.max_rounds, "failedRun": failure.run_id }))
            .begin();
        let cached = match s.store {
            Some(store) => {
                let k = key.clone();
                store
                    .call(move |c| warden_store::fixes::get(c, &k))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|v| serde_json::from_value::<Stored>(v).ok())
            }
            None => None,
        };
        let (mut round, next, next_failure) = match cached {
            Some(st) => {
                host.progress(format!("round {n}/{}: replayed", s.max_rounds), pct)
                    .await;
                let (red, _) = placeholders(&cfg.rules, &sctx, &current, "");
                let mut r = st.round;
                r.cached = true;
                r.tokens = Tokens::default();
                r.cost_usd = 0.0;
                (r, Some(red.restore(&st.text)), st.failure)
            }
            None => {
                host.progress(format!("round {n}/{}: asking the model", s.max_rounds), pct)
                    .await;
                let fresh = fresh_round(&s, n, &current, &failure, &mut rspan, host, cancel).await;
                if let (Some(text), Some(store), true) = (
                    &fresh.1,
                    s.store,
                    matches!(fresh.0.outcome.as_str(), "green" | "failing"),
                ) {
                    let (_, stored_text) = placeholders(&cfg.rules, &sctx, &current, text);
                    let value = serde_json::to_value(Stored {
                        round: fresh.0.clone(),
                        text: stored_text,
                        failure: fresh.2.clone(),
                    })
                    .unwrap_or_default();
                    let (k, ws) = (key.clone(), s.workspace.id);
                    if let Err(e) = store
                        .call(move |c| warden_store::fixes::put(c, ws, &k, &value))
                        .await
                    {
                        tracing::warn!("caching a fix round: {e}");
                    }
                }
                fresh
            }
        };
        round.n = n;
        round.span_id = rspan.id().to_owned();
        rspan.set_output(json!({
            "outcome": round.outcome,
            "cached": round.cached,
            "runStatus": round.run_status,
            "exitCode": round.exit_code,
            "message": round.message,
        }));
        rspan.add_tokens(round.tokens);
        rspan.add_cost(round.cost_usd);
        out.cost_usd += round.cost_usd;
        match round.outcome.as_str() {
            "green" | "failing" => {
                rspan.ok();
            }
            "cancelled" => {
                rspan.cancel();
            }
            o => {
                rspan.fail(round.message.clone().unwrap_or_else(|| o.to_owned()));
            }
        }
        host.round(&round).await;
        let outcome = round.outcome.clone();
        let message = round.message.clone();
        out.rounds.push(round);
        match (outcome.as_str(), next, next_failure) {
            ("green", Some(text), _) => {
                out.green = true;
                out.fixed = Some(text);
                out.stopped = format!("the fixed script runs (round {n})");
                break;
            }
            ("failing", Some(text), Some(f)) => {
                out.fixed = Some(text.clone());
                current = text;
                failure = f;
                if n == s.max_rounds {
                    out.stopped = format!("still failing after {n} rounds");
                }
            }
            (o, _, _) => {
                out.stopped = message.unwrap_or_else(|| o.to_owned());
                break;
            }
        }
    }
    if out.stopped.is_empty() {
        out.stopped = "stopped".into();
    }
    Ok(out)
}

/// Asks the model for a fix of `current` and runs it: the round, the fixed text and
/// its failure (none when it ran).
async fn fresh_round<H: Host>(
    s: &Setup<'_>,
    n: u32,
    current: &str,
    failure: &Failure,
    rspan: &mut ActiveSpan,
    host: &H,
    cancel: &CancellationToken,
) -> (Round, Option<String>, Option<Failure>) {
    let cfg = s.cfg;
    let rel = cfg.relative(s.path);
    let mut round = Round {
        n,
        outcome: String::new(),
        cached: false,
        message: None,
        run_id: None,
        run_status: None,
        exit_code: None,
        tokens: Tokens::default(),
        cost_usd: 0.0,
        span_id: String::new(),
    };
    let ctx = prompt::Context {
        path: rel.clone(),
        language: s.lang.name().to_owned(),
        target: Excerpt {
            line: 0,
            text: current.to_owned(),
        },
        diagnostics: failure
            .blamed
            .iter()
            .map(|(l, m)| format!("line {l}: [run-failed] {m}"))
            .collect(),
        fix: Some(failure.describe()),
        system_prompt: s.system_prompt.clone(),
        ..Default::default()
    };
    let surface = RoundSurface {
        host,
        code: Mutex::new(None),
        warning: Mutex::new(None),
    };
    let action = warden_pipeline::Action {
        kind: prompt::Action::Fix,
        ctx,
        llm: &cfg.llm,
        rules: &cfg.rules,
        lang: s.lang,
        path: s.path,
        rel: &rel,
        workspace: (s.workspace.id, s.workspace.name.clone()),
        request_id: format!("{}/{n}", s.request_id),
        uri: s.uri.clone(),
        head: s.head.clone(),
        file_hash: Some(crate::root_config::sha256_hex(current.as_bytes())),
        no_cache: false,
    };
    let asked = warden_pipeline::action::run(action, s.store, rspan, &surface, cancel).await;
    let code = surface
        .code
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let warning = surface
        .warning
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match asked {
        Ok(r) => {
            round.tokens = r.tokens;
            round.cost_usd = r.cost_usd;
        }
        Err(warden_pipeline::ActionError::Cancelled) => {
            round.outcome = "cancelled".into();
            return (round, None, None);
        }
        Err(warden_pipeline::ActionError::Invalid(m)) => {
            round.outcome = "refused".into();
            round.message = Some(m);
            return (round, None, None);
        }
    }
    let Some(mut code) = code else {
        round.outcome = if warning.is_some() {
            "refused"
        } else {
            "noFix"
        }
        .into();
        round.message =
            Some(warning.unwrap_or_else(|| "the model's reply had no code block".into()));
        return (round, None, None);
    };
    if current.ends_with('\n') && !code.ends_with('\n') {
        code.push('\n');
    }
    if code == current {
        round.outcome = "noFix".into();
        round.message = Some("the model's fix changes nothing".into());
        return (round, None, None);
    }
    host.progress(
        format!("round {n}/{}: running the fixed copy", s.max_rounds),
        0,
    )
    .await;
    match run_text(s, rspan.id(), &code, cancel).await {
        Ok(None) => {
            round.outcome = "green".into();
            round.run_status = Some("succeeded".into());
            (round, Some(code), None)
        }
        Ok(Some(f)) if f.status == Status::Cancelled.as_str() => {
            round.outcome = "cancelled".into();
            (round, None, None)
        }
        Ok(Some(f))
            if f.status == Status::Failed.as_str() || f.status == Status::TimedOut.as_str() =>
        {
            round.outcome = "failing".into();
            round.run_id = f.run_id.clone();
            round.run_status = Some(f.status.clone());
            round.exit_code = f.exit_code;
            round.message = f.blamed.first().map(|(l, m)| format!("line {l}: {m}"));
            (round, Some(code), Some(f))
        }
        Ok(Some(f)) => {
            round.outcome = "error".into();
            round.run_status = Some(f.status.clone());
            round.message = Some(format!(
                "the sandbox could not run the fixed copy: {}",
                f.output
            ));
            (round, None, None)
        }
        Err(e) => {
            round.outcome = "error".into();
            round.message = Some(e);
            (round, None, None)
        }
    }
}

/// Runs `text` as the script (a scratch copy: the file is not written) under the span
/// `parent`; its failure, or `None` when it ran.
async fn run_text(
    s: &Setup<'_>,
    parent: &str,
    text: &str,
    cancel: &CancellationToken,
) -> Result<Option<Failure>, String> {
    let cfg = s.cfg;
    let (rel, spec) = runs::prepare(&cfg.run, &cfg.root, s.path, text, None, Vec::new())?;
    let job = Job {
        run_id: warden_trace::new_span_id(),
        batch_id: None,
        workspace: s.workspace.clone(),
        rel,
        uri: None,
        root: cfg.root.clone(),
        spec: spec.clone(),
        engine: cfg.run.engine.clone(),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let done = runs::execute(
        runs::Env {
            engine: s.engine,
            warm_pool: cfg.run.warm_pool,
            tracer: s.tracer,
            store: s.store,
        },
        Some(parent),
        job,
        tx,
        cancel.child_token(),
    )
    .await;
    let o = &done.outcome;
    if o.status == Status::Error {
        return Ok(Some(Failure {
            status: o.status.as_str().into(),
            exit_code: None,
            output: o.message.clone().unwrap_or_default(),
            blamed: Vec::new(),
            run_id: Some(done.record.run_id.clone()),
        }));
    }
    let findings = runs::findings(&spec, o);
    Ok(Failure::of(
        cfg,
        s.path,
        Ran {
            status: o.status,
            exit_code: o.exit_code,
            stdout: &o.stdout,
            stderr: &o.stderr,
            run_id: Some(done.record.run_id.clone()),
        },
        &findings,
    ))
}

/// The failure of the stored run that ran exactly `text`, if the last run of `uri`
/// failed on it.
pub fn stored_failure(
    cfg: &ScanConfig,
    path: &Path,
    run: &warden_store::runs::Run,
    text: &str,
) -> Option<Failure> {
    if run.status != Status::Failed.as_str()
        || run.content_hash != crate::root_config::sha256_hex(text.as_bytes())
    {
        return None;
    }
    let findings = runs::findings_of_record(run);
    Failure::of(
        cfg,
        path,
        Ran {
            status: Status::Failed,
            exit_code: run.exit_code,
            stdout: run.stdout.as_deref().unwrap_or(""),
            stderr: run.stderr.as_deref().unwrap_or(""),
            run_id: Some(run.run_id.clone()),
        },
        &findings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(output: &str) -> Failure {
        Failure {
            status: "failed".into(),
            exit_code: Some(1),
            output: output.into(),
            blamed: vec![(7, "NameError: name 'count' is not defined".into())],
            run_id: Some("r1".into()),
        }
    }

    #[test]
    fn a_round_keys_on_model_text_and_failure_but_not_the_run_id() {
        let f = failure("Traceback ...\nNameError");
        let k = round_key("gpt-a", "x = 1\n", &f);
        assert_eq!(
            k,
            round_key(
                "gpt-a",
                "x = 1\n",
                &Failure {
                    run_id: None,
                    ..f.clone()
                }
            )
        );
        assert_ne!(k, round_key("gpt-b", "x = 1\n", &f));
        assert_ne!(k, round_key("gpt-a", "x = 2\n", &f));
        assert_ne!(k, round_key("gpt-a", "x = 1\n", &failure("other")));
        assert!(f.describe().contains("exit code 1") && f.describe().ends_with("NameError"));
    }

    #[test]
    fn a_stored_fix_holds_placeholders_and_replays_with_the_secrets() {
        let rules = RuleSet::builtin();
        let ctx = SecretsContext::default();
        let base = "KEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nprint(mean(xs))\n";
        let fixed = "KEY = \"AKIAQ3EGRB4XY7MNP2KD\"\nprint(mean(xs) / len(xs))\n";
        let (_, stored) = placeholders(&rules, &ctx, base, fixed);
        assert!(!stored.contains("AKIAQ3EGRB4XY7MNP2KD"), "{stored}");
        assert!(stored.contains("__WARDEN_SECRET_1__"));
        // Replayed later from the same starting text: the same numbering restores it.
        let (red, _) = placeholders(&rules, &ctx, base, "");
        assert_eq!(red.restore(&stored), fixed);
    }
}
