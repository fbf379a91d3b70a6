//! File scanning shared by `warden scan` and the server's workspace scan: read a file
//! (size cap, binary and UTF-8 checks, symlinks skipped), analyse it, drop findings that
//! the path allowlist or the repository baseline accept, and tally what was skipped.
//! Also the bounded reader for files a user or a client names (baselines, run inputs,
//! OSV records): regular files only, checked before opening (a FIFO or device is never
//! opened) and again on the opened file, read through `take` up to a size cap.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use warden_analysis::packages::manifest::{self, Checked};
use warden_analysis::secrets::baseline::{self, Baseline};
use warden_analysis::secrets::{self, RuleSet, RuleSpec};
use warden_analysis::{Analysis, Checks, Finding, FindingKind, Lang, Skip, shell};
use warden_config::Settings;
use warden_store::scanned::{FileStat, ScannedFile};

use crate::judge::Io;
use crate::packages::{Advisories, LockCache};

/// The largest baseline file read (`.warden-baseline.json`, `--baseline`), about
/// 100,000 entries.
pub const MAX_BASELINE_BYTES: u64 = 16 << 20;

const MIB: u64 = 1 << 20;

/// Why a file named by a user or a client was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file; what it is instead ("a FIFO", "a directory", ...).
    NotRegular(&'static str),
    /// Over `limit` bytes (`size` when known before reading).
    TooLarge {
        size: Option<u64>,
        limit: u64,
    },
    Io(std::io::Error),
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// `n` bytes as `N MiB` when whole, else as bytes.
pub fn size_text(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(kind) => write!(f, "{kind}, not a regular file"),
            ReadError::TooLarge {
                size: Some(size),
                limit,
            } => write!(f, "{size} bytes, over the limit of {}", size_text(*limit)),
            ReadError::TooLarge { size: None, limit } => {
                write!(f, "over the limit of {}", size_text(*limit))
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What a file that is not a regular file is, for messages.
pub fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

fn check_meta(meta: &std::fs::Metadata, limit: u64) -> Result<(), ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: Some(meta.len()),
            limit,
        });
    }
    Ok(())
}

/// The metadata of `path` (symbolic links followed) when it is a regular file of at
/// most `limit` bytes. Opens nothing, so a FIFO cannot block it.
pub fn check_regular(path: &Path, limit: u64) -> Result<std::fs::Metadata, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    check_meta(&meta, limit)?;
    Ok(meta)
}

/// Opens a regular file of at most `limit` bytes: checked before opening (a FIFO or
/// device is never opened) and again on the opened file (it may have been replaced
/// in between). Blocking.
pub fn open_regular(path: &Path, limit: u64) -> Result<(std::fs::File, u64), ReadError> {
    check_regular(path, limit)?;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    check_meta(&meta, limit)?;
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `limit` bytes (see [`open_regular`]); a file that
/// grew past `limit` meanwhile is refused too. Blocking.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_regular(path, limit)?;
    read_bounded(file, limit, len)
}

/// Reads `r` to its end if that is at most `limit` bytes (reading `limit + 1` at most);
/// `hint` sizes the first allocation.
pub fn read_bounded(r: impl Read, limit: u64, hint: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::with_capacity(hint.min(limit).min(64 * MIB) as usize);
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None, limit });
    }
    Ok(buf)
}

/// Reads and parses a baseline file (regular, at most [`MAX_BASELINE_BYTES`]).
pub fn read_baseline(path: &Path) -> Result<Baseline, String> {
    let bytes = read_regular(path, MAX_BASELINE_BYTES).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    Baseline::parse(&text)
}

/// Everything needed to scan files of one repository (or folder).
/// The built-in shell patterns every configuration shares (a workspace scan clones
/// them, so the caches its threads fill go with it).
static BUILTIN_SHELL: std::sync::LazyLock<Arc<shell::Patterns>> =
    std::sync::LazyLock::new(|| Arc::new(shell::Patterns::builtin().clone()));

#[derive(Clone)]
pub struct ScanConfig {
    pub root: PathBuf,
    pub rules: Arc<RuleSet>,
    /// The shell check's patterns: the built-in ones, or a workspace scan's own clone.
    pub shell: Arc<shell::Patterns>,
    pub max_file_size: u64,
    pub max_line_len: usize,
    pub allowlist: GlobSet,
    pub baseline: Option<Baseline>,
    pub checks: Checks,
    /// Package advisories for manifests and imports; `None` when no database is
    /// available.
    pub advisories: Option<Advisories>,
    /// Package metadata (unknown, deprecated and new packages); `None` in the CLI or
    /// when `packages.metadata` is off.
    pub metadata: Option<crate::metadata::Metadata>,
    /// `packages.cooldownDays`.
    pub cooldown_days: u32,
    pub locks: Arc<LockCache>,
    /// The effective `llm` settings of this root (for LLM actions).
    pub llm: warden_config::LlmSettings,
    /// The effective `run` settings of this root (sandboxed runs).
    pub run: warden_config::RunSettings,
    /// Syntax errors the committed version has are dropped (the editor's view); `None`
    /// reports every error (`warden scan`).
    pub committed: Option<Arc<crate::committed::Committed>>,
    /// The languages' own parsers as judges of syntax errors, with their last verdicts.
    pub judge: Arc<crate::judge::Judge>,
    /// Everything besides a file's bytes that its result depends on, hashed: this
    /// build, the settings that steer analysis, the baseline. A workspace scan adds the
    /// advisory data's stamp and keys its per-file cache on the whole (see
    /// `warden_store::scanned`).
    pub key: String,
}

/// This build: its version and the executable's size and modification time (any
/// rebuild may change rules, grammars or checks).
fn build_identity() -> &'static str {
    static ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let exe = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}:{mtime}", m.len())
            })
            .unwrap_or_default();
        format!("{}:{exe}", env!("CARGO_PKG_VERSION"))
    });
    &ID
}

impl ScanConfig {
    /// Builds the configuration from effective settings; problems (bad user rules,
    /// globs, baseline) come back as warnings and are otherwise ignored.
    pub fn new(
        root: &Path,
        settings: &Settings,
        baseline_file: Option<&Path>,
    ) -> (ScanConfig, Vec<String>) {
        let mut warnings = Vec::new();
        let s = &settings.secrets;
        let rules = if s.rules.is_empty() && s.disable.is_empty() {
            RuleSet::builtin()
        } else {
            let mut extra = Vec::new();
            for (i, raw) in s.rules.iter().enumerate() {
                match serde_json::from_value::<RuleSpec>(raw.clone()) {
                    Ok(spec) => extra.push(spec),
                    Err(e) => {
                        warnings.push(format!("warden.secrets.rules[{i}]: {e}; rule ignored"))
                    }
                }
            }
            let (set, errors) = RuleSet::with_config(extra, &s.disable);
            warnings.extend(errors);
            Arc::new(set)
        };
        let mut globs = GlobSetBuilder::new();
        for pattern in &s.allowlist_paths {
            match Glob::new(pattern) {
                Ok(g) => {
                    globs.add(g);
                }
                Err(e) => warnings.push(format!("warden.secrets.allowlistPaths: {pattern:?}: {e}")),
            }
        }
        let allowlist = globs.build().unwrap_or_else(|_| GlobSet::empty());
        let baseline_path = baseline_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| root.join(baseline::FILE_NAME));
        let missing = || {
            baseline_file.is_none()
                && std::fs::symlink_metadata(&baseline_path)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        let baseline = match read_baseline(&baseline_path) {
            Ok(b) => Some(b),
            Err(_) if missing() => None,
            Err(e) => {
                warnings.push(format!(
                    "{}: {e}; baseline ignored",
                    baseline_path.display()
                ));
                None
            }
        };
        let key = crate::root_config::sha256_hex(
            serde_json::json!([
                build_identity(),
                settings.secrets,
                settings.scan,
                settings.packages,
                baseline.as_ref().map(Baseline::to_json),
            ])
            .to_string()
            .as_bytes(),
        );
        (
            ScanConfig {
                root: root.to_path_buf(),
                rules,
                shell: BUILTIN_SHELL.clone(),
                max_file_size: settings.scan.max_file_size,
                max_line_len: settings.scan.max_line_length,
                allowlist,
                baseline,
                checks: Checks {
                    packages: settings.packages.enabled,
                    ..Checks::default()
                },
                advisories: None,
                metadata: None,
                cooldown_days: settings.packages.cooldown_days,
                locks: Arc::default(),
                llm: settings.llm.clone(),
                run: settings.run.clone(),
                committed: Some(Arc::default()),
                judge: Arc::default(),
                key,
            },
            warnings,
        )
    }

    /// `path` relative to the root, with `/` separators (baseline and SARIF form).
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Analyses text (an open document, or a file's contents). `edited`: the secrets
    /// of an earlier version of an open document, kept through its edits (see
    /// [`warden_analysis::analyze`]). With [`Io::Cached`] (the edit's first phase, in
    /// the message loop's handler) the syntax judges answer from their last verdicts
    /// instead of asking git or starting a process.
    pub fn analyze(
        &self,
        path: Option<&Path>,
        text: &str,
        lang: Lang,
        tree: Option<&tree_sitter::Tree>,
        edited: Option<&secrets::Tracked>,
        io: Io,
    ) -> Analysis {
        self.analyze_tracking(path, text, lang, tree, edited, io).0
    }

    /// [`Self::analyze`], and whether the result depends on more than the text and
    /// this configuration: a finding was dropped because the committed version has it
    /// or because an import names a local module.
    fn analyze_tracking(
        &self,
        path: Option<&Path>,
        text: &str,
        lang: Lang,
        tree: Option<&tree_sitter::Tree>,
        edited: Option<&secrets::Tracked>,
        io: Io,
    ) -> (Analysis, bool) {
        let ctx = secrets::Context {
            lang,
            path,
            max_line_len: self.max_line_len,
        };
        let lookup = self.advisories.as_ref().filter(|_| self.checks.packages);
        let mut analysis = warden_analysis::analyze(
            text,
            &ctx,
            warden_analysis::Rules {
                secrets: &self.rules,
                shell: &self.shell,
            },
            tree,
            self.checks,
            lookup.map(|l| l.as_ref() as warden_analysis::Lookup<'_>),
            edited,
        );
        let mut depends = false;
        if self.checks.syntax {
            let findings = &mut analysis.findings;
            self.judge
                .drop_false_syntax_errors(path, lang, text, findings, io);
            if let (Some(committed), Some(path)) = (&self.committed, path) {
                let before = findings.len();
                committed.drop_committed(path, lang, text, findings, &self.judge, io);
                depends |= findings.len() != before;
            }
        }
        if lookup.is_some() {
            let before = analysis.findings.len();
            crate::packages::drop_local_imports(
                &mut analysis.findings,
                text,
                lang,
                path,
                &self.root,
            );
            depends |= analysis.findings.len() != before;
        }
        if let Some(path) = path
            && lookup.is_some()
            && manifest::kind_of(path).is_some()
        {
            let (findings, _) = self.packages(path, text);
            analysis.findings.extend(findings);
            analysis.findings.sort_by_key(|f| (f.start, f.end));
        }
        let rel = path.map(|p| self.relative(p)).unwrap_or_default();
        // A git-ignored `.env` is where secrets belong (and `warden scan` never lists
        // it): its secrets are not findings in the editor either. A tracked one is.
        let allowlisted = path.is_some_and(|p| {
            self.allowlist.is_match(&rel)
                || (lang == Lang::Dotenv && warden_workspace::is_ignored(p))
        });
        analysis.findings.retain(|f| {
            f.kind != FindingKind::Secret
                || !(allowlisted
                    || self.baseline.as_ref().is_some_and(|b| {
                        b.contains(&f.rule, &rel, f.fingerprint.as_deref().unwrap_or(""))
                    }))
        });
        (analysis, depends)
    }

    /// Package findings and checked dependencies of a manifest (none for other files
    /// or without a database).
    pub fn packages(&self, path: &Path, text: &str) -> (Vec<Finding>, Vec<Checked>) {
        match (&self.advisories, manifest::kind_of(path)) {
            (Some(lookup), Some(kind)) => crate::packages::check_manifest(
                path,
                kind,
                text,
                &self.root,
                &self.locks,
                lookup,
                self.metadata.as_ref().map(|m| (m, self.cooldown_days)),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// Reads and analyses one file.
    pub fn scan_file(&self, path: &Path) -> FileResult {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return FileResult::Skipped("deleted".into());
            }
            Err(e) => return FileResult::Skipped(format!("unreadable ({e})")),
        };
        if meta.file_type().is_symlink() {
            return FileResult::Skipped("symbolic link".into());
        }
        if !meta.is_file() {
            return FileResult::Skipped("not a regular file".into());
        }
        if meta.len() > self.max_file_size {
            return FileResult::Skipped(
                Skip::TooLarge {
                    size: meta.len(),
                    limit: self.max_file_size,
                }
                .to_string(),
            );
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return FileResult::Skipped("deleted".into());
            }
            Err(e) => return FileResult::Skipped(format!("unreadable ({e})")),
        };
        match warden_analysis::text_of(&bytes) {
            Ok(text) => {
                let lang = Lang::detect(Some(path), None);
                let (a, depends) =
                    self.analyze_tracking(Some(path), text, lang, None, None, Io::Allowed);
                FileResult::Scanned {
                    bytes: bytes.len() as u64,
                    long_lines: a.long_lines_skipped,
                    // Manifests depend on their lockfiles too.
                    self_contained: !depends && manifest::kind_of(path).is_none(),
                    // Kept only when a finding needs it: a scan holds every result.
                    text: if a.findings.is_empty() {
                        String::new()
                    } else {
                        text.to_owned()
                    },
                    findings: a.findings,
                }
            }
            Err(skip) => FileResult::Skipped(skip.to_string()),
        }
    }
}

/// A file's identity on disk (symbolic links not followed); `None` when it cannot be
/// read.
pub fn file_stat(path: &Path) -> Option<FileStat> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    Some(FileStat {
        size: m.len(),
        mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        inode: m.ino(),
    })
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl ScanConfig {
    /// [`ScanConfig::scan_file`] unless `previous`, the file's row from the last scan
    /// under the same key, shows the file unchanged: then its recorded outcome. Also
    /// the row to keep for the next scan: `None` when the file must be read again
    /// (it has findings, its result depends on other files, or it changed at or after
    /// `settled_before` (nanoseconds), too recently for its times to prove that a
    /// later write would change them).
    pub fn scan_file_cached(
        &self,
        path: &Path,
        previous: Option<&ScannedFile>,
        settled_before: i64,
    ) -> Cached {
        // Taken before reading: a write after it changes the times the next scan sees.
        let stat = file_stat(path);
        if let (Some(stat), Some(prev)) = (stat, previous)
            && prev.stat == stat
        {
            let result = match &prev.skipped {
                Some(reason) => FileResult::Skipped(reason.clone()),
                None => FileResult::Scanned {
                    bytes: stat.size,
                    findings: Vec::new(),
                    long_lines: prev.long_lines as usize,
                    self_contained: true,
                    text: String::new(),
                },
            };
            return Cached {
                result,
                row: Some(prev.clone()),
                reused: true,
            };
        }
        let result = self.scan_file(path);
        let row = |skipped: Option<&String>, long_lines: usize| {
            let stat =
                stat.filter(|s| s.mtime_ns < settled_before && s.ctime_ns < settled_before)?;
            Some(ScannedFile {
                path: self.relative(path),
                stat,
                skipped: skipped.cloned(),
                long_lines: long_lines as u32,
            })
        };
        let keep = match &result {
            FileResult::Scanned {
                findings,
                self_contained: true,
                long_lines,
                ..
            } if findings.is_empty() => row(None, *long_lines),
            FileResult::Skipped(reason)
                if !(reason == "deleted" || reason.starts_with("unreadable")) =>
            {
                row(Some(reason), 0)
            }
            _ => None,
        };
        Cached {
            result,
            row: keep,
            reused: false,
        }
    }
}

/// What [`ScanConfig::scan_file_cached`] returns.
#[derive(Debug)]
pub struct Cached {
    pub result: FileResult,
    /// The row to keep for the next scan (see `warden_store::scanned`).
    pub row: Option<ScannedFile>,
    /// The outcome is the last scan's: the file was not read.
    pub reused: bool,
}

#[derive(Debug)]
pub enum FileResult {
    Scanned {
        bytes: u64,
        findings: Vec<Finding>,
        long_lines: usize,
        /// The result depends on nothing but the file's bytes and the configuration
        /// (not on the committed version, other files or lockfiles): a workspace scan
        /// may reuse it while the file is unchanged.
        self_contained: bool,
        /// The text the findings refer to (for column conversion; empty without
        /// findings); dropped after use.
        text: String,
    },
    Skipped(String),
}

/// Totals of a scan, for summaries and span outputs.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    pub findings: usize,
    pub long_lines_skipped: usize,
    /// Files (scanned or skipped) unchanged since the last workspace scan, whose
    /// outcome was reused without reading them.
    pub unchanged: usize,
    /// Skipped files by reason kind (`binary`, `too large`, `not UTF-8`, ...).
    pub skipped: BTreeMap<String, usize>,
}

impl Summary {
    pub fn add(&mut self, result: &FileResult) {
        match result {
            FileResult::Scanned {
                bytes,
                findings,
                long_lines,
                ..
            } => {
                self.files += 1;
                self.bytes += bytes;
                self.findings += findings.len();
                self.long_lines_skipped += long_lines;
            }
            FileResult::Skipped(reason) => {
                let kind = reason.split([' ', '(']).next().unwrap_or(reason);
                let kind = match kind {
                    "binary" => "binary",
                    "not" if reason.starts_with("not UTF-8") => "not UTF-8",
                    "not" => "not a regular file",
                    "symbolic" => "symbolic link",
                    "deleted" => "deleted",
                    "unreadable" => "unreadable",
                    _ => "too large",
                };
                *self.skipped.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }

    /// The summary of one file.
    pub fn of(result: &FileResult) -> Summary {
        let mut s = Summary::default();
        s.add(result);
        s
    }

    pub fn merge(&mut self, other: Summary) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.findings += other.findings;
        self.long_lines_skipped += other.long_lines_skipped;
        self.unchanged += other.unchanged;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    /// "3 binary, 1 too large" or "none".
    pub fn skipped_text(&self) -> String {
        if self.skipped.is_empty() {
            return "none".into();
        }
        self.skipped
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_with_reasons_and_applies_baseline_and_allowlist() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let key = "AKIAQ3EGRB4XY7MNP2KD";
        std::fs::write(root.join("a.py"), format!("K = \"{key}\"\n")).unwrap();
        std::fs::write(root.join("b.py"), format!("K = \"{key}\"\n")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("docs/c.md"), format!("{key}\n")).unwrap();
        std::fs::write(root.join("bin.dat"), b"\x7fELF\0\0\0").unwrap();
        std::fs::write(root.join("latin1.txt"), b"caf\xe9").unwrap();
        std::fs::write(root.join("big.txt"), vec![b'a'; 4096]).unwrap();
        let mut b = Baseline::new();
        b.add(baseline::Entry {
            rule: "aws-access-key-id".into(),
            path: "b.py".into(),
            hash: secrets::fingerprint(key),
        });
        std::fs::write(root.join(baseline::FILE_NAME), b.to_json()).unwrap();

        let mut settings = Settings::default();
        settings.scan.max_file_size = 1024;
        settings.secrets.allowlist_paths = vec!["docs/**".into()];
        let (cfg, warnings) = ScanConfig::new(&root, &settings, None);
        assert!(warnings.is_empty(), "{warnings:?}");
        let count = |name: &str| match cfg.scan_file(&root.join(name)) {
            FileResult::Scanned { findings, .. } => Ok(findings.len()),
            FileResult::Skipped(r) => Err(r),
        };
        assert_eq!(count("a.py"), Ok(1));
        assert_eq!(count("b.py"), Ok(0), "baselined");
        assert_eq!(count("docs/c.md"), Ok(0), "allowlisted path");
        assert_eq!(count("bin.dat"), Err("binary file".into()));
        assert!(count("latin1.txt").unwrap_err().starts_with("not UTF-8"));
        assert!(count("big.txt").unwrap_err().contains("limit"));
        assert_eq!(count("gone.py"), Err("deleted".into()));
        let mut summary = Summary::default();
        for n in ["a.py", "bin.dat", "latin1.txt", "big.txt", "gone.py"] {
            summary.add(&cfg.scan_file(&root.join(n)));
        }
        assert_eq!(
            summary.skipped_text(),
            "1 binary, 1 deleted, 1 not UTF-8, 1 too large"
        );
    }

    #[test]
    fn rules_from_warden_toml_work() {
        let toml = "[secrets]\ndisable = [\"generic-secret\"]\n\n[[secrets.rules]]\nid = \"acme-api-key\"\nprovider = \"Acme\"\nregex = '\\b(acme_[a-z0-9]{32})\\b'\nsecret_group = 1\nkeywords = [\"acme_\"]\nseverity = \"error\"\n";
        let (overlay, warnings) = warden_config::parse_file(toml, ".warden.toml");
        assert!(warnings.is_empty(), "{warnings:?}");
        let (settings, warnings) =
            warden_config::effective(&serde_json::Value::Null, Some(&overlay));
        assert!(warnings.is_empty(), "{warnings:?}");
        let (cfg, warnings) = ScanConfig::new(Path::new("/nonexistent"), &settings, None);
        assert!(warnings.is_empty(), "{warnings:?}");
        let a = cfg.analyze(
            None,
            "k = 'acme_0123456789abcdef0123456789abcdef'\npassword = 'Zq9!xV2#mK7$pL4&'\n",
            Lang::Other,
            None,
            None,
            Io::Allowed,
        );
        let rules: Vec<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["acme-api-key"],
            "custom rule fires; generic-secret is disabled"
        );
    }

    #[cfg(unix)]
    #[test]
    fn bounded_reads_take_regular_files_only_and_stop_at_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let msg = |r: Result<Vec<u8>, ReadError>| r.unwrap_err().to_string();
        // Neither is opened: a FIFO would wait for a writer, /dev/zero never ends.
        assert_eq!(msg(read_regular(&fifo, 10)), "a FIFO, not a regular file");
        assert_eq!(
            msg(read_regular(Path::new("/dev/zero"), 10)),
            "a character device, not a regular file"
        );
        assert_eq!(
            msg(read_regular(dir, 10)),
            "a directory, not a regular file"
        );
        let sparse = dir.join("sparse");
        std::fs::File::create(&sparse)
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
        assert_eq!(
            msg(read_regular(&sparse, 16 << 20)),
            "1073741824 bytes, over the limit of 16 MiB"
        );
        std::os::unix::fs::symlink(dir.join("loop"), dir.join("loop")).unwrap();
        assert!(msg(read_regular(&dir.join("loop"), 10)).contains("symbolic links"));
        assert!(
            read_regular(&dir.join("gone"), 10)
                .unwrap_err()
                .is_not_found()
        );
        let ok = dir.join("ok");
        std::fs::write(&ok, b"0123456789").unwrap();
        assert_eq!(read_regular(&ok, 10).unwrap(), b"0123456789");
        std::os::unix::fs::symlink(&ok, dir.join("link")).unwrap();
        assert_eq!(read_regular(&dir.join("link"), 10).unwrap().len(), 10);
        // A stream longer than it claimed (a growing file, a lying zip entry) stops
        // one byte past the cap.
        let zero = std::fs::File::open("/dev/zero").unwrap();
        assert_eq!(
            read_bounded(zero, 1000, 10).unwrap_err().to_string(),
            "over the limit of 1000 bytes"
        );
        assert_eq!(read_bounded(&b"abc"[..], 3, 100).unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn a_baseline_that_is_a_fifo_or_huge_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let file = root.join(baseline::FILE_NAME);
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&file)
                .status()
                .unwrap()
                .success()
        );
        let settings = Settings::default();
        let (cfg, warnings) = ScanConfig::new(root, &settings, None);
        assert!(cfg.baseline.is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("a FIFO"), "{warnings:?}");
        let big = root.join("big.json");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_BASELINE_BYTES + 1)
            .unwrap();
        let (_, warnings) = ScanConfig::new(root, &settings, Some(&big));
        assert!(
            warnings[0].contains("over the limit of 16 MiB"),
            "{warnings:?}"
        );
        // A missing root baseline is no warning; a missing named one is.
        std::fs::remove_file(&file).unwrap();
        assert!(ScanConfig::new(root, &settings, None).1.is_empty());
        let (_, warnings) = ScanConfig::new(root, &settings, Some(&root.join("nope.json")));
        assert!(warnings[0].contains("nope.json"), "{warnings:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_and_bad_user_rules_are_reported_not_fatal() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::os::unix::fs::symlink(root.join("loop"), root.join("loop")).unwrap();
        let mut settings = Settings::default();
        settings.secrets.rules = vec![
            serde_json::json!({"id": "x", "regex": "("}),
            serde_json::json!({"nope": 1}),
        ];
        settings.secrets.allowlist_paths = vec!["[".into()];
        let (cfg, warnings) = ScanConfig::new(root, &settings, None);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            matches!(cfg.scan_file(&root.join("loop")), FileResult::Skipped(r) if r == "symbolic link")
        );
    }
}
