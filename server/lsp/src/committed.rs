//! Syntax errors that the file's committed version (git HEAD) already has are not the
//! user's: the editor shows only those an edit introduced (`syntax::drop_pre_existing`
//! says when two errors are the same one). A grammar's gap on valid code, or a broken
//! file someone committed, stays quiet until its line is edited; `warden scan` (CI)
//! reports every error. HEAD's version of a path and its errors are cached; HEAD is
//! looked up again after [`FRESH`], and re-parsed only when its blob changed. The
//! edit's first phase (in the message loop's handler) only reads the cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use warden_analysis::{Finding, FindingKind, Lang, LineIndex, syntax};

use crate::judge::{Io, Judge};

/// How long a looked-up HEAD version is trusted before it is looked up again.
const FRESH: Duration = Duration::from_secs(2);
/// Paths cached at most (the cache starts over beyond).
const CACHED_MAX: usize = 256;

/// When a path's HEAD version was looked up, and what it was (`None`: not committed).
type Looked = (Instant, Option<Arc<Head>>);

#[derive(Default)]
pub struct Committed {
    cache: Mutex<HashMap<PathBuf, Looked>>,
}

/// A file's committed version and its syntax errors.
struct Head {
    id: String,
    text: String,
    errors: Vec<Finding>,
}

impl Committed {
    /// Drops from `findings` (of `text`, the file at `path`) the syntax errors its
    /// committed version already has; all of them when `text` is that version. With
    /// [`Io::Cached`], only from a HEAD version looked up before. `judge` judged the
    /// errors of `text` and judges HEAD's.
    pub fn drop_committed(
        &self,
        path: &Path,
        lang: Lang,
        text: &str,
        findings: &mut Vec<Finding>,
        judge: &Judge,
        io: Io,
    ) {
        if !findings.iter().any(|f| f.kind == FindingKind::Syntax) {
            return;
        }
        let head = match io {
            Io::Allowed => self.head(path, lang, judge),
            Io::Cached => self.cache.lock().get(path).and_then(|(_, h)| h.clone()),
        };
        let Some(head) = head else {
            return;
        };
        if warden_workspace::blob_id(text.as_bytes()).as_deref() == Some(head.id.as_str()) {
            findings.retain(|f| f.kind != FindingKind::Syntax);
            return;
        }
        syntax::drop_pre_existing(findings, text, &head.errors, &head.text);
    }

    fn head(&self, path: &Path, lang: Lang, judge: &Judge) -> Option<Arc<Head>> {
        let cached = self.cache.lock().get(path).cloned();
        if let Some((at, head)) = &cached
            && at.elapsed() < FRESH
        {
            return head.clone();
        }
        let head = warden_workspace::head_version(path).and_then(|(id, bytes)| {
            if let Some((_, Some(old))) = &cached
                && old.id == id
            {
                return Some(old.clone());
            }
            let text = String::from_utf8(bytes).ok()?;
            let g = lang.grammar()?;
            let tree = syntax::parse(g, &text, None)?;
            let mut errors = syntax::checked_errors(g, &tree, &text, &LineIndex::new(&text));
            judge.drop_false_syntax_errors(None, lang, &text, &mut errors, Io::Allowed);
            Some(Arc::new(Head { id, text, errors }))
        });
        let mut cache = self.cache.lock();
        if cache.len() >= CACHED_MAX {
            cache.clear();
        }
        cache.insert(path.to_path_buf(), (Instant::now(), head.clone()));
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::git;

    fn syntax_errors(path: &Path, text: &str, committed: &Committed) -> Vec<Finding> {
        let lang = Lang::detect(Some(path), None);
        let tree = syntax::parse(lang.grammar().unwrap(), text, None).unwrap();
        let mut found = syntax::errors(&tree, text, &LineIndex::new(text));
        committed.drop_committed(path, lang, text, &mut found, &Judge::default(), Io::Allowed);
        found
    }

    #[test]
    fn only_errors_an_edit_introduced_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        let path = dir.path().join("app.py");
        let head = "def f(:\n    pass\n";
        std::fs::write(&path, head).unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-qm", "broken already"]);
        let committed = Committed::default();
        // As committed: nothing is the user's.
        assert!(syntax_errors(&path, head, &committed).is_empty());
        // Edited elsewhere: the committed error still is not.
        let edited = format!("import os\n{head}");
        assert!(syntax_errors(&path, &edited, &committed).is_empty());
        // A new error is.
        let typed = format!("{edited}print(\n");
        assert_eq!(syntax_errors(&path, &typed, &committed).len(), 1);
        // Outside git every error shows.
        let other = tempfile::tempdir().unwrap();
        let loose = other.path().join("app.py");
        assert_eq!(syntax_errors(&loose, head, &committed).len(), 1);
    }
}
