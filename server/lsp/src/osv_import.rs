//! Importing OSV records into the store: osv-scanner's offline layout
//! (`<Ecosystem>/all.zip`), single zips, directories of JSON files, or one JSON file.
//! Each zip or JSON file is one transaction; withdrawn records are skipped (and removed
//! if stored); a stored record is replaced only by a newer `modified`; records for
//! ecosystems warden does not check are counted and skipped.
//!
//! Files are read on blocking threads and only when they are regular files: a FIFO,
//! device or symbolic-link loop named (or found in a folder) is *refused*, and so is a
//! JSON file or zip entry over [`MAX_RECORD_BYTES`] (read through `take`, never whole).
//! Refusals are reported per file; the other files are still imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use warden_analysis::packages::Ecosystem;
use warden_analysis::packages::osv::Record;
use warden_store::Store;
use warden_store::advisories::{self, AdvisoryRow, ImportCounts};

use crate::scanner::{self, ReadError};

/// The largest OSV record read, as a JSON file or a zip entry: 64 MiB. Real records
/// are a few KB (the largest some hundred KB).
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Problems listed in a report (beyond that they are only counted).
const MAX_LISTED: usize = 10;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Zip and JSON files read.
    pub files: u64,
    pub by_ecosystem: BTreeMap<String, ImportCounts>,
    pub withdrawn: u64,
    pub unsupported: u64,
    pub invalid: u64,
    /// Paths, files and zip entries not read: not a regular file, unreadable, or over
    /// [`MAX_RECORD_BYTES`].
    pub refused: u64,
    /// The first few problems (refusals first), for the user.
    pub problems: Vec<String>,
}

impl ImportReport {
    fn problem(&mut self, p: String) {
        self.invalid += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }

    fn add(&mut self, counts: BTreeMap<String, ImportCounts>) {
        for (eco, c) in counts {
            let total = self.by_ecosystem.entry(eco).or_default();
            total.added += c.added;
            total.updated += c.updated;
            total.unchanged += c.unchanged;
        }
    }

    fn refuse(&mut self, p: String) {
        // Refusals are listed ahead of invalid records: they are what the user must fix.
        let at = self.problems.len().min(self.refused as usize);
        self.refused += 1;
        if at < MAX_LISTED {
            self.problems.insert(at, p);
            self.problems.truncate(MAX_LISTED);
        }
    }
}

/// Whether RFC 3339 time `a` is later than `b` (string order if either does not parse).
fn newer(a: &str, b: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    match (
        time::OffsetDateTime::parse(a, &Rfc3339),
        time::OffsetDateTime::parse(b, &Rfc3339),
    ) {
        (Ok(x), Ok(y)) => x > y,
        _ => a > b,
    }
}

/// What a walk found under one path: files to import and entries refused.
#[derive(Debug, Default)]
struct Found {
    files: Vec<PathBuf>,
    refused: Vec<String>,
}

/// `path` itself (a regular file, links followed), or the `.zip` and `.json` files
/// under a folder (links inside it are not followed; a FIFO, device or link with such
/// a name is refused). Opens no file. An error refuses the whole path.
fn walk(path: &Path) -> Result<Found, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(Found {
            files: vec![path.to_path_buf()],
            refused: Vec::new(),
        });
    }
    if !meta.is_dir() {
        return Err(format!(
            "{}: {}",
            path.display(),
            ReadError::NotRegular(scanner::kind_of(meta.file_type()))
        ));
    }
    let mut found = Found::default();
    for entry in ignore::WalkBuilder::new(path)
        .standard_filters(false)
        .build()
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                found.refused.push(e.to_string());
                continue;
            }
        };
        let p = entry.path();
        let wanted = matches!(p.extension().and_then(|e| e.to_str()), Some("zip" | "json"));
        match entry.file_type() {
            _ if !wanted => {}
            Some(t) if t.is_file() => found.files.push(entry.into_path()),
            Some(t) if t.is_dir() => {}
            Some(t) => found.refused.push(format!(
                "{}: {}",
                p.display(),
                if t.is_symlink() {
                    "a symbolic link (links inside a folder are not followed; name the target)"
                        .to_owned()
                } else {
                    ReadError::NotRegular(scanner::kind_of(t)).to_string()
                }
            )),
            _ => {}
        }
    }
    found.files.sort();
    Ok(found)
}

/// Files to import under `path`, each one transaction.
pub fn batches(path: &Path) -> Result<Vec<PathBuf>, String> {
    walk(path).map(|f| f.files)
}

/// Parses one record into a row, or says why it is skipped.
enum Parsed {
    Row(AdvisoryRow),
    Withdrawn(String),
    Unsupported,
}

fn to_row(text: &str) -> Result<Parsed, String> {
    let record: Record =
        serde_json::from_str(text).map_err(|e| format!("not an OSV record: {e}"))?;
    if record.id.is_empty() {
        return Err("record without an id".into());
    }
    if record.withdrawn.is_some() {
        return Ok(Parsed::Withdrawn(record.id));
    }
    let mut packages: Vec<(String, String)> = record
        .affected
        .iter()
        .filter_map(|a| {
            let eco = Ecosystem::parse(&a.package.ecosystem)?;
            Some((eco.as_str().to_owned(), eco.normalize_name(&a.package.name)))
        })
        .collect();
    packages.sort();
    packages.dedup();
    if packages.is_empty() {
        return Ok(Parsed::Unsupported);
    }
    Ok(Parsed::Row(AdvisoryRow {
        malicious: record.is_malicious(),
        summary: record.summary.clone(),
        modified: record.modified.clone(),
        id: record.id.clone(),
        record_json: serde_json::to_string(&record).map_err(|e| e.to_string())?,
        packages,
    }))
}

/// Rows of a large archive are staged in parts of this many (memory stays bounded;
/// see `warden_store::advisories::stage`).
const STAGE_ROWS: usize = 2_000;

/// Stages a part of a large archive's rows; `Err` stops the read.
type Stager<'a> = &'a mut dyn FnMut(Vec<AdvisoryRow>, Vec<String>) -> Result<(), String>;

/// One file's records, parsed as they are read.
#[derive(Default)]
struct Batch {
    /// Whether the file itself was read (not refused).
    read: bool,
    /// Whether parts were staged (then the rest is staged too, and merged).
    staged: bool,
    /// Why staging failed (the import of this file is abandoned).
    stage_error: Option<String>,
    rows: Vec<AdvisoryRow>,
    withdrawn: Vec<String>,
    /// Withdrawn records already staged.
    withdrawn_count: u64,
    unsupported: u64,
    invalid: Vec<String>,
    refused: Vec<String>,
}

impl Batch {
    fn add(&mut self, label: &str, bytes: Vec<u8>) {
        let parsed = String::from_utf8(bytes)
            .map_err(|_| "not UTF-8".to_owned())
            .and_then(|text| to_row(&text));
        match parsed {
            Ok(Parsed::Row(r)) => self.rows.push(r),
            Ok(Parsed::Withdrawn(id)) => self.withdrawn.push(id),
            Ok(Parsed::Unsupported) => self.unsupported += 1,
            Err(e) => self.invalid.push(format!("{label}: {e}")),
        }
    }

    fn refuse(&mut self, label: &str, e: ReadError) {
        let why = match e {
            e @ ReadError::TooLarge { .. } => format!("{e} for an OSV record"),
            e => e.to_string(),
        };
        self.refused.push(format!("{label}: {why}"));
    }
}

/// Reads one zip or JSON file (blocking): a regular file; each record at most `cap`
/// bytes. Every [`STAGE_ROWS`] rows of an archive go to `stager`.
fn read_batch(file: &Path, cap: u64, stager: Stager<'_>) -> Batch {
    let name = file.display().to_string();
    let mut batch = Batch::default();
    if file.extension().is_some_and(|e| e == "zip") {
        // The archive is read entry by entry, so its own size is not capped.
        let (f, _) = match scanner::open_regular(file, u64::MAX) {
            Ok(x) => x,
            Err(e) => {
                batch.refuse(&name, e);
                return batch;
            }
        };
        batch.read = true;
        let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(f)) {
            Ok(a) => a,
            Err(e) => {
                batch
                    .invalid
                    .push(format!("{name}: not a readable zip: {e}"));
                return batch;
            }
        };
        for i in 0..archive.len() {
            let Ok(entry) = archive.by_index(i) else {
                batch.invalid.push(format!("{name}: entry {i} unreadable"));
                continue;
            };
            if !entry.name().ends_with(".json") {
                continue;
            }
            let label = format!("{name}!{}", entry.name());
            let declared = entry.size();
            if declared > cap {
                batch.refuse(
                    &label,
                    ReadError::TooLarge {
                        size: Some(declared),
                        limit: cap,
                    },
                );
                continue;
            }
            // The declared size may lie: the read stops past the cap either way.
            match scanner::read_bounded(entry, cap, declared.min(1 << 20)) {
                Ok(bytes) => batch.add(&label, bytes),
                Err(e @ ReadError::TooLarge { .. }) => batch.refuse(&label, e),
                Err(e) => batch.invalid.push(format!("{label}: {e}")),
            }
            if batch.rows.len() + batch.withdrawn.len() >= STAGE_ROWS {
                let (rows, withdrawn) = (
                    std::mem::take(&mut batch.rows),
                    std::mem::take(&mut batch.withdrawn),
                );
                batch.withdrawn_count += withdrawn.len() as u64;
                batch.staged = true;
                if let Err(e) = stager(rows, withdrawn) {
                    batch.stage_error = Some(e);
                    return batch;
                }
            }
        }
    } else {
        match scanner::read_regular(file, cap) {
            Ok(bytes) => {
                batch.read = true;
                batch.add(&name, bytes);
            }
            Err(e) => batch.refuse(&name, e),
        }
    }
    batch
}

/// Imports every path; a path or file that cannot be read is refused and reported,
/// the rest are still imported. An error only when the store fails, or when nothing
/// could be read and something was refused (then it lists the refusals).
pub async fn import(store: &Store, paths: &[PathBuf]) -> Result<ImportReport, String> {
    let mut report = ImportReport::default();
    // Stages of imports interrupted over an hour ago (a crash, a kill) are dropped.
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(std::time::Duration::from_secs(3600));
    let before = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        hour_ago.as_secs(),
        0,
    ))
    .to_string();
    let _ = store
        .call(move |c| advisories::clear_stale_stages(c, &before))
        .await;
    for path in paths {
        let p = path.clone();
        let found = tokio::task::spawn_blocking(move || walk(&p))
            .await
            .map_err(|e| e.to_string())?;
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                report.refuse(e);
                continue;
            }
        };
        for r in found.refused {
            report.refuse(r);
        }
        for file in found.files {
            let (f, st) = (file.clone(), store.clone());
            let stage_id = uuid::Uuid::now_v7().to_string();
            let sid = stage_id.clone();
            let batch = tokio::task::spawn_blocking(move || {
                let mut stager = |rows: Vec<AdvisoryRow>, withdrawn: Vec<String>| {
                    let sid = sid.clone();
                    st.call_blocking(move |c| advisories::stage(c, &sid, &rows, &withdrawn))
                        .map_err(|e| e.to_string())
                };
                read_batch(&f, MAX_RECORD_BYTES, &mut stager)
            })
            .await
            .map_err(|e| e.to_string())?;
            if let Some(e) = batch.stage_error.clone() {
                let sid = stage_id.clone();
                let _ = store.call(move |c| advisories::clear_stage(c, &sid)).await;
                return Err(format!("{}: {e}", file.display()));
            }
            if batch.staged {
                store_staged(store, batch, &stage_id, &mut report)
                    .await
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                continue;
            }
            store_batch(store, batch, &mut report)
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    if report.files == 0 && report.refused > 0 {
        return Err(report.problems.join("; "));
    }
    Ok(report)
}

/// Imports records already in memory (downloaded ones: `(label, bytes)`), all in one
/// transaction, so that either every record is stored or none is.
pub async fn import_records(
    store: &Store,
    records: Vec<(String, Vec<u8>)>,
) -> Result<ImportReport, String> {
    let mut report = ImportReport::default();
    let batch = tokio::task::spawn_blocking(move || {
        let mut batch = Batch {
            read: true,
            ..Batch::default()
        };
        for (label, bytes) in records {
            if bytes.len() as u64 > MAX_RECORD_BYTES {
                batch.refuse(
                    &label,
                    ReadError::TooLarge {
                        size: Some(bytes.len() as u64),
                        limit: MAX_RECORD_BYTES,
                    },
                );
            } else {
                batch.add(&label, bytes);
            }
        }
        batch
    })
    .await
    .map_err(|e| e.to_string())?;
    store_batch(store, batch, &mut report).await?;
    Ok(report)
}

/// Stages the rest of a staged batch, merges the stage in one transaction, and adds
/// what it did to `report`. A failure drops the stage: nothing of the file is stored.
async fn store_staged(
    store: &Store,
    batch: Batch,
    stage_id: &str,
    report: &mut ImportReport,
) -> Result<(), String> {
    for r in batch.refused {
        report.refuse(r);
    }
    for p in batch.invalid {
        report.problem(p);
    }
    report.files += 1;
    report.unsupported += batch.unsupported;
    report.withdrawn += batch.withdrawn_count + batch.withdrawn.len() as u64;
    let (rows, withdrawn, sid) = (batch.rows, batch.withdrawn, stage_id.to_owned());
    let merged = store
        .call(move |c| {
            advisories::stage(c, &sid, &rows, &withdrawn)?;
            advisories::merge_staged(c, &sid, newer)
        })
        .await;
    let counts = match merged {
        Ok(c) => c,
        Err(e) => {
            let sid = stage_id.to_owned();
            let _ = store.call(move |c| advisories::clear_stage(c, &sid)).await;
            return Err(e.to_string());
        }
    };
    report.add(counts);
    Ok(())
}

/// Stores one batch (one transaction) and adds what it did to `report`.
async fn store_batch(store: &Store, batch: Batch, report: &mut ImportReport) -> Result<(), String> {
    for r in batch.refused {
        report.refuse(r);
    }
    for p in batch.invalid {
        report.problem(p);
    }
    if !batch.read {
        return Ok(());
    }
    report.files += 1;
    report.unsupported += batch.unsupported;
    report.withdrawn += batch.withdrawn.len() as u64;
    let (rows, withdrawn) = (batch.rows, batch.withdrawn);
    let counts = store
        .call(move |c| advisories::import_batch(c, &rows, &withdrawn, newer))
        .await
        .map_err(|e| e.to_string())?;
    report.add(counts);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/osv")
    }

    #[tokio::test]
    async fn imports_directories_zips_and_single_files() {
        let store = Store::in_memory();
        let report = import(&store, &[fixtures()]).await.unwrap();
        assert_eq!(report.invalid, 0, "{:?}", report.problems);
        assert_eq!(report.files, 16);
        assert_eq!(report.by_ecosystem["PyPI"].added, 5);
        assert_eq!(report.by_ecosystem["npm"].added, 7);
        // Again: nothing changes.
        let again = import(&store, &[fixtures().join("npm/MAL-2025-46969.json")])
            .await
            .unwrap();
        assert_eq!(again.by_ecosystem["npm"].unchanged, 1);
        let stats = store.call(|c| advisories::stats(c)).await.unwrap();
        let npm = stats.iter().find(|s| s.ecosystem == "npm").unwrap();
        assert_eq!(npm.malicious, 3);

        // A zip with a newer copy, a withdrawn record, garbage and an unknown ecosystem.
        let tmp = tempfile::tempdir().unwrap();
        let zip_path = tmp.path().join("all.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        let mut rec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("npm/MAL-2025-46969.json")).unwrap(),
        )
        .unwrap();
        rec["modified"] = "2099-01-01T00:00:00Z".into();
        for (name, body) in [
            ("MAL-2025-46969.json", rec.to_string()),
            ("W-1.json", r#"{"id":"W-1","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[]}"#.to_owned()),
            ("bad.json", "{not json".to_owned()),
            ("M-1.json", r#"{"id":"M-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Maven","name":"x"}}]}"#.to_owned()),
        ] {
            use std::io::Write;
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let r = import(&store, &[zip_path]).await.unwrap();
        assert_eq!(r.by_ecosystem["npm"].updated, 1);
        assert_eq!((r.withdrawn, r.unsupported, r.invalid), (1, 1, 1));
        assert!(r.problems[0].contains("bad.json"), "{:?}", r.problems);
        assert_eq!(r.refused, 0);
        assert!(import(&store, &[tmp.path().join("missing")]).await.is_err());
    }

    /// An archive over [`STAGE_ROWS`] records is staged in parts and merged in one
    /// transaction: the same counts as a small one, withdrawn records applied, and no
    /// stage left behind.
    #[tokio::test]
    async fn large_archives_are_staged_and_merged() {
        let store = Store::in_memory();
        let tmp = tempfile::tempdir().unwrap();
        let zip_path = tmp.path().join("all.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        let n = STAGE_ROWS * 2 + 17;
        for i in 0..n {
            use std::io::Write;
            w.start_file(format!("MAL-{i}.json"), opts).unwrap();
            let body = if i % 500 == 0 {
                format!(
                    r#"{{"id":"MAL-{i}","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[]}}"#
                )
            } else {
                format!(
                    r#"{{"id":"MAL-{i}","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"npm","name":"pkg-{i}"}},"versions":["1.0.0"]}}]}}"#
                )
            };
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let withdrawn = n.div_ceil(500) as u64;
        let r = import(&store, std::slice::from_ref(&zip_path))
            .await
            .unwrap();
        assert_eq!(r.files, 1);
        assert_eq!(r.withdrawn, withdrawn);
        assert_eq!(r.by_ecosystem["npm"].added, n as u64 - withdrawn);
        let again = import(&store, &[zip_path]).await.unwrap();
        assert_eq!(again.by_ecosystem["npm"].unchanged, n as u64 - withdrawn);
        let left: i64 = store
            .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM advisory_stage", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(left, 0);
        let stats = store.call(|c| advisories::stats(c)).await.unwrap();
        assert_eq!(stats[0].advisories, n as u64 - withdrawn);
    }

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    #[tokio::test]
    async fn special_and_huge_files_are_refused_and_the_rest_imported() {
        let store = Store::in_memory();
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo.json");
        mkfifo(&fifo);
        let huge = tmp.path().join("huge.json");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_RECORD_BYTES + 1)
            .unwrap();
        let good = fixtures().join("npm/MAL-2025-46969.json");
        // Only refusals: an error naming them (nothing was read).
        for (path, says) in [
            (fifo.clone(), "a FIFO, not a regular file"),
            (PathBuf::from("/dev/zero"), "a character device"),
            (huge.clone(), "over the limit of 64 MiB for an OSV record"),
        ] {
            let e = import(&store, std::slice::from_ref(&path))
                .await
                .unwrap_err();
            assert!(
                e.contains(&path.display().to_string()) && e.contains(says),
                "{e}"
            );
        }
        // With a good file: it is imported, the others are counted and named.
        let r = import(&store, &[fifo.clone(), good, huge, "/dev/zero".into()])
            .await
            .unwrap();
        assert_eq!((r.files, r.refused, r.invalid), (1, 3, 0), "{r:?}");
        assert_eq!(r.by_ecosystem["npm"].added, 1);
        assert!(
            r.problems[0].contains("fifo.json: a FIFO"),
            "{:?}",
            r.problems
        );
        // In a folder: a FIFO and a link named like records are refused, not waited on.
        let dir = tmp.path().join("osv");
        std::fs::create_dir(&dir).unwrap();
        mkfifo(&dir.join("stuck.json"));
        std::os::unix::fs::symlink(dir.join("loop.zip"), dir.join("loop.zip")).unwrap();
        std::fs::write(dir.join("notes.txt"), "not a record").unwrap();
        std::fs::copy(
            fixtures().join("npm/MAL-2025-46974.json"),
            dir.join("ok.json"),
        )
        .unwrap();
        let r = import(&store, std::slice::from_ref(&dir)).await.unwrap();
        assert_eq!((r.files, r.refused), (1, 2), "{r:?}");
        assert_eq!(r.by_ecosystem["npm"].added, 1);
        assert!(r.problems.iter().any(|p| p.contains("stuck.json: a FIFO")));
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("loop.zip: a symbolic link"))
        );
        assert_eq!(batches(&dir).unwrap(), [dir.join("ok.json")]);
        assert!(batches(Path::new("/dev/zero")).is_err());
    }

    #[test]
    fn zip_entries_over_the_cap_are_refused_and_the_rest_read() {
        let tmp = tempfile::tempdir().unwrap();
        let zip_path = tmp.path().join("all.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        let good = std::fs::read_to_string(fixtures().join("npm/MAL-2025-46969.json")).unwrap();
        let cap = good.len() as u64 + 10;
        for (name, body) in [
            ("a.json", good.clone()),
            ("big.json", " ".repeat(cap as usize + 1)),
        ] {
            use std::io::Write;
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let b = read_batch(&zip_path, cap, &mut |_, _| Ok(()));
        assert!(b.read);
        assert_eq!((b.rows.len(), b.invalid.len()), (1, 0), "{:?}", b.invalid);
        assert_eq!(b.refused.len(), 1, "{:?}", b.refused);
        assert!(
            b.refused[0].contains("all.zip!big.json")
                && b.refused[0].contains(&format!("over the limit of {} bytes", cap)),
            "{:?}",
            b.refused
        );
        // A zip that is a FIFO is never opened.
        let fifo = tmp.path().join("x.zip");
        mkfifo(&fifo);
        let b = read_batch(&fifo, cap, &mut |_, _| Ok(()));
        assert!(!b.read);
        assert!(b.refused[0].contains("a FIFO"), "{:?}", b.refused);
    }

    #[test]
    fn refusals_are_listed_before_invalid_records() {
        let mut r = ImportReport::default();
        for i in 0..12 {
            r.problem(format!("invalid {i}"));
        }
        r.refuse("refused 0".into());
        r.refuse("refused 1".into());
        assert_eq!(r.problems.len(), MAX_LISTED);
        assert_eq!(&r.problems[..3], ["refused 0", "refused 1", "invalid 0"]);
        assert_eq!((r.invalid, r.refused), (12, 2));
    }

    #[test]
    fn modified_times_compare_as_instants() {
        assert!(newer("2024-07-10T11:20:07.604887Z", "2024-07-10T11:20:07Z"));
        assert!(!newer(
            "2024-07-10T11:20:07Z",
            "2024-07-10T11:20:07.604887Z"
        ));
        assert!(newer("2025-01-01T00:00:00+01:00", "2024-12-31T22:00:00Z"));
    }
}
