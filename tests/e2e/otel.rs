//! OpenTelemetry export end to end, against a real backend: an Arize Phoenix server
//! (started on loopback with a token by `scripts/test-otel.sh`, which passes its URL
//! and token in `WARDEN_TEST_PHOENIX_URL` / `WARDEN_TEST_PHOENIX_TOKEN`). Each test
//! writes to its own Phoenix project (`OTEL_RESOURCE_ATTRIBUTES`
//! `openinference.project.name`) and reads it back over Phoenix's GraphQL API: the
//! spans of an explain, a run and a scan with their parent links and `gen_ai.*`
//! attributes and no secret anywhere; spans kept while the collector is down and sent
//! when it is back; a CLI scan inside a CI job's `TRACEPARENT`; and the backfill.
//! Without the variables the tests say so and pass, unless `WARDEN_REQUIRE_PHOENIX` is
//! set.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_mockllm::{MockLlm, Script};

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";
const API_KEY: &str = "sk-test-do-not-leak-42";
const FETCH_PY: &str = "import requests\n\n\ndef fetch(url):\n    key = \"AKIAQ3EGRB4XY7MNP2KD\"\n    token = \"ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt\"\n    return requests.get(url, headers={\"k\": key, \"t\": token})\n";

struct Phoenix {
    url: String,
    token: String,
}

fn phoenix() -> Option<Phoenix> {
    match (
        std::env::var("WARDEN_TEST_PHOENIX_URL"),
        std::env::var("WARDEN_TEST_PHOENIX_TOKEN"),
    ) {
        (Ok(url), Ok(token)) => Some(Phoenix { url, token }),
        _ => {
            assert!(
                std::env::var_os("WARDEN_REQUIRE_PHOENIX").is_none(),
                "WARDEN_REQUIRE_PHOENIX is set but WARDEN_TEST_PHOENIX_URL/_TOKEN are not"
            );
            eprintln!("SKIPPED: no Phoenix (run scripts/test-otel.sh)");
            None
        }
    }
}

/// A minimal HTTP/1.0 POST over loopback (the answer ends when the server closes).
fn post(url: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    sock.write_all(req.as_bytes()).unwrap();
    sock.write_all(body).unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

impl Phoenix {
    fn endpoint(&self) -> String {
        format!("{}/v1/traces", self.url)
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// Every span of `project` (the newest 1000), attributes parsed.
    fn spans(&self, project: &str) -> Vec<Value> {
        let query = json!({"query": "{ projects { edges { node { name spans(first: 1000) { edges { node { name spanKind parentId statusCode context { spanId traceId } attributes } } } } } } }"});
        let (status, body) = post(
            &self.url,
            "/graphql",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &self.auth()),
            ],
            query.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let projects = v["data"]["projects"]["edges"].as_array().unwrap().clone();
        projects
            .iter()
            .find(|p| p["node"]["name"] == project)
            .map(|p| {
                p["node"]["spans"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        let mut n = e["node"].clone();
                        n["attributes"] =
                            serde_json::from_str(n["attributes"].as_str().unwrap_or("{}"))
                                .unwrap_or(Value::Null);
                        n
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `pred` holds of the project's spans; returns them.
    fn wait(&self, project: &str, within: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let spans = self.spans(project);
            if pred(&spans) {
                return spans;
            }
            assert!(
                t0.elapsed() < within,
                "Phoenix project {project} never got the expected spans; it has: {:#?}",
                spans.iter().map(|s| &s["name"]).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A dotted attribute (`gen_ai.usage.input_tokens`) of a span as Phoenix stores it
/// (nested objects).
fn attr<'a>(span: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(&span["attributes"], |v, k| &v[k])
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

fn project_name() -> String {
    format!("warden-e2e-{}", uuid::Uuid::now_v7().simple())
}

fn resource(project: &str) -> String {
    format!("openinference.project.name={project},deployment.environment=test")
}

#[test]
fn explain_run_and_scan_reach_phoenix_linked_with_genai_attributes_and_no_secret() {
    let Some(px) = phoenix() else { return };
    if !crate::runs::docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::write(root.join("scripts/fetch.py"), FETCH_PY).unwrap();
    std::fs::write(root.join("scripts/ok.py"), "print('hello')\n").unwrap();
    let mock = MockLlm::start();
    mock.push(Script::text(
        "`fetch` sends __WARDEN_SECRET_1__ and __WARDEN_SECRET_2__ to the URL.",
    ));
    let project = project_name();
    let res = resource(&project);
    let mut s = Server::spawn_with(
        &dir.path().join("db/w.db"),
        &[
            ("WARDEN_TEST_LLM_KEY", API_KEY),
            ("OTEL_RESOURCE_ATTRIBUTES", &res),
            ("OTEL_SERVICE_NAME", "warden-e2e"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    s.settings = json!({
        "scan": {"onStartup": false},
        "llm": {
            "provider": "local",
            "model": "gpt-4o-mini",
            "providers": {"local": {"api": "openai", "baseUrl": mock.url, "apiKeyEnv": "WARDEN_TEST_LLM_KEY"}},
            "timeoutSeconds": 5,
        },
        "trace": {"otlp": {
            "endpoint": px.endpoint(),
            "headers": {"authorization": px.auth()},
            "includeContent": true,
        }},
    });
    s.initialize(&[&root], s.settings.clone());
    let fetch = file_uri(&root.join("scripts/fetch.py"));
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": fetch, "languageId": "python", "version": 1, "text": FETCH_PY}}),
    );
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == fetch);

    let r = s
        .command(
            "warden.llm.explain",
            json!({"uri": fetch, "position": {"line": 4, "character": 4}}),
        )
        .unwrap();
    assert!(
        r["text"].as_str().unwrap().contains(AWS),
        "restored locally"
    );
    let run = s
        .command(
            "warden.run",
            json!({"uri": file_uri(&root.join("scripts/ok.py"))}),
        )
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();
    s.wait_for_within(Duration::from_secs(60), "warden/runFinished", |p| {
        p["runId"] == run_id.as_str()
    })
    .expect("the run finished");
    s.command("warden.scan.workspace", json!({"workspace": "proj"}))
        .unwrap();
    // The scan runs in the background: wait for its span to end.
    let t0 = Instant::now();
    loop {
        let scans = s.request("warden/traces", json!({"kind": "scan"})).unwrap();
        if scans["traces"][0]["outcome"] == "ok" {
            break;
        }
        assert!(t0.elapsed() < TIMEOUT, "the scan did not finish: {scans}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Shutdown flushes what is queued.
    assert!(s.shutdown().success());

    let spans = px.wait(&project, Duration::from_secs(30), |spans| {
        !named(spans, "chat gpt-4o-mini").is_empty()
            && !named(spans, "workspace.scan").is_empty()
            && spans.iter().any(|s| attr(s, "warden.span.kind") == "run")
    });
    let everything = serde_json::to_string(&spans).unwrap();
    for secret in [AWS, GHP, API_KEY] {
        assert!(!everything.contains(secret), "{secret} reached Phoenix");
    }

    // The LLM call: a CLIENT span under the explain command, GenAI attributes, the
    // redacted contents (asked for), and its trace context sent to the provider.
    let call = named(&spans, "chat gpt-4o-mini")[0];
    let explain = named(&spans, "warden.llm.explain")[0];
    assert_eq!(call["parentId"], explain["context"]["spanId"]);
    assert_eq!(call["context"]["traceId"], explain["context"]["traceId"]);
    assert_eq!(call["spanKind"], "llm");
    assert_eq!(attr(call, "gen_ai.operation.name"), "chat");
    assert_eq!(attr(call, "gen_ai.provider.name"), "local");
    assert_eq!(attr(call, "gen_ai.request.model"), "gpt-4o-mini");
    assert!(attr(call, "gen_ai.usage.input_tokens").as_u64().unwrap() > 0);
    assert!(attr(call, "gen_ai.usage.output_tokens").as_u64().unwrap() > 0);
    assert!(attr(call, "gen_ai.request.max_tokens").as_u64().is_some());
    assert_eq!(
        attr(call, "gen_ai.response.finish_reasons"),
        &json!(["stop"])
    );
    assert!(
        attr(call, "gen_ai.response.time_to_first_chunk")
            .as_f64()
            .is_some()
    );
    let messages = attr(call, "gen_ai.input.messages").as_str().unwrap();
    assert!(messages.contains("__WARDEN_SECRET_"), "{messages}");
    assert_eq!(attr(call, "warden.workspace"), "proj");
    assert!(
        attr(call, "warden.head")
            .as_str()
            .is_some_and(|h| h.len() == 40)
    );
    let sent = mock.requests()[0].header("traceparent").unwrap().to_owned();
    assert_eq!(
        sent,
        format!(
            "00-{}-{}-01",
            call["context"]["traceId"].as_str().unwrap(),
            call["context"]["spanId"].as_str().unwrap()
        )
    );

    // The run under its command, with its exit code; the scan under its command.
    let run_span = spans
        .iter()
        .find(|s| attr(s, "warden.span.kind") == "run")
        .unwrap();
    let run_cmd = named(&spans, "warden.run")[0];
    assert_eq!(run_span["parentId"], run_cmd["context"]["spanId"]);
    assert_eq!(attr(run_span, "warden.output.exit_code"), 0);
    assert_eq!(attr(run_span, "warden.output.status"), "succeeded");
    let scan = named(&spans, "workspace.scan")[0];
    let scan_cmd = named(&spans, "warden.scan.workspace")[0];
    assert_eq!(scan["parentId"], scan_cmd["context"]["spanId"]);
    assert_eq!(attr(scan, "warden.output.files"), 2, "{scan}");
    assert_eq!(attr(scan, "warden.outcome"), "ok");
}

/// Forwards every connection on `listener` to `to` (a collector coming back).
fn forward(listener: TcpListener, to: String) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let to = to.clone();
            std::thread::spawn(move || {
                let Ok(upstream) = TcpStream::connect(&to) else {
                    return;
                };
                let (mut c1, mut u1) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut c2, mut u2) = (client, upstream);
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c1, &mut u1);
                    let _ = u1.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = t.join();
            });
        }
    });
}

/// Waits until the server's log says `needle`.
fn wait_log(s: &Server, needle: &str) {
    let t0 = Instant::now();
    while !s.stderr().contains(needle) {
        assert!(
            t0.elapsed() < TIMEOUT,
            "the log never said {needle:?}: {}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn spans_made_while_the_collector_is_down_arrive_when_it_is_back() {
    let Some(px) = phoenix() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    // A port nothing listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let project = project_name();
    let res = resource(&project);
    let mut s = Server::spawn_with(
        &dir.path().join("db/w.db"),
        &[
            ("OTEL_RESOURCE_ATTRIBUTES", &res),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    s.settings = json!({
        "scan": {"onStartup": false},
        "trace": {"otlp": {
            "endpoint": format!("http://127.0.0.1:{port}/v1/traces"),
            "headers": {"authorization": px.auth()},
        }},
    });
    s.initialize(&[&root], s.settings.clone());
    const N: usize = 5;
    for _ in 0..N {
        s.command("warden.workspace.list", json!({})).unwrap();
    }
    // Wait for the failure to be noticed (and said once).
    wait_log(&s, "failed");
    assert!(s.is_running(), "the server keeps serving");
    assert!(
        s.request("warden/workspaces", json!({})).is_ok(),
        "and answers while the collector is down"
    );
    // The editors' status views see it: the endpoint (no token), the failures, the
    // spans kept.
    let status = s.request("warden/telemetry", json!({})).unwrap();
    assert_eq!(
        status["endpoint"],
        format!("http://127.0.0.1:{port}/v1/traces"),
        "{status}"
    );
    assert!(status["failures"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["lastError"].is_string(), "{status}");
    assert_eq!(status["exported"], 0, "{status}");
    assert!(!status.to_string().contains(&px.token), "{status}");
    // The collector comes back on the same address.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    forward(listener, px.url.trim_start_matches("http://").to_owned());
    let spans = px.wait(&project, Duration::from_secs(60), |spans| {
        named(spans, "warden.workspace.list").len() >= N
    });
    assert_eq!(named(&spans, "warden.workspace.list").len(), N, "each once");
    wait_log(&s, "works again");
    let status = s.request("warden/telemetry", json!({})).unwrap();
    assert!(status["exported"].as_u64().unwrap() >= N as u64, "{status}");
    assert_eq!(status["dropped"], 0, "{status}");
    assert!(status["lastError"].is_null(), "works again: {status}");
    assert!(s.shutdown().success());
}

#[test]
fn without_an_endpoint_export_is_off_and_the_status_says_so() {
    // No Phoenix needed: nothing is exported.
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    let mut s = Server::spawn_with(
        &dir.path().join("w.db"),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
        ],
    );
    s.initialize(&[&root], json!({"scan": {"onStartup": false}}));
    let status = s.request("warden/telemetry", json!({})).unwrap();
    assert_eq!(
        status,
        json!({"endpoint": null, "exported": 0, "dropped": 0, "failures": 0, "queued": 0, "lastError": null})
    );
    assert!(s.shutdown().success());
}

fn warden(db: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(warden_bin());
    cmd.arg("--db").arg(db).args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn a_ci_scan_joins_the_jobs_trace_and_the_backfill_is_idempotent() {
    let Some(px) = phoenix() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = repo(dir.path(), "proj");
    std::fs::write(root.join("config.py"), format!("TOKEN = \"{GHP}\"\n")).unwrap();
    let db = dir.path().join("w.db");
    // The database exists (the scan records its span there too).
    assert!(
        warden(&db, &root, &[], &["workspaces", "."])
            .status
            .success()
    );
    let project = project_name();
    let res = resource(&project);
    let auth = format!("authorization={}", px.auth().replace(' ', "%20"));
    // A fresh trace per run: a backend files a trace id under the project that saw it
    // first.
    let trace = uuid::Uuid::now_v7().simple().to_string();
    let parent = trace[16..].to_owned();
    let traceparent = format!("00-{trace}-{parent}-01");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", px.url.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", auth.as_str()),
        ("OTEL_RESOURCE_ATTRIBUTES", res.as_str()),
        ("TRACEPARENT", traceparent.as_str()),
    ];
    let out = warden(&db, &root, &env, &["scan", ".", "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(1), "the token is a finding");
    let spans = px.wait(&project, Duration::from_secs(20), |spans| {
        !named(spans, "warden scan").is_empty()
    });
    let scan = named(&spans, "warden scan")[0];
    assert_eq!(scan["context"]["traceId"], trace.as_str());
    assert_eq!(scan["parentId"], parent.as_str());
    assert_eq!(attr(scan, "warden.output.warnings"), 1);
    assert!(!serde_json::to_string(&spans).unwrap().contains(GHP));

    // Backfill everything stored, twice: the same span ids (the scan's included), so
    // the backend keeps one copy of each. The endpoint and its token come from the user
    // configuration file this time, as the command line's `[trace.otlp]`.
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("warden")).unwrap();
    std::fs::write(
        xdg.join("warden").join("config.toml"),
        format!(
            "[trace.otlp]\nendpoint = \"{}\"\nheaders = {{ authorization = \"{}\" }}\n",
            px.endpoint(),
            px.auth()
        ),
    )
    .unwrap();
    let env2 = [
        ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
        ("OTEL_RESOURCE_ATTRIBUTES", res.as_str()),
    ];
    let stored = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM spans WHERE finished_at IS NOT NULL",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as usize
    };
    assert!(stored >= 2, "the workspaces command and the scan");
    for _ in 0..2 {
        let out = warden(
            &db,
            &root,
            &env2,
            &["traces", "export", "--since", "1h", "--json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["exported"], stored, "{report}");
        assert_eq!(report["dropped"], 0);
    }
    let spans = px.wait(&project, Duration::from_secs(20), |spans| {
        spans.len() >= stored
    });
    let mut ids: Vec<&str> = spans
        .iter()
        .map(|s| s["context"]["spanId"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "no span twice");
    assert!(
        spans
            .iter()
            .any(|s| s["context"]["spanId"] == scan["context"]["spanId"]),
        "the scan keeps its id in the backfill"
    );

    // No endpoint: a clear error naming both ways to give one.
    let empty = dir.path().join("empty-xdg");
    let out = warden(
        &db,
        &root,
        &[("XDG_CONFIG_HOME", empty.to_str().unwrap())],
        &["traces", "export"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
    assert!(
        err.contains("[trace.otlp]") && err.contains("empty-xdg"),
        "{err}"
    );
}
