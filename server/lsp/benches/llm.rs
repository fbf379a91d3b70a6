//! LLM overhead measured: time to first token (TTFT) of an explain action through the
//! real `warden lsp` binary (JSON-RPC in, context, redaction, routing, the HTTP stream,
//! `warden/llmChunk` out) against the same scripted loopback provider called directly
//! with warden's HTTP client, side by side; then the latency of a response-cache hit.
//! Run with `cargo bench -p warden-lsp --bench llm`; prints a Markdown table.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;
use warden_llm::client::{self, Provider};
use warden_llm::wire::{Api, Chat, Message, Role};
use warden_mockllm::{MockLlm, Script};

use support::{Server, bench_count, file_uri, repo};

/// Runs per path (a tenth under `WARDEN_BENCH_SMOKE`).
fn runs() -> usize {
    bench_count(100)
}

const SCRIPT: &str = "import os\nimport requests\n\nAPI = \"AKIAQ3EGRB4XY7MNP2KD\"\n\n\ndef fetch(url):\n    return requests.get(url, headers={\"k\": API}).json()\n";

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let mock = MockLlm::start();
    // A reply of 60 chunks; the first one is what TTFT waits for.
    mock.set_default(Script {
        chunk: 8,
        ..Script::text("This function fetches a URL with a key. ".repeat(12))
    });

    // Direct: warden's HTTP client against the provider, no server around it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let provider = Provider {
        name: "local".into(),
        api: Api::Openai,
        base_url: mock.url.clone(),
        api_key_env: None,
        timeout: Duration::from_secs(5),
        max_retries: 0,
    };
    let mut direct = Vec::new();
    for i in 0..runs() {
        let chat = Chat {
            model: "m".into(),
            system: Some("You explain code.".into()),
            messages: vec![Message {
                role: Role::User,
                content: format!("Explain run {i}:\n```python\n{SCRIPT}```\n"),
            }],
            max_tokens: 256,
            temperature: Some(0.2),
        };
        let started = Instant::now();
        let mut first = None;
        rt.block_on(client::stream(
            &provider,
            None,
            &chat,
            &CancellationToken::new(),
            |_| {
                first.get_or_insert_with(|| started.elapsed());
            },
        ))
        .unwrap();
        direct.push(ms(first.unwrap()));
    }

    // Through warden: explain requests (cache off) timed to the first llmChunk.
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let file = root.join("fetch.py");
    std::fs::write(&file, SCRIPT).unwrap();
    let mut s = Server::spawn(&dir.path().join("db/w.db"));
    s.settings = json!({"scan": {"onStartup": false}, "llm": {
        "provider": "local", "model": "m", "cache": false,
        "providers": {"local": {"api": "openai", "baseUrl": mock.url}}}});
    s.initialize(&[&root], s.settings.clone());
    let uri = file_uri(&file);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SCRIPT}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri.as_str()
    });
    let explain = |s: &mut Server, id: &str| {
        s.send_request(
            "workspace/executeCommand",
            json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "position": {"line": 7, "character": 4}, "requestId": id}]}),
        )
    };
    let mut through = Vec::new();
    let mut totals = Vec::new();
    for i in 0..runs() {
        let id = format!("b{i}");
        let started = Instant::now();
        let req = explain(&mut s, &id);
        s.wait_for("warden/llmChunk", |p| p["requestId"] == id.as_str());
        through.push(ms(started.elapsed()));
        s.response(req).unwrap();
        totals.push(ms(started.elapsed()));
        s.take("warden/llmChunk", Duration::ZERO);
    }

    // Cache hits: the cache on, one warm-up, then identical requests.
    s.settings["llm"]["cache"] = json!(true);
    s.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    s.take("warden/none", Duration::from_millis(300));
    let warm = explain(&mut s, "same");
    s.response(warm).unwrap();
    let sent = mock.requests().len();
    let mut hits = Vec::new();
    for _ in 0..runs() {
        let started = Instant::now();
        let req = explain(&mut s, "same");
        let r = s.response(req).unwrap();
        hits.push(ms(started.elapsed()));
        assert_eq!(r["cached"], true);
    }
    assert_eq!(mock.requests().len(), sent, "cache hits send nothing");
    s.take("warden/llmChunk", Duration::ZERO);
    assert!(s.shutdown().success());

    let (d50, d95) = (percentile(&mut direct, 0.5), percentile(&mut direct, 0.95));
    let (w50, w95) = (
        percentile(&mut through, 0.5),
        percentile(&mut through, 0.95),
    );
    let (t50, t95) = (percentile(&mut totals, 0.5), percentile(&mut totals, 0.95));
    let (h50, h95) = (percentile(&mut hits, 0.5), percentile(&mut hits, 0.95));
    println!("| {} runs each | p50 ms | p95 ms |", runs());
    println!("|---|---|---|");
    println!("| TTFT, provider called directly (warden's HTTP client) | {d50:.2} | {d95:.2} |");
    println!(
        "| TTFT through `warden lsp` (request sent → first `warden/llmChunk`) | {w50:.2} | {w95:.2} |"
    );
    println!("| overhead (p50 difference) | {:.2} | |", w50 - d50);
    println!("| whole explain action through warden (60 chunks) | {t50:.2} | {t95:.2} |");
    println!("| cache hit (request sent → result, nothing sent) | {h50:.2} | {h95:.2} |");
}
