//! The open-document store: full text per URI, kept current by incremental
//! `didChange` edits, with the document's language and its tree-sitter tree, edited in
//! step with the text so re-parsing is incremental. Positions are converted with the
//! negotiated encoding (UTF-8 or UTF-16 code units); out-of-range positions clamp as
//! the LSP spec says, so a confused client can garble its own text but never crash the
//! server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use warden_analysis::Lang;
use warden_analysis::secrets::Tracked;

use crate::scanner::ScanConfig;

/// How `character` offsets in positions are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
}

/// A zero-based (line, character) position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub character: u32,
}

/// One content change: a range replacement, or the whole text when `range` is `None`.
#[derive(Debug, Clone)]
pub struct Change {
    pub range: Option<(Pos, Pos)>,
    pub text: String,
}

#[derive(Clone)]
pub struct Document {
    pub text: String,
    pub version: i32,
    pub language_id: String,
    pub lang: Lang,
    pub path: Option<PathBuf>,
    /// The last parse, with every edit since applied (`Tree::edit`); `None` until the
    /// first parse or for languages without a grammar.
    pub tree: Option<tree_sitter::Tree>,
    /// The secrets of the last full analysis, kept through every edit since, and the
    /// configuration they were found with (valid only with that one).
    pub secrets: Option<(Arc<ScanConfig>, Tracked)>,
    /// The version whose first analysis phase was published from the edit's handler
    /// (see `handlers::analysis::document_changed`).
    pub first_phase: Option<i32>,
    /// When the edit's handler last ran a first phase (they are paced).
    pub first_phase_at: Option<std::time::Instant>,
    /// Where each line of `text` starts (the first at 0), kept through edits so that
    /// finding an edit's position costs a lookup rather than a walk over the lines.
    line_starts: Vec<usize>,
}

#[derive(Default)]
pub struct Documents {
    docs: HashMap<String, Document>,
    encoding: Encoding,
}

impl Documents {
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.encoding = encoding;
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn open(
        &mut self,
        uri: String,
        language_id: String,
        version: i32,
        text: String,
        path: Option<PathBuf>,
    ) {
        let lang = Lang::detect(path.as_deref(), Some(&language_id));
        self.docs.insert(
            uri,
            Document {
                line_starts: line_starts(&text),
                text,
                version,
                language_id,
                lang,
                path,
                tree: None,
                secrets: None,
                first_phase: None,
                first_phase_at: None,
            },
        );
    }

    /// Applies changes in order. Returns false when the document is not open.
    pub fn change(&mut self, uri: &str, version: i32, changes: Vec<Change>) -> bool {
        let encoding = self.encoding;
        let Some(doc) = self.docs.get_mut(uri) else {
            return false;
        };
        for change in changes {
            match change.range {
                None => {
                    doc.line_starts = line_starts(&change.text);
                    doc.text = change.text;
                    doc.tree = None;
                    doc.secrets = None;
                }
                Some((start, end)) => {
                    let a = locate_line(&doc.text, &doc.line_starts, start, encoding);
                    let b = if (end.line, end.character) >= (start.line, start.character) {
                        locate_line(&doc.text, &doc.line_starts, end, encoding)
                    } else {
                        a
                    };
                    if let Some(tree) = doc.tree.as_mut() {
                        let point = |(byte, line_start, row): (usize, usize, usize)| {
                            (
                                byte,
                                tree_sitter::Point {
                                    row,
                                    column: byte - line_start,
                                },
                            )
                        };
                        tree.edit(&warden_analysis::syntax::input_edit_at(
                            point(a),
                            point(b),
                            &change.text,
                        ));
                    }
                    let (a, b) = (a.0, b.0);
                    if let Some((_, secrets)) = doc.secrets.as_mut() {
                        secrets.edit(a, b, change.text.len());
                    }
                    doc.text.replace_range(a..b, &change.text);
                    splice_line_starts(&mut doc.line_starts, a, b, &change.text);
                }
            }
        }
        doc.version = version;
        true
    }

    pub fn close(&mut self, uri: &str) -> Option<Document> {
        self.docs.remove(uri)
    }

    pub fn get(&self, uri: &str) -> Option<&Document> {
        self.docs.get(uri)
    }

    pub fn get_mut(&mut self, uri: &str) -> Option<&mut Document> {
        self.docs.get_mut(uri)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Document)> {
        self.docs.iter()
    }
}

/// Where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Updates `starts` after `a..b` of the text was replaced by `new`: starts inside the
/// replaced bytes go, the new text's come in, later ones move.
fn splice_line_starts(starts: &mut Vec<usize>, a: usize, b: usize, new: &str) {
    let lo = starts.partition_point(|&s| s <= a);
    let hi = starts.partition_point(|&s| s <= b);
    for s in &mut starts[hi..] {
        *s = *s + new.len() - (b - a);
    }
    let added = new.match_indices('\n').map(|(i, _)| a + i + 1);
    starts.splice(lo..hi, added);
}

/// [`offset`] with the text's line starts at hand: the byte of `pos`, the start of
/// its line and the line's number (past the end: the end of the text, on its last
/// line).
fn locate_line(
    text: &str,
    starts: &[usize],
    pos: Pos,
    encoding: Encoding,
) -> (usize, usize, usize) {
    match starts.get(pos.line as usize) {
        Some(&line_start) => (
            column_in_line(text, line_start, pos.character, encoding),
            line_start,
            pos.line as usize,
        ),
        None => {
            let last = starts.len() - 1;
            (text.len(), starts[last], last)
        }
    }
}

/// Byte offset of `pos` in `text`. A line past the end clamps to the end of the text; a
/// character past the line's end clamps to the line end (before its line break); an
/// offset inside a multi-unit character rounds down to the character's start.
pub fn offset(text: &str, pos: Pos, encoding: Encoding) -> usize {
    let mut line_start = 0;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    column_in_line(text, line_start, pos.character, encoding)
}

/// The byte of UTF-8/UTF-16 column `character` in the line starting at `line_start`
/// (clamped to the line's end, before a `\r`).
fn column_in_line(text: &str, line_start: usize, character: u32, encoding: Encoding) -> usize {
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut units = 0u32;
    for (i, c) in line.char_indices() {
        if units >= character {
            return line_start + i;
        }
        units += match encoding {
            Encoding::Utf8 => c.len_utf8() as u32,
            Encoding::Utf16 => c.len_utf16() as u32,
        };
        if units > character {
            return line_start + i;
        }
    }
    line_start + line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: u32, character: u32) -> Pos {
        Pos { line, character }
    }

    #[test]
    fn offsets_in_both_encodings() {
        let text = "aé😀b\nxyz\r\nlast";
        // 'é' is 2 bytes / 1 UTF-16 unit; '😀' is 4 bytes / 2 UTF-16 units.
        assert_eq!(offset(text, p(0, 2), Encoding::Utf16), 3);
        assert_eq!(offset(text, p(0, 4), Encoding::Utf16), 7);
        assert_eq!(
            offset(text, p(0, 3), Encoding::Utf16),
            3,
            "inside a surrogate pair rounds down"
        );
        assert_eq!(offset(text, p(0, 7), Encoding::Utf8), 7);
        assert_eq!(
            offset(text, p(1, 99), Encoding::Utf16),
            12,
            "clamps before CRLF"
        );
        assert_eq!(offset(text, p(2, 4), Encoding::Utf16), text.len());
        assert_eq!(offset(text, p(9, 0), Encoding::Utf16), text.len());
    }

    #[test]
    fn incremental_edits_apply_in_order() {
        let mut docs = Documents::default();
        docs.open(
            "file:///a".into(),
            "python".into(),
            1,
            "def f():\n    return 1\n".into(),
            None,
        );
        assert!(docs.change(
            "file:///a",
            2,
            vec![
                Change {
                    range: Some((p(1, 11), p(1, 12))),
                    text: "42".into()
                },
                Change {
                    range: Some((p(0, 4), p(0, 5))),
                    text: "answer".into()
                },
                Change {
                    range: Some((p(2, 0), p(2, 0))),
                    text: "# end\n".into()
                },
            ]
        ));
        let d = docs.get("file:///a").unwrap();
        assert_eq!(d.text, "def answer():\n    return 42\n# end\n");
        assert_eq!(d.version, 2);
        assert!(!docs.change("file:///missing", 1, vec![]));
    }

    #[test]
    fn edits_across_lines_and_wide_characters_keep_text_and_tree_in_step() {
        // Seeded pseudo-random ranged edits (UTF-16 positions, multi-line ranges, inserted
        // newlines and non-ASCII text); after each, the edited tree re-parses to the same
        // tree as a fresh parse, and the text matches an independent splice.
        let mut docs = Documents::default();
        let mut text = String::from("def f(é):\n    return 'ü€'\n\nx = [1,\n  2]\n");
        docs.open("u".into(), "python".into(), 1, text.clone(), None);
        let g = docs.get("u").unwrap().lang.grammar().unwrap();
        docs.get_mut("u").unwrap().tree = warden_analysis::syntax::parse(g, &text, None);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        let inserts = ["x", "\n", "é€", "(", "  # c\n", ""];
        for version in 2..200 {
            let lines: Vec<&str> = text.split('\n').collect();
            let l1 = next(lines.len() as u64) as usize;
            let l2 = (l1 + next(3) as usize).min(lines.len() - 1);
            let units = |l: usize| lines[l].encode_utf16().count() as u64;
            let c1 = next(units(l1) + 1) as u32;
            let c2 = if l2 == l1 {
                c1.max(next(units(l2) + 1) as u32)
            } else {
                next(units(l2) + 1) as u32
            };
            let ins = inserts[next(inserts.len() as u64) as usize];
            // Only positions between characters (no half surrogate pairs here: none used).
            let a = offset(&text, p(l1 as u32, c1), Encoding::Utf16);
            let b = offset(&text, p(l2 as u32, c2), Encoding::Utf16).max(a);
            text.replace_range(a..b, ins);
            docs.change(
                "u",
                version,
                vec![Change {
                    range: Some((p(l1 as u32, c1), p(l2 as u32, c2))),
                    text: ins.into(),
                }],
            );
            let d = docs.get_mut("u").unwrap();
            assert_eq!(d.text, text, "edit {version}");
            assert_eq!(d.line_starts, line_starts(&text), "edit {version}");
            let reparsed = warden_analysis::syntax::parse(g, &d.text, d.tree.as_ref()).unwrap();
            let fresh = warden_analysis::syntax::parse(g, &d.text, None).unwrap();
            assert_eq!(
                reparsed.root_node().to_sexp(),
                fresh.root_node().to_sexp(),
                "edit {version}: {:?}",
                d.text
            );
            d.tree = Some(reparsed);
        }
    }

    #[test]
    fn the_tree_is_edited_with_the_text() {
        let mut docs = Documents::default();
        let text = "def f():\n    return 1\n";
        docs.open("u".into(), "python".into(), 1, text.into(), None);
        let g = docs.get("u").unwrap().lang.grammar().unwrap();
        docs.get_mut("u").unwrap().tree = warden_analysis::syntax::parse(g, text, None);
        docs.change(
            "u",
            2,
            vec![Change {
                range: Some((p(1, 11), p(1, 12))),
                text: "(1".into(),
            }],
        );
        let d = docs.get("u").unwrap();
        let reparsed = warden_analysis::syntax::parse(g, &d.text, d.tree.as_ref()).unwrap();
        let fresh = warden_analysis::syntax::parse(g, &d.text, None).unwrap();
        assert_eq!(reparsed.root_node().to_sexp(), fresh.root_node().to_sexp());
        assert!(reparsed.root_node().has_error());
    }

    #[test]
    fn reversed_or_wild_ranges_never_panic() {
        let mut docs = Documents::default();
        docs.open("u".into(), "text".into(), 1, "héllo\nwörld".into(), None);
        docs.change(
            "u",
            2,
            vec![Change {
                range: Some((p(1, 3), p(0, 1))),
                text: "X".into(),
            }],
        );
        docs.change(
            "u",
            3,
            vec![Change {
                range: Some((p(50, 50), p(99, 99))),
                text: "!".into(),
            }],
        );
        docs.change(
            "u",
            4,
            vec![Change {
                range: None,
                text: "new".into(),
            }],
        );
        assert_eq!(docs.get("u").unwrap().text, "new");
    }
}
