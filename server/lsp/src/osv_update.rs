//! Keeping the advisory database current from an OSV mirror (`warden db update` and the
//! server's background update): the first update of an ecosystem downloads the mirror's
//! `<Ecosystem>/all.zip`; later ones read `<Ecosystem>/modified_id.csv` (`<modified>,<id>`
//! lines) and fetch only the records modified since the last one applied, as
//! `<Ecosystem>/<ID>.json`.
//!
//! - Conditional requests: the archive and the list are asked for with the validators
//!   (`ETag`, `Last-Modified`) of the last copy; `304 Not Modified` costs nothing.
//! - Bounded: an archive over the size limit is refused before or while it streams; a
//!   list over [`MAX_LIST_BYTES`] and a record over the importer's limit likewise.
//! - Resumable: an archive is written to `<cache>/<Ecosystem>.all.zip.part` with its
//!   validator beside it; an interrupted download continues with `Range`/`If-Range`.
//! - Atomic: an archive is imported as one transaction once it is whole; the records
//!   of an incremental update are fetched first and imported together. A failure at
//!   any step leaves the previous data as it was.
//!
//! Pure use case: no LSP types. The server and the CLI pass a progress callback and a
//! cancellation token; each ecosystem's outcome is reported, never raised.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use warden_analysis::packages::Ecosystem;
use warden_store::Store;
use warden_store::advisories::{self, Source};

/// The largest `modified_id.csv` read: 256 MiB (npm's, the largest, is tens of MB).
pub const MAX_LIST_BYTES: u64 = 256 << 20;

/// Above this many changed records an incremental update downloads the archive instead.
pub const MAX_INCREMENTAL: usize = 5_000;

/// Records fetched at once during an incremental update.
const FETCH_CONCURRENCY: usize = 8;

/// What an update is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The mirror's base URL, without a trailing slash.
    pub mirror: String,
    pub ecosystems: Vec<Ecosystem>,
    /// The largest archive downloaded.
    pub max_download_bytes: u64,
    /// How long a request may wait for its next bytes.
    pub timeout: Duration,
    /// Where partial archives are kept between attempts.
    pub cache_dir: PathBuf,
    /// Download the whole archive even when an incremental update would do.
    pub full: bool,
}

/// One step of progress, for a progress bar or `$/progress`.
#[derive(Debug, Clone)]
pub struct Progress {
    pub message: String,
    /// Done out of total for this ecosystem's current step, when known.
    pub done: u64,
    pub total: Option<u64>,
}

/// How one ecosystem's update went.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EcosystemReport {
    pub ecosystem: String,
    /// `full`, `incremental`, `unchanged` or `failed`.
    pub mode: String,
    pub bytes: u64,
    /// Records fetched one by one (incremental), and those the mirror no longer has.
    pub fetched: u64,
    pub missing: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub withdrawn: u64,
    pub invalid: u64,
    /// Records of the ecosystem stored afterwards.
    pub records: u64,
    pub error: Option<String>,
}

/// The outcome of an update, per ecosystem, in the order asked.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub mirror: String,
    pub ecosystems: Vec<EcosystemReport>,
}

impl Report {
    pub fn failed(&self) -> impl Iterator<Item = &EcosystemReport> {
        self.ecosystems.iter().filter(|e| e.error.is_some())
    }

    /// One line per ecosystem, for a terminal or a message.
    pub fn summary(&self) -> String {
        self.ecosystems
            .iter()
            .map(|e| match &e.error {
                Some(err) => format!("{}: failed ({err})", e.ecosystem),
                None => format!(
                    "{}: {} ({} added, {} updated, {} withdrawn; {} records)",
                    e.ecosystem, e.mode, e.added, e.updated, e.withdrawn, e.records
                ),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// An error phrased for the user.
type Failure = String;

/// [`update`] inside one `osv.update` span (its output: the report, with counts).
pub async fn update_traced(
    store: &Store,
    tracer: &warden_trace::Tracer,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &CancellationToken,
) -> Report {
    let asked: Vec<&str> = opts.ecosystems.iter().map(|e| e.as_str()).collect();
    let mut span = tracer
        .start(warden_trace::SpanKind::Index, "osv.update")
        .input(serde_json::json!({
            "mirror": redact_url(&opts.mirror),
            "ecosystems": asked,
            "full": opts.full,
        }))
        .begin();
    let report = update(store, opts, progress, cancel).await;
    span.set_output(serde_json::to_value(&report).unwrap_or_default());
    let failures: Vec<String> = report
        .failed()
        .map(|e| format!("{}: {}", e.ecosystem, e.error.as_deref().unwrap_or("")))
        .collect();
    if failures.is_empty() {
        span.ok();
    } else {
        span.fail(failures.join("; "));
    }
    report
}

/// The ecosystems of the manifests under `root` (git-ignored files skipped; at most
/// `limit` entries looked at).
pub fn manifest_ecosystems(root: &Path, limit: usize) -> Vec<Ecosystem> {
    let mut found = std::collections::BTreeSet::new();
    for entry in ignore::WalkBuilder::new(root)
        .hidden(true)
        .build()
        .take(limit)
        .flatten()
    {
        if let Some(kind) = warden_analysis::packages::manifest::kind_of(entry.path()) {
            found.insert(crate::packages::ecosystem_of(kind));
            if found.len() == Ecosystem::ALL.len() {
                break;
            }
        }
    }
    found.into_iter().collect()
}

/// Updates every asked ecosystem from the mirror, one after another.
pub async fn update(
    store: &Store,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &CancellationToken,
) -> Report {
    let shown = redact_url(&opts.mirror);
    let mut report = Report {
        mirror: shown.clone(),
        ecosystems: Vec::new(),
    };
    let client = match reqwest::Client::builder()
        .connect_timeout(opts.timeout)
        .read_timeout(opts.timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            for eco in &opts.ecosystems {
                report
                    .ecosystems
                    .push(failed(*eco, format!("no HTTP client: {e}")));
            }
            return report;
        }
    };
    for &eco in &opts.ecosystems {
        let mut one = EcosystemReport {
            ecosystem: eco.as_str().to_owned(),
            ..EcosystemReport::default()
        };
        let outcome = tokio::select! {
            r = update_one(store, &client, opts, eco, &mut one, progress) => r,
            () = cancel.cancelled() => Err("cancelled".to_owned()),
        };
        if let Err(e) = outcome {
            one.mode = "failed".into();
            // Credentials in the mirror's URL never reach a message, a trace or a log.
            one.error = Some(e.replace(&opts.mirror, &shown));
        }
        report.ecosystems.push(one);
    }
    report
}

fn failed(eco: Ecosystem, error: String) -> EcosystemReport {
    EcosystemReport {
        ecosystem: eco.as_str().to_owned(),
        mode: "failed".into(),
        error: Some(error),
        ..EcosystemReport::default()
    }
}

fn url(opts: &Options, eco: Ecosystem, file: &str) -> String {
    // Ecosystem names and OSV ids are URL-safe except for characters escaped here.
    let escape = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!("{}/{}/{}", opts.mirror, escape(eco.as_str()), escape(file))
}

async fn update_one(
    store: &Store,
    client: &reqwest::Client,
    opts: &Options,
    eco: Ecosystem,
    report: &mut EcosystemReport,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(), Failure> {
    let name = eco.as_str();
    let sources = store
        .call(|c| advisories::sources(c))
        .await
        .map_err(|e| e.to_string())?;
    // State from another mirror says nothing about this one: start over.
    let mirror = redact_url(&opts.mirror);
    let previous = sources
        .into_iter()
        .find(|s| s.ecosystem == name && s.base_url == mirror);
    let mut source = match previous {
        Some(s) if !opts.full && s.cursor.is_some() => {
            match incremental(store, client, opts, eco, &s, report, progress).await? {
                Some(s) => s,
                // Too many changes: the archive is cheaper (asked for without
                // validators: the list says it changed).
                None => full(store, client, opts, eco, None, report, progress).await?,
            }
        }
        previous => {
            full(
                store,
                client,
                opts,
                eco,
                previous.as_ref(),
                report,
                progress,
            )
            .await?
        }
    };
    let (newest, records) = store
        .call(move |c| advisories::newest(c, name))
        .await
        .map_err(|e| e.to_string())?;
    // After a full archive the cursor is its newest record; an incremental update set
    // its own from the list.
    if report.mode == "full" {
        source.cursor = newest.or(source.cursor);
    }
    source.records = records;
    source.checked_at = warden_trace::now_rfc3339();
    report.records = records;
    store
        .call(move |c| advisories::put_source(c, &source))
        .await
        .map_err(|e| e.to_string())
}

/// The validators of a response.
fn validators(resp: &reqwest::Response) -> (Option<String>, Option<String>) {
    let get = |h: reqwest::header::HeaderName| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (
        get(reqwest::header::ETAG),
        get(reqwest::header::LAST_MODIFIED),
    )
}

fn conditional(
    req: reqwest::RequestBuilder,
    etag: Option<&str>,
    modified: Option<&str>,
) -> reqwest::RequestBuilder {
    let req = match etag {
        Some(e) => req.header(reqwest::header::IF_NONE_MATCH, e),
        None => req,
    };
    match modified {
        Some(m) => req.header(reqwest::header::IF_MODIFIED_SINCE, m),
        None => req,
    }
}

fn http_error(url: &str, e: &reqwest::Error) -> Failure {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        innermost(e)
    };
    format!("{url}: {what}")
}

/// The innermost cause of an error: what happened (a body cut short, a reset), without
/// the URL the outer layers repeat.
pub fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Downloads and imports the whole archive. `None` from the server's `304` keeps the
/// stored data.
async fn full(
    store: &Store,
    client: &reqwest::Client,
    opts: &Options,
    eco: Ecosystem,
    previous: Option<&Source>,
    report: &mut EcosystemReport,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Source, Failure> {
    report.mode = "full".into();
    let url = url(opts, eco, "all.zip");
    let part = opts
        .cache_dir
        .join(format!("{}.all.zip.part", eco.as_str()));
    // `--full` repairs: the archive is asked for without validators.
    let conditional_on = previous.filter(|_| !opts.full);
    let Some((zip, etag, modified)) = download(
        client,
        opts,
        eco,
        &url,
        &part,
        conditional_on,
        report,
        progress,
    )
    .await?
    else {
        report.mode = "unchanged".into();
        return previous
            .cloned()
            .ok_or_else(|| format!("{url}: 304 Not Modified to a request without validators"));
    };
    progress(Progress {
        message: format!("{}: importing", eco.as_str()),
        done: 0,
        total: None,
    });
    // A damaged archive (a mirror serving garbage) is refused before anything is stored.
    let probe = zip.clone();
    let readable = tokio::task::spawn_blocking(move || {
        std::fs::File::open(&probe)
            .map_err(|e| e.to_string())
            .and_then(|f| zip::ZipArchive::new(f).map(drop).map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| e.to_string())?;
    if let Err(e) = readable {
        let _ = tokio::fs::remove_file(&zip).await;
        return Err(format!("{url}: not a readable zip archive ({e})"));
    }
    let imported = crate::osv_import::import(store, std::slice::from_ref(&zip)).await;
    let _ = tokio::fs::remove_file(&zip).await;
    tally(report, eco, &imported?);
    Ok(Source {
        ecosystem: eco.as_str().to_owned(),
        base_url: redact_url(&opts.mirror),
        zip_etag: etag,
        zip_modified: modified,
        full_at: Some(warden_trace::now_rfc3339()),
        ..Source::default()
    })
}

fn tally(report: &mut EcosystemReport, eco: Ecosystem, imported: &crate::osv_import::ImportReport) {
    if let Some(c) = imported.by_ecosystem.get(eco.as_str()) {
        report.added += c.added;
        report.updated += c.updated;
        report.unchanged += c.unchanged;
    }
    report.withdrawn += imported.withdrawn;
    report.invalid += imported.invalid + imported.refused;
}

/// Streams the archive into `part` (resuming a previous partial download when the
/// server still has the same file), then renames it. `None` when the server says the
/// stored copy is current. Returns the whole file with its validators.
#[allow(clippy::too_many_arguments)]
async fn download(
    client: &reqwest::Client,
    opts: &Options,
    eco: Ecosystem,
    url: &str,
    part: &Path,
    previous: Option<&Source>,
    report: &mut EcosystemReport,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Option<(PathBuf, Option<String>, Option<String>)>, Failure> {
    tokio::fs::create_dir_all(&opts.cache_dir)
        .await
        .map_err(|e| format!("{}: {e}", opts.cache_dir.display()))?;
    // One download of an archive at a time across every warden process on this
    // database (editor windows, the CLI): they share the partial file.
    let _lock = lock_exclusive(&part.with_extension("part.lock")).map_err(|e| {
        format!(
            "{url}: another warden process is downloading this archive ({e}); try again shortly"
        )
    })?;
    let meta_path = part.with_extension("part.validator");
    let have = tokio::fs::metadata(part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let validator = tokio::fs::read_to_string(&meta_path).await.ok();
    let mut req = client.get(url);
    let resuming = have > 0 && validator.is_some();
    if let (true, Some(v)) = (resuming, validator.as_deref()) {
        req = req
            .header(reqwest::header::RANGE, format!("bytes={have}-"))
            .header(reqwest::header::IF_RANGE, v);
    } else if let Some(p) = previous.filter(|p| p.full_at.is_some()) {
        req = conditional(req, p.zip_etag.as_deref(), p.zip_modified.as_deref());
    }
    let resp = req.send().await.map_err(|e| http_error(url, &e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
        // The partial file is whole or not this archive's: start again next time.
        let _ = tokio::fs::remove_file(part).await;
        let _ = tokio::fs::remove_file(&meta_path).await;
        return Err(format!(
            "{url}: HTTP {status} resuming; the next attempt starts over"
        ));
    }
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    let (etag, modified) = validators(&resp);
    let append = status == reqwest::StatusCode::PARTIAL_CONTENT && resuming;
    let start = if append { have } else { 0 };
    let total = resp.content_length().map(|n| n + start);
    if let Some(t) = total.filter(|&t| t > opts.max_download_bytes) {
        return Err(format!(
            "{url}: {t} bytes, above the {}-byte limit (packages.maxDownloadMb)",
            opts.max_download_bytes
        ));
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .await
        .map_err(|e| format!("{}: {e}", part.display()))?;
    // Remember what is being downloaded, so an interruption can resume it.
    match etag.as_deref().or(modified.as_deref()) {
        Some(v) => {
            let _ = tokio::fs::write(&meta_path, v).await;
        }
        None => {
            let _ = tokio::fs::remove_file(&meta_path).await;
        }
    }
    let mut written = start;
    let mut stream = resp.bytes_stream();
    let mut last_report = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| http_error(url, &e))?;
        written += chunk.len() as u64;
        report.bytes += chunk.len() as u64;
        if written > opts.max_download_bytes {
            drop(file);
            let _ = tokio::fs::remove_file(part).await;
            return Err(format!(
                "{url}: more than the {}-byte limit (packages.maxDownloadMb)",
                opts.max_download_bytes
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("{}: {e}", part.display()))?;
        if written - last_report >= 1 << 20 {
            last_report = written;
            progress(Progress {
                message: format!("{}: downloading all.zip", eco.as_str()),
                done: written,
                total,
            });
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("{}: {e}", part.display()))?;
    drop(file);
    if let Some(t) = total.filter(|&t| t != written) {
        return Err(format!("{url}: cut short at {written} of {t} bytes"));
    }
    let whole = part.with_extension("");
    tokio::fs::rename(part, &whole)
        .await
        .map_err(|e| format!("{}: {e}", whole.display()))?;
    let _ = tokio::fs::remove_file(&meta_path).await;
    Ok(Some((whole, etag, modified)))
}

/// An exclusive advisory lock on `path` (created if needed), held while the file stays
/// open; `Err` when another process holds it.
fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    flock(&file)?;
    Ok(file)
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn flock(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` takes a file descriptor that `file` keeps open for the call and
    // touches no memory of ours.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn flock(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Applies the records changed since the source's cursor. `None` when there are more
/// than [`MAX_INCREMENTAL`] (download the archive instead).
async fn incremental(
    store: &Store,
    client: &reqwest::Client,
    opts: &Options,
    eco: Ecosystem,
    previous: &Source,
    report: &mut EcosystemReport,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Option<Source>, Failure> {
    report.mode = "incremental".into();
    let list_url = url(opts, eco, "modified_id.csv");
    let req = conditional(
        client.get(&list_url),
        previous.csv_etag.as_deref(),
        previous.csv_modified.as_deref(),
    );
    let resp = req.send().await.map_err(|e| http_error(&list_url, &e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        report.mode = "unchanged".into();
        return Ok(Some(previous.clone()));
    }
    if !status.is_success() {
        return Err(format!("{list_url}: HTTP {status}"));
    }
    let (etag, modified) = validators(&resp);
    let body = bounded_body(resp, MAX_LIST_BYTES, &list_url).await?;
    let text = String::from_utf8_lossy(&body);
    if !text.trim().is_empty() && !text.lines().any(|l| changed_since(l, "").len() == 1) {
        return Err(format!(
            "{list_url}: not a modified_id.csv list (no `<time>,<id>` line)"
        ));
    }
    let cursor = previous.cursor.clone().unwrap_or_default();
    let listed = listed_since(&text, &cursor);
    if listed.len() > MAX_INCREMENTAL {
        return Ok(None);
    }
    // The next cursor comes from this list (not from the store, whose records may come
    // from other lists or archives): its newest time, or the oldest time of an id the
    // mirror did not have yet, so that it is asked for again.
    let when: std::collections::HashMap<String, time::OffsetDateTime> =
        listed.iter().map(|(id, _, t)| (id.clone(), *t)).collect();
    let newest_listed = listed.iter().map(|(_, _, t)| *t).max();
    // Records modified exactly at the cursor are fetched only when the stored copy is
    // not that version (records modified in the same instant are never missed, and the
    // one applied last is not fetched again).
    let at_cursor: Vec<String> = listed
        .iter()
        .filter(|(_, at, _)| *at)
        .map(|(id, _, _)| id.clone())
        .collect();
    let stored = if at_cursor.is_empty() {
        Default::default()
    } else {
        store
            .call(move |c| advisories::modified_of(c, &at_cursor))
            .await
            .map_err(|e| e.to_string())?
    };
    let changed: Vec<String> = listed
        .into_iter()
        .filter(|(id, at, _)| !*at || !stored.get(id).is_some_and(|m| same_instant(m, &cursor)))
        .map(|(id, _, _)| id)
        .collect();
    let total = changed.len() as u64;
    let mut done = 0u64;
    let mut records = Vec::with_capacity(changed.len());
    let mut fetches = futures::stream::iter(changed.into_iter().map(|id| {
        let u = url(opts, eco, &format!("{id}.json"));
        async move {
            let resp = client
                .get(&u)
                .send()
                .await
                .map_err(|e| http_error(&u, &e))?;
            match resp.status() {
                s if s.is_success() => {
                    let bytes = bounded_body(resp, crate::osv_import::MAX_RECORD_BYTES, &u).await?;
                    Ok::<_, Failure>((id, Some((u, bytes))))
                }
                reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::GONE => Ok((id, None)),
                s => Err(format!("{u}: HTTP {s}")),
            }
        }
    }))
    .buffer_unordered(FETCH_CONCURRENCY);
    let mut oldest_missing: Option<time::OffsetDateTime> = None;
    let mut bytes = 0u64;
    while let Some(fetched) = fetches.next().await {
        match fetched? {
            (_, Some(r)) => {
                // All of an update is held until it is imported: bounded like an archive.
                bytes += r.1.len() as u64;
                if bytes > opts.max_download_bytes {
                    return Err(format!(
                        "{list_url}: the changed records exceed the {}-byte limit (packages.maxDownloadMb)",
                        opts.max_download_bytes
                    ));
                }
                report.bytes += r.1.len() as u64;
                records.push(r);
            }
            (id, None) => {
                report.missing += 1;
                if let Some(&t) = when.get(&id) {
                    oldest_missing = Some(oldest_missing.map_or(t, |o| o.min(t)));
                }
            }
        }
        done += 1;
        progress(Progress {
            message: format!("{}: fetching changed records", eco.as_str()),
            done,
            total: Some(total),
        });
    }
    report.fetched = records.len() as u64;
    if !records.is_empty() {
        let imported = crate::osv_import::import_records(store, records).await?;
        tally(report, eco, &imported);
    }
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let cursor = oldest_missing
        .or(newest_listed)
        .map(fmt)
        .or_else(|| previous.cursor.clone());
    // With a record still missing the list is read again next time, not answered `304`.
    let (etag, modified) = if oldest_missing.is_some() {
        (None, None)
    } else {
        (etag, modified)
    };
    Ok(Some(Source {
        csv_etag: etag,
        csv_modified: modified,
        cursor,
        ..previous.clone()
    }))
}

/// A response body of at most `cap` bytes.
pub async fn bounded_body(
    resp: reqwest::Response,
    cap: u64,
    url: &str,
) -> Result<Vec<u8>, Failure> {
    if let Some(n) = resp.content_length().filter(|&n| n > cap) {
        return Err(format!("{url}: {n} bytes, above the {cap}-byte limit"));
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| http_error(url, &e))?;
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(format!("{url}: more than the {cap}-byte limit"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The ids in a `modified_id.csv` text modified at or after `cursor` (RFC 3339; empty:
/// all), each with whether it was modified exactly at the cursor (then it may be the
/// record applied last). Lines that do not parse are skipped.
pub fn changed_since(csv: &str, cursor: &str) -> Vec<(String, bool)> {
    listed_since(csv, cursor)
        .into_iter()
        .map(|(id, at, _)| (id, at))
        .collect()
}

/// [`changed_since`] with each id's listed time.
fn listed_since(csv: &str, cursor: &str) -> Vec<(String, bool, time::OffsetDateTime)> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let since = OffsetDateTime::parse(cursor, &Rfc3339).ok();
    let mut ids: Vec<(String, bool, OffsetDateTime)> = csv
        .lines()
        .filter_map(|line| {
            let (when, id) = line.trim().split_once(',')?;
            let when = OffsetDateTime::parse(when.trim(), &Rfc3339).ok()?;
            let id = id.trim();
            // An id is a file name in the mirror: no path separators, nothing hidden.
            let safe = !id.is_empty()
                && !id.starts_with('.')
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
            (safe && since.is_none_or(|s| when >= s))
                .then(|| (id.to_owned(), since == Some(when), when))
        })
        .collect();
    ids.sort();
    ids.dedup_by(|a, b| a.0 == b.0);
    ids
}

/// Whether RFC 3339 times `a` and `b` are the same instant.
fn same_instant(a: &str, b: &str) -> bool {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    match (
        OffsetDateTime::parse(a, &Rfc3339),
        OffsetDateTime::parse(b, &Rfc3339),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// (Moved to the span crate, which the exporter shares; kept here for callers.)
pub use warden_trace::redact_url;

/// Where partial downloads are kept: next to the database, or the user's cache.
pub fn cache_dir(store: &Store) -> PathBuf {
    if store.is_persistent() {
        Path::new(store.location())
            .parent()
            .map(|d| d.join("osv-downloads"))
            .unwrap_or_default()
    } else {
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("warden")
            .join("osv-downloads")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_query_and_fragment() {
        assert_eq!(
            redact_url("https://user:s3cret@mirror.example/osv?token=x#f"),
            "https://mirror.example/osv"
        );
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(redact_url("not a url"), "<invalid URL>");
        // A password with `/`, `?` or `#` in it (unescaped) never shows.
        for bad in [
            "https://ci:ab/cd+ef@mirror/osv",
            "https://ci:a#b@mirror/osv",
        ] {
            let shown = redact_url(bad);
            assert!(
                !shown.contains("cd+ef") && !shown.contains("a#b") && !shown.contains("ci:"),
                "{shown}"
            );
        }
    }

    #[test]
    fn the_changed_list_keeps_ids_at_or_after_the_cursor_and_refuses_paths() {
        let csv = "2024-05-02T00:00:00Z,GHSA-new\n\
                   2024-05-01T00:00:00.123Z,PYSEC-same\n\
                   2024-04-30T23:59:59Z,OLD-1\n\
                   garbage\n\
                   2024-05-03T00:00:00Z,../etc/passwd\n\
                   2024-05-03T00:00:00Z,.hidden\n";
        assert_eq!(
            changed_since(csv, "2024-05-01T00:00:00.123Z"),
            [
                ("GHSA-new".to_owned(), false),
                ("PYSEC-same".to_owned(), true)
            ]
        );
        assert_eq!(changed_since(csv, "").len(), 3);
    }
}
