//! The IO around package checks: advisory lookups from the store (cached per package
//! until the database changes), lockfile discovery next to a manifest (or above it, for
//! Cargo workspaces) cached by modification time, and dropping import findings for
//! Python modules that are files of the project itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use warden_analysis::packages::lock::{self, Lock, LockKind};
use warden_analysis::packages::manifest::{self, Checked, Kind};
use warden_analysis::packages::{Ecosystem, Records, osv::Record};
use warden_analysis::{Finding, FindingKind, Lang, LineIndex, Severity};

/// Advisory records for a package: `(ecosystem, normalized name) -> records`.
pub type Advisories = Arc<dyn Fn(Ecosystem, &str) -> Records + Send + Sync>;

/// Packages whose lookups are remembered before the cache starts over.
const CACHE_ENTRIES: usize = 20_000;

/// Lockfiles larger than this are not read.
const MAX_LOCK_BYTES: u64 = 64 * 1024 * 1024;

/// A lookup into the store's advisory database, remembering answers (records that
/// fail to parse are skipped). Build a new one after an import.
pub fn store_advisories(store: warden_store::Store) -> Advisories {
    let cache: Mutex<HashMap<(Ecosystem, String), Records>> = Mutex::default();
    Arc::new(move |eco, name| {
        let key = (eco, name.to_owned());
        if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return hit.clone();
        }
        let (e, n) = (eco.as_str().to_owned(), name.to_owned());
        // An open document's first analysis phase runs on an async worker: a store
        // query that waits (the store thread busy with a scan's writes) must hand the
        // worker's other tasks to another thread rather than hold them.
        let query =
            || store.call_blocking(move |c| warden_store::advisories::for_package(c, &e, &n));
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let found = if on_worker {
            tokio::task::block_in_place(query)
        } else {
            query()
        };
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
    })
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
) -> (Vec<Finding>, Vec<Checked>) {
    let parsed = manifest::parse(kind, text);
    let lock = locks.for_manifest(path, kind, root);
    let (mut findings, checked) = match lock.as_deref() {
        Some(Ok(lock)) => manifest::check(text, &parsed, Some(lock), lookup.as_ref()),
        _ => manifest::check(text, &parsed, None, lookup.as_ref()),
    };
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
        assert!(!lookup(Ecosystem::Npm, &name).is_empty(), "on a worker");
        let (l2, n2) = (super::store_advisories(store.clone()), name.clone());
        let found = tokio::task::spawn_blocking(move || l2(Ecosystem::Npm, &n2).len())
            .await
            .unwrap();
        assert!(found > 0, "on a blocking thread");
        let (l3, n3) = (super::store_advisories(store), name);
        let found = std::thread::spawn(move || l3(Ecosystem::Npm, &n3).len())
            .join()
            .unwrap();
        assert!(found > 0, "outside the runtime");
    }
}
