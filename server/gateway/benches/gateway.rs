//! What the LLM gateway adds to a call: time to first token and the whole stream through
//! `warden-gateway` against the same scripted loopback provider (`warden-mockllm`,
//! OpenAI-compatible SSE) called directly, side by side and interleaved, with the same
//! HTTP client; plus chunk throughput on a long stream. The gateway runs as in
//! `warden gateway`: a real store (spans and interaction rows written), the built-in
//! secret rules redacting a 4 KB prompt that holds one key, the reply restored event by
//! event. Run with `cargo bench -p warden-gateway --bench gateway`; prints a Markdown
//! table. `WARDEN_BENCH_SMOKE=1` runs a tenth of the counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use warden_analysis::secrets::RuleSet;
use warden_config::{ApiKind, LlmSettings, ProviderSettings};
use warden_gateway::{CallEvent, Gateway, Host, RiskyPackages, Workspace};
use warden_mockllm::{MockLlm, Script};

struct BenchHost {
    llm: LlmSettings,
}

impl Host for BenchHost {
    fn workspace(&self, _name: Option<&str>) -> Result<Workspace, String> {
        Ok(Workspace {
            id: 1,
            name: "bench".into(),
            llm: self.llm.clone(),
            rules: RuleSet::builtin(),
            block_malicious: false,
            head: None,
            system_prompt: None,
        })
    }

    fn risky_packages(&self, _ws: &Workspace, _reply: &str) -> RiskyPackages {
        RiskyPackages::default()
    }

    fn finished(&self, _event: &CallEvent) {}
}

fn count(full: usize) -> usize {
    if std::env::var_os("WARDEN_BENCH_SMOKE").is_some() {
        (full / 10).max(3)
    } else {
        full
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Streams one chat; returns the time to the first content delta and to the end.
async fn call(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    prompt: &str,
) -> (Duration, Duration, usize) {
    let started = Instant::now();
    let body = json!({"model": "bench-model", "stream": true, "messages": [{"role": "user", "content": prompt}]});
    let resp = client
        .post(format!("{base}/chat/completions"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut stream = resp.bytes_stream();
    let mut first = None;
    let mut bytes = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("the stream");
        if first.is_none() && chunk.windows(7).any(|w| w == b"content") {
            first = Some(started.elapsed());
        }
        bytes += chunk.len();
    }
    (first.expect("a content delta"), started.elapsed(), bytes)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = MockLlm::start();
    let mut llm = LlmSettings {
        provider: "mock".into(),
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
    let db = tempfile::tempdir().unwrap();
    let store = warden_store::Store::open(&db.path().join("bench.db")).unwrap();
    let tracer = warden_trace::Tracer::new();
    tracer.add_sink(Arc::new(warden_store::StoreSink::new(store.clone())));
    let gateway = rt
        .block_on(Gateway::start(
            Arc::new(BenchHost { llm }),
            Some(store),
            tracer,
            0,
        ))
        .unwrap();
    let through = format!("{}/v1", gateway.address().base_url(None));
    let token = gateway.address().token.clone();
    let client = reqwest::Client::new();
    let prompt = format!(
        "{}\nAWS_ACCESS_KEY_ID = \"AKIAQ3EGRB4XY7MNP2KD\"\n",
        "def handler(event):\n    return process(event['records'])\n".repeat(70)
    );

    let mut table = Vec::new();
    for (label, chunks, runs) in [
        ("60 chunks of 8 bytes", 60, count(200)),
        ("2,000 chunks of 8 bytes", 2000, count(30)),
    ] {
        mock.set_default(Script {
            text: "abcdefgh".repeat(chunks),
            chunk: 8,
            ..Script::default()
        });
        let (mut direct, mut via) = (Vec::new(), Vec::new());
        rt.block_on(async {
            for _ in 0..3 {
                call(&client, &mock.url, "k", &prompt).await;
                call(&client, &through, &token, &prompt).await;
            }
            for _ in 0..runs {
                direct.push(call(&client, &mock.url, "k", &prompt).await);
                via.push(call(&client, &through, &token, &prompt).await);
            }
        });
        let stats = |v: &[(Duration, Duration, usize)],
                     pick: fn(&(Duration, Duration, usize)) -> Duration| {
            let mut ms: Vec<f64> = v.iter().map(|x| pick(x).as_secs_f64() * 1000.0).collect();
            ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
            (percentile(&ms, 0.5), percentile(&ms, 0.95))
        };
        let (d_ttft, v_ttft) = (stats(&direct, |x| x.0), stats(&via, |x| x.0));
        let (d_all, v_all) = (stats(&direct, |x| x.1), stats(&via, |x| x.1));
        let rate = |all_p50: f64| chunks as f64 / (all_p50 / 1000.0);
        table.push(format!(
            "| {label}, {runs} runs | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} / {:.0} |",
            d_ttft.0, d_ttft.1, v_ttft.0, v_ttft.1, v_ttft.0 - d_ttft.0, d_all.0, d_all.1, v_all.0, v_all.1, rate(d_all.0), rate(v_all.0)
        ));
    }
    println!(
        "| stream | TTFT direct p50 / p95 ms | TTFT via gateway p50 / p95 ms | TTFT overhead p50 ms | whole stream direct p50 / p95 ms | whole stream via gateway p50 / p95 ms | chunks/s direct / via (p50) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
    gateway.stop();
}
