//! Package metadata from a registry API in the deps.dev v3 shapes (one API for PyPI,
//! npm, crates.io and Go): `GET <base>/v3/systems/<SYSTEM>/packages/<name>` lists the
//! versions with `publishedAt`, `isDefault` and `isDeprecated`; `404` means the
//! registry has no such package; `.../versions/<version>` gives a deprecated version's
//! `deprecatedReason`.
//!
//! - [`Client`]: fetches one package (bounded body, timeouts), never guessing: a
//!   timeout, a 5xx or garbage is an error, and an error is no finding.
//! - [`Metadata`]: the lookup the checks use, from the store (answers younger than the
//!   TTL; older ones are used and asked again), remembering answers in memory; a miss
//!   is sent to the fetcher (the server's background task) and is no finding until the
//!   answer arrives.
//!
//! No LSP types: the server, the LLM guard and tests share it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warden_analysis::packages::Ecosystem;
// Package names as path segments (`@scope/x` becomes `%40scope%2Fx`).
use warden_analysis::packages::metadata::{PackageMeta, VersionMeta};
use warden_gateway::api::encode_segment as segment;

/// The largest answer read: npm packages with thousands of versions answer with a few
/// MB.
const MAX_BODY: usize = 32 << 20;

/// The API's name for an ecosystem.
fn system(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::PyPI => "PYPI",
        Ecosystem::Npm => "NPM",
        Ecosystem::CratesIo => "CARGO",
        Ecosystem::Go => "GO",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageBody {
    #[serde(default)]
    versions: Vec<VersionBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionBody {
    version_key: VersionKey,
    #[serde(default)]
    published_at: Option<String>,
    #[serde(default)]
    is_default: bool,
    #[serde(default)]
    is_deprecated: bool,
    #[serde(default)]
    deprecated_reason: Option<String>,
}

#[derive(Deserialize)]
struct VersionKey {
    version: String,
}

fn unix(rfc3339: Option<&str>) -> Option<i64> {
    OffsetDateTime::parse(rfc3339?, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// A GetPackage answer as metadata; `Err` when it is not one.
pub fn parse_package(body: &[u8]) -> Result<PackageMeta, String> {
    let p: PackageBody =
        serde_json::from_slice(body).map_err(|e| format!("not a package answer: {e}"))?;
    Ok(PackageMeta::Known {
        versions: p
            .versions
            .into_iter()
            .map(|v| VersionMeta {
                published: unix(v.published_at.as_deref()),
                deprecated: v
                    .is_deprecated
                    .then(|| v.deprecated_reason.unwrap_or_default()),
                default: v.is_default,
                version: v.version_key.version,
            })
            .collect(),
    })
}

/// Requests one caller has in flight at once.
const CONCURRENCY: usize = 4;
/// The least time between two requests of one caller (at most 20 a second).
const MIN_SPACING: Duration = Duration::from_millis(50);

/// Fetches package metadata.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: &str, timeout: Duration) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn get(&self, url: &str) -> Result<Option<Vec<u8>>, String> {
        let shown = crate::osv_update::redact_url(url);
        let resp = self.http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("{shown}: timed out")
            } else {
                format!("{shown}: {}", crate::osv_update::innermost(&e))
            }
        })?;
        let status = resp.status();
        if !status.is_success() && status != reqwest::StatusCode::NOT_FOUND {
            return Err(format!("{shown}: HTTP {status}"));
        }
        let body = crate::osv_update::bounded_body(resp, MAX_BODY as u64, &shown).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            // Only the API's own "not found" (gRPC code 5) says the package does not
            // exist; a 404 from a wrong URL or a proxy is an error, never a finding.
            let api_not_found =
                serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v["code"] == 5);
            return if api_not_found {
                Ok(None)
            } else {
                Err(format!(
                    "{shown}: HTTP 404 without the API's not-found answer"
                ))
            };
        }
        Ok(Some(body))
    }

    /// What the registry says about `name` (normalized). When every version is
    /// deprecated, the default version's reason is asked for too.
    pub async fn package(&self, eco: Ecosystem, name: &str) -> Result<PackageMeta, String> {
        let url = format!(
            "{}/v3/systems/{}/packages/{}",
            self.base,
            system(eco),
            segment(name)
        );
        let Some(body) = self.get(&url).await? else {
            return Ok(PackageMeta::Unknown);
        };
        let mut meta = parse_package(&body)?;
        if let PackageMeta::Known { versions } = &mut meta
            && !versions.is_empty()
            && versions.iter().all(|v| v.deprecated.is_some())
            && let Some(v) = versions
                .iter_mut()
                .find(|v| v.default)
                .filter(|v| v.deprecated.as_deref() == Some(""))
        {
            let url = format!("{url}/versions/{}", segment(&v.version));
            // The reason is a nicety: without it the finding still stands.
            if let Ok(Some(body)) = self.get(&url).await
                && let Ok(one) = serde_json::from_slice::<VersionBody>(&body)
            {
                v.deprecated = Some(one.deprecated_reason.unwrap_or_default());
            }
        }
        Ok(meta)
    }
}

impl Client {
    /// Asks about each package, [`CONCURRENCY`] at once and [`MIN_SPACING`] apart; the
    /// answers in the order they come.
    pub fn packages(
        &self,
        wanted: Vec<Miss>,
    ) -> impl futures::Stream<Item = (Miss, Result<PackageMeta, String>)> + Send + 'static {
        use futures::StreamExt;
        let spacing = Arc::new(tokio::sync::Mutex::new(
            std::time::Instant::now() - MIN_SPACING,
        ));
        let api = self.clone();
        futures::stream::iter(wanted.into_iter().map(move |miss| {
            let (api, spacing) = (api.clone(), spacing.clone());
            async move {
                {
                    let mut last = spacing.lock().await;
                    let wait =
                        (*last + MIN_SPACING).saturating_duration_since(std::time::Instant::now());
                    tokio::time::sleep(wait).await;
                    *last = std::time::Instant::now();
                }
                let r = api.package(miss.0, &miss.1).await;
                (miss, r)
            }
        }))
        .buffer_unordered(CONCURRENCY)
    }
}

/// A request for metadata the store does not have (or has only an old answer for).
pub type Miss = (Ecosystem, String);

/// The lookup the checks use (cheap to clone).
#[derive(Clone)]
pub struct Metadata {
    store: warden_store::Store,
    ttl: time::Duration,
    cache: Arc<Mutex<HashMap<Miss, Option<Arc<PackageMeta>>>>>,
    misses: MissCell,
}

/// Where the server's fetcher listens (set once it has started; never in the CLI).
pub type MissCell = Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Miss>>>;

/// Lookups remembered before the memory cache starts over.
const CACHE_ENTRIES: usize = 20_000;

impl Metadata {
    pub fn new(store: warden_store::Store, ttl_hours: u64, misses: MissCell) -> Metadata {
        Metadata {
            store,
            ttl: time::Duration::hours(ttl_hours.clamp(1, 24 * 366) as i64),
            cache: Arc::default(),
            misses,
        }
    }

    /// The answer already in memory: no store read (the edit's first phase).
    pub fn cached(&self, eco: Ecosystem, name: &str) -> Option<Arc<PackageMeta>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(eco, name.to_owned()))
            .cloned()
            .flatten()
    }

    /// The stored answer for `(eco, name)`; a missing or old one is also sent to the
    /// fetcher (once per lookup's life).
    pub fn get(&self, eco: Ecosystem, name: &str) -> Option<Arc<PackageMeta>> {
        let key = (eco, name.to_owned());
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return hit.clone();
        }
        let (e, n) = (eco.as_str().to_owned(), name.to_owned());
        let found = crate::packages::query_anywhere(&self.store, move |c| {
            warden_store::metadata::get(c, &e, &n)
        })
        .ok()
        .flatten();
        let fresh = found.as_ref().is_some_and(|c| {
            OffsetDateTime::parse(&c.fetched_at, &Rfc3339)
                .is_ok_and(|at| OffsetDateTime::now_utc() - at < self.ttl)
        });
        let meta = found
            .and_then(|c| serde_json::from_str::<PackageMeta>(&c.body).ok())
            .map(Arc::new);
        if !fresh && let Some(tx) = self.misses.get() {
            let _ = tx.send(key.clone());
        }
        self.remember(key, meta.clone());
        meta
    }

    /// Keeps a lookup's result in memory (starting over when full).
    fn remember(&self, key: Miss, meta: Option<Arc<PackageMeta>>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, meta);
    }

    /// Asks the API now (all within `wait`) about the packages this lookup has no answer
    /// for, stores the answers and remembers them, so the next [`Metadata::get`] has
    /// them. For callers that answer once (the LLM guard, `warden mcp`); edits are served
    /// by the server's background fetcher instead. Offline, with metadata off, on a
    /// timeout or an error: no answer, which is never a finding.
    pub async fn answer_now(
        &self,
        settings: &warden_config::PackagesSettings,
        wanted: Vec<Miss>,
        wait: Duration,
    ) {
        if warden_config::offline() || !settings.metadata {
            return;
        }
        let this = self.clone();
        let ask = tokio::task::spawn_blocking(move || {
            let mut ask: Vec<Miss> = wanted
                .into_iter()
                .filter(|(eco, name)| this.get(*eco, name).is_none())
                .collect();
            ask.sort();
            ask.dedup();
            ask
        })
        .await
        .unwrap_or_default();
        if ask.is_empty() {
            return;
        }
        let Ok(api) = Client::new(&settings.metadata_base(), wait) else {
            return;
        };
        // Each answer is kept as it comes; those not in by the deadline are no answer.
        let deadline = tokio::time::Instant::now() + wait;
        let mut answers = std::pin::pin!(api.packages(ask));
        while let Ok(Some(((eco, name), r))) =
            tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut answers)).await
        {
            let Ok(meta) = r else { continue };
            let (e, n, body) = (
                eco.as_str().to_owned(),
                name.clone(),
                serde_json::to_string(&meta).unwrap_or_default(),
            );
            if let Err(err) = self
                .store
                .call(move |c| warden_store::metadata::put(c, &e, &n, &body))
                .await
            {
                tracing::warn!("storing package metadata: {err}");
            }
            self.remember((eco, name), Some(Arc::new(meta)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_package_answer_becomes_metadata() {
        let body = br#"{"packageKey": {"system": "NPM", "name": "request"},
            "versions": [
              {"versionKey": {"system": "NPM", "name": "request", "version": "2.88.2"},
               "publishedAt": "2020-02-11T16:35:53Z", "isDefault": true, "isDeprecated": true},
              {"versionKey": {"system": "NPM", "name": "request", "version": "2.88.0"},
               "publishedAt": "2018-08-10T21:51:43Z", "isDefault": false}
            ]}"#;
        let PackageMeta::Known { versions } = parse_package(body).unwrap() else {
            panic!("known")
        };
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].published, Some(1_581_438_953));
        assert_eq!(versions[0].deprecated.as_deref(), Some(""));
        assert!(versions[0].default);
        assert_eq!(versions[1].deprecated, None);
        assert!(parse_package(b"<html>").is_err());
    }

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(segment("@types/node"), "%40types%2Fnode");
        assert_eq!(segment("github.com/a/b"), "github.com%2Fa%2Fb");
    }
}
