//! `warden/gateway`: the LLM gateway this server started (at `initialized`, unless
//! `gateway.enabled` is off), as a workspace's terminals reach it.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use warden_gateway::Gateway;

use super::invalid;
use crate::gateway::LspHost;
use crate::lsp_ext::{GatewayParams, GatewayResult};
use crate::server::Backend;

/// Starts the gateway on a loopback port the OS picks; a failure is logged and the
/// request then says why there is none.
pub async fn start(b: &Backend) {
    let enabled = b.shared.editor().settings.gateway.enabled;
    b.gateway
        .get_or_init(|| async {
            if !enabled {
                return None;
            }
            let host = Arc::new(LspHost {
                shared: b.shared.clone(),
                client: b.client.clone(),
            });
            let store = b.store.get().cloned();
            match Gateway::start(host, store, b.tracer.clone(), 0).await {
                Ok(g) => {
                    tracing::info!("LLM gateway on {}", g.address().base_url(None));
                    Some(g)
                }
                Err(e) => {
                    tracing::warn!("the LLM gateway could not start: {e}");
                    None
                }
            }
        })
        .await;
}

pub async fn gateway(b: &Backend, params: GatewayParams) -> Result<GatewayResult> {
    // Start-up holds the registry until the folders are known and the gateway listens.
    drop(b.registry()?.lock().await);
    let Some(Some(g)) = b.gateway.get() else {
        return Err(invalid(
            "the LLM gateway is not running (setting warden.gateway.enabled is off, or it could not listen; see the server log)",
        ));
    };
    let name = match params.workspace {
        Some(n) => {
            let open = b.shared.roots.read().open.iter().any(|r| r.name == n);
            if !open {
                return Err(invalid(format!("no open workspace is named {n:?}")));
            }
            n
        }
        None => crate::gateway::default_workspace(&b.shared.roots.read()).1,
    };
    Ok(crate::gateway::result(g.address(), &name))
}
