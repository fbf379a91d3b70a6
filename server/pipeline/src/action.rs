//! An LLM action (explain, fix, rewrite, docstring, tests) from its gathered context to
//! its result: routing, redaction of everything that leaves, the prompt, the deny-list
//! and budget guards, the response cache or the provider's stream (secrets restored as
//! it arrives), the packages the reply brings in, the edit, and the record. Runs under
//! the caller's `command` span; each guard is a `guard` span and the call an `llm` span.
//!
//! The response cache keys on the redacted request and keeps only replies that were
//! used (an applied edit, a shown explanation); `no_cache` skips the lookup.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use warden_analysis::Lang;
use warden_analysis::secrets::redact::{Redactions, Restorer, redact};
use warden_analysis::secrets::{Context as SecretsContext, RuleSet};
use warden_config::LlmSettings;
use warden_llm::client::{self, LlmError};
use warden_llm::prompt::{self, Context};
use warden_llm::route::{self, Route};
use warden_llm::wire::{Chat, Usage};
use warden_store::Store;
use warden_store::llm::{Cached, Interaction};
use warden_trace::{ActiveSpan, SpanKind, Tokens};

use crate::guards::{denied, guard, over_budget};
use crate::record::{PendingRecord, error_type};

/// What differs between hosts: how the reply is shown as it streams, which packages are
/// risky, how the user confirms a risky edit, and how the edit is applied.
pub trait Surface: Sync {
    /// The reply is about to stream from the provider (`title` for a progress report).
    fn started(&self, title: &str) -> impl Future<Output = ()> + Send;
    /// The next piece of the reply, secrets restored, in order.
    fn chunk(&self, text: String);
    /// The stream ended: `~N tokens received`, `cancelled` or `failed: ...`.
    fn ended(&self, summary: String) -> impl Future<Output = ()> + Send;
    /// The packages the reply (secrets restored) brings in (`ecosystem:name`), and why
    /// they are risky (malicious or unknown packages, as sentences), if they are.
    fn risky_packages(
        &self,
        reply: &str,
    ) -> impl Future<Output = (Vec<String>, Option<String>)> + Send;
    /// Asks whether to apply a risky edit anyway (`false`: discard).
    fn confirm(&self, warning: &str) -> impl Future<Output = bool> + Send;
    /// Applies the reply's code (secrets restored) to the action's target: whether it
    /// was applied, and what to tell the user.
    fn apply(&self, code: String) -> impl Future<Output = (bool, Option<String>)> + Send;
}

/// One action request, its context gathered (not redacted yet).
pub struct Action<'a> {
    pub kind: prompt::Action,
    /// The prompt's material, system prompt and snapshot included.
    pub ctx: Context,
    pub llm: &'a LlmSettings,
    pub rules: &'a RuleSet,
    /// The document's language and path, for the secret rules.
    pub lang: Lang,
    pub path: &'a Path,
    /// Repository-relative path (routing).
    pub rel: &'a str,
    pub workspace: (i64, String),
    pub request_id: String,
    pub uri: Option<String>,
    /// The repository's HEAD and the document's SHA-256, for the record.
    pub head: Option<String>,
    pub file_hash: Option<String>,
    pub no_cache: bool,
}

/// How an action ended when it did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionError {
    /// Refused or failed, with the message for the user.
    Invalid(String),
    Cancelled,
}

/// An action's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    /// The reply, secrets restored.
    pub text: String,
    pub cached: bool,
    pub provider: String,
    pub model: String,
    pub tokens: Tokens,
    pub cost_usd: f64,
    /// For edits: whether the edit was applied.
    pub applied: Option<bool>,
    pub message: Option<String>,
    /// What the context budget left out.
    pub dropped: Vec<String>,
}

/// The reply of a call or the cache.
struct Called {
    /// Redacted, as the provider wrote it.
    text: String,
    usage: Usage,
    cost: f64,
    cached: bool,
    provider: String,
    model: String,
    /// The response-cache key, with the cache on.
    cache_key: Option<String>,
    /// A fresh reply's cache entry, written only once the reply is used; `None` for a
    /// cache hit.
    fresh: Option<Cached>,
}

/// A reply as the call path needs it, from the provider or the cache.
struct Streamed {
    text: String,
    usage: Usage,
    ttft: Option<Duration>,
    from_cache: bool,
    model: Option<String>,
    finish_reasons: Vec<String>,
}

fn invalid(message: impl Into<String>) -> ActionError {
    ActionError::Invalid(message.into())
}

/// Runs the action under `span`.
pub async fn run<S: Surface>(
    a: Action<'_>,
    store: Option<&Store>,
    span: &mut ActiveSpan,
    surface: &S,
    cancel: &CancellationToken,
) -> Result<ActionResult, ActionError> {
    let llm = a.llm;
    let route = route::resolve(llm, a.rel, a.kind.as_str()).map_err(invalid)?;

    // Guard: redaction of everything that leaves.
    let mut ctx = a.ctx.clone();
    let mut red = Redactions::default();
    let sctx = SecretsContext {
        lang: a.lang,
        path: Some(a.path),
        ..SecretsContext::default()
    };
    let mut count = 0;
    let mut clean = |s: &mut String| {
        let (out, n) = redact(s, &sctx, a.rules, &mut red);
        *s = out;
        count += n;
    };
    clean(&mut ctx.target.text);
    if let Some(e) = &mut ctx.enclosing {
        clean(&mut e.text);
    }
    ctx.imports.iter_mut().for_each(&mut clean);
    ctx.diagnostics.iter_mut().for_each(&mut clean);
    for s in [&mut ctx.instruction, &mut ctx.fix, &mut ctx.system_prompt]
        .into_iter()
        .flatten()
    {
        clean(s);
    }
    if let Some((_, Some(existing))) = &mut ctx.test_file {
        clean(existing);
    }
    // Snapshot secrets use their own numbering; they are not restorable here, and never
    // needed: replies edit only the file. (The snapshot is redacted when built.)
    guard(
        span,
        "guard.redact",
        json!({ "path": a.rel }),
        Ok(json!({ "secretsRedacted": count })),
    );

    let (chat, dropped) = prompt::build(
        a.kind,
        &ctx,
        &route.model,
        llm.max_tokens,
        llm.temperature,
        llm.context_tokens,
    )
    .map_err(invalid)?;

    // Guard: the deny-list.
    let sent = format!(
        "{}\n{}",
        chat.system.as_deref().unwrap_or(""),
        chat.messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<String>()
    );
    let denial = denied(&llm.deny_list, &sent, "warden");
    guard(
        span,
        "guard.denyList",
        json!({ "rules": llm.deny_list.len() }),
        denial.clone().map_or(Ok(json!({ "allowed": true })), Err),
    );
    if let Some(why) = denial {
        return Err(invalid(why));
    }

    // Guard: budgets (when the workspace has any).
    if llm.budget != warden_config::Budget::default() {
        let prompt_tokens = prompt::tokens(&sent) as u64;
        let over = over_budget(
            &llm.budget,
            store,
            (a.workspace.0, &a.workspace.1),
            prompt_tokens,
            u64::from(chat.max_tokens),
            "warden",
        )
        .await;
        guard(
            span,
            "guard.budget",
            json!({ "budget": llm.budget }),
            over.clone().map_or(Ok(json!({ "allowed": true })), Err),
        );
        if let Some(why) = over {
            return Err(invalid(why));
        }
    }

    let call = Call {
        a: &a,
        store,
        surface,
        cancel,
    };
    let called = call.call(span, &route, &chat, &red).await?;
    let restored = red.restore(&called.text);
    let tokens = Tokens {
        input: called.usage.input,
        output: called.usage.output,
        cached: called.usage.cached,
        reasoning: called.usage.reasoning,
    };
    let mut result = ActionResult {
        text: restored.clone(),
        cached: called.cached,
        provider: called.provider.clone(),
        model: called.model.clone(),
        tokens,
        cost_usd: called.cost,
        applied: None,
        message: None,
        dropped: dropped.iter().map(|d| d.to_string()).collect(),
    };
    if !a.kind.edits() {
        // Shown to the user: an empty explanation is not worth replaying.
        call.settle(&called, !restored.trim().is_empty());
        return Ok(result);
    }

    let Some(code) = prompt::code_block(&called.text) else {
        call.settle(&called, false);
        return Err(invalid(format!(
            "the reply of {}/{} had no code block to apply; nothing changed",
            called.provider, called.model
        )));
    };
    let code = red.restore(&code);

    // Guard: packages the reply would bring in.
    let (packages, risky) = surface.risky_packages(&restored).await;
    let warning = risky.map(|w| format!("{w} Apply the edit anyway?"));
    guard(
        span,
        "guard.packages",
        json!({ "packages": packages }),
        warning
            .clone()
            .map_or(Ok(json!({ "malicious": 0, "unknown": 0 })), Err),
    );
    if let Some(w) = &warning {
        result.message = Some(w.clone());
        if !surface.confirm(w).await {
            call.settle(&called, false);
            result.applied = Some(false);
            result.message = Some(format!("{w} Not applied: the user declined."));
            return Ok(result);
        }
    }
    let (applied, message) = surface.apply(code).await;
    result.applied = Some(applied);
    if message.is_some() {
        result.message = message;
    }
    call.settle(&called, applied);
    Ok(result)
}

struct Call<'a, S> {
    a: &'a Action<'a>,
    store: Option<&'a Store>,
    surface: &'a S,
    cancel: &'a CancellationToken,
}

impl<S: Surface> Call<'_, S> {
    /// The response cache after a reply was used or not. A used fresh reply is cached
    /// (replacing an older entry for the same request); a reply that was not used (no
    /// code block, no change, refused by the editor or the user) is never cached, and a
    /// cached one that was not used is forgotten: asking again reaches the provider
    /// instead of replaying it. Queued before the caller answers, so the next request
    /// sees it.
    fn settle(&self, called: &Called, used: bool) {
        let (Some(key), Some(store)) = (&called.cache_key, self.store) else {
            return;
        };
        let k = key.clone();
        match (&called.fresh, used) {
            (Some(fresh), true) => {
                let (c, p, m) = (fresh.clone(), called.provider.clone(), called.model.clone());
                store.submit("cache an LLM reply", move |conn| {
                    warden_store::llm::cache_put(conn, &k, &p, &m, &c, &warden_trace::now_rfc3339())
                });
            }
            (None, false) if called.cached => {
                store.submit("forget a cached LLM reply", move |conn| {
                    warden_store::llm::cache_delete(conn, &k)
                });
            }
            _ => {}
        }
    }

    /// Answers from the cache or streams from the provider; records the `llm` span and
    /// the interaction either way.
    async fn call(
        &self,
        span: &mut ActiveSpan,
        route: &Route,
        chat: &Chat,
        red: &Redactions,
    ) -> Result<Called, ActionError> {
        let a = self.a;
        let llm = a.llm;
        let key = prompt::cache_key(&route.provider.name, &route.provider.base_url, chat);
        let mut call_span = span
            .child(SpanKind::Llm, format!("{}/{}", route.provider.name, route.model))
            .uri(a.uri.clone())
            .input(json!({
                "provider": route.provider.name,
                "api": route.provider.api,
                "model": route.model,
                "maxTokens": chat.max_tokens,
                "temperature": chat.temperature,
                "action": a.kind.as_str(),
                "muxRule": route.rule,
                "promptTokensEstimate": chat.messages.iter().map(|m| prompt::tokens(&m.content)).sum::<usize>()
                    + prompt::tokens(chat.system.as_deref().unwrap_or("")),
                "cacheKey": &key[..16],
            }))
            .begin();
        let cached = match (self.store, llm.cache && !a.no_cache) {
            (Some(store), true) => {
                let k = key.clone();
                store
                    .call(move |c| warden_store::llm::cache_get(c, &k))
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let started = std::time::Instant::now();
        // Recorded below before this call returns, or as cancelled when the request is
        // aborted mid-stream (`pending` drops holding the row).
        let mut pending = PendingRecord::new(
            self.store.cloned(),
            Interaction {
                workspace_id: a.workspace.0,
                request_id: a.request_id.clone(),
                span_id: Some(span.id().to_owned()),
                action: a.kind.as_str().to_owned(),
                uri: a.uri.clone(),
                provider: route.provider.name.clone(),
                model: route.model.clone(),
                prompt: serde_json::to_string(chat).unwrap_or_default(),
                head: a.head.clone(),
                file_hash: a.file_hash.clone(),
                created_at: warden_trace::now_rfc3339(),
                ..Interaction::default()
            },
        );
        let outcome: Result<Streamed, LlmError> = match cached {
            Some(hit) => {
                let text = hit.response;
                self.surface.chunk(red.restore(&text));
                Ok(Streamed {
                    text,
                    usage: Usage::default(),
                    ttft: Some(started.elapsed()),
                    from_cache: true,
                    model: None,
                    finish_reasons: Vec::new(),
                })
            }
            None => {
                let traceparent = call_span.traceparent();
                self.stream(route, chat, red, &traceparent).await
            }
        };
        let mut interaction = pending.take();
        interaction.latency_ms = Some(started.elapsed().as_millis() as u64);
        match outcome {
            Ok(Streamed {
                text,
                usage,
                ttft,
                from_cache,
                model,
                finish_reasons,
            }) => {
                let cost = warden_llm::price::cost(&route.model, &usage, &llm.prices);
                let tokens = Tokens {
                    input: usage.input,
                    output: usage.output,
                    cached: usage.cached,
                    reasoning: usage.reasoning,
                };
                call_span.add_tokens(tokens);
                call_span.add_cost(cost);
                call_span.set_output(json!({
                    "cached": from_cache,
                    "ttftMs": ttft.map(|t| t.as_millis() as u64),
                    "chars": text.chars().count(),
                    "responseModel": model,
                    "finishReasons": finish_reasons,
                }));
                call_span.set_content(warden_trace::Content {
                    input: interaction.prompt.clone(),
                    output: Some(text.clone()),
                });
                call_span.ok();
                let fresh = (!from_cache).then(|| Cached {
                    response: text.clone(),
                    usage: serde_json::to_string(&usage).unwrap_or_default(),
                });
                interaction.response = Some(text.clone());
                interaction.tokens_input = usage.input;
                interaction.tokens_output = usage.output;
                interaction.tokens_cached = usage.cached;
                interaction.tokens_reasoning = usage.reasoning;
                interaction.cost_usd = cost;
                interaction.ttft_ms = ttft.map(|t| t.as_millis() as u64);
                interaction.cache_hit = from_cache;
                interaction.outcome = "ok".into();
                pending.record(interaction).await;
                Ok(Called {
                    text,
                    usage,
                    cost,
                    cached: from_cache,
                    provider: route.provider.name.clone(),
                    model: route.model.clone(),
                    cache_key: llm.cache.then_some(key),
                    fresh,
                })
            }
            Err(LlmError::Cancelled) => {
                call_span.cancel();
                interaction.outcome = "cancelled".into();
                pending.record(interaction).await;
                Err(ActionError::Cancelled)
            }
            Err(e) => {
                let message = e.to_string();
                call_span.set_output(json!({"errorType": error_type(&e)}));
                call_span.set_content(warden_trace::Content {
                    input: interaction.prompt.clone(),
                    output: None,
                });
                call_span.fail(message.clone());
                interaction.outcome = "error".into();
                interaction.error = Some(message.clone());
                pending.record(interaction).await;
                Err(invalid(message))
            }
        }
    }

    /// Streams from the provider, handing restored chunks to the surface.
    async fn stream(
        &self,
        route: &Route,
        chat: &Chat,
        red: &Redactions,
        traceparent: &str,
    ) -> Result<Streamed, LlmError> {
        let key = client::api_key(&route.provider)?;
        let title = format!("warden: {} ({})", self.a.kind.as_str(), route.model);
        self.surface.started(&title).await;
        let mut restorer = Restorer::new(red);
        let result = client::stream_traced(
            &route.provider,
            key.as_deref(),
            chat,
            Some(traceparent),
            self.cancel,
            |chunk| {
                let out = restorer.push(chunk);
                if !out.is_empty() {
                    self.surface.chunk(out);
                }
            },
        )
        .await;
        let tail = restorer.finish();
        if !tail.is_empty() {
            self.surface.chunk(tail);
        }
        let end = match &result {
            Ok(r) => format!("~{} tokens received", r.usage.output),
            Err(LlmError::Cancelled) => "cancelled".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        self.surface.ended(end).await;
        result.map(|r| Streamed {
            text: r.text,
            usage: r.usage,
            ttft: r.first_token,
            from_cache: false,
            model: r.response_model,
            finish_reasons: r.finish_reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use warden_config::{ApiKind, ProviderSettings};
    use warden_llm::prompt::Excerpt;
    use warden_mockllm::{MockLlm, Script};

    const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";

    /// A surface that records what it is given and answers as told.
    #[derive(Default)]
    struct Recorder {
        chunks: Mutex<Vec<String>>,
        applied: Mutex<Vec<String>>,
        risky: Option<String>,
        confirm: bool,
    }

    impl Surface for Recorder {
        async fn started(&self, _title: &str) {}
        fn chunk(&self, text: String) {
            self.chunks.lock().unwrap().push(text);
        }
        async fn ended(&self, _summary: String) {}
        async fn risky_packages(&self, _reply: &str) -> (Vec<String>, Option<String>) {
            (vec!["PyPI:pilllow".into()], self.risky.clone())
        }
        async fn confirm(&self, _warning: &str) -> bool {
            self.confirm
        }
        async fn apply(&self, code: String) -> (bool, Option<String>) {
            self.applied.lock().unwrap().push(code);
            (true, None)
        }
    }

    fn settings(mock: &MockLlm) -> LlmSettings {
        let mut llm = LlmSettings {
            provider: "mock".into(),
            model: Some("m".into()),
            ..LlmSettings::default()
        };
        llm.providers.insert(
            "mock".into(),
            ProviderSettings {
                api: ApiKind::Openai,
                base_url: mock.url.clone(),
                api_key_env: None,
                model: None,
            },
        );
        llm
    }

    fn action<'a>(kind: prompt::Action, llm: &'a LlmSettings, rules: &'a RuleSet) -> Action<'a> {
        Action {
            kind,
            ctx: Context {
                path: "app.py".into(),
                language: "python".into(),
                target: Excerpt {
                    line: 0,
                    text: format!("KEY = \"{AWS}\"\n"),
                },
                ..Context::default()
            },
            llm,
            rules,
            lang: Lang::detect(None, Some("python")),
            path: Path::new("/w/app.py"),
            rel: "app.py",
            workspace: (1, "w".into()),
            request_id: "r1".into(),
            uri: None,
            head: None,
            file_hash: None,
            no_cache: false,
        }
    }

    #[tokio::test]
    async fn an_edit_goes_out_redacted_streams_back_restored_and_is_applied() {
        let mock = MockLlm::start();
        mock.set_default(Script {
            text: "Done.\n```python\nKEY = os.environ[\"K\"]  # was __WARDEN_SECRET_1__\n```\n"
                .into(),
            chunk: 3,
            ..Script::default()
        });
        let llm = settings(&mock);
        let rules = RuleSet::builtin();
        let tracer = warden_trace::Tracer::new();
        let mut span = tracer.start(SpanKind::Command, "t").begin();
        let surface = Recorder::default();
        let r = run(
            action(prompt::Action::Rewrite, &llm, &rules),
            None,
            &mut span,
            &surface,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(!mock.requests()[0].body.contains(AWS));
        assert_eq!(r.applied, Some(true));
        assert!(
            surface.chunks.lock().unwrap().concat().contains(AWS),
            "restored while streaming"
        );
        assert_eq!(
            surface.applied.lock().unwrap()[0],
            format!("KEY = os.environ[\"K\"]  # was {AWS}\n")
        );
    }

    #[tokio::test]
    async fn a_risky_reply_is_not_applied_when_the_user_declines_and_the_deny_list_refuses() {
        let mock = MockLlm::start();
        mock.set_default(Script::text("```python\nimport pilllow\n```\n"));
        let mut llm = settings(&mock);
        let rules = RuleSet::builtin();
        let tracer = warden_trace::Tracer::new();
        let mut span = tracer.start(SpanKind::Command, "t").begin();
        let surface = Recorder {
            risky: Some("The reply brings in a malicious package: pilllow.".into()),
            ..Recorder::default()
        };
        let r = run(
            action(prompt::Action::Fix, &llm, &rules),
            None,
            &mut span,
            &surface,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(r.applied, Some(false));
        assert!(r.message.unwrap().contains("the user declined"));
        assert!(surface.applied.lock().unwrap().is_empty());

        llm.deny_list = vec!["KEY\\s*=".into()];
        let e = run(
            action(prompt::Action::Explain, &llm, &rules),
            None,
            &mut span,
            &surface,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, ActionError::Invalid(m) if m.contains("denyList[0]")));
        assert_eq!(mock.requests().len(), 1, "refused before sending");
    }
}
