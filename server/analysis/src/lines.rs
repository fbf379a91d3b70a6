//! Byte offset <-> (line, byte column) conversion with a precomputed line-start table.

use crate::LineCol;

#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr_iter(text.as_bytes()).map(|i| i + 1));
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    /// The line and byte column of `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.len);
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        LineCol {
            line: line as u32,
            col: (offset - self.starts[line]) as u32,
        }
    }

    /// Byte range of line `line` without its line break; `None` past the end.
    pub fn line_range(&self, line: usize, text: &str) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(line)?;
        let mut end = self.starts.get(line + 1).map_or(self.len, |s| s - 1);
        if end > start && text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        Some(start..end)
    }

    /// The column of `offset` counted in `unit`s from its line start.
    pub fn column(&self, text: &str, offset: usize, unit: Unit) -> u32 {
        let offset = floor_char_boundary(text, offset.min(self.len));
        column_at(text, offset, self.line_col(offset).col, unit)
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

/// The column of `offset` counted in `unit`s, given its byte column `col` (a
/// finding's range has it: no index needed).
pub fn column_at(text: &str, offset: usize, col: u32, unit: Unit) -> u32 {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line = &text[offset.saturating_sub(col as usize)..offset];
    match unit {
        Unit::Utf8 => col,
        Unit::Utf16 => line.chars().map(|c| c.len_utf16() as u32).sum(),
        Unit::Char => line.chars().count() as u32,
    }
}

/// A [`LineIndex`] built on first use: most files of a workspace scan have no finding
/// and never need one (building it is a pass over the whole text).
#[derive(Debug)]
pub struct LazyIndex<'t> {
    text: &'t str,
    index: std::cell::OnceCell<LineIndex>,
}

impl<'t> LazyIndex<'t> {
    pub fn new(text: &'t str) -> LazyIndex<'t> {
        LazyIndex {
            text,
            index: std::cell::OnceCell::new(),
        }
    }

    pub fn get(&self) -> &LineIndex {
        self.index.get_or_init(|| LineIndex::new(self.text))
    }
}

/// How columns are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Utf8,
    Utf16,
    Char,
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn memchr_iter(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter_map(|(i, b)| (*b == b'\n').then_some(i))
}

/// The byte range of the line containing `offset` (without its line break).
pub fn line_around(text: &str, offset: usize) -> std::ops::Range<usize> {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| offset + i);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_back() {
        let text = "ab\r\ncd\n\nlast";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        assert_eq!(idx.line_col(0), LineCol { line: 0, col: 0 });
        assert_eq!(idx.line_col(5), LineCol { line: 1, col: 1 });
        assert_eq!(idx.line_col(8), LineCol { line: 3, col: 0 });
        assert_eq!(idx.line_col(999), LineCol { line: 3, col: 4 });
        assert_eq!(idx.line_range(0, text), Some(0..2));
        assert_eq!(idx.line_range(2, text), Some(7..7));
        assert_eq!(idx.line_range(4, text), None);
        assert_eq!(line_around(text, 5), 4..6);
        assert_eq!(&text[line_around(text, 10)], "last");
        let t = "a😀é=x\n";
        let idx = LineIndex::new(t);
        let at = t.find('=').unwrap();
        assert_eq!(idx.column(t, at, Unit::Utf8), 7);
        assert_eq!(idx.column(t, at, Unit::Utf16), 4);
        assert_eq!(idx.column(t, at, Unit::Char), 3);
    }
}
