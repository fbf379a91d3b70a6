//! `.warden-baseline.json`: accepted findings, by rule, repository-relative path and
//! the SHA-256 of the secret (never the secret). Parsing and editing are pure; the
//! caller reads and writes the file.

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = ".warden-baseline.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub rule: String,
    pub path: String,
    pub hash: String,
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let b: Baseline =
            serde_json::from_str(text).map_err(|e| format!("invalid baseline: {e}"))?;
        if b.version != 1 {
            return Err(format!("unsupported baseline version {}", b.version));
        }
        Ok(b)
    }

    pub fn contains(&self, rule: &str, path: &str, hash: &str) -> bool {
        self.findings
            .iter()
            .any(|e| e.rule == rule && e.path == path && e.hash == hash)
    }

    /// Adds an entry (kept sorted, no duplicates). Returns false if it was there.
    pub fn add(&mut self, entry: Entry) -> bool {
        match self.findings.binary_search(&entry) {
            Ok(_) => false,
            Err(i) => {
                self.findings.insert(i, entry);
                true
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("baseline serializes");
        s.push('\n');
        s
    }
}

impl Baseline {
    pub fn new() -> Baseline {
        Baseline {
            version: 1,
            findings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_sorted_without_duplicates() {
        let mut b = Baseline::new();
        let e = |r: &str| Entry {
            rule: r.into(),
            path: "a.py".into(),
            hash: "ab".into(),
        };
        assert!(b.add(e("z")));
        assert!(b.add(e("a")));
        assert!(!b.add(e("a")));
        let parsed = Baseline::parse(&b.to_json()).unwrap();
        assert_eq!(parsed.findings[0].rule, "a");
        assert!(parsed.contains("z", "a.py", "ab"));
        assert!(!parsed.contains("z", "b.py", "ab"));
        assert!(Baseline::parse("{\"version\":2,\"findings\":[]}").is_err());
        assert!(Baseline::parse("nope").is_err());
    }
}
