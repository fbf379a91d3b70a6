//! Fuzzy matching of symbol names as editors do it: the query's characters appear in
//! the name in order (case-insensitive), and a match scores higher when its characters
//! start words (`gUR` → `getUserRecord`, `pcf` → `parse_config_file`), run together,
//! start the name, or match case exactly, and lower across gaps and in longer names.

/// Score bonuses; only their order matters.
const MATCH: i32 = 16;
const BOUNDARY: i32 = 24;
const FIRST: i32 = 16;
const CONSECUTIVE: i32 = 20;
const SAME_CASE: i32 = 1;
const GAP: i32 = 2;
const EXACT: i32 = 1000;

/// The score of `name` for `query`, or `None` when the query's characters (spaces
/// ignored) are not in the name in order. An empty query matches everything with 0.
pub fn score(query: &str, name: &str) -> Option<i32> {
    let q: Vec<char> = query.chars().filter(|c| !c.is_whitespace()).collect();
    if q.is_empty() {
        return Some(0);
    }
    let n: Vec<char> = name.chars().collect();
    if q.len() > n.len() {
        return None;
    }
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let boundary = |j: usize| {
        j == 0 || {
            let (p, c) = (n[j - 1], n[j]);
            !p.is_alphanumeric() && c.is_alphanumeric()
                || p.is_lowercase() && c.is_uppercase()
                || p.is_alphabetic() && c.is_numeric()
        }
    };
    // best[j]: the best score with the current query character matched at name[j].
    const NONE: i32 = i32::MIN / 2;
    let mut prev = vec![NONE; n.len()];
    for (i, &qc) in q.iter().enumerate() {
        let mut cur = vec![NONE; n.len()];
        // The best of prev[..j] less the gap penalty, carried along j.
        let mut carried = NONE;
        for j in 0..n.len() {
            if i > 0 && j > 0 {
                carried = (carried - GAP).max(prev[j - 1] - GAP);
            }
            if lower(n[j]) != lower(qc) {
                continue;
            }
            let mut s = MATCH;
            if boundary(j) {
                s += BOUNDARY;
            }
            if n[j] == qc {
                s += SAME_CASE;
            }
            if i == 0 {
                if j == 0 {
                    s += FIRST;
                }
                cur[j] = s - (j as i32).min(10);
            } else {
                // Scores far below zero are "no match" (NONE less some gap penalties).
                let valid = |x: i32| x > NONE / 2;
                let run = (j > 0 && valid(prev[j - 1])).then(|| prev[j - 1] + CONSECUTIVE);
                // The gap's first step is free.
                let gap = valid(carried).then_some(carried + GAP);
                if let Some(best) = run.max(gap) {
                    cur[j] = best + s;
                }
            }
        }
        prev = cur;
    }
    let best = prev.into_iter().max().filter(|&s| s > NONE / 2)?;
    let exact = if query.trim().eq_ignore_ascii_case(name) {
        EXACT
    } else {
        0
    };
    Some(best + exact - (n.len() as i32 - q.len() as i32).min(30) / 3)
}

#[cfg(test)]
mod tests {
    use super::score;

    fn ranked<'a>(query: &str, names: &[&'a str]) -> Vec<&'a str> {
        let mut v: Vec<(&str, i32)> = names
            .iter()
            .filter_map(|n| Some((*n, score(query, n)?)))
            .collect();
        v.sort_by_key(|(n, s)| (-s, *n));
        v.into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn characters_in_order_and_nothing_else() {
        assert!(score("pcf", "parse_config_file").is_some());
        assert!(score("PCF", "parse_config_file").is_some());
        assert!(score("fcp", "parse_config_file").is_none());
        assert!(score("parse config", "parse_config").is_some());
        assert_eq!(score("", "x"), Some(0));
        assert!(score("abc", "ab").is_none());
        assert!(score("é", "café").is_some());
    }

    #[test]
    fn word_starts_runs_and_exact_names_rank_first() {
        assert_eq!(
            ranked(
                "gur",
                &[
                    "getUserRecord",
                    "configure",
                    "gurgle",
                    "aggregateUsers",
                    "grid"
                ]
            ),
            ["gurgle", "getUserRecord", "configure", "aggregateUsers"]
        );
        assert_eq!(
            ranked(
                "pcf",
                &["percent_of", "parse_config_file", "PathConfigFactory"]
            ),
            ["PathConfigFactory", "parse_config_file", "percent_of"]
        );
        assert_eq!(
            ranked("Config", &["ConfigLoader", "Config", "reconfigure"]),
            ["Config", "ConfigLoader", "reconfigure"]
        );
        assert_eq!(
            ranked("load", &["loader", "download", "load"]),
            ["load", "loader", "download"]
        );
    }
}
