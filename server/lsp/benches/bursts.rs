//! Edit bursts and edits under load, through the real `warden lsp` binary on a
//! 10,000-line Python file:
//! - bursts of 300 and 2,000 one-character edits sent without waiting: the most
//!   threads seen, CPU seconds of the server, peak and settled RSS, and the time from
//!   the last edit to the diagnostics of its version;
//! - edit latency (didChange to publishDiagnostics, p50/p99 of 100 edits) when idle
//!   and while 10 LLM explain actions stream from the scripted loopback provider.
//!
//! Run with `cargo bench -p warden-lsp --bench bursts`; prints Markdown tables.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, bench_count, file_uri, proc_status, python_module, repo};
use warden_mockllm::{MockLlm, Script};

const LINES: usize = 10_000;

fn document() -> String {
    python_module(LINES)
}

/// User + system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn start(settings: Value) -> (tempfile::TempDir, Server, String) {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo(&std::fs::canonicalize(tmp.path()).unwrap(), "bench");
    let mut s = Server::spawn(&tmp.path().join("w.db"));
    s.settings = settings.clone();
    s.initialize(&[&root], settings);
    let uri = file_uri(&root.join("src/big.py"));
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": document()}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri && p["version"] == 1
    });
    (tmp, s, uri)
}

fn edit(s: &mut Server, uri: &str, version: i64) {
    let line = (version as usize * 7919) % (LINES - 20) + 3;
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [
            {"range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}, "text": "#"}
        ]}),
    );
}

struct Burst {
    edits: i64,
    threads_idle: u64,
    threads_max: u64,
    cpu: f64,
    peak_mb: f64,
    settled_mb: f64,
    last_ms: f64,
}

fn burst(edits: i64) -> Burst {
    let (_tmp, mut s, uri) = start(json!({"scan": {"onStartup": false}}));
    let pid = s.pid();
    let threads_idle = proc_status(pid, "Threads:");
    let cpu0 = cpu_seconds(pid);
    let mut threads_max = threads_idle;
    for n in 0..edits {
        edit(&mut s, &uri, n + 2);
        if n % 20 == 0 {
            threads_max = threads_max.max(proc_status(pid, "Threads:"));
        }
    }
    let sent = Instant::now();
    let last = edits + 1;
    loop {
        threads_max = threads_max.max(proc_status(pid, "Threads:"));
        if s.wait_for_within(
            Duration::from_millis(20),
            "textDocument/publishDiagnostics",
            |p| p["uri"] == uri && p["version"] == last,
        )
        .is_some()
        {
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(300), "no diagnostics");
    }
    let last_ms = sent.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_secs(3));
    let b = Burst {
        edits,
        threads_idle,
        threads_max,
        cpu: cpu_seconds(pid) - cpu0,
        peak_mb: proc_status(pid, "VmHWM:") as f64 / 1024.0,
        settled_mb: proc_status(pid, "VmRSS:") as f64 / 1024.0,
        last_ms,
    };
    assert!(s.shutdown().success());
    b
}

/// Sequential edit latency (p50, p99) with `streams` explain actions in flight.
fn latency(streams: usize) -> (f64, f64) {
    let mock = MockLlm::start();
    // Long, slow replies: each stream lasts longer than the edits below.
    mock.set_default(Script {
        text: "word ".repeat(4000),
        chunk: 20,
        delay_ms: 10,
        ..Script::default()
    });
    let (_tmp, mut s, uri) = start(json!({
        "scan": {"onStartup": false},
        "llm": {"provider": "local", "model": "m", "cache": false, "timeoutSeconds": 30,
                "providers": {"local": {"api": "openai", "baseUrl": mock.url}}}
    }));
    let mut ids = Vec::new();
    for i in 0..streams {
        ids.push(s.send_request(
            "workspace/executeCommand",
            json!({"command": "warden.llm.explain", "arguments": [{"uri": uri, "position": {"line": 3 + i * 6, "character": 4}, "requestId": format!("bench-{i}")}]}),
        ));
    }
    if streams > 0 {
        // Every stream has started before the edits.
        for i in 0..streams {
            let id = format!("bench-{i}");
            s.wait_for("warden/llmChunk", |p| p["requestId"] == id.as_str());
        }
    }
    let mut samples = Vec::new();
    for n in 0..bench_count(100) as i64 {
        let version = n + 2;
        let started = Instant::now();
        edit(&mut s, &uri, version);
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri && p["version"] == version
        });
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    for i in 0..streams {
        let _ = s.command(
            "warden.llm.cancel",
            json!({"requestId": format!("bench-{i}")}),
        );
    }
    for id in ids {
        let _ = s.response(id);
    }
    assert!(s.shutdown().success());
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// Resident memory (MB) of the server: at start, with three 20,000-line Python files
/// open, and 3 s after closing them.
fn close_memory() -> (f64, f64, f64) {
    let (_tmp, mut s, uri) = start(json!({"scan": {"onStartup": false}}));
    let pid = s.pid();
    let mb = |pid| proc_status(pid, "VmRSS:") as f64 / 1024.0;
    s.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    std::thread::sleep(Duration::from_secs(1));
    let base = mb(pid);
    let text = python_module(20_000);
    let uris: Vec<String> = (0..3)
        .map(|i| uri.replace("big.py", &format!("gen{i}.py")))
        .collect();
    for u in &uris {
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": u, "languageId": "python", "version": 1, "text": text}}),
        );
        s.wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == u.as_str()
        });
    }
    let open = mb(pid);
    for u in &uris {
        s.notify("textDocument/didClose", json!({"textDocument": {"uri": u}}));
    }
    std::thread::sleep(Duration::from_secs(3));
    let closed = mb(pid);
    assert!(s.shutdown().success());
    (base, open, closed)
}

fn main() {
    let (base, open, closed) = close_memory();
    println!("\n### Memory after closing documents\n");
    println!(
        "| RSS MB: no document | three 20,000-line Python files open | 3 s after closing them |"
    );
    println!("|---:|---:|---:|");
    println!("| {base:.1} | {open:.1} | {closed:.1} |");
    println!("\n### Edit bursts: {LINES}-line Python file, edits sent without waiting\n");
    println!(
        "| edits | threads idle → max | server CPU s | peak RSS MB | RSS 3 s later MB | last edit → its diagnostics ms |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for edits in [300, 2000] {
        let edits = bench_count(edits) as i64;
        let b = burst(edits);
        println!(
            "| {} | {} → {} | {:.2} | {:.1} | {:.1} | {:.1} |",
            b.edits, b.threads_idle, b.threads_max, b.cpu, b.peak_mb, b.settled_mb, b.last_ms
        );
    }
    println!(
        "\n### Edit latency while LLM actions stream ({} sequential edits)\n",
        bench_count(100)
    );
    println!("| LLM actions streaming | p50 ms | p99 ms |");
    println!("|---:|---:|---:|");
    for streams in [0, 10] {
        let (p50, p99) = latency(streams);
        println!("| {streams} | {p50:.2} | {p99:.2} |");
    }
}
