//! Minimal line-level edits: the hunks that turn the text a request saw into the text
//! the model proposed, and the same hunks carried onto a document the user has edited
//! since, only where they apply cleanly (no user change touches the lines a hunk
//! replaces). Offsets are bytes of the respective text; callers convert to positions.

use similar::{DiffOp, TextDiff};

/// Replace `start..end` (whole lines) with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The user changed lines a proposed hunk also changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// 0-based line of the conflicting hunk in the text the request saw.
    pub line: usize,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the document changed at line {} since the request was made",
            self.line + 1
        )
    }
}

/// Byte offset of the start of each line, plus the text's length.
fn line_starts(text: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    if *v.last().unwrap() != text.len() {
        v.push(text.len());
    }
    v
}

/// A change in line units: old lines `old.0..old.1` become new lines `new.0..new.1`.
#[derive(Debug, Clone, Copy)]
struct LineChange {
    old: (usize, usize),
    new: (usize, usize),
}

fn changes(old: &str, new: &str) -> Vec<LineChange> {
    let diff = TextDiff::from_lines(old, new);
    let mut out: Vec<LineChange> = Vec::new();
    for op in diff.ops() {
        let (o, n) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => ((old_index, old_index + old_len), (new_index, new_index)),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => ((old_index, old_index), (new_index, new_index + new_len)),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                (old_index, old_index + old_len),
                (new_index, new_index + new_len),
            ),
        };
        // Adjacent operations (a delete then an insert) form one hunk.
        match out.last_mut() {
            Some(last) if last.old.1 == o.0 && last.new.1 == n.0 => {
                last.old.1 = o.1;
                last.new.1 = n.1;
            }
            _ => out.push(LineChange { old: o, new: n }),
        }
    }
    out
}

/// The hunks turning `old` into `new`, as byte ranges of `old`.
pub fn diff(old: &str, new: &str) -> Vec<Hunk> {
    let (os, ns) = (line_starts(old), line_starts(new));
    let at = |starts: &[usize], line: usize| {
        starts.get(line).copied().unwrap_or(*starts.last().unwrap())
    };
    changes(old, new)
        .into_iter()
        .map(|c| Hunk {
            start: at(&os, c.old.0),
            end: at(&os, c.old.1),
            text: new[at(&ns, c.new.0)..at(&ns, c.new.1)].to_owned(),
        })
        .collect()
}

/// Carries `hunks` (byte ranges of `base`) onto `current`, the document after the user's
/// own edits since `base`. Fails if any user change touches a hunk's lines.
pub fn rebase(hunks: &[Hunk], base: &str, current: &str) -> Result<Vec<Hunk>, Conflict> {
    if base == current {
        return Ok(hunks.to_vec());
    }
    let bs = line_starts(base);
    let cs = line_starts(current);
    let line_of = |offset: usize| bs.partition_point(|&s| s <= offset).saturating_sub(1);
    let user = changes(base, current);
    let mut out = Vec::with_capacity(hunks.len());
    for h in hunks {
        let a = line_of(h.start);
        let b = if h.end == h.start {
            a
        } else {
            line_of(h.end - 1) + 1
        };
        let mut shift: isize = 0;
        for u in &user {
            let (c, d) = u.old;
            let overlaps = match (c == d, a == b) {
                (false, false) => c < b && a < d,
                (true, false) => a < c && c < b,
                (false, true) => c < a && a < d,
                (true, true) => a == c,
            };
            if overlaps {
                return Err(Conflict { line: a });
            }
            if d <= a {
                shift += (u.new.1 - u.new.0) as isize - (d - c) as isize;
            }
        }
        let (na, nb) = ((a as isize + shift) as usize, (b as isize + shift) as usize);
        let at = |line: usize| cs.get(line).copied().unwrap_or(current.len());
        out.push(Hunk {
            start: at(na),
            end: at(nb),
            text: h.text.clone(),
        });
    }
    Ok(out)
}

/// Applies hunks (byte ranges of `text`, in order, not overlapping).
pub fn apply(text: &str, hunks: &[Hunk]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hunks {
        out.push_str(&text[at..h.start]);
        out.push_str(&h.text);
        at = h.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "import os\n\ndef f(x):\n    return x\n\ndef g():\n    pass\n";

    #[test]
    fn diff_is_minimal_and_applies() {
        let new = "import os\n\ndef f(x):\n    \"\"\"Double x.\"\"\"\n    return 2 * x\n\ndef g():\n    pass\n";
        let hunks = diff(BASE, new);
        assert_eq!(hunks.len(), 1, "{hunks:?}");
        assert_eq!(&BASE[hunks[0].start..hunks[0].end], "    return x\n");
        assert_eq!(apply(BASE, &hunks), new);
        assert!(diff(BASE, BASE).is_empty());
        // No trailing newline on either side.
        let hunks = diff("a\nb", "a\nc");
        assert_eq!(apply("a\nb", &hunks), "a\nc");
        // Pure insertion and pure deletion.
        let ins = diff("a\nb\n", "a\nx\nb\n");
        assert_eq!(
            (ins[0].start, ins[0].end, ins[0].text.as_str()),
            (2, 2, "x\n")
        );
        let del = diff("a\nx\nb\n", "a\nb\n");
        assert_eq!((del[0].start, del[0].end, del[0].text.as_str()), (2, 4, ""));
    }

    #[test]
    fn rebase_shifts_past_user_edits_elsewhere() {
        let proposed = BASE.replace("    pass\n", "    return 1\n");
        let hunks = diff(BASE, &proposed);
        // The user added two lines at the top meanwhile.
        let current = format!("#!/usr/bin/env python3\n# tool\n{BASE}");
        let moved = rebase(&hunks, BASE, &current).unwrap();
        assert_eq!(
            apply(&current, &moved),
            format!("#!/usr/bin/env python3\n# tool\n{proposed}")
        );
        // An edit below the hunk does not move it.
        let current = format!("{BASE}\nprint(g())\n");
        let moved = rebase(&hunks, BASE, &current).unwrap();
        assert_eq!(apply(&current, &moved), format!("{proposed}\nprint(g())\n"));
    }

    #[test]
    fn rebase_refuses_when_the_user_touched_the_same_lines() {
        let proposed = BASE.replace("    return x\n", "    return 2 * x\n");
        let hunks = diff(BASE, &proposed);
        let current = BASE.replace("    return x\n", "    return x + 1\n");
        let err = rebase(&hunks, BASE, &current).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().contains("line 4"));
        // An insertion right inside the replaced block conflicts too.
        let current = BASE.replace("    return x\n", "    # note\n    return x\n");
        let proposed2 = BASE.replace("def f(x):\n    return x\n", "def f(y):\n    return y\n");
        assert!(rebase(&diff(BASE, &proposed2), BASE, &current).is_err());
    }
}
