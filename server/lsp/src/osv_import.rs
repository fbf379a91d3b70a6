//! Importing OSV records into the store: osv-scanner's offline layout
//! (`<Ecosystem>/all.zip`), single zips, directories of JSON files, or one JSON file.
//! Each zip or JSON file is one transaction; withdrawn records are skipped (and removed
//! if stored); a stored record is replaced only by a newer `modified`; records for
//! ecosystems warden does not check are counted and skipped.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use warden_analysis::packages::Ecosystem;
use warden_analysis::packages::osv::Record;
use warden_store::Store;
use warden_store::advisories::{self, AdvisoryRow, ImportCounts};

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub files: u64,
    pub by_ecosystem: BTreeMap<String, ImportCounts>,
    pub withdrawn: u64,
    pub unsupported: u64,
    pub invalid: u64,
    /// The first few problems, for the user.
    pub problems: Vec<String>,
}

impl ImportReport {
    fn problem(&mut self, p: String) {
        self.invalid += 1;
        if self.problems.len() < 10 {
            self.problems.push(p);
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

/// Files to import under `path`, each one transaction.
pub fn batches(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out: Vec<PathBuf> = ignore::WalkBuilder::new(path)
        .standard_filters(false)
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("zip" | "json")))
        .collect();
    out.sort();
    Ok(out)
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

fn read_batch(file: &Path, report: &mut ImportReport) -> Vec<(String, String)> {
    let name = file.display().to_string();
    if file.extension().is_some_and(|e| e == "zip") {
        let opened = std::fs::File::open(file)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| e.to_string())
            });
        let mut archive = match opened {
            Ok(a) => a,
            Err(e) => {
                report.problem(format!("{name}: not a readable zip: {e}"));
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let Ok(mut entry) = archive.by_index(i) else {
                report.problem(format!("{name}: entry {i} unreadable"));
                continue;
            };
            if !entry.name().ends_with(".json") {
                continue;
            }
            let label = format!("{name}!{}", entry.name());
            let mut text = String::new();
            match entry.read_to_string(&mut text) {
                Ok(_) => out.push((label, text)),
                Err(e) => report.problem(format!("{label}: {e}")),
            }
        }
        out
    } else {
        match std::fs::read_to_string(file) {
            Ok(text) => vec![(name, text)],
            Err(e) => {
                report.problem(format!("{name}: {e}"));
                Vec::new()
            }
        }
    }
}

/// Imports every path; IO problems with one file are reported, not fatal.
pub async fn import(store: &Store, paths: &[PathBuf]) -> Result<ImportReport, String> {
    let mut report = ImportReport::default();
    for path in paths {
        for file in batches(path)? {
            report.files += 1;
            let mut rows = Vec::new();
            let mut withdrawn = Vec::new();
            for (label, text) in read_batch(&file, &mut report) {
                match to_row(&text) {
                    Ok(Parsed::Row(r)) => rows.push(r),
                    Ok(Parsed::Withdrawn(id)) => withdrawn.push(id),
                    Ok(Parsed::Unsupported) => report.unsupported += 1,
                    Err(e) => report.problem(format!("{label}: {e}")),
                }
            }
            report.withdrawn += withdrawn.len() as u64;
            let counts = store
                .call(move |c| {
                    advisories::remove(c, &withdrawn)?;
                    advisories::import_batch(c, &rows, newer)
                })
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            for (eco, c) in counts {
                let total = report.by_ecosystem.entry(eco).or_default();
                total.added += c.added;
                total.updated += c.updated;
                total.unchanged += c.unchanged;
            }
        }
    }
    Ok(report)
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
        assert!(import(&store, &[tmp.path().join("missing")]).await.is_err());
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
