//! The IO around package checks: advisory lookups from the store (cached per package
//! until the database changes) with how current each ecosystem's data is, lockfile
//! discovery next to a manifest (or above it, for Cargo workspaces) cached by
//! modification time, and dropping import findings for Python modules that are files
//! of the project itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use time::OffsetDateTime;
use warden_analysis::packages::lock::{self, Lock, LockKind};
use warden_analysis::packages::manifest::{self, Checked, Kind};
use warden_analysis::packages::{Ecosystem, Records, osv::Record};
use warden_analysis::{Finding, FindingKind, Lang, LineIndex, Severity};

/// The lookup itself: `(ecosystem, normalized name) -> records`.
pub type Lookup = dyn Fn(Ecosystem, &str) -> Records + Send + Sync;

/// Advisory records for a package, and when each ecosystem's data was last made
/// current (downloaded, checked or imported). Derefs to the lookup function.
#[derive(Clone)]
pub struct Advisories {
    lookup: Arc<Lookup>,
    ages: Arc<HashMap<Ecosystem, OffsetDateTime>>,
    /// Told the ecosystem of every manifest checked (the server's background update
    /// keeps those ecosystems current).
    seen: Option<SeenCell>,
}

/// Where the server's background update listens (set once it has started).
pub type SeenCell = Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Ecosystem>>>;

impl std::ops::Deref for Advisories {
    type Target = Lookup;
    fn deref(&self) -> &Lookup {
        &*self.lookup
    }
}

impl AsRef<Lookup> for Advisories {
    fn as_ref(&self) -> &Lookup {
        &*self.lookup
    }
}

/// Data older than this is called out on manifests of its ecosystem.
pub const STALE_AFTER: time::Duration = time::Duration::days(7);

/// How current one ecosystem's advisory data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Missing,
    Stale(time::Duration),
    Current,
}

impl Advisories {
    /// A lookup from a function, with the given ages (tests, benchmarks).
    pub fn new(lookup: Arc<Lookup>, ages: HashMap<Ecosystem, OffsetDateTime>) -> Advisories {
        Advisories {
            lookup,
            ages: Arc::new(ages),
            seen: None,
        }
    }

    /// Tells `tx` the ecosystem of every manifest checked.
    pub fn reporting_to(mut self, cell: SeenCell) -> Self {
        self.seen = Some(cell);
        self
    }

    pub fn freshness(&self, eco: Ecosystem, now: OffsetDateTime) -> Freshness {
        match self.ages.get(&eco) {
            None => Freshness::Missing,
            Some(&at) if now - at > STALE_AFTER => Freshness::Stale(now - at),
            Some(_) => Freshness::Current,
        }
    }

    /// What the freshness findings depend on, for cache keys: per ecosystem, missing,
    /// stale or current now.
    pub fn freshness_key(&self, now: OffsetDateTime) -> String {
        Ecosystem::ALL
            .iter()
            .map(|&e| match self.freshness(e, now) {
                Freshness::Missing => 'm',
                Freshness::Stale(_) => 's',
                Freshness::Current => 'c',
            })
            .collect()
    }

    /// The information finding on a manifest's first line when its ecosystem's data is
    /// missing or older than [`STALE_AFTER`]: no silent all-clear.
    pub fn freshness_finding(&self, eco: Ecosystem, text: &str) -> Option<Finding> {
        let now = OffsetDateTime::now_utc();
        let name = eco.as_str();
        let (rule, message) = match self.freshness(eco, now) {
            Freshness::Current => return None,
            Freshness::Missing => (
                "advisories-missing",
                format!(
                    "No {name} advisory data: malicious and vulnerable packages cannot be flagged \
                     here. Download it with the code action, or `warden db update {name}`."
                ),
            ),
            Freshness::Stale(age) => (
                "advisories-stale",
                format!(
                    "The {name} advisory data is {} days old: packages flagged since then are \
                     not known here. Update it with the code action, or `warden db update {name}`.",
                    age.whole_days()
                ),
            ),
        };
        let index = LineIndex::new(text);
        let first_line = text.find('\n').unwrap_or(text.len());
        let first_line = text[..first_line].trim_end_matches('\r').len();
        Some(Finding::at(
            &index,
            FindingKind::Package,
            rule,
            Severity::Info,
            message,
            0,
            first_line,
        ))
    }
}

/// Packages whose lookups are remembered before the cache starts over.
const CACHE_ENTRIES: usize = 20_000;

/// Lockfiles larger than this are not read.
const MAX_LOCK_BYTES: u64 = 64 * 1024 * 1024;

/// When each ecosystem's data was last made current (see
/// [`warden_store::advisories::current_as_of`]).
pub fn advisory_ages(store: &warden_store::Store) -> HashMap<Ecosystem, OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let rows = store
        .call_blocking(|c| warden_store::advisories::current_as_of(c))
        .unwrap_or_default();
    rows.into_iter()
        .filter_map(|(eco, at)| {
            Some((
                Ecosystem::parse(&eco)?,
                OffsetDateTime::parse(&at, &Rfc3339).ok()?,
            ))
        })
        .collect()
}

/// The ecosystem a manifest's dependencies belong to.
pub fn ecosystem_of(kind: Kind) -> Ecosystem {
    match kind {
        Kind::Requirements | Kind::Pyproject => Ecosystem::PyPI,
        Kind::PackageJson => Ecosystem::Npm,
        Kind::CargoToml => Ecosystem::CratesIo,
        Kind::GoMod => Ecosystem::Go,
    }
}

/// A lookup into the store's advisory database, remembering answers (records that
/// fail to parse are skipped). Build a new one after an import.
pub fn store_advisories(store: warden_store::Store) -> Advisories {
    let ages = advisory_ages(&store);
    let cache: Mutex<HashMap<(Ecosystem, String), Records>> = Mutex::default();
    let lookup = Arc::new(move |eco: Ecosystem, name: &str| {
        let key = (eco, name.to_owned());
        if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return hit.clone();
        }
        let (e, n) = (eco.as_str().to_owned(), name.to_owned());
        let found = query_anywhere(&store, move |c| {
            warden_store::advisories::for_package(c, &e, &n)
        });
        let records: Records = found
            .unwrap_or_default()
            .iter()
            .filter_map(|json| serde_json::from_str::<Record>(json).ok())
            .inspect(Record::prepare)
            .collect();
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, records.clone());
        records
    });
    Advisories::new(lookup, ages)
}

/// A store query from wherever a check runs: an async worker (an open document's first
/// analysis phase: a query that waits, the store thread busy with a scan's writes, must
/// hand the worker's other tasks to another thread rather than hold them), a blocking
/// thread, or outside any runtime (the CLI's scan threads).
pub fn query_anywhere<R: Send + 'static>(
    store: &warden_store::Store,
    f: impl FnOnce(&mut warden_store::Connection) -> warden_store::Result<R> + Send + 'static,
) -> warden_store::Result<R> {
    let query = || store.call_blocking(f);
    let on_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_worker {
        tokio::task::block_in_place(query)
    } else {
        query()
    }
}

/// A lockfile, or why it cannot be used.
pub type LockResult = Arc<Result<Lock, String>>;

/// Parsed lockfiles by path, reused while the file's size and mtime are unchanged.
#[derive(Default)]
pub struct LockCache {
    entries: Mutex<HashMap<PathBuf, (SystemTime, u64, LockResult)>>,
}

impl LockCache {
    /// The lockfile for a manifest: the first of the kind's lockfile names in the
    /// manifest's folder, or (for `Cargo.toml`) in a folder above it up to `root`.
    pub fn for_manifest(&self, manifest: &Path, kind: Kind, root: &Path) -> Option<LockResult> {
        let mut dir = manifest.parent()?;
        loop {
            for name in kind.lockfiles() {
                let path = dir.join(name);
                if let Some(lock) = self.read(&path, name) {
                    return Some(lock);
                }
            }
            if kind != Kind::CargoToml || dir == root {
                return None;
            }
            dir = dir.parent().filter(|d| d.starts_with(root))?;
        }
    }

    fn read(&self, path: &Path, name: &str) -> Option<LockResult> {
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        let stamp = (meta.modified().ok()?, meta.len());
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((t, len, lock)) = entries.get(path)
            && (*t, *len) == stamp
        {
            return Some(lock.clone());
        }
        let parsed = if meta.len() > MAX_LOCK_BYTES {
            Err(format!(
                "{} bytes, above the {MAX_LOCK_BYTES}-byte limit",
                meta.len()
            ))
        } else {
            match std::fs::read_to_string(path) {
                Ok(text) => lock::parse(LockKind::of(name)?, name, &text),
                Err(e) => Err(e.to_string()),
            }
        };
        let parsed = Arc::new(parsed.map_err(|e| format!("{name} cannot be used ({e})")));
        entries.insert(path.to_path_buf(), (stamp.0, stamp.1, parsed.clone()));
        Some(parsed)
    }
}

/// Findings and checked dependencies of a manifest, using its lockfile when there is
/// one. A lockfile that cannot be read is one information finding on the first line;
/// the manifest's ranges are judged instead.
pub fn check_manifest(
    path: &Path,
    kind: Kind,
    text: &str,
    root: &Path,
    locks: &LockCache,
    lookup: &Advisories,
    metadata: Option<(&crate::metadata::Metadata, u32)>,
) -> (Vec<Finding>, Vec<Checked>) {
    let parsed = manifest::parse(kind, text);
    let lock = locks.for_manifest(path, kind, root);
    let (mut findings, checked) = match lock.as_deref() {
        Some(Ok(lock)) => manifest::check(text, &parsed, Some(lock), lookup.as_ref()),
        _ => manifest::check(text, &parsed, None, lookup.as_ref()),
    };
    if let Some((meta, cooldown_days)) = metadata {
        let lock = lock.as_deref().and_then(|l| l.as_ref().ok());
        // A dependency already reported as an error (a malicious package the registry
        // has removed) is not also "unknown".
        let errors: Vec<(usize, usize)> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.start, f.end))
            .collect();
        let lookup = |eco: Ecosystem, name: &str| meta.get(eco, name);
        findings.extend(warden_analysis::packages::metadata::check_manifest(
            text,
            &parsed,
            lock,
            &lookup,
            warden_analysis::packages::metadata::Policy {
                now: OffsetDateTime::now_utc().unix_timestamp(),
                cooldown_days,
            },
            &|s, e| errors.iter().any(|&(a, b)| a < e && s < b),
        ));
        findings.sort_by_key(|f| (f.start, f.end));
    }
    let eco = ecosystem_of(kind);
    if let Some(tx) = lookup.seen.as_ref().and_then(|c| c.get()) {
        let _ = tx.send(eco);
    }
    if let Some(f) = lookup.freshness_finding(eco, text) {
        findings.insert(0, f);
    }
    if let Some(Err(e)) = lock.as_deref() {
        let index = LineIndex::new(text);
        let first_line = text.find('\n').unwrap_or(text.len());
        findings.insert(
            0,
            Finding::at(
                &index,
                FindingKind::Package,
                "lockfile-unreadable",
                Severity::Info,
                format!("{e}; versions are judged from this manifest's ranges"),
                0,
                first_line,
            ),
        );
    }
    (findings, checked)
}

/// Warnings for the imports of a parsed text whose packages the registry does not have
/// (as far as `meta` knows yet: no answer is no finding). Without `io`, only answers
/// already in memory count (the edit's first phase).
pub fn unknown_imports(
    meta: &crate::metadata::Metadata,
    lang: Lang,
    tree: &tree_sitter::Tree,
    text: &str,
    io: bool,
) -> Vec<Finding> {
    use warden_analysis::packages::{imports, metadata};
    let Some(grammar) = lang.grammar() else {
        return Vec::new();
    };
    let Some(eco) = grammar
        .imports
        .as_ref()
        .and_then(|d| Ecosystem::parse(d.ecosystem))
    else {
        return Vec::new();
    };
    let index = LineIndex::new(text);
    imports::imports(grammar, tree, text)
        .into_iter()
        // Path aliases of bundlers (`@/components`, `~/x`, `#internal`) are not packages.
        .filter(|i| !i.package.starts_with(['~', '#']) && !i.package.starts_with("@/"))
        .filter(|i| {
            let name = eco.normalize_name(&i.package);
            let answer = if io {
                meta.get(eco, &name)
            } else {
                meta.cached(eco, &name)
            };
            answer.is_some_and(|m| *m == metadata::PackageMeta::Unknown)
        })
        .map(|i| {
            Finding::at(
                &index,
                FindingKind::Package,
                metadata::UNKNOWN,
                Severity::Warning,
                format!(
                    "`{}`: {}; check the name before installing anything",
                    i.module,
                    metadata::unknown_message(eco, &i.package)
                ),
                i.start,
                i.end,
            )
        })
        .collect()
}

/// Drops import findings for Python modules that exist in the project (`utils.py`
/// next to the script, or a package folder at the repository root), which shadow any
/// package of the same name.
pub fn drop_local_imports(
    findings: &mut Vec<Finding>,
    text: &str,
    lang: Lang,
    path: Option<&Path>,
    root: &Path,
) {
    if lang.name() != "python" {
        return;
    }
    let Some(dir) = path.and_then(Path::parent) else {
        return;
    };
    findings.retain(|f| {
        if f.kind != FindingKind::Package {
            return true;
        }
        let module = text.get(f.start..f.end).unwrap_or("");
        let first = module.split('.').next().unwrap_or(module);
        let local = [dir, root, &root.join("src")].iter().any(|d| {
            d.join(format!("{first}.py")).is_file()
                || d.join(first).join("__init__.py").is_file()
                || d.join(first).is_dir()
        });
        !local
    });
}

#[cfg(test)]
mod tests {
    use warden_analysis::packages::Ecosystem;
    use warden_store::Store;

    /// The advisory lookup answers wherever it runs: on an async worker (an open
    /// document's first analysis phase), on a blocking-pool thread (the second) and
    /// outside any runtime (the CLI's scan threads).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn advisory_lookups_answer_on_workers_blocking_threads_and_elsewhere() {
        let store = Store::in_memory();
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/osv/npm/MAL-2025-46969.json");
        crate::osv_import::import(&store, std::slice::from_ref(&fixture))
            .await
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        let name = v["affected"][0]["package"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        // A lookup per case: each caches what it found, and must ask the store.
        let lookup = super::store_advisories(store.clone());
        assert!(!(*lookup)(Ecosystem::Npm, &name).is_empty(), "on a worker");
        let (l2, n2) = (super::store_advisories(store.clone()), name.clone());
        let found = tokio::task::spawn_blocking(move || (*l2)(Ecosystem::Npm, &n2).len())
            .await
            .unwrap();
        assert!(found > 0, "on a blocking thread");
        let (l3, n3) = (super::store_advisories(store), name);
        let found = std::thread::spawn(move || (*l3)(Ecosystem::Npm, &n3).len())
            .join()
            .unwrap();
        assert!(found > 0, "outside the runtime");
    }
}
