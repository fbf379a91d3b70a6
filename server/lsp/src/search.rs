//! Workspace symbols and code search, LSP-free (the server's `workspace/symbol` and
//! `warden/search`, and `warden search`, share it). The index lives in the store
//! (`warden_store::search`): each file's text with every secret the rules find masked
//! (and lines too long to scan for secrets left out), in an FTS5 trigram table, and the
//! definitions its grammar's `definitions.scm` finds. [`update`] brings a workspace's
//! index up to date with the disk, re-reading only files whose identity changed (the
//! workspace scan calls it on the same file list); [`entry`] indexes an editor
//! buffer's text. [`search`] narrows candidates through the index (the query, or the
//! longest literal a regular expression requires) and matches lines in them;
//! [`symbols`] ranks definitions with `warden_analysis::fuzzy`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use globset::GlobMatcher;
use rayon::prelude::*;
use serde::Serialize;
use warden_analysis::lines::{LineIndex, Unit};
use warden_analysis::secrets;
use warden_analysis::{Lang, fuzzy, outline};
use warden_store::Store;
use warden_store::scanned::FileStat;
use warden_store::search::{self as index, IndexedFile, Symbol, SymbolHit};

use crate::scanner::ScanConfig;

/// What masks a secret in indexed text: one `*` per character, so positions after it
/// on its line stay true.
const MASK: char = '*';

/// Files written to the store per transaction during an update (and at most this many
/// more read ahead of the writer).
const BATCH: usize = 128;

/// The key rows are written under: the build and the scan configuration (secret
/// rules, size limits) that produced the masked text.
fn key(cfg: &ScanConfig) -> String {
    cfg.key.clone()
}

/// The index entry for `text` (a file's contents or a buffer's), relative path `rel`;
/// `tree` is the text's parse tree when the caller has one (an open document's).
pub fn entry(
    cfg: &ScanConfig,
    path: &Path,
    rel: String,
    text: &str,
    stat: Option<FileStat>,
    tree: Option<&tree_sitter::Tree>,
) -> IndexedFile {
    let lang = Lang::detect(Some(path), None);
    let body = masked_text(cfg, path, text);
    let symbols = lang
        .grammar()
        .and_then(|g| {
            let parsed;
            let tree = match tree {
                Some(t) => t,
                None => {
                    parsed = warden_analysis::syntax::parse(g, text, None)?;
                    &parsed
                }
            };
            Some(outline::symbols(g, tree, text))
        })
        .unwrap_or_default();
    let lines = LineIndex::new(text);
    let symbols = symbols
        .into_iter()
        .map(|s| {
            let lc = lines.line_col(s.name_start);
            Symbol {
                line: lc.line,
                col8: lines.column(text, s.name_start, Unit::Utf8),
                col16: lines.column(text, s.name_start, Unit::Utf16),
                name: s.name,
                kind: s.kind,
                container: s.container,
            }
        })
        .collect();
    IndexedFile {
        path: rel,
        stat,
        body,
        symbols,
    }
}

/// `text` as it may be stored or shown: every secret the rules find masked (also one
/// a `warden:allow` marker accepts), lines the rules do not scan left out.
pub fn masked_text(cfg: &ScanConfig, path: &Path, text: &str) -> String {
    let ctx = secrets::Context {
        lang: Lang::detect(Some(path), None),
        path: Some(path),
        max_line_len: cfg.max_line_len,
    };
    masked(
        text,
        &cfg.rules.scan_unsuppressed(text, &ctx).findings,
        cfg.max_line_len,
    )
}

/// `text` with each secret finding masked and lines longer than `max_line_len` (which
/// the secret rules do not scan) emptied.
fn masked(text: &str, secrets: &[warden_analysis::Finding], max_line_len: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut spans: Vec<(usize, usize)> = secrets
        .iter()
        .filter(|f| f.end <= text.len() && f.start < f.end)
        .map(|f| (f.start, f.end))
        .collect();
    spans.sort();
    for (s, e) in spans {
        if s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.extend(std::iter::repeat_n(MASK, text[s..e].chars().count()));
        at = e;
    }
    out.push_str(&text[at..]);
    if out.split('\n').all(|l| l.len() <= max_line_len) {
        return out;
    }
    out.split('\n')
        .map(|l| if l.len() > max_line_len { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a file for the index: regular files within the scan's size limit, as text.
fn read_entry(cfg: &ScanConfig, path: &Path, stat: FileStat) -> Option<IndexedFile> {
    if stat.size > cfg.max_file_size {
        return None;
    }
    let bytes = crate::scanner::read_regular(path, cfg.max_file_size).ok()?;
    let text = warden_analysis::text_of(&bytes).ok()?;
    Some(entry(cfg, path, cfg.relative(path), text, Some(stat), None))
}

/// What an [`update`] did.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStats {
    /// Files listed.
    pub files: usize,
    /// Files read and written to the index.
    pub indexed: usize,
    /// Rows dropped (files gone, or not text any more).
    pub removed: usize,
    pub elapsed_ms: u64,
}

/// Brings workspace `workspace_id`'s index up to date with `files` on disk (absolute
/// paths under `cfg.root`), leaving `open` files (indexed from their buffers) alone.
/// Blocking; stops early, keeping what it wrote, once `cancelled` says so. `progress`
/// hears how many files were looked at.
pub fn update(
    store: &Store,
    workspace_id: i64,
    cfg: &ScanConfig,
    files: &[PathBuf],
    open: &HashSet<PathBuf>,
    cancelled: &(dyn Fn() -> bool + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> warden_store::Result<UpdateStats> {
    let started = Instant::now();
    let key = key(cfg);
    let before = {
        let key = key.clone();
        store.call_blocking(move |c| index::stats(c, workspace_id, &key))?
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<IndexedFile>(BATCH);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let (writer_store, writer_key) = (store.clone(), key.clone());
    // One writer: batches go to the store while the pool reads and parses.
    let writer = std::thread::spawn(move || -> warden_store::Result<usize> {
        let mut written = 0;
        let mut batch = Vec::with_capacity(BATCH);
        let flush = |batch: &mut Vec<IndexedFile>| -> warden_store::Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let files = std::mem::take(batch);
            let key = writer_key.clone();
            writer_store.call_blocking(move |c| index::upsert(c, workspace_id, &key, &files))
        };
        for f in rx {
            batch.push(f);
            written += 1;
            if batch.len() >= BATCH {
                flush(&mut batch)?;
            }
        }
        flush(&mut batch)?;
        Ok(written)
    });
    let unreadable = parking_lot::Mutex::new(Vec::new());
    files.par_iter().for_each(|path| {
        if cancelled() {
            return;
        }
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n.is_multiple_of(500) {
            progress(n);
        }
        if open.contains(path) {
            return;
        }
        let rel = cfg.relative(path);
        let Some(stat) = crate::scanner::file_stat(path) else {
            return;
        };
        if before.get(&rel).is_some_and(|s| *s == Some(stat)) {
            return;
        }
        match read_entry(cfg, path, stat) {
            Some(e) => {
                let _ = tx.send(e);
            }
            None if before.contains_key(&rel) => unreadable.lock().push(rel),
            None => {}
        }
    });
    drop(tx);
    // The pool's parsers keep buffers sized by the largest file each parsed.
    rayon::broadcast(|_| warden_analysis::syntax::release_parsers());
    let indexed = writer
        .join()
        .map_err(|_| warden_store::StoreError::Closed)??;
    let mut gone = unreadable.into_inner();
    if !cancelled() {
        let listed: HashSet<String> = files.iter().map(|p| cfg.relative(p)).collect();
        let open_rel: HashSet<String> = open.iter().map(|p| cfg.relative(p)).collect();
        gone.extend(
            before
                .keys()
                .filter(|p| !listed.contains(*p) && !open_rel.contains(*p))
                .cloned(),
        );
    }
    let removed = if gone.is_empty() {
        0
    } else {
        store.call_blocking(move |c| index::remove(c, workspace_id, &gone))?
    };
    Ok(UpdateStats {
        files: files.len(),
        indexed,
        removed,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// Writes one entry (an open buffer's text, or a saved file) to the index.
pub fn put(
    store: &Store,
    workspace_id: i64,
    cfg: &ScanConfig,
    file: IndexedFile,
) -> warden_store::Result<()> {
    let key = key(cfg);
    store.call_blocking(move |c| index::upsert(c, workspace_id, &key, &[file]))
}

/// Re-reads one file from disk into the index (after a save or close), or drops its
/// row when it is gone or not text.
pub fn refresh_file(
    store: &Store,
    workspace_id: i64,
    cfg: &ScanConfig,
    path: &Path,
) -> warden_store::Result<()> {
    match crate::scanner::file_stat(path).and_then(|st| read_entry(cfg, path, st)) {
        Some(e) => put(store, workspace_id, cfg, e),
        None => {
            let rel = vec![cfg.relative(path)];
            store
                .call_blocking(move |c| index::remove(c, workspace_id, &rel))
                .map(drop)
        }
    }
}

/// A search as asked.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    /// `text` is a regular expression (Rust `regex` syntax), else a literal.
    pub regex: bool,
    /// Only paths (relative to their workspace root) matching this glob.
    pub glob: Option<String>,
    /// At most this many matching lines.
    pub limit: usize,
    /// Lines of context before and after each match.
    pub context: usize,
}

/// One matching line.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    #[serde(skip)]
    pub workspace_id: i64,
    /// Relative to the workspace root.
    pub path: String,
    /// 0-based.
    pub line: u32,
    /// The line (secrets masked).
    pub text: String,
    /// Byte ranges of the matches in `text`.
    pub matches: Vec<(usize, usize)>,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub hits: Vec<Hit>,
    /// More lines matched than `limit`.
    pub truncated: bool,
    /// Files whose text was matched.
    pub files_searched: usize,
    /// Whether the index narrowed the files (else every file was read).
    pub indexed: bool,
}

/// A matching line: its 0-based number, its text and the byte ranges of its matches.
type LineMatch<'b> = (usize, &'b str, Vec<(usize, usize)>);

/// How lines are matched: one regular expression (a literal query escaped), smart case
/// as ripgrep's `--smart-case` (case-insensitive unless the pattern has an upper-case
/// literal character), `^`/`$` at line ends, matched within single lines.
struct Matcher {
    re: regex::Regex,
    /// What the index can narrow candidates by (see [`Matcher::new`]).
    required: Option<String>,
}

impl Matcher {
    fn new(q: &Query) -> Result<Matcher, String> {
        let pattern = if q.regex {
            q.text.clone()
        } else {
            regex::escape(&q.text)
        };
        let fold = !has_uppercase_literal(&pattern);
        let re = regex::RegexBuilder::new(&pattern)
            .case_insensitive(fold)
            .multi_line(true)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| format!("invalid regular expression: {e}"))?;
        // The literal itself, or the longest literal every match of the expression
        // contains; three characters or more, the trigram tokenizer's unit.
        let required = if q.regex {
            required_literal(&q.text)
        } else {
            Some(q.text.clone())
        }
        .filter(|l| l.chars().count() >= 3);
        Ok(Matcher { re, required })
    }

    /// The lines of `body` with a match, and the byte ranges of the matches in each:
    /// one search over the whole text finds where the next match starts, the line
    /// holding it is matched alone (a match may not cross a line end), and the search
    /// goes on from the next line.
    fn lines<'b>(&self, body: &'b str) -> Vec<LineMatch<'b>> {
        let mut out = Vec::new();
        // `line_no` is the number of the line starting at byte `counted`.
        let (mut pos, mut line_no, mut counted) = (0usize, 0usize, 0usize);
        while let Some(m) = self.re.find_at(body, pos) {
            let start = body[..m.start()].rfind('\n').map_or(0, |i| i + 1);
            line_no += body[counted..start].matches('\n').count();
            counted = start;
            let end = body[m.start()..]
                .find('\n')
                .map_or(body.len(), |i| m.start() + i);
            let line = &body[start..end];
            let matches: Vec<(usize, usize)> = self
                .re
                .find_iter(line)
                .filter(|m| m.start() < m.end())
                .map(|m| (m.start(), m.end()))
                .collect();
            if !matches.is_empty() {
                out.push((line_no, line, matches));
            }
            if end >= body.len() {
                break;
            }
            pos = end + 1;
        }
        out
    }
}

/// Whether a pattern has an upper-case literal character (ripgrep's smart-case test:
/// `\S` or `\W` are classes, not upper-case letters).
fn has_uppercase_literal(pattern: &str) -> bool {
    use regex_syntax::ast::{self, Ast};
    fn walk(a: &Ast) -> bool {
        match a {
            Ast::Literal(l) => l.c.is_uppercase(),
            Ast::Repetition(r) => walk(&r.ast),
            Ast::Group(g) => walk(&g.ast),
            Ast::Alternation(x) => x.asts.iter().any(walk),
            Ast::Concat(x) => x.asts.iter().any(walk),
            Ast::ClassBracketed(c) => class(&c.kind),
            _ => false,
        }
    }
    fn class(c: &ast::ClassSet) -> bool {
        match c {
            ast::ClassSet::Item(i) => item(i),
            ast::ClassSet::BinaryOp(op) => class(&op.lhs) || class(&op.rhs),
        }
    }
    fn item(i: &ast::ClassSetItem) -> bool {
        match i {
            ast::ClassSetItem::Literal(l) => l.c.is_uppercase(),
            ast::ClassSetItem::Range(r) => r.start.c.is_uppercase() || r.end.c.is_uppercase(),
            ast::ClassSetItem::Bracketed(b) => class(&b.kind),
            ast::ClassSetItem::Union(u) => u.items.iter().any(item),
            _ => false,
        }
    }
    ast::parse::Parser::new()
        .parse(pattern)
        .map(|a| walk(&a))
        .unwrap_or_else(|_| pattern.chars().any(char::is_uppercase))
}

/// The longest literal run a regular expression's every match contains, from its
/// top-level concatenation.
fn required_literal(pattern: &str) -> Option<String> {
    use regex_syntax::hir::{Hir, HirKind};
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    fn lit(h: &Hir) -> Option<String> {
        match h.kind() {
            HirKind::Literal(l) => std::str::from_utf8(&l.0).ok().map(str::to_owned),
            HirKind::Capture(c) => lit(&c.sub),
            _ => None,
        }
    }
    let parts: Vec<&Hir> = match hir.kind() {
        HirKind::Concat(parts) => parts.iter().collect(),
        _ => vec![&hir],
    };
    let mut best = String::new();
    let mut run = String::new();
    for p in parts {
        match lit(p) {
            Some(s) => run.push_str(&s),
            None => run.clear(),
        }
        if run.chars().count() > best.chars().count() {
            best = run.clone();
        }
    }
    (!best.is_empty()).then_some(best)
}

/// Searches the indexed text of `workspaces`. Best files first (BM25 over the trigram
/// index), lines in file order. On a read-only connection: writes (spans, the index's
/// own updates) neither wait for it nor hold it up.
pub async fn search(store: &Store, workspaces: Vec<i64>, q: &Query) -> Result<Found, String> {
    if q.text.is_empty() {
        return Ok(Found::default());
    }
    let matcher = Matcher::new(q)?;
    let glob: Option<GlobMatcher> = match &q.glob {
        Some(g) if !g.is_empty() => Some(
            globset::GlobBuilder::new(g)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("invalid glob {g:?}: {e}"))?
                .compile_matcher(),
        ),
        _ => None,
    };
    let required = matcher.required.clone();
    let (limit, context) = (q.limit.max(1), q.context);
    store
        .read(move |c| {
            let mut found = Found {
                indexed: required.is_some(),
                ..Found::default()
            };
            let keep = |path: &str| glob.as_ref().is_none_or(|g| g.is_match(path));
            index::candidates(c, &workspaces, required.as_deref(), keep, |cand| {
                found.files_searched += 1;
                let body = cand.body.as_str();
                let matched = matcher.lines(body);
                if matched.is_empty() {
                    return true;
                }
                let lines: Vec<&str> = body.split('\n').collect();
                let around = |r: std::ops::Range<usize>| -> Vec<String> {
                    r.filter_map(|k| lines.get(k).map(|l| l.trim_end_matches('\r').to_owned()))
                        .collect()
                };
                for (i, line, matches) in matched {
                    if found.hits.len() == limit {
                        found.truncated = true;
                        return false;
                    }
                    found.hits.push(Hit {
                        workspace_id: cand.workspace_id,
                        path: cand.path.clone(),
                        line: i as u32,
                        text: line.trim_end_matches('\r').to_owned(),
                        matches,
                        before: around(i.saturating_sub(context)..i),
                        after: around(i + 1..(i + 1 + context).min(lines.len())),
                    });
                }
                true
            })?;
            Ok(found)
        })
        .await
        .map_err(|e| e.to_string())
}

/// How many candidates the store hands over for ranking.
const SYMBOL_CANDIDATES: usize = 5000;

/// Definitions of `workspaces` fuzzily matching `query`, best first, at most `limit`
/// (on a read-only connection, as [`search`]).
pub async fn symbols(
    store: &Store,
    workspaces: Vec<i64>,
    query: &str,
    limit: usize,
) -> warden_store::Result<Vec<SymbolHit>> {
    let q = query.to_owned();
    let mut hits = store
        .read(move |c| index::symbols(c, &workspaces, &q, SYMBOL_CANDIDATES))
        .await?;
    let mut scored: Vec<(i32, SymbolHit)> = hits
        .drain(..)
        .filter_map(|h| Some((fuzzy::score(query, &h.symbol.name)?, h)))
        .collect();
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.symbol.name.len().cmp(&b.1.symbol.name.len()))
            .then_with(|| a.1.path.cmp(&b.1.path))
            .then_with(|| a.1.symbol.line.cmp(&b.1.symbol.line))
    });
    scored.truncate(limit);
    Ok(scored.into_iter().map(|(_, h)| h).collect())
}

/// Index sizes per workspace, for status displays.
pub fn counts(store: &Store, workspace_id: i64) -> warden_store::Result<(u64, u64)> {
    store.call_blocking(move |c| index::counts(c, workspace_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str, regex: bool) -> Query {
        Query {
            text: text.into(),
            regex,
            glob: None,
            limit: 100,
            context: 1,
        }
    }

    fn found<'b>(m: &Matcher, body: &'b str) -> Vec<LineMatch<'b>> {
        m.lines(body)
    }

    #[test]
    fn smart_case_literals_and_lines() {
        let m = Matcher::new(&q("straße", false)).unwrap();
        let body = "x = STRASSE\ny = Straße; z = straße\n\nStraße";
        let f = found(&m, body);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!((f[0].0, f[0].2.len()), (1, 2));
        assert_eq!(&f[0].1[f[0].2[0].0..f[0].2[0].1], "Straße");
        assert_eq!(f[1].0, 3, "the last line, without a line end");
        let m = Matcher::new(&q("Config", false)).unwrap();
        assert_eq!(found(&m, "config Config CONFIG")[0].2, [(7, 13)]);
        let m = Matcher::new(&q("a.b(", false)).unwrap();
        assert_eq!(
            found(&m, "a.b( axb(").len(),
            1,
            "a literal, not an expression"
        );
        assert_eq!(m.required.as_deref(), Some("a.b("));
    }

    #[test]
    fn regexes_match_within_lines_and_narrow_by_a_required_literal() {
        assert_eq!(
            required_literal(r"fn\s+parse_\w+").as_deref(),
            Some("parse_")
        );
        assert_eq!(
            required_literal(r"(load|save)_config").as_deref(),
            Some("_config")
        );
        assert_eq!(required_literal(r"a|b"), None);
        assert_eq!(required_literal(r"(?i)hello"), None);
        let m = Matcher::new(&q(r"fn\s+\w+_test", true)).unwrap();
        assert_eq!(m.required.as_deref(), Some("_test"));
        assert_eq!(
            found(&m, "fn  one_test() fn two_test")[0].2,
            [(0, 12), (15, 26)]
        );
        // `\s` could cross the line end; a match is within one line, as in ripgrep, and
        // the line after a crossing candidate is still searched.
        let m = Matcher::new(&q(r"fn\s+x", true)).unwrap();
        let f = found(&m, "a fn\nx\nfn x\n");
        assert_eq!(f.iter().map(|l| l.0).collect::<Vec<_>>(), [2]);
        let m = Matcher::new(&q(r"^b$", true)).unwrap();
        assert_eq!(
            found(&m, "a\nb\nab\nb")
                .iter()
                .map(|l| l.0)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(Matcher::new(&q("(", true)).is_err());
        assert_eq!(Matcher::new(&q("ab", false)).unwrap().required, None);
        // Smart case looks at literal letters, not at escapes.
        assert!(!has_uppercase_literal(r"\S+\W"));
        assert!(has_uppercase_literal(r"\bFoo"));
        assert!(has_uppercase_literal(r"[A-Z]x"));
    }

    #[test]
    fn secrets_are_masked_in_place_and_unscanned_long_lines_left_out() {
        let key = "AKIAQ3EGRB4XY7MNP2KD";
        let text = format!(
            "a = 1\nKEY = \"{key}\"  # é\n{}\nb = 2\nk = '{key}' # warden:allow\n",
            "x".repeat(60)
        );
        let (settings, _) = warden_config::effective(&serde_json::Value::Null, None);
        let (mut cfg, _) = ScanConfig::new(Path::new("/r"), &settings, None);
        cfg.max_line_len = 50;
        let e = entry(&cfg, Path::new("/r/k.py"), "k.py".into(), &text, None, None);
        assert!(!e.body.contains(key), "{}", e.body);
        assert!(
            e.body
                .contains(&format!("KEY = \"{}\"  # é", "*".repeat(key.len())))
        );
        let lines: Vec<&str> = e.body.split('\n').collect();
        assert_eq!(lines.len(), text.split('\n').count(), "line numbers kept");
        assert_eq!(lines[2], "", "a line the secret rules skip is not indexed");
        assert_eq!(lines[3], "b = 2");
        assert!(
            lines[4].starts_with("k = '*"),
            "an accepted secret is masked too: {}",
            lines[4]
        );
    }
}
