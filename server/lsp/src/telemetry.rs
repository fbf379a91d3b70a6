//! OpenTelemetry export of warden's spans, shared by the server and the command line:
//! one process-wide [`Telemetry`] sink that forwards finished spans to the configured
//! [`Exporter`] (none when export is off), reconfigured when the user's `trace.otlp`
//! settings change, flushed (bounded) before the process exits. Also the `TRACEPARENT`
//! a process was started with, which parents its root spans. No LSP types here.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;
use warden_config::OtlpSettings;
use warden_store::Store;
use warden_trace::otlp::{Exporter, OtlpConfig, Stats, WorkspaceAttributes};
use warden_trace::{Span, SpanSink, TraceParent, Tracer};

/// The exporting sink of this process.
#[derive(Default)]
pub struct Telemetry {
    current: RwLock<Option<Exporter>>,
}

/// The process's telemetry (one exporter per process, whichever command runs).
pub fn global() -> &'static Arc<Telemetry> {
    static GLOBAL: OnceLock<Arc<Telemetry>> = OnceLock::new();
    GLOBAL.get_or_init(Default::default)
}

/// Adds the exporting sink to `tracer` and makes its root spans continue the trace named
/// by the `TRACEPARENT` environment variable, if any (an invalid value is ignored with
/// a warning, as W3C Trace Context asks).
pub fn attach(tracer: &Tracer) {
    tracer.add_sink(global().clone());
    if let Ok(value) = std::env::var("TRACEPARENT") {
        match TraceParent::parse(&value) {
            Some(parent) => tracer.continue_trace(Some(parent)),
            None => tracing::warn!("TRACEPARENT {value:?} is not a valid W3C traceparent; ignored"),
        }
    }
}

/// Workspace attributes from the store: its repository (remote, else root), branch and
/// HEAD.
pub fn workspace_attributes(store: Option<Store>) -> WorkspaceAttributes {
    use opentelemetry::KeyValue;
    Arc::new(move |id| {
        let store = store.clone();
        Box::pin(async move {
            let Some(store) = store else {
                return Vec::new();
            };
            let row = store
                .read(move |c| warden_store::workspaces::by_id(c, id))
                .await
                .ok()
                .flatten();
            let Some(w) = row else {
                return Vec::new();
            };
            let mut out = Vec::new();
            if let Some(r) = w.remote.clone().or_else(|| w.root.clone()) {
                out.push(KeyValue::new("warden.repository", redact_remote(&r)));
            }
            if let Some(root) = w.root {
                out.push(KeyValue::new("warden.repository.root", root));
            }
            if let Some(b) = w.branch {
                out.push(KeyValue::new("warden.branch", b));
            }
            if let Some(h) = w.head {
                out.push(KeyValue::new("warden.head", h.clone()));
                out.push(KeyValue::new("vcs.ref.head.revision", h));
            }
            out
        })
    })
}

/// A remote URL without credentials (`https://user:token@host/...`); an scp-style
/// remote (`git@host:path`) is no URL and carries none.
fn redact_remote(remote: &str) -> String {
    match reqwest::Url::parse(remote) {
        Ok(_) => warden_trace::redact_url(remote),
        Err(_) => remote.to_owned(),
    }
}

impl Telemetry {
    /// Applies the user's `trace.otlp` settings (and the environment): starts, replaces
    /// or stops the exporter. Unchanged settings keep the running one. Returns the
    /// endpoint exported to, or why the configuration is unusable.
    pub fn configure(
        &self,
        otlp: &OtlpSettings,
        store: Option<Store>,
    ) -> Result<Option<String>, String> {
        let config = OtlpConfig::resolve(
            otlp.endpoint.as_deref(),
            &otlp.headers,
            otlp.include_content,
        );
        let mut current = self.current.write();
        if current.as_ref().map(|e| e.config()) == config.as_ref() {
            return Ok(config.map(|c| c.target()));
        }
        let next = match config {
            None => None,
            Some(c) => {
                Some(Exporter::start(c, workspace_attributes(store)).map_err(|e| e.to_string())?)
            }
        };
        let target = next.as_ref().map(|e| e.config().target());
        if let Some(old) = std::mem::replace(&mut *current, next) {
            tokio::spawn(async move {
                old.shutdown(Duration::from_secs(5)).await;
            });
        }
        match &target {
            Some(t) => tracing::info!("exporting spans over OTLP/HTTP to {t}"),
            None => tracing::debug!("span export is off"),
        }
        Ok(target)
    }

    /// The running exporter (the backfill queues onto it).
    pub fn exporter(&self) -> Option<Exporter> {
        self.current.read().clone()
    }

    /// Where spans go (the traces URL without credentials) and how that goes; `None`
    /// when export is off.
    pub fn status(&self) -> Option<(String, Stats)> {
        let exporter = self.exporter()?;
        Some((exporter.config().target(), exporter.stats()))
    }

    /// Sends what is queued, waiting at most `timeout`, and stops exporting.
    pub async fn shutdown(&self, timeout: Duration) -> Option<Stats> {
        let exporter = self.current.write().take()?;
        let stats = exporter.shutdown(timeout).await;
        if stats.queued > 0 || stats.dropped > 0 {
            tracing::warn!(
                "OpenTelemetry export to {}: {} spans exported, {} dropped, {} not sent at exit",
                exporter.config().target(),
                stats.exported,
                stats.dropped,
                stats.queued
            );
        }
        Some(stats)
    }
}

impl SpanSink for Telemetry {
    fn started(&self, _span: &Span) {}

    fn finished(&self, span: &Span) {
        if let Some(e) = self.current.read().as_ref() {
            e.finished(span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_lose_their_credentials() {
        assert_eq!(
            redact_remote("https://bot:ghp_x@git.example.invalid/a/b.git"),
            "https://git.example.invalid/a/b.git"
        );
        assert_eq!(
            redact_remote("git@git.example.invalid:a/b.git"),
            "git@git.example.invalid:a/b.git"
        );
    }
}
