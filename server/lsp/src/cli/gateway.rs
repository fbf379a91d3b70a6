//! `warden gateway`: the LLM gateway without an editor. It serves the workspace of the
//! current directory's repository (or `--workspace`), configured by the user
//! configuration file, prints the base URL, the token and the environment a shell
//! needs, and runs until interrupted. Calls are recorded in the database like the
//! editor's (spans, interactions), so `warden traces` and the editors show them.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use warden_gateway::Gateway;

use crate::gateway::CliHost;

pub async fn run(
    db: Option<std::path::PathBuf>,
    port: u16,
    workspace: Option<String>,
    json: bool,
) -> ExitCode {
    let fail = |m: String| {
        eprintln!("warden: {m}");
        ExitCode::from(2)
    };
    let (store, tracer) = match super::open_store(db) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let row = match super::command_workspace(&store, workspace.clone()).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let host = Arc::new(CliHost::new(store.clone(), row.clone()));
    // The workspace's configuration is read (and its problems shown) before serving.
    if let Err(e) = warden_gateway::Host::workspace(&*host, None) {
        return fail(e);
    }
    let gateway = match Gateway::start(host, Some(store), tracer, port).await {
        Ok(g) => g,
        Err(e) => return fail(format!("cannot listen on 127.0.0.1:{port}: {e}")),
    };
    let addr = gateway.address();
    let env = addr.env(None);
    if json {
        println!(
            "{}",
            json!({
                "workspace": row.name,
                "baseUrl": addr.base_url(None),
                "token": addr.token,
                "apis": crate::gateway::APIS,
                "env": env.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            })
        );
    } else {
        println!(
            "warden gateway for workspace {} on {} (token {})",
            row.name,
            addr.base_url(None),
            addr.token
        );
        println!("# for a shell whose AI tools should go through it:");
        for (k, v) in &env {
            println!("export {k}={v}");
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => return fail(format!("signals: {e}")),
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    gateway.stop();
    ExitCode::SUCCESS
}
