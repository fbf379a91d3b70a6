//! Trusted repository configuration: for each root, the SHA-256 of the `.warden.toml`
//! content the user trusted. Any other content (a changed file) is untrusted again.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// The trusted content hash of `root`'s configuration, if any.
pub fn get(conn: &Connection, root: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT sha256 FROM config_trust WHERE root = ?1",
            params![root],
            |r| r.get(0),
        )
        .optional()?)
}

/// Trusts `sha256` as `root`'s configuration (replacing an earlier decision).
pub fn set(conn: &Connection, root: &str, sha256: &str, at: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO config_trust (root, sha256, trusted_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(root) DO UPDATE SET sha256 = excluded.sha256, trusted_at = excluded.trusted_at",
        params![root, sha256, at],
    )?;
    Ok(())
}

/// Forgets the decision for `root`; returns whether there was one.
pub fn revoke(conn: &Connection, root: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM config_trust WHERE root = ?1", params![root])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_per_root_and_content() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut c).unwrap();
        assert_eq!(get(&c, "/r").unwrap(), None);
        set(&c, "/r", "aa", "t1").unwrap();
        set(&c, "/r", "bb", "t2").unwrap();
        set(&c, "/s", "aa", "t1").unwrap();
        assert_eq!(get(&c, "/r").unwrap().as_deref(), Some("bb"));
        assert!(revoke(&c, "/r").unwrap());
        assert!(!revoke(&c, "/r").unwrap());
        assert_eq!(get(&c, "/s").unwrap().as_deref(), Some("aa"));
    }
}
