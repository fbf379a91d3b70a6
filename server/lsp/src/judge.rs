//! The language's own parser as the judge of the syntax errors tree-sitter reports,
//! where the analysis crate has none in-process (it judges Rust, Python, JavaScript
//! and TypeScript itself, `warden_analysis::syntax::checked_errors`): `bash -n` for
//! shell scripts and `gofmt -e` for Go.
//! - tree-sitter-bash 0.25 rejects valid scripts (`for i do` without `in`, `((` opening
//!   nested subshells, here-documents that derail the rest of the file: 25 false errors
//!   in 19 of /usr/bin's 136 shell scripts, `bench/syntax/run.py`).
//! - tree-sitter-go 0.25 rejects valid Go: `new(-1)` (a type error, not a syntax
//!   error), labels in some positions, `~` outside constraints (34 false errors in 10
//!   of the Go 1.19 library's 5,565 files); `gofmt -e` judges when Go is installed
//!   in /usr/bin (Debian's `golang-go`).
//!
//! A file its judge accepts has no syntax error. No judge runs anything: `-n` only
//! reads, `gofmt` only parses; the child gets no environment
//! (`PATH` is /usr/bin:/bin) and no start-up files. The edit's first phase runs in the
//! message loop's handler, where no process may be waited for: it reuses the path's
//! last verdict ([`Io::Cached`]); the second phase, off the loop, asks again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use warden_analysis::{Finding, FindingKind, Lang};

/// The largest script judged.
const JUDGED_MAX: usize = 1 << 20;
/// How long the judge may take before its verdict is ignored.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Paths whose last verdict is kept at most (the memo starts over beyond).
const REMEMBERED_MAX: usize = 256;

/// Whether a check may do IO (read git, start a process) or must answer from what it
/// saw before (the edit's first phase, in the message loop's handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    Allowed,
    Cached,
}

/// The judges, with each path's last verdict.
#[derive(Default)]
pub struct Judge {
    last: Mutex<HashMap<PathBuf, bool>>,
}

impl Judge {
    /// Drops `findings`' syntax errors when the language's own parser accepts `text`
    /// (with [`Io::Cached`]: when it accepted the last text of `path` it judged).
    pub fn drop_false_syntax_errors(
        &self,
        path: Option<&Path>,
        lang: Lang,
        text: &str,
        findings: &mut Vec<Finding>,
        io: Io,
    ) {
        let Some(command) = judge_of(lang) else {
            return;
        };
        if text.len() > JUDGED_MAX || !findings.iter().any(|f| f.kind == FindingKind::Syntax) {
            return;
        }
        let accepted = match io {
            Io::Cached => path.and_then(|p| self.last.lock().get(p).copied()),
            Io::Allowed => {
                let verdict = accepts(command, text);
                if let (Some(v), Some(p)) = (verdict, path) {
                    let mut last = self.last.lock();
                    if last.len() >= REMEMBERED_MAX {
                        last.clear();
                    }
                    last.insert(p.to_path_buf(), v);
                }
                verdict
            }
        };
        if accepted == Some(true) {
            findings.retain(|f| f.kind != FindingKind::Syntax);
        }
    }
}

/// The command that parses a file of `lang` from its standard input without running
/// it, exiting 0 when the text is valid.
fn judge_of(lang: Lang) -> Option<&'static [&'static str]> {
    match lang.name() {
        "bash" => Some(&["bash", "--norc", "--noprofile", "-n"]),
        "go" => Some(&["gofmt", "-e"]),
        _ => None,
    }
}

/// Runs `command` on `text`: `None` when the program is missing, fails to start or
/// takes too long.
fn accepts(command: &[&str], text: &str) -> Option<bool> {
    let mut child = Command::new(command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let text = text.to_owned();
    // A writer thread: the judge may stop reading at a fatal error, and a full pipe
    // must not block this one.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < TIMEOUT => {
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    status.map(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_analysis::LineIndex;

    fn syntax_errors(judge: &Judge, text: &str, io: Io) -> Vec<Finding> {
        errors_in("bash", judge, text, io)
    }

    fn errors_in(lang: &str, judge: &Judge, text: &str, io: Io) -> Vec<Finding> {
        let lang = Lang::by_name(lang).map(Lang::Grammar).unwrap();
        let g = lang.grammar().unwrap();
        let tree = warden_analysis::syntax::parse(g, text, None).unwrap();
        let mut found = warden_analysis::syntax::errors(&tree, text, &LineIndex::new(text));
        judge.drop_false_syntax_errors(Some(Path::new("/w/gz.sh")), lang, text, &mut found, io);
        found
    }

    #[test]
    fn valid_shell_the_grammar_rejects_is_no_error_and_broken_shell_still_is() {
        let judge = Judge::default();
        // POSIX `for` without `in`, as gzip's and bzip2's scripts write it.
        let valid = "#!/bin/sh\nfor i do\n  echo \"$i\"\ndone\n";
        // Nothing judged yet: without IO the errors stay.
        assert!(!syntax_errors(&judge, valid, Io::Cached).is_empty());
        assert!(syntax_errors(&judge, valid, Io::Allowed).is_empty());
        // The next edit's first phase reuses that verdict.
        let edited = format!("{valid}# more\n");
        assert!(syntax_errors(&judge, &edited, Io::Cached).is_empty());
        let broken = "#!/bin/sh\nfor i do\n  echo \"$i\"\n";
        assert!(!syntax_errors(&judge, broken, Io::Allowed).is_empty());
        assert!(!syntax_errors(&judge, broken, Io::Cached).is_empty());
    }

    #[test]
    fn valid_go_the_grammar_rejects_is_no_error_where_gofmt_is_installed() {
        let judge = Judge::default();
        let valid = "package p\n\nvar _ = new(-1)\n";
        assert!(!errors_in("go", &judge, valid, Io::Cached).is_empty());
        let broken = "package p\n\nvar _ = new(-1)\nfunc f( {\n";
        assert!(!errors_in("go", &judge, broken, Io::Allowed).is_empty());
        let gofmt = Path::new("/usr/bin/gofmt").exists();
        assert_eq!(
            errors_in("go", &judge, valid, Io::Allowed).is_empty(),
            gofmt
        );
    }

    #[test]
    fn the_judges_run_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let text = format!("touch {}\nfor i do\n  :\ndone\n", marker.display());
        let bash = judge_of(Lang::by_name("bash").map(Lang::Grammar).unwrap()).unwrap();
        assert_eq!(accepts(bash, &text), Some(true));
        assert!(!marker.exists());
    }
}
