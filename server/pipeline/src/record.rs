//! The record of a call: its interaction row, written (and waited for) when the call
//! ends, or queued as `cancelled` when the caller's future is dropped first.

use warden_llm::client::LlmError;
use warden_store::Store;
use warden_store::llm::Interaction;

/// An interaction not stored yet. [`PendingRecord::record`] writes it and waits for the
/// write; if the request's future is dropped first (a cancelled request mid-stream),
/// dropping this queues the row as `cancelled`.
pub struct PendingRecord {
    store: Option<Store>,
    row: Option<Interaction>,
}

impl PendingRecord {
    pub fn new(store: Option<Store>, row: Interaction) -> PendingRecord {
        PendingRecord {
            store,
            row: Some(row),
        }
    }

    /// The row, to fill in once the reply is in.
    pub fn take(&mut self) -> Interaction {
        self.row.take().unwrap_or_default()
    }

    /// Writes the finished interaction and waits until the store has it, so that usage
    /// and history see it as soon as the caller answers.
    pub async fn record(mut self, row: Interaction) {
        self.row = None;
        let Some(store) = self.store.take() else {
            return;
        };
        if let Err(e) = store
            .call(move |c| warden_store::llm::insert(c, &row).map(|_| ()))
            .await
        {
            tracing::warn!("store: record an LLM interaction failed: {e}");
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        if let (Some(store), Some(mut row)) = (&self.store, self.row.take()) {
            if row.outcome.is_empty() {
                row.outcome = "cancelled".into();
            }
            store.submit("record an LLM interaction", move |c| {
                warden_store::llm::insert(c, &row).map(|_| ())
            });
        }
    }
}

/// OpenTelemetry's `error.type` of a failed call: the HTTP status, or the kind of
/// failure (low cardinality, never the message).
pub fn error_type(e: &LlmError) -> String {
    match e {
        LlmError::Http { status, .. } => status.to_string(),
        LlmError::Transport { message, .. } if message.starts_with("no answer within") => {
            "timeout".to_owned()
        }
        LlmError::Transport { .. } => "transport".to_owned(),
        LlmError::Stream { .. } => "stream".to_owned(),
        LlmError::Config(_) => "config".to_owned(),
        LlmError::Cancelled => "cancelled".to_owned(),
    }
}
