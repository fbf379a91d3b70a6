//! The package-advisory database: OSV records stored whole (as JSON) and indexed by
//! ecosystem and normalized package name. Importing is one transaction per batch (a
//! zip or a JSON file), so an interrupted import leaves whole files or nothing; a
//! record replaces a stored one only when its `modified` time is newer.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::Result;

/// One advisory ready to store (the caller parsed and normalized it).
#[derive(Debug, Clone)]
pub struct AdvisoryRow {
    pub id: String,
    /// RFC 3339; compared as instants by the caller-supplied `newer` function.
    pub modified: String,
    pub malicious: bool,
    pub summary: Option<String>,
    pub record_json: String,
    /// (ecosystem, normalized name) of every affected package.
    pub packages: Vec<(String, String)>,
}

/// What one batch did, by ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Stores a batch and removes the `withdrawn` ids, in one transaction. `newer(a, b)`
/// says whether modification time `a` is later than `b`. Returns counts keyed by
/// ecosystem.
pub fn import_batch(
    conn: &mut Connection,
    rows: &[AdvisoryRow],
    withdrawn: &[String],
    newer: impl Fn(&str, &str) -> bool,
) -> Result<BTreeMap<String, ImportCounts>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    remove(&tx, withdrawn)?;
    let mut counts: BTreeMap<String, ImportCounts> = BTreeMap::new();
    let now = warden_trace::now_rfc3339();
    for row in rows {
        apply(&tx, row, &newer, &now, &mut counts)?;
    }
    stamp_imports(&tx, &counts, &now)?;
    tx.commit()?;
    Ok(counts)
}

/// Stores one row unless the stored copy is as new; counts it under each ecosystem.
fn apply(
    tx: &Connection,
    row: &AdvisoryRow,
    newer: &impl Fn(&str, &str) -> bool,
    now: &str,
    counts: &mut BTreeMap<String, ImportCounts>,
) -> Result<()> {
    // A record affecting several ecosystems counts under each of them.
    let mut ecos: Vec<&str> = row.packages.iter().map(|p| p.0.as_str()).collect();
    ecos.sort_unstable();
    ecos.dedup();
    let existing: Option<String> = tx
        .query_row(
            "SELECT modified FROM advisories WHERE id = ?1",
            [&row.id],
            |r| r.get(0),
        )
        .optional()?;
    let mut count = |f: fn(&mut ImportCounts)| {
        for eco in &ecos {
            f(counts.entry((*eco).to_owned()).or_default());
        }
    };
    match existing {
        Some(m) if !newer(&row.modified, &m) => {
            count(|c| c.unchanged += 1);
            return Ok(());
        }
        Some(_) => {
            tx.execute("DELETE FROM advisories WHERE id = ?1", [&row.id])?;
            count(|c| c.updated += 1);
        }
        None => count(|c| c.added += 1),
    }
    tx.execute(
        "INSERT INTO advisories (id, modified, malicious, summary, record, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![row.id, row.modified, row.malicious, row.summary, row.record_json, now],
    )?;
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO advisory_packages (advisory_id, ecosystem, name) VALUES (?1, ?2, ?3)",
    )?;
    for (ecosystem, name) in &row.packages {
        stmt.execute(params![row.id, ecosystem, name])?;
    }
    Ok(())
}

fn stamp_imports(
    tx: &Connection,
    counts: &BTreeMap<String, ImportCounts>,
    now: &str,
) -> Result<()> {
    // Only what changed makes an ecosystem's data newer: re-importing an old copy
    // (all unchanged) does not.
    for (eco, _) in counts.iter().filter(|(_, c)| c.added + c.updated > 0) {
        tx.execute(
            "INSERT OR REPLACE INTO advisory_imports (ecosystem, imported_at) VALUES (?1, ?2)",
            params![eco, now],
        )?;
    }
    Ok(())
}

/// Large archives are imported in two steps so that memory stays bounded and the
/// import stays atomic: parts of rows are staged (each part its own short transaction,
/// so other writes are not held up), then [`merge_staged`] applies them all in one
/// transaction. A stage left by an interrupted import is dropped later by
/// [`clear_stale_stages`].
pub fn stage(
    conn: &mut Connection,
    stage_id: &str,
    rows: &[AdvisoryRow],
    withdrawn: &[String],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO advisory_stage (stage, id, modified, malicious, summary, record, packages, withdrawn)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for row in rows {
            let packages = serde_json::to_string(&row.packages).unwrap_or_default();
            stmt.execute(params![
                stage_id,
                row.id,
                row.modified,
                row.malicious,
                row.summary,
                row.record_json,
                packages,
                false
            ])?;
        }
        for id in withdrawn {
            stmt.execute(params![
                stage_id,
                id,
                "",
                false,
                None::<String>,
                "",
                "[]",
                true
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Applies a stage in one transaction (as [`import_batch`] would) and drops it.
pub fn merge_staged(
    conn: &mut Connection,
    stage_id: &str,
    newer: impl Fn(&str, &str) -> bool,
) -> Result<BTreeMap<String, ImportCounts>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut counts: BTreeMap<String, ImportCounts> = BTreeMap::new();
    let now = warden_trace::now_rfc3339();
    {
        let mut stmt = tx.prepare(
            "SELECT id, modified, malicious, summary, record, packages, withdrawn
             FROM advisory_stage WHERE stage = ?1 ORDER BY rowid",
        )?;
        let mut rows = stmt.query([stage_id])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            if r.get::<_, bool>(6)? {
                remove(&tx, std::slice::from_ref(&id))?;
                continue;
            }
            let packages: String = r.get(5)?;
            let row = AdvisoryRow {
                id,
                modified: r.get(1)?,
                malicious: r.get(2)?,
                summary: r.get(3)?,
                record_json: r.get(4)?,
                packages: serde_json::from_str(&packages).unwrap_or_default(),
            };
            apply(&tx, &row, &newer, &now, &mut counts)?;
        }
    }
    tx.execute("DELETE FROM advisory_stage WHERE stage = ?1", [stage_id])?;
    stamp_imports(&tx, &counts, &now)?;
    tx.commit()?;
    Ok(counts)
}

/// Drops a stage's rows.
pub fn clear_stage(conn: &Connection, stage_id: &str) -> Result<()> {
    conn.execute("DELETE FROM advisory_stage WHERE stage = ?1", [stage_id])?;
    Ok(())
}

/// Drops the stages left by interrupted imports: those whose id sorts before `before`
/// (stage ids are time-ordered UUIDv7 strings).
pub fn clear_stale_stages(conn: &Connection, before: &str) -> Result<usize> {
    Ok(conn.execute("DELETE FROM advisory_stage WHERE stage < ?1", [before])?)
}

/// Removes advisories that have been withdrawn since they were imported.
pub fn remove(conn: &Connection, ids: &[String]) -> Result<usize> {
    let mut n = 0;
    for id in ids {
        n += conn.execute("DELETE FROM advisories WHERE id = ?1", [id])?;
    }
    Ok(n)
}

/// The stored `modified` time of each of `ids` that is stored.
pub fn modified_of(
    conn: &Connection,
    ids: &[String],
) -> Result<std::collections::HashMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT modified FROM advisories WHERE id = ?1")?;
    let mut out = std::collections::HashMap::new();
    for id in ids {
        if let Some(m) = stmt.query_row([id], |r| r.get::<_, String>(0)).optional()? {
            out.insert(id.clone(), m);
        }
    }
    Ok(out)
}

/// Every stored record (JSON) affecting `name` (normalized) in `ecosystem`.
pub fn for_package(conn: &Connection, ecosystem: &str, name: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.record FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id
         WHERE p.ecosystem = ?1 AND p.name = ?2 ORDER BY a.id",
    )?;
    let rows = stmt
        .query_map(params![ecosystem, name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A stamp that changes whenever advisories are imported or removed.
pub fn stamp(conn: &Connection) -> Result<String> {
    Ok(conn.query_row(
        "SELECT COUNT(*) || '/' || IFNULL(MAX(modified), '') || '/' || IFNULL(MAX(imported_at), '')
         FROM advisories",
        [],
        |r| r.get(0),
    )?)
}

/// Where an ecosystem's advisories were downloaded from and how current they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub ecosystem: String,
    /// The mirror's base URL (the folder holding `<Ecosystem>/all.zip`).
    pub base_url: String,
    /// Validators of the last full archive and of the last `modified_id.csv`.
    pub zip_etag: Option<String>,
    pub zip_modified: Option<String>,
    pub csv_etag: Option<String>,
    pub csv_modified: Option<String>,
    /// The newest `modified` time applied: the incremental update fetches records
    /// modified at or after it.
    pub cursor: Option<String>,
    /// When the last full archive was imported.
    pub full_at: Option<String>,
    /// When the source was last checked successfully (RFC 3339).
    pub checked_at: String,
    /// Records of this ecosystem stored after the last update.
    pub records: u64,
}

/// The download state of every ecosystem that was ever updated.
pub fn sources(conn: &Connection) -> Result<Vec<Source>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ecosystem, base_url, zip_etag, zip_modified, csv_etag, csv_modified, cursor,
                full_at, checked_at, records
         FROM advisory_sources ORDER BY ecosystem",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Source {
                ecosystem: r.get(0)?,
                base_url: r.get(1)?,
                zip_etag: r.get(2)?,
                zip_modified: r.get(3)?,
                csv_etag: r.get(4)?,
                csv_modified: r.get(5)?,
                cursor: r.get(6)?,
                full_at: r.get(7)?,
                checked_at: r.get(8)?,
                records: r.get::<_, i64>(9)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Records (or replaces) an ecosystem's download state.
pub fn put_source(conn: &Connection, s: &Source) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO advisory_sources
           (ecosystem, base_url, zip_etag, zip_modified, csv_etag, csv_modified, cursor,
            full_at, checked_at, records)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            s.ecosystem,
            s.base_url,
            s.zip_etag,
            s.zip_modified,
            s.csv_etag,
            s.csv_modified,
            s.cursor,
            s.full_at,
            s.checked_at,
            s.records as i64
        ],
    )?;
    Ok(())
}

/// The newest `modified` time and the number of stored records affecting `ecosystem`.
pub fn newest(conn: &Connection, ecosystem: &str) -> Result<(Option<String>, u64)> {
    Ok(conn.query_row(
        "SELECT MAX(a.modified), COUNT(DISTINCT a.id)
         FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id
         WHERE p.ecosystem = ?1",
        [ecosystem],
        |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// When each ecosystem's data was last made current, RFC 3339 per ecosystem: the
/// later of its last successful download check and its last import of a record.
pub fn current_as_of(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ecosystem, MAX(at) FROM (
           SELECT ecosystem, checked_at AS at FROM advisory_sources
           UNION ALL
           SELECT ecosystem, imported_at FROM advisory_imports
         ) GROUP BY ecosystem",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// What is loaded, per ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcosystemStats {
    pub ecosystem: String,
    pub advisories: u64,
    pub malicious: u64,
    pub packages: u64,
    pub newest_modified: Option<String>,
    /// When the data was last made current: downloaded, checked against its mirror,
    /// or imported (RFC 3339).
    pub current_as_of: Option<String>,
    /// The mirror it is downloaded from, if it is.
    pub mirror: Option<String>,
}

pub fn stats(conn: &Connection) -> Result<Vec<EcosystemStats>> {
    let mut stmt = conn.prepare(
        "SELECT p.ecosystem, COUNT(DISTINCT a.id), COUNT(DISTINCT CASE WHEN a.malicious THEN a.id END),
                COUNT(DISTINCT p.name), MAX(a.modified)
         FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id
         GROUP BY p.ecosystem ORDER BY p.ecosystem",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(EcosystemStats {
                ecosystem: r.get(0)?,
                advisories: r.get::<_, i64>(1)? as u64,
                malicious: r.get::<_, i64>(2)? as u64,
                packages: r.get::<_, i64>(3)? as u64,
                newest_modified: r.get(4)?,
                current_as_of: None,
                mirror: None,
            })
        })?
        .collect::<Result<Vec<EcosystemStats>, _>>()?;
    let mut rows = rows;
    let current = current_as_of(conn)?;
    let sources = sources(conn)?;
    // An ecosystem downloaded without any record (none published) is listed too: its
    // data is current, not missing.
    for s in &sources {
        if !rows.iter().any(|r| r.ecosystem == s.ecosystem) {
            rows.push(EcosystemStats {
                ecosystem: s.ecosystem.clone(),
                ..EcosystemStats::default()
            });
        }
    }
    rows.sort_by(|a, b| a.ecosystem.cmp(&b.ecosystem));
    for row in &mut rows {
        row.current_as_of = current
            .iter()
            .find(|(e, _)| *e == row.ecosystem)
            .map(|(_, at)| at.clone());
        row.mirror = sources
            .iter()
            .find(|s| s.ecosystem == row.ecosystem)
            .map(|s| s.base_url.clone());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn row(id: &str, modified: &str, name: &str) -> AdvisoryRow {
        AdvisoryRow {
            id: id.into(),
            modified: modified.into(),
            malicious: id.starts_with("MAL-"),
            summary: Some(format!("{id} summary")),
            record_json: format!("{{\"id\":\"{id}\",\"modified\":\"{modified}\"}}"),
            packages: vec![("PyPI".into(), name.into())],
        }
    }

    #[test]
    fn import_is_idempotent_and_newer_records_replace() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let newer = |a: &str, b: &str| a > b;
                let first = import_batch(
                    c,
                    &[
                        row("PYSEC-1", "2024-01-01T00:00:00Z", "requests"),
                        row("MAL-1", "2024-01-01T00:00:00Z", "pilllow"),
                    ],
                    &[],
                    newer,
                )?;
                assert_eq!(
                    first["PyPI"],
                    ImportCounts {
                        added: 2,
                        updated: 0,
                        unchanged: 0
                    }
                );
                let again = import_batch(
                    c,
                    &[row("PYSEC-1", "2024-01-01T00:00:00Z", "requests")],
                    &[],
                    newer,
                )?;
                assert_eq!(again["PyPI"].unchanged, 1);
                let older = import_batch(
                    c,
                    &[row("PYSEC-1", "2023-01-01T00:00:00Z", "requests")],
                    &[],
                    newer,
                )?;
                assert_eq!(older["PyPI"].unchanged, 1);
                let newer_rec = import_batch(
                    c,
                    &[row("PYSEC-1", "2025-01-01T00:00:00Z", "requests")],
                    &[],
                    newer,
                )?;
                assert_eq!(newer_rec["PyPI"].updated, 1);
                let recs = for_package(c, "PyPI", "requests")?;
                assert_eq!(recs.len(), 1);
                assert!(recs[0].contains("2025"));
                let s = stats(c)?;
                assert_eq!((s[0].advisories, s[0].malicious, s[0].packages), (2, 1, 2));
                assert_eq!(remove(c, &["MAL-1".into()])?, 1);
                assert!(for_package(c, "PyPI", "pilllow")?.is_empty());
                Ok(())
            })
            .unwrap();
    }

    /// A record affecting two ecosystems is counted under both (it was counted under
    /// the first only); a withdrawn id goes in the same transaction.
    #[test]
    fn a_record_for_two_ecosystems_counts_under_each() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let mut two = row("GHSA-1", "2024-01-01T00:00:00Z", "left-pad");
                two.packages.push(("npm".into(), "left-pad".into()));
                let counts = import_batch(c, &[two], &[], |a, b| a > b)?;
                assert_eq!(counts["PyPI"].added, 1);
                assert_eq!(counts["npm"].added, 1);
                let counts = import_batch(c, &[], &["GHSA-1".into()], |a, b| a > b)?;
                assert!(counts.is_empty());
                assert!(for_package(c, "npm", "left-pad")?.is_empty());
                Ok(())
            })
            .unwrap();
    }

    /// An ecosystem downloaded without records is listed (current, not missing), with
    /// its mirror; imported data has no mirror.
    #[test]
    fn stats_list_downloaded_ecosystems_without_records() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                import_batch(
                    c,
                    &[row("PYSEC-1", "2024-01-01T00:00:00Z", "x")],
                    &[],
                    |a, b| a > b,
                )?;
                put_source(
                    c,
                    &Source {
                        ecosystem: "Go".into(),
                        base_url: "https://mirror.example/osv".into(),
                        checked_at: "2026-12-05T00:00:00Z".into(),
                        ..Source::default()
                    },
                )?;
                let s = stats(c)?;
                assert_eq!(s.len(), 2);
                assert_eq!((s[0].ecosystem.as_str(), s[0].advisories), ("Go", 0));
                assert_eq!(s[0].mirror.as_deref(), Some("https://mirror.example/osv"));
                assert_eq!(s[0].current_as_of.as_deref(), Some("2026-12-05T00:00:00Z"));
                assert_eq!(
                    (s[1].ecosystem.as_str(), s[1].mirror.as_deref()),
                    ("PyPI", None)
                );
                assert!(s[1].current_as_of.is_some());
                Ok(())
            })
            .unwrap();
    }
}
