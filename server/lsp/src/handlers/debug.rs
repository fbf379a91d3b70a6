//! Test hooks, registered only when `WARDEN_DEBUG_HOOKS=1`: `warden/debug/panic` panics
//! (to prove one handler's panic does not stop the server) and `warden/debug/document`
//! returns the server's copy of an open document (to check incremental sync end to end);
//! `warden/debug/hold {ms}` keeps a `command` span open (to test crash recovery);
//! `WARDEN_DEBUG_CLOSE_DELAY_MS` delays the rescan of a closed document (to test that a
//! document reopened meanwhile keeps its buffer's diagnostics).

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use super::invalid;
use crate::lsp_ext::UriParams;
use crate::server::Backend;

/// `WARDEN_DEBUG_CLOSE_DELAY_MS` (with `WARDEN_DEBUG_HOOKS=1`): how long the rescan of a
/// closed document waits before reading the disk, so a test can reopen it meanwhile.
pub fn close_rescan_delay() -> Option<std::time::Duration> {
    static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        if std::env::var("WARDEN_DEBUG_HOOKS").as_deref() != Ok("1") {
            return None;
        }
        let ms = std::env::var("WARDEN_DEBUG_CLOSE_DELAY_MS")
            .ok()?
            .parse()
            .ok()?;
        Some(std::time::Duration::from_millis(ms))
    })
}

pub async fn panic(_: &Backend, _: Value) -> Result<()> {
    panic!("deliberate panic from warden/debug/panic");
}

pub async fn document(b: &Backend, params: UriParams) -> Result<Value> {
    let docs = b.shared.docs.lock();
    let doc = docs
        .get(&params.uri)
        .ok_or_else(|| invalid(format!("{} is not open", params.uri)))?;
    Ok(json!({ "version": doc.version, "languageId": doc.language_id, "text": doc.text }))
}

#[derive(serde::Deserialize)]
pub struct HoldParams {
    ms: u64,
}

pub async fn hold(b: &Backend, params: HoldParams) -> Result<()> {
    let span = b
        .tracer
        .start(warden_trace::SpanKind::Command, "debug.hold")
        .input(json!({ "ms": params.ms }))
        .begin();
    tokio::time::sleep(std::time::Duration::from_millis(params.ms)).await;
    span.ok();
    Ok(())
}
