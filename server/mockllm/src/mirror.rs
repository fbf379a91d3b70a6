//! A loopback package-data server for tests, benchmarks and the demo: an OSV mirror and
//! a package metadata API, served from a folder that tests may change while it runs.
//!
//! - OSV, under `<base>/osv/`: a folder `<dir>/<Ecosystem>/<ID>.json` (the fixtures'
//!   layout) is served as the OSV export is: `<Ecosystem>/all.zip` (built on each
//!   request, unless the folder has one), `<Ecosystem>/modified_id.csv` (`<modified>,<id>`,
//!   newest first, likewise) and `<Ecosystem>/<ID>.json`. Archives and lists carry an `ETag` and a `Last-Modified`
//!   and answer `If-None-Match` with `304`; archives answer `Range: bytes=N-` (with a
//!   matching `If-Range`) with `206`.
//! - Metadata, under `<base>/deps/`: the deps.dev v3 shapes, from recorded answers in a
//!   second folder (default `<dir>/_deps`): `<SYSTEM>/<name>.json` (GetPackage) and
//!   `<SYSTEM>/<name>@<version>.json` (GetVersion), names with `/`, `%`, `@`, `:`
//!   percent-encoded; anything else is `404` with the API's error body.
//! - Every request must carry a random token, as the password of HTTP basic
//!   authentication (the URLs handed out hold it as `warden:<token>@`) or as a bearer
//!   token; others get `401`.
//! - Faults on demand ([`Fault`]): a status, a delay before answering, a body cut short
//!   (the full `Content-Length` announced, then the connection closed), for the next N
//!   requests whose path contains a string. Requests are recorded.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A failure to inject.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Fault {
    /// Applies to requests whose path contains this.
    pub path_contains: String,
    /// Answer with this status (and an error body) instead.
    pub status: Option<u16>,
    /// Wait this long before answering.
    pub delay_ms: u64,
    /// Send only this many bytes of the body (after announcing its full length).
    pub truncate_at: Option<usize>,
    /// Answer `200` with this body instead.
    pub body: Option<String>,
    /// How many requests it applies to; 0: every one.
    pub times: usize,
}

/// One request as received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub bytes: usize,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    requests: Vec<Request>,
}

/// A running server; it stops when the process ends.
#[derive(Clone)]
pub struct MockMirror {
    /// `http://127.0.0.1:PORT` (requests need the token).
    pub base: String,
    pub token: String,
    dir: Arc<PathBuf>,
    deps: Arc<PathBuf>,
    state: Arc<Mutex<State>>,
}

impl MockMirror {
    /// Serves `dir` (and `dir/_deps`) on a free loopback port, on its own thread and
    /// runtime.
    pub fn start(dir: &Path) -> MockMirror {
        MockMirror::start_on(dir, &dir.join("_deps"), 0)
    }

    /// Serves the OSV records of `dir` and the metadata answers of `deps`.
    pub fn start_on(dir: &Path, deps: &Path, port: u16) -> MockMirror {
        let token = random_token();
        let state = Arc::new(Mutex::new(State::default()));
        let dir = Arc::new(dir.to_path_buf());
        let deps = Arc::new(deps.to_path_buf());
        let (st, d, t, m) = (state.clone(), dir.clone(), token.clone(), deps.clone());
        let addr = crate::serve(port, move |sock| {
            handle(sock, st.clone(), d.clone(), m.clone(), t.clone())
        });
        MockMirror {
            base: format!("http://{addr}"),
            token,
            dir,
            deps,
            state,
        }
    }

    /// The base URL with the token as basic-authentication credentials.
    fn authorized(&self) -> String {
        self.base
            .replacen("http://", &format!("http://warden:{}@", self.token), 1)
    }

    /// The OSV mirror's base URL (`packages.osvMirror`), token included.
    pub fn osv_url(&self) -> String {
        format!("{}/osv", self.authorized())
    }

    /// The metadata API's base URL (`packages.metadataUrl`), token included.
    pub fn deps_url(&self) -> String {
        format!("{}/deps", self.authorized())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder of recorded metadata answers.
    pub fn deps_dir(&self) -> &Path {
        &self.deps
    }

    pub fn fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// 128 bits from the system's random source (the time and process id if it has none).
pub(crate) fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            ^ u128::from(std::process::id());
        bytes = seed.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An answer before faults apply.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16, ctype: &str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            headers: vec![("content-type", ctype.to_owned())],
            body,
        }
    }

    fn not_found(what: &str) -> Answer {
        let body = serde_json::json!({"code": 5, "message": format!("{what} not found")});
        Answer::new(404, "application/json", body.to_string().into_bytes())
    }
}

async fn handle(
    mut sock: TcpStream,
    state: Arc<Mutex<State>>,
    dir: Arc<PathBuf>,
    deps: Arc<PathBuf>,
    token: String,
) {
    let Some((path, headers, body)) = crate::read_request(&mut sock).await else {
        return;
    };
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let authorized = header("authorization").is_some_and(|v| {
        let v = v.trim();
        match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.split_once(':').map(|(_, p)| p == token))
                    .unwrap_or(false)
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim() == token,
            _ => false,
        }
    });
    let answer = match path.strip_prefix('/') {
        _ if !authorized => Answer::new(
            401,
            "application/json",
            br#"{"code":16,"message":"missing or wrong token"}"#.to_vec(),
        ),
        None => Answer::not_found("path"),
        Some("_fault") => match serde_json::from_str::<Fault>(&body) {
            Ok(f) => {
                lock().faults.push(f);
                Answer::new(200, "application/json", b"{}".to_vec())
            }
            Err(e) => Answer::new(400, "text/plain", e.to_string().into_bytes()),
        },
        Some("_requests") => {
            let log = serde_json::to_vec(&lock().requests).unwrap_or_default();
            Answer::new(200, "application/json", log)
        }
        Some(rest) => {
            let (d, m) = (dir.clone(), deps.clone());
            let rest = rest.to_owned();
            let (inm, range, if_range) =
                (header("if-none-match"), header("range"), header("if-range"));
            tokio::task::spawn_blocking(move || {
                route(
                    &d,
                    &m,
                    &rest,
                    inm.as_deref(),
                    range.as_deref(),
                    if_range.as_deref(),
                )
            })
            .await
            .unwrap_or_else(|_| Answer::new(500, "text/plain", b"panic".to_vec()))
        }
    };
    // The first matching fault applies (and is used up).
    let fault = {
        let mut s = lock();
        let at = s
            .faults
            .iter()
            .position(|f| !f.path_contains.is_empty() && path.contains(&f.path_contains));
        at.map(|i| {
            let f = s.faults[i].clone();
            if f.times == 1 {
                s.faults.remove(i);
            } else if f.times > 1 {
                s.faults[i].times -= 1;
            }
            f
        })
    };
    let mut answer = answer;
    let mut cut = None;
    if let Some(f) = &fault {
        if f.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
        }
        if let Some(body) = &f.body {
            answer = Answer::new(200, "application/octet-stream", body.clone().into_bytes());
        }
        if let Some(status) = f.status {
            answer = Answer::new(
                status,
                "application/json",
                format!("{{\"code\":13,\"message\":\"injected failure {status}\"}}").into_bytes(),
            );
        }
        cut = f.truncate_at;
    }
    lock().requests.push(Request {
        path: path.clone(),
        headers: headers.clone(),
        status: answer.status,
        bytes: answer.body.len(),
    });
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let body = match cut {
        Some(n) => &answer.body[..n.min(answer.body.len())],
        None => &answer.body[..],
    };
    let _ = sock.write_all(body).await;
    let _ = sock.flush().await;
    let _ = sock.shutdown().await;
}

/// Answers a path below the token (blocking: reads the folder).
fn route(
    dir: &Path,
    deps: &Path,
    rest: &str,
    if_none_match: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Answer {
    let rest = rest.split('?').next().unwrap_or(rest);
    let parts: Vec<String> = rest.split('/').map(decode).collect();
    if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
        return Answer::not_found("path");
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        // A folder may hold the real files (a copy of an OSV export): served as they are.
        ["osv", eco, "all.zip"] => {
            let Some(zip) = std::fs::read(dir.join(eco).join("all.zip"))
                .ok()
                .or_else(|| archive(&dir.join(eco)))
            else {
                return Answer::not_found("ecosystem");
            };
            validated(zip, "application/zip", if_none_match, range, if_range)
        }
        ["osv", eco, "modified_id.csv"] => {
            let Some(list) = std::fs::read(dir.join(eco).join("modified_id.csv"))
                .ok()
                .or_else(|| modified_list(&dir.join(eco)).map(String::into_bytes))
            else {
                return Answer::not_found("ecosystem");
            };
            validated(list, "text/csv", if_none_match, None, None)
        }
        ["osv", eco, file] if file.ends_with(".json") => {
            match std::fs::read(dir.join(eco).join(file)) {
                Ok(b) => Answer::new(200, "application/json", b),
                Err(_) => Answer::not_found("record"),
            }
        }
        ["deps", "v3", "systems", system, "packages", name] => {
            recorded(deps, system, &encode(name), "package")
        }
        [
            "deps",
            "v3",
            "systems",
            system,
            "packages",
            name,
            "versions",
            version,
        ] => recorded(
            deps,
            system,
            &format!("{}@{}", encode(name), encode(version)),
            "version",
        ),
        _ => Answer::not_found("path"),
    }
}

fn recorded(deps: &Path, system: &str, file: &str, what: &str) -> Answer {
    let path = deps
        .join(system.to_ascii_uppercase())
        .join(format!("{file}.json"));
    match std::fs::read(path) {
        Ok(b) => Answer::new(200, "application/json", b),
        Err(_) => Answer::not_found(what),
    }
}

/// A body with an `ETag`/`Last-Modified`, answering conditional and range requests.
fn validated(
    body: Vec<u8>,
    ctype: &str,
    if_none_match: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Answer {
    let etag = format!("\"{:016x}\"", fnv(&body));
    let modified = "Mon, 01 Jan 2024 00:00:00 GMT".to_owned();
    if if_none_match == Some(etag.as_str()) {
        let mut a = Answer::new(304, ctype, Vec::new());
        a.headers.push(("etag", etag));
        return a;
    }
    let from = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n < body.len() && if_range.is_none_or(|v| v == etag));
    let mut a = match from {
        Some(n) => {
            let mut a = Answer::new(206, ctype, body[n..].to_vec());
            a.headers.push((
                "content-range",
                format!("bytes {n}-{}/{}", body.len() - 1, body.len()),
            ));
            a
        }
        None => Answer::new(200, ctype, body),
    };
    a.headers.push(("etag", etag));
    a.headers.push(("last-modified", modified));
    a.headers.push(("accept-ranges", "bytes".to_owned()));
    a
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The `.json` files of a folder, sorted by name.
fn records(dir: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            Some((
                e.file_name().to_str()?.to_owned(),
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    out.sort();
    Some(out)
}

/// A zip of a folder's records.
fn archive(dir: &Path) -> Option<Vec<u8>> {
    use std::io::Write;
    let files = records(dir)?;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // A fixed time: the same folder gives the same bytes (and `ETag`).
    let opts =
        zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
    for (name, data) in &files {
        w.start_file(name.as_str(), opts).ok()?;
        w.write_all(data).ok()?;
    }
    Some(w.finish().ok()?.into_inner())
}

/// `<modified>,<id>` for every record of a folder, newest first.
fn modified_list(dir: &Path) -> Option<String> {
    let mut rows: Vec<(String, String)> = records(dir)?
        .into_iter()
        .filter_map(|(_, data)| {
            let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
            Some((
                v["modified"].as_str()?.to_owned(),
                v["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.cmp(a));
    Some(rows.iter().map(|(m, id)| format!("{m},{id}\n")).collect())
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A name as one file-name component: `/`, `%`, `@` and `:` percent-encoded.
pub fn encode(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '%' | '@' | ':' | '\\' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}
