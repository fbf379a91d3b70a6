//! Run-all ordering, pure: a script's ordering number comes from a header comment
//! (`# warden: order=3.01`, also `//`) or else its file-name prefix (`3.01_load.py`);
//! scripts group by the integer part, groups run in ascending order, and scripts
//! without a number run last, one at a time, by path. Also the catalog's descriptive
//! name: the first line of a module docstring or header comment, else the file name.

use std::cmp::Ordering;

use regex::Regex;

/// An ordering number as written (`3.01`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub text: String,
    pub value: f64,
}

impl Order {
    pub fn group(&self) -> u64 {
        self.value.trunc() as u64
    }

    fn parse(text: &str) -> Option<Order> {
        let value: f64 = text.parse().ok()?;
        (value.is_finite() && value >= 0.0).then(|| Order {
            text: text.to_owned(),
            value,
        })
    }
}

/// How many leading lines are searched for header comments and docstrings.
const HEADER_LINES: usize = 30;

/// The ordering number of a script: its header comment, else its file-name prefix.
pub fn order_of(file_name: &str, text: &str) -> Option<Order> {
    let header = Regex::new(r"^\s*(?:#|//|--)\s*warden:\s*order\s*=\s*(\d+(?:\.\d+)?)\b")
        .expect("valid regex");
    if let Some(o) = text
        .lines()
        .take(HEADER_LINES)
        .find_map(|l| header.captures(l))
        .and_then(|c| Order::parse(&c[1]))
    {
        return Some(o);
    }
    let prefix = Regex::new(r"^(\d+(?:\.\d+)?)[_\- ]").expect("valid regex");
    prefix.captures(file_name).and_then(|c| Order::parse(&c[1]))
}

/// The first line of the module docstring (Python) or of the leading comment block
/// (`#`, `//`, `/* */`), skipping shebangs, encodings and `warden:` lines.
pub fn description(file_name: &str, text: &str) -> String {
    let mut lines = text.lines().take(HEADER_LINES).peekable();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if t.is_empty()
            || t.starts_with("#!")
            || t.contains("coding:")
            || t.trim_start_matches(['#', '/', '-', '*', ' '])
                .starts_with("warden:")
            || t == "\"use strict\";"
            || t == "'use strict';"
        {
            continue;
        }
        for q in ["\"\"\"", "'''"] {
            if let Some(rest) = t.strip_prefix(q) {
                let rest = rest.trim_end_matches(q).trim();
                if !rest.is_empty() {
                    return rest.to_owned();
                }
                let next = lines.peek().map(|l| l.trim().trim_end_matches(q).trim());
                return match next {
                    Some(n) if !n.is_empty() => n.to_owned(),
                    _ => file_name.to_owned(),
                };
            }
        }
        for c in ["#", "//", "/*", "*", "--"] {
            if let Some(rest) = t.strip_prefix(c) {
                let rest = rest.trim().trim_end_matches("*/").trim();
                if !rest.is_empty() {
                    return rest.to_owned();
                }
            }
        }
        if t.starts_with(['#', '/', '*']) {
            continue;
        }
        break;
    }
    file_name.to_owned()
}

/// Groups of indexes into `scripts` (`(path, order)`), in the order they run: numbered
/// groups ascending (members by number, then path), then each unnumbered script alone.
pub fn plan(scripts: &[(String, Option<Order>)]) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..scripts.len()).collect();
    idx.sort_by(|&a, &b| {
        let (pa, oa) = &scripts[a];
        let (pb, ob) = &scripts[b];
        match (oa, ob) {
            (Some(x), Some(y)) => x
                .value
                .partial_cmp(&y.value)
                .unwrap_or(Ordering::Equal)
                .then_with(|| pa.cmp(pb)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => pa.cmp(pb),
        }
    });
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Option<u64> = None;
    for i in idx {
        match &scripts[i].1 {
            Some(o) if current == Some(o.group()) => {
                groups.last_mut().expect("a group exists").push(i)
            }
            Some(o) => {
                current = Some(o.group());
                groups.push(vec![i]);
            }
            None => {
                current = None;
                groups.push(vec![i]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_from_header_or_prefix() {
        assert_eq!(order_of("3.01_load.py", "").unwrap().text, "3.01");
        assert_eq!(order_of("2-x.sh", "").unwrap().value, 2.0);
        assert_eq!(
            order_of("load.py", "#!/usr/bin/env python3\n# warden: order=4.5\n")
                .unwrap()
                .text,
            "4.5"
        );
        assert_eq!(
            order_of("1_a.js", "// warden: order=7\n").unwrap().value,
            7.0,
            "the header wins"
        );
        assert_eq!(order_of("load.py", "print(1)\n"), None);
        assert_eq!(order_of("2024report.py", ""), None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            description("a.py", "\"\"\"Load the CSV.\n\nMore.\n\"\"\"\n"),
            "Load the CSV."
        );
        assert_eq!(
            description(
                "a.py",
                "#!/usr/bin/env python3\n\"\"\"\nFetch data.\n\"\"\"\n"
            ),
            "Fetch data."
        );
        assert_eq!(
            description(
                "a.sh",
                "#!/bin/sh\n# warden: order=2\n# Upload the report\nset -e\n"
            ),
            "Upload the report"
        );
        assert_eq!(description("b.js", "// Train it\nx()\n"), "Train it");
        assert_eq!(description("c.py", "import os\n"), "c.py");
    }

    #[test]
    fn groups_by_integer_part_then_unnumbered_alone() {
        let o = |s: &str| Order::parse(s);
        let scripts = vec![
            ("scripts/z.py".to_string(), None),
            ("scripts/3.01_b.py".into(), o("3.01")),
            ("scripts/1.00_a.py".into(), o("1.00")),
            ("scripts/3.1_c.py".into(), o("3.1")),
            ("scripts/1.5_d.py".into(), o("1.5")),
            ("scripts/a.py".into(), None),
            ("scripts/10_e.py".into(), o("10")),
        ];
        let names: Vec<Vec<&str>> = plan(&scripts)
            .iter()
            .map(|g| g.iter().map(|&i| scripts[i].0.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["scripts/1.00_a.py", "scripts/1.5_d.py"],
                vec!["scripts/3.01_b.py", "scripts/3.1_c.py"],
                vec!["scripts/10_e.py"],
                vec!["scripts/a.py"],
                vec!["scripts/z.py"],
            ]
        );
    }
}
