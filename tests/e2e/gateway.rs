//! The LLM gateway of `warden lsp`, end to end: the real binary started by the test, a
//! call through the address `warden/gateway` gives (as a terminal's tool would make it)
//! against the scripted loopback provider. The secret never reaches the provider and
//! comes back restored although the provider's stream splits its placeholder across
//! events; the user's key goes upstream instead of the gateway's token; the editor is
//! told (`warden/gatewayCall`) and the call is an `llm` span and a usage row of the
//! folder's workspace. (The official SDK clients drive the gateway in
//! tests/gateway/test_sdks.py.)

use serde_json::{Value, json};
use warden_mockllm::{MockLlm, Script};

use crate::support::*;

const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";

/// POSTs `body` to `url`; returns the status and the body text.
fn post(url: &str, token: Option<&str>, body: Value) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .post(url)
            .header("user-agent", "warden-e2e/1.0")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the gateway answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

#[test]
fn a_terminal_tool_goes_through_the_gateway_of_its_workspace() {
    let base = tempfile::tempdir().unwrap();
    let mock = MockLlm::start();
    mock.set_default(Script {
        text: "Your key __WARDEN_SECRET_1__ is safe".into(),
        chunk: 5,
        ..Script::default()
    });
    let root = repo(base.path(), "proj");
    let mut s = Server::spawn_with(
        &base.path().join("db/w.db"),
        &[("WARDEN_TEST_LLM_KEY", "sk-upstream-do-not-leak")],
    );
    s.settings = json!({
            "scan": {"onStartup": false},
            "llm": {
                "provider": "local",
                "model": "m",
                "providers": {"local": {"api": "openai", "baseUrl": mock.url, "apiKeyEnv": "WARDEN_TEST_LLM_KEY"}},
                "timeoutSeconds": 5,
            }
    });
    s.initialize(&[&root], s.settings.clone());
    let g = s
        .request("warden/gateway", json!({}))
        .expect("the gateway runs");
    assert_eq!(g["workspace"], "proj");
    let openai = g["openaiBaseUrl"].as_str().unwrap().to_owned();
    let token = g["token"].as_str().unwrap().to_owned();
    assert!(
        openai.starts_with("http://127.0.0.1:") && openai.ends_with("/w/proj/v1"),
        "{openai}"
    );
    assert_eq!(g["anthropicBaseUrl"], openai.trim_end_matches("/v1"));
    assert_eq!(g["env"]["OPENAI_API_KEY"], token.as_str());
    assert!(token.len() > 40, "a random token: {token}");
    let e = s
        .request("warden/gateway", json!({"workspace": "nope"}))
        .unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("nope"), "{e}");

    let url = format!("{openai}/chat/completions");
    let body = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": format!("my key is {AWS}")}]});
    let (status, text) = post(&url, None, body.clone());
    assert_eq!(status, 401, "{text}");
    assert!(mock.requests().is_empty(), "nothing left without the token");

    let (status, text) = post(&url, Some(&token), body);
    assert_eq!(status, 200, "{text}");
    let reply: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(reply, format!("Your key {AWS} is safe"));
    let sent = &mock.requests()[0];
    assert!(
        !sent.body.contains(AWS) && sent.body.contains("__WARDEN_SECRET_1__"),
        "{}",
        sent.body
    );
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-upstream-do-not-leak")
    );

    let call = s.wait_for("warden/gatewayCall", |p| p["outcome"] == "ok");
    assert_eq!(call["workspace"], "proj");
    assert_eq!(call["client"], "warden-e2e/1.0");
    assert_eq!(call["api"], "openai.chat");
    assert_eq!(call["secretsRedacted"], 1);
    let spans = s
        .request("warden/traces", json!({"workspace": "proj", "kind": "llm"}))
        .unwrap();
    let span = spans["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["input"]["gateway"] == true)
        .expect("the gateway call's span");
    assert_eq!(span["input"]["client"], "warden-e2e/1.0");
    assert_eq!(span["outcome"], "ok");
    assert!(span["tokens"]["output"].as_u64().unwrap() > 0, "{span}");
    assert!(!span.to_string().contains(AWS));
    let usage = s
        .request(
            "warden/usage",
            json!({"workspace": "proj", "groupBy": "action"}),
        )
        .unwrap();
    let row = usage["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["key"] == "gateway"))
        .unwrap_or_else(|| panic!("a gateway usage row: {usage}"));
    assert_eq!(row["requests"], 1);
    s.shutdown();
}
