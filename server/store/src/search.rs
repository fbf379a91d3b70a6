//! The workspace search index: per file, its redacted text in an FTS5 table with the
//! trigram tokenizer (so any substring of three characters or more, identifiers
//! included, is found through the index) and the definitions the grammars' queries
//! found in it, for `workspace/symbol`. Each row remembers the file's disk identity
//! (none when the text came from an editor buffer) and the key of what produced it,
//! so an update re-reads only files whose identity or key differ. Never holds a secret
//! in clear: callers index redacted text.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::Result;
use crate::scanned::FileStat;

/// One definition in a file. Columns are given in each position encoding LSP clients
/// negotiate, so no file has to be read to answer `workspace/symbol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// `function`, `class`, `method`, ... (the grammar's `@definition.KIND`).
    pub kind: String,
    /// The enclosing definition's name.
    pub container: Option<String>,
    /// 0-based line of the name.
    pub line: u32,
    pub col8: u32,
    pub col16: u32,
}

/// A file to (re)index.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    /// The disk identity the text was read at; `None` for an open buffer's text.
    pub stat: Option<FileStat>,
    /// The text, secrets redacted.
    pub body: String,
    pub symbols: Vec<Symbol>,
}

/// The disk identity each indexed file of a workspace was read at, for rows written
/// under `key` (rows under another key, or from a buffer, map to `None`: stale).
pub fn stats(
    conn: &Connection,
    workspace_id: i64,
    key: &str,
) -> Result<HashMap<String, Option<FileStat>>> {
    let mut stmt = conn.prepare(
        "SELECT path, key = ?2 AND size IS NOT NULL, size, mtime_ns, ctime_ns, inode
         FROM search_files WHERE workspace_id = ?1",
    )?;
    let rows = stmt
        .query_map(params![workspace_id, key], |r| {
            let current: bool = r.get(1)?;
            let stat = current.then(|| -> rusqlite::Result<FileStat> {
                Ok(FileStat {
                    size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    ctime_ns: r.get(4)?,
                    inode: r.get::<_, i64>(5)? as u64,
                })
            });
            Ok((r.get::<_, String>(0)?, stat.transpose()?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Writes `files` (replacing their earlier rows) in one transaction.
pub fn upsert(
    conn: &mut Connection,
    workspace_id: i64,
    key: &str,
    files: &[IndexedFile],
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut file = tx.prepare(
            "INSERT INTO search_files (workspace_id, path, size, mtime_ns, ctime_ns, inode, key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (workspace_id, path) DO UPDATE SET size = ?3, mtime_ns = ?4,
               ctime_ns = ?5, inode = ?6, key = ?7
             RETURNING id",
        )?;
        let mut clear_text = tx.prepare("DELETE FROM search_text WHERE rowid = ?1")?;
        let mut text = tx.prepare("INSERT INTO search_text (rowid, body) VALUES (?1, ?2)")?;
        let mut clear_symbols = tx.prepare("DELETE FROM search_symbols WHERE file_id = ?1")?;
        let mut symbol = tx.prepare(
            "INSERT INTO search_symbols (file_id, name, kind, container, line, col8, col16)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for f in files {
            let s = f.stat.as_ref();
            let id: i64 = file.query_row(
                params![
                    workspace_id,
                    f.path,
                    s.map(|s| s.size as i64),
                    s.map(|s| s.mtime_ns),
                    s.map(|s| s.ctime_ns),
                    s.map(|s| s.inode as i64),
                    key
                ],
                |r| r.get(0),
            )?;
            clear_text.execute([id])?;
            text.execute(params![id, f.body])?;
            clear_symbols.execute([id])?;
            for y in &f.symbols {
                symbol.execute(params![
                    id,
                    y.name,
                    y.kind,
                    y.container,
                    y.line,
                    y.col8,
                    y.col16
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Removes the rows of `paths` (deleted or no longer listed files).
pub fn remove(conn: &mut Connection, workspace_id: i64, paths: &[String]) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = 0;
    {
        let mut stmt =
            tx.prepare("DELETE FROM search_files WHERE workspace_id = ?1 AND path = ?2")?;
        for p in paths {
            n += stmt.execute(params![workspace_id, p])?;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// A file whose text may match a query.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub workspace_id: i64,
    pub path: String,
    pub body: String,
}

/// Visits the files of `workspaces` holding `phrase` (through the trigram index: three
/// characters or more, case-insensitive), best first by BM25; with `None`, every file
/// in path order (for queries the index cannot narrow). `visit` returns `false` to stop.
/// The order is found from ids alone; the text of a file `keep` accepts (by path) is
/// read only when it is visited.
pub fn candidates(
    conn: &Connection,
    workspaces: &[i64],
    phrase: Option<&str>,
    keep: impl Fn(&str) -> bool,
    mut visit: impl FnMut(Candidate) -> bool,
) -> Result<()> {
    let ids = serde_json::to_string(workspaces).unwrap_or_else(|_| "[]".into());
    let order: Vec<(i64, i64, String)> = {
        let (sql, args): (&str, Vec<Box<dyn rusqlite::ToSql>>) = match phrase {
            Some(q) => (
                "SELECT t.rowid, f.workspace_id, f.path FROM search_text t
                 JOIN search_files f ON f.id = t.rowid
                 WHERE search_text MATCH ?1
                   AND f.workspace_id IN (SELECT value FROM json_each(?2))
                 ORDER BY rank",
                vec![Box::new(fts_phrase(q)), Box::new(ids)],
            ),
            None => (
                "SELECT f.id, f.workspace_id, f.path FROM search_files f
                 WHERE f.workspace_id IN (SELECT value FROM json_each(?1))
                 ORDER BY f.path",
                vec![Box::new(ids)],
            ),
        };
        let mut stmt = conn.prepare_cached(sql)?;
        stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut body = conn.prepare_cached("SELECT body FROM search_text WHERE rowid = ?1")?;
    for (id, workspace_id, path) in order {
        if !keep(&path) {
            continue;
        }
        let Some(text) = body.query_row([id], |r| r.get::<_, String>(0)).optional()? else {
            continue;
        };
        if !visit(Candidate {
            workspace_id,
            path,
            body: text,
        }) {
            break;
        }
    }
    Ok(())
}

/// `text` as one FTS5 phrase (quotes doubled), which the trigram tokenizer turns into
/// "contains this substring".
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// A definition found by [`symbols`].
#[derive(Debug, Clone)]
pub struct SymbolHit {
    pub workspace_id: i64,
    pub path: String,
    pub symbol: Symbol,
}

/// Definitions of `workspaces` whose names hold the characters of `query` in order
/// (case-insensitive for ASCII: `LIKE '%q%u%e%r%y%'`), at most `limit`, shortest names
/// first; callers rank them.
pub fn symbols(
    conn: &Connection,
    workspaces: &[i64],
    query: &str,
    limit: usize,
) -> Result<Vec<SymbolHit>> {
    let mut like = String::from("%");
    for c in query.chars().filter(|c| !c.is_whitespace()) {
        if matches!(c, '%' | '_' | '\\') {
            like.push('\\');
        }
        like.push(c);
        like.push('%');
    }
    let ids = serde_json::to_string(workspaces).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(
        "SELECT f.workspace_id, f.path, s.name, s.kind, s.container, s.line, s.col8, s.col16
         FROM search_symbols s JOIN search_files f ON f.id = s.file_id
         WHERE f.workspace_id IN (SELECT value FROM json_each(?1))
           AND s.name LIKE ?2 ESCAPE '\\'
         ORDER BY length(s.name), s.name, f.path
         LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![ids, like, limit as i64], |r| {
            Ok(SymbolHit {
                workspace_id: r.get(0)?,
                path: r.get(1)?,
                symbol: Symbol {
                    name: r.get(2)?,
                    kind: r.get(3)?,
                    container: r.get(4)?,
                    line: r.get(5)?,
                    col8: r.get(6)?,
                    col16: r.get(7)?,
                },
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many files and definitions a workspace's index holds.
pub fn counts(conn: &Connection, workspace_id: i64) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM search_files WHERE workspace_id = ?1),
                (SELECT COUNT(*) FROM search_symbols s JOIN search_files f ON f.id = s.file_id
                 WHERE f.workspace_id = ?1)",
        [workspace_id],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, workspaces};

    fn file(path: &str, body: &str, symbols: &[&str]) -> IndexedFile {
        IndexedFile {
            path: path.into(),
            stat: Some(FileStat {
                size: body.len() as u64,
                mtime_ns: 1,
                ctime_ns: 1,
                inode: 7,
            }),
            body: body.into(),
            symbols: symbols
                .iter()
                .map(|n| Symbol {
                    name: (*n).into(),
                    kind: "function".into(),
                    container: None,
                    line: 0,
                    col8: 4,
                    col16: 4,
                })
                .collect(),
        }
    }

    fn paths(conn: &Connection, ws: &[i64], q: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        candidates(
            conn,
            ws,
            q,
            |_| true,
            |c| {
                out.push(c.path);
                true
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn substrings_of_identifiers_symbols_replacement_and_removal() {
        let store = Store::in_memory();
        store
            .call_blocking(|c| {
                let ws = workspaces::ensure(c, &workspaces::test_repo("/r"))?.id;
                let other = workspaces::ensure(c, &workspaces::test_repo("/o"))?.id;
                upsert(
                    c,
                    ws,
                    "k1",
                    &[
                        file(
                            "a.py",
                            "def parse_config_file(p):\n    pass\n",
                            &["parse_config_file"],
                        ),
                        file("b.py", "x = ParseConfig()\n", &[]),
                    ],
                )?;
                upsert(
                    c,
                    other,
                    "k1",
                    &[file("c.py", "parse_config = 1\n", &["parse_config"])],
                )?;
                // A substring inside an identifier, case-insensitive, this workspace only.
                let mut hits = paths(c, &[ws], Some("rseconf"));
                hits.sort();
                assert_eq!(hits, ["b.py"]);
                assert_eq!(paths(c, &[ws], Some("config_f")), ["a.py"]);
                assert_eq!(paths(c, &[ws, other], Some("parse_config")).len(), 2);
                assert_eq!(paths(c, &[ws], Some("\"quoted\"")), Vec::<String>::new());
                assert_eq!(paths(c, &[ws], None), ["a.py", "b.py"]);
                // Fuzzy symbols: characters in order.
                let s = symbols(c, &[ws, other], "pcfile", 10)?;
                assert_eq!(s.len(), 1);
                assert_eq!(s[0].symbol.name, "parse_config_file");
                assert_eq!(
                    symbols(c, &[ws, other], "parse_config", 10)?[0].symbol.name,
                    "parse_config"
                );
                assert!(
                    symbols(c, &[ws], "%", 10)?.is_empty(),
                    "LIKE wildcards are literal"
                );
                // Stats under the key; another key or a buffer's text is stale.
                let st = stats(c, ws, "k1")?;
                assert!(st["a.py"].is_some());
                assert!(stats(c, ws, "k2")?["a.py"].is_none());
                let mut buffer = file("a.py", "def renamed(): pass\n", &["renamed"]);
                buffer.stat = None;
                upsert(c, ws, "k1", &[buffer])?;
                assert!(stats(c, ws, "k1")?["a.py"].is_none());
                assert!(paths(c, &[ws], Some("config_f")).is_empty());
                assert_eq!(symbols(c, &[ws], "ren", 10)?.len(), 1);
                assert!(symbols(c, &[ws], "pcfile", 10)?.is_empty());
                assert_eq!(counts(c, ws)?, (2, 1));
                // Removal drops text and symbols; deleting the workspace drops the rest.
                assert_eq!(remove(c, ws, &["a.py".into()])?, 1);
                assert!(symbols(c, &[ws], "ren", 10)?.is_empty());
                assert!(paths(c, &[ws], Some("renamed")).is_empty());
                c.execute("DELETE FROM workspaces WHERE id = ?1", [other])?;
                let texts: i64 =
                    c.query_row("SELECT COUNT(*) FROM search_text", [], |r| r.get(0))?;
                assert_eq!(texts, 1, "only b.py's text is left");
                Ok(())
            })
            .unwrap();
    }
}
