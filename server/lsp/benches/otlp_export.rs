//! OpenTelemetry export overhead: what exporting costs the code that makes spans, how
//! fast spans leave, what an edit pays while spans are exported, and how the queue
//! behaves with the collector down. The collector is a loopback OTLP/HTTP endpoint that
//! counts requests (`warden_mockllm::collector`), so the figures are warden's, not a
//! backend's ingestion. In the edit part the server's batch delay is 20 ms
//! (`OTEL_BSP_SCHEDULE_DELAY`), so export requests go out while the edits run. Run with `cargo bench -p warden-lsp --bench otlp_export`;
//! prints Markdown tables.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, bench_count, file_uri, python_module, repo};
use warden_mockllm::collector::MockCollector;
use warden_trace::otlp::{Exporter, OtlpConfig};
use warden_trace::{SpanKind, Tokens, Tracer};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn config(endpoint: &str, token: &str, queue: usize) -> OtlpConfig {
    let mut headers = BTreeMap::new();
    headers.insert("authorization".to_owned(), format!("Bearer {token}"));
    OtlpConfig {
        endpoint: Some(endpoint.to_owned()),
        headers,
        include_content: false,
        queue,
        batch: 512,
        delay: Duration::from_millis(1000),
        timeout: Duration::from_secs(10),
        latest_genai_only: false,
    }
}

/// One LLM call span under a command span, as the server makes them.
fn make_spans(tracer: &Tracer, n: usize) {
    for i in 0..n / 2 {
        let root = tracer
            .start(SpanKind::Command, "warden.llm.explain")
            .input(json!({"requestId": format!("r{i}"), "instructionChars": 40}))
            .begin();
        let mut call = root
            .child(SpanKind::Llm, "local/gpt-4o-mini")
            .input(json!({"provider": "local", "api": "openai", "model": "gpt-4o-mini", "maxTokens": 1024, "temperature": 0.2}))
            .begin();
        call.add_tokens(Tokens {
            input: 1200,
            output: 300,
            cached: 1000,
            reasoning: 0,
        });
        call.set_output(json!({"ttftMs": 210, "responseModel": "gpt-4o-mini", "finishReasons": ["stop"], "chars": 1200}));
        call.ok();
        root.ok();
    }
}

/// Nanoseconds per span spent in `make_spans` (the caller's side) for a tracer set up by
/// `setup`.
fn caller_cost(n: usize, setup: impl Fn(&Tracer)) -> f64 {
    let tracer = Tracer::new();
    setup(&tracer);
    let t0 = Instant::now();
    make_spans(&tracer, n);
    t0.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let n = bench_count(20_000);
    let collector = MockCollector::start();

    // 1. The caller's side: no export, export to a collector that answers, export to one
    //    that is down (the queue full, dropping its oldest).
    let off = caller_cost(n, |_| {});
    let up = Exporter::start(
        config(&collector.url, &collector.token, n),
        Arc::new(|_| Box::pin(async { Vec::new() })),
    )
    .unwrap();
    let up_cost = caller_cost(n, |t| t.add_sink(Arc::new(up.clone())));
    // 2. How fast they leave: until the collector has every span.
    let t0 = Instant::now();
    while up.stats().exported < n as u64 {
        assert!(t0.elapsed() < Duration::from_secs(120), "{:?}", up.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    let drain = t0.elapsed();
    let stats = rt.block_on(up.shutdown(Duration::from_secs(5)));
    let down_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cap = 2048;
    let down = Exporter::start(
        config(&format!("http://127.0.0.1:{down_port}/v1/traces"), "t", cap),
        Arc::new(|_| Box::pin(async { Vec::new() })),
    )
    .unwrap();
    let down_cost = caller_cost(n, |t| t.add_sink(Arc::new(down.clone())));
    std::thread::sleep(Duration::from_millis(1500));
    let down_stats = down.stats();

    println!("\n### OTLP export: the caller's side, {n} spans (command + LLM call pairs)\n");
    println!("| export | ns per span | vs no export |");
    println!("|---|---:|---:|");
    println!("| off | {off:.0} | 1.00x |");
    println!(
        "| on, collector answering | {up_cost:.0} | {:.2}x |",
        up_cost / off
    );
    println!(
        "| on, collector down (queue full) | {down_cost:.0} | {:.2}x |",
        down_cost / off
    );
    println!(
        "\nExport throughput to the loopback collector: {n} spans in {:.0} ms after the last was made = {:.0} spans/s ({} requests, {:.1} KB per span).",
        drain.as_secs_f64() * 1000.0,
        n as f64 / (drain.as_secs_f64() + up_cost * n as f64 / 1e9),
        collector.requests(),
        collector.bytes() as f64 / 1024.0 / stats.exported.max(1) as f64,
    );
    println!(
        "Collector down: queue held {} of {n} (cap {cap}), {} dropped oldest-first, {} failed attempts so far, last error: {}.",
        down_stats.queued,
        down_stats.dropped,
        down_stats.failures,
        down_stats.last_error.as_deref().unwrap_or("-")
    );

    // 3. An edit while spans are exported: each edit follows a command (a span) on the
    //    same server, export off and on.
    let edits = bench_count(200);
    let mut rows = Vec::new();
    for (name, otlp) in [
        ("off", Value::Null),
        (
            "on",
            json!({"endpoint": collector.url, "headers": {"authorization": format!("Bearer {}", collector.token)}}),
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "bench");
        // A short batch delay: the exporter sends while the edits run.
        let mut s = Server::spawn_with(
            &tmp.path().join("w.db"),
            &[("OTEL_BSP_SCHEDULE_DELAY", "20")],
        );
        s.settings = json!({"scan": {"onStartup": false}, "trace": {"otlp": otlp}});
        if otlp.is_null() {
            s.settings = json!({"scan": {"onStartup": false}});
        }
        s.initialize(&[&root], s.settings.clone());
        let uri = file_uri(&root.join("src/big.py"));
        let text = python_module(10_000);
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["version"] == 1
        });
        let before = collector.requests();
        let mut lat = Vec::with_capacity(edits);
        for i in 0..edits {
            let version = i as i64 + 2;
            s.command("warden.workspace.list", json!({})).unwrap();
            let line = (i * 7919) % 9_980 + 3;
            let t0 = Instant::now();
            s.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "#"}]}),
            );
            s.wait_for("textDocument/publishDiagnostics", |p| {
                p["uri"] == uri && p["version"] == version
            });
            lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        assert!(s.shutdown().success());
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push((name, lat, collector.requests() - before));
    }
    println!(
        "\n### Edit latency while exporting: didChange -> first publishDiagnostics, 10,000-line Python file, {edits} edits, each after a command span\n"
    );
    println!("| export | p50 ms | p95 ms | max ms | export requests |");
    println!("|---|---:|---:|---:|---:|");
    for (name, lat, reqs) in &rows {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {reqs} |",
            percentile(lat, 0.5),
            percentile(lat, 0.95),
            lat[lat.len() - 1]
        );
    }
    println!(
        "\nexport on / off, p50: {:.2}x",
        percentile(&rows[1].1, 0.5) / percentile(&rows[0].1, 0.5)
    );
    rt.block_on(down.shutdown(Duration::from_millis(100)));
}
