//! Package metadata from a registry API, cached per (ecosystem, normalized name) with
//! the time it was fetched: what the registry knows about a package (its versions,
//! publication times, deprecations) or that it has no such package. Readers decide
//! what is fresh enough.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// RFC 3339.
    pub fetched_at: String,
    /// The answer as JSON (the analysis crate's `PackageMeta`).
    pub body: String,
}

pub fn get(conn: &Connection, ecosystem: &str, name: &str) -> Result<Option<Cached>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fetched_at, body FROM package_metadata WHERE ecosystem = ?1 AND name = ?2",
    )?;
    Ok(stmt
        .query_row(params![ecosystem, name], |r| {
            Ok(Cached {
                fetched_at: r.get(0)?,
                body: r.get(1)?,
            })
        })
        .optional()?)
}

pub fn put(conn: &Connection, ecosystem: &str, name: &str, body: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO package_metadata (ecosystem, name, fetched_at, body)
         VALUES (?1, ?2, ?3, ?4)",
        params![ecosystem, name, warden_trace::now_rfc3339(), body],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn answers_are_kept_and_replaced() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                assert_eq!(super::get(c, "npm", "left-pad")?, None);
                super::put(c, "npm", "left-pad", r#"{"status":"unknown"}"#)?;
                super::put(c, "npm", "left-pad", r#"{"status":"known","versions":[]}"#)?;
                let got = super::get(c, "npm", "left-pad")?.unwrap();
                assert!(got.body.contains("known"));
                assert!(!got.fetched_at.is_empty());
                Ok(())
            })
            .unwrap();
    }
}
