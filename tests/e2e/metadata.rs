//! Package metadata end to end, against a loopback server answering in the deps.dev v3
//! shapes (`warden_mockllm::mirror`, recorded answers in `fixtures/metadata`): unknown
//! packages in manifests (errors) and in imports (warnings), deprecated packages with
//! the registry's reason, a pinned release younger than the cool-down, the LLM guard
//! asking before applying a reply that brings in an unknown package, and a failing or
//! slow API that yields no finding at all.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use warden_mockllm::mirror::{Fault, MockMirror};
use warden_mockllm::{MockLlm, Script};

use crate::support::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The recorded answers, plus `urllib3` whose 2.5.0 was published 26 hours ago.
fn api(base: &Path) -> MockMirror {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let deps = base.join("deps");
    copy_dir(&fixtures.join("metadata"), &deps);
    let day_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 26 * 3600;
    let when = time_rfc3339(day_ago);
    std::fs::write(
        deps.join("PYPI/urllib3.json"),
        json!({
            "packageKey": {"system": "PYPI", "name": "urllib3"},
            "versions": [
                {"versionKey": {"system": "PYPI", "name": "urllib3", "version": "2.4.0"},
                 "publishedAt": "2025-04-10T15:44:40Z", "isDefault": false},
                {"versionKey": {"system": "PYPI", "name": "urllib3", "version": "2.5.0"},
                 "publishedAt": when, "isDefault": true}
            ]
        })
        .to_string(),
    )
    .unwrap();
    MockMirror::start_on(&base.join("no-osv"), &deps, 0)
}

/// Seconds since the epoch as RFC 3339 (UTC), without a date library.
fn time_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn server(base: &Path, api: &MockMirror, extra: Value) -> Server {
    let db = base.join("db/w.db");
    // Current advisory data: no freshness notes in the way.
    import_advisories(
        &db,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv"),
    );
    let mut s = Server::spawn_with(&db, &[("WARDEN_OFFLINE", "0")]);
    let mut settings = json!({
        "scan": {"onStartup": false},
        "packages": {"metadataUrl": api.deps_url(), "update": false, "downloadTimeoutSeconds": 2}
    });
    if let (Some(a), Some(b)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    s.settings = settings;
    s
}

fn open(s: &mut Server, path: &Path, text: &str, lang: &str) -> String {
    std::fs::write(path, text).unwrap();
    let uri = file_uri(path);
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": lang, "version": 1, "text": text}}),
    );
    uri
}

/// (line, code, severity) of a publishDiagnostics, sorted.
fn summary(p: &Value) -> Vec<(u64, String, u64)> {
    let mut v: Vec<(u64, String, u64)> = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["range"]["start"]["line"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_owned(),
                d["severity"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn message(p: &Value, code: &str) -> String {
    p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {p:#}"))["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn has(p: &Value, code: &str) -> bool {
    p["diagnostics"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["code"] == code))
}

#[test]
fn unknown_deprecated_and_new_packages_in_manifests_and_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let api = api(&base);
    let root = repo(&base, "app");
    let mut s = server(&base, &api, json!({}));
    s.initialize(&[&root], Value::Null);

    let req = open(
        &mut s,
        &root.join("requirements.txt"),
        "requests==2.30.0\nhuggingface-cli-tools\nurllib3==2.5.0\n",
        "pip-requirements",
    );
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == req && has(p, "package-unknown")
    });
    assert_eq!(
        summary(&p),
        [
            (0, "PYSEC-2023-74".into(), 2),
            (1, "package-unknown".into(), 1),
            (2, "package-new-release".into(), 3),
        ],
        "{p:#}"
    );
    let unknown = message(&p, "package-unknown");
    assert!(
        unknown.contains("PyPI has no package named \"huggingface-cli-tools\""),
        "{unknown}"
    );
    let fresh = message(&p, "package-new-release");
    assert!(
        fresh.contains("urllib3 2.5.0 was published 26 hours ago"),
        "{fresh}"
    );

    let pkg = open(
        &mut s,
        &root.join("package.json"),
        "{\n  \"dependencies\": {\n    \"request\": \"^2.88.0\",\n    \"left-padd\": \"1.0.0\",\n    \"chalk\": \"5.3.0\"\n  }\n}\n",
        "json",
    );
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == pkg && has(p, "package-unknown") && has(p, "package-deprecated")
    });
    assert_eq!(
        summary(&p),
        [
            (2, "package-deprecated".into(), 2),
            (3, "package-unknown".into(), 1),
        ],
        "{p:#}"
    );
    assert_eq!(
        message(&p, "package-deprecated"),
        "request is deprecated: request has been deprecated, see https://github.com/request/request/issues/3142"
    );

    // An import of a package PyPI does not have: a warning on the module name.
    let py = open(
        &mut s,
        &root.join("train.py"),
        "import huggingface_cli_tools\nimport requests\nimport PIL\n",
        "python",
    );
    let p = s.wait_for("textDocument/publishDiagnostics", |p| {
        p["uri"] == py && has(p, "package-unknown")
    });
    assert_eq!(summary(&p), [(0, "package-unknown".into(), 2)], "{p:#}");
    let d = &p["diagnostics"][0];
    assert_eq!(d["range"]["start"]["character"], 7);
    assert_eq!(d["range"]["end"]["character"], 28);

    // Asked once each, in batches, and recorded as spans.
    let asked: Vec<String> = api
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p.contains("/v3/systems/"))
        .collect();
    let mut unique = asked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), asked.len(), "{asked:#?}");
    assert!(
        asked
            .iter()
            .any(|p| p.ends_with("/NPM/packages/request/versions/2.88.2"))
    );
    let spans = s
        .request("warden/traces", json!({"kind": "index", "limit": 50}))
        .unwrap();
    assert!(spans.to_string().contains("packages.metadata"), "{spans:#}");
    assert!(!spans.to_string().contains(&api.token), "no token in spans");
    assert!(s.shutdown().success());
}

#[test]
fn a_failing_or_slow_api_is_no_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let api = api(&base);
    api.fault(Fault {
        path_contains: "huggingface".into(),
        status: Some(500),
        ..Fault::default()
    });
    api.fault(Fault {
        path_contains: "left-padd".into(),
        delay_ms: 5000,
        ..Fault::default()
    });
    api.fault(Fault {
        path_contains: "urllib3".into(),
        body: Some("<html>rate limited</html>".into()),
        ..Fault::default()
    });
    let root = repo(&base, "app");
    let mut s = server(&base, &api, json!({}));
    s.initialize(&[&root], Value::Null);
    let req = open(
        &mut s,
        &root.join("requirements.txt"),
        "huggingface-cli-tools\nurllib3==2.5.0\n",
        "pip-requirements",
    );
    let pkg = open(
        &mut s,
        &root.join("package.json"),
        "{\"dependencies\": {\"left-padd\": \"1.0.0\"}}\n",
        "json",
    );
    // The three lookups fail (a 500, a timeout, garbage), in one or more batches, and
    // nothing is reported for the packages asked.
    let mut failed = 0;
    while failed < 3 {
        let started = s.wait_for("warden/traceStarted", |p| p["name"] == "packages.metadata");
        let done = s.wait_for("warden/traceFinished", |p| p["id"] == started["id"]);
        assert_eq!(done["outcome"], "error", "{done:#}");
        assert_eq!(done["output"]["stored"], 0, "{done:#}");
        failed += done["output"]["failed"].as_u64().unwrap();
    }
    let all = s.take(
        "textDocument/publishDiagnostics",
        Duration::from_millis(500),
    );
    for p in all.iter().filter(|p| p["uri"] == req || p["uri"] == pkg) {
        assert!(summary(p).is_empty(), "{p:#}");
    }
    assert!(s.shutdown().success());
}

#[test]
fn the_llm_guard_asks_before_applying_a_reply_with_an_unknown_package() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    let api = api(&base);
    let mock = MockLlm::start();
    let root = repo(&base, "app");
    let mut s = server(
        &base,
        &api,
        json!({"llm": {
            "provider": "local", "model": "m",
            "providers": {"local": {"api": "openai", "baseUrl": mock.url}},
        }}),
    );
    s.initialize(&[&root], Value::Null);
    let text = "def add(a, b):\n    return a + b\n";
    let uri = open(&mut s, &root.join("add.py"), text, "python");
    s.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    mock.push(Script::text(
        "Use this.\n```python\nimport fastjsonschema_validator_pro\ndef add(a, b):\n    return a + b\n```\nThen `pip install fastjsonschema-validator-pro`.\n",
    ));
    let args = json!({"uri": uri, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}, "instruction": "validate"});
    let r = s.command("warden.llm.rewrite", args).unwrap();
    assert_eq!(r["applied"], false, "{r:#}");
    let asked: Vec<Value> = s.server_requests.drain(..).collect();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0]["method"], "window/showMessageRequest");
    let m = asked[0]["params"]["message"].as_str().unwrap();
    assert!(
        m.contains("registry does not have: fastjsonschema_validator_pro"),
        "{m}"
    );
    assert!(m.contains("Apply the edit anyway?"), "{m}");
    assert!(s.shutdown().success());
}
