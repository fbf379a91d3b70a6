//! Helpers over toml's spanned document tree (`DeTable`) shared by the `pyproject.toml`
//! and `Cargo.toml` readers: lookups, the byte range of a string's contents, of an entry
//! and of the lines that remove it.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Manifest, whole_lines};

pub(super) type Value<'a> = Spanned<DeValue<'a>>;

/// Parses a TOML document; a syntax error becomes the manifest's one error.
pub(super) fn parse<'a>(
    text: &'a str,
    file: &str,
    m: &mut Manifest,
) -> Option<Spanned<DeTable<'a>>> {
    match DeTable::parse(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let span = e.span().unwrap_or(0..text.len().min(1));
            m.errors.push((
                format!("{file} is not valid TOML: {}", e.message().trim()),
                span.start,
                span.end.max(span.start),
            ));
            None
        }
    }
}

pub(super) fn get<'t, 'a>(t: &'t DeTable<'a>, key: &str) -> Option<&'t Value<'a>> {
    t.get(key)
}

pub(super) fn table<'t, 'a>(v: &'t Value<'a>) -> Option<&'t DeTable<'a>> {
    v.get_ref().as_table()
}

/// The bytes between the quotes of a one-line string value, when the text there is
/// exactly the value (no escapes), so edits can target it.
pub(super) fn string_content(text: &str, v: &Value<'_>) -> Option<(usize, usize)> {
    let (s, e) = (v.span().start, v.span().end);
    let raw = text.get(s..e)?;
    let value = v.get_ref().as_str()?;
    if raw.len() < 2 || raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        return None;
    }
    (raw[1..raw.len() - 1] == *value).then_some((s + 1, e - 1))
}

/// Whether `value` is a `[a.b.key]` table (its span is the header, before the key).
fn is_header_table(key: &Spanned<std::borrow::Cow<'_, str>>, value: &Value<'_>) -> bool {
    value.get_ref().is_table() && value.span().start < key.span().start
}

/// The end of an entry's value, including the entries of a header or dotted table.
fn value_end(value: &Value<'_>) -> usize {
    let own = value.span().end;
    match value.get_ref() {
        DeValue::Table(t) => t.iter().map(|(_, v)| value_end(v)).fold(own, usize::max),
        _ => own,
    }
}

/// The bytes of a `key = value` entry (or a `[section.key]` table with its entries).
pub(super) fn entry_range(
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Value<'_>,
) -> (usize, usize) {
    (
        key.span().start.min(value.span().start),
        value_end(value).max(key.span().end),
    )
}

/// The lines to delete to remove an entry: its own lines, or for a header table, from
/// its header to the next header.
pub(super) fn entry_removal(
    text: &str,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Value<'_>,
) -> (usize, usize) {
    let (start, end) = entry_range(key, value);
    let (s, e) = whole_lines(text, start, end);
    if !is_header_table(key, value) {
        return (s, e);
    }
    let mut at = e;
    for line in text[e..].split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            break;
        }
        at += line.len();
    }
    (s, at)
}
