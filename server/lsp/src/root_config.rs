//! The effective configuration of one repository root, shared by the server and the
//! command line: editor settings (parsed once per change) under the root's
//! `.warden.toml`, where the file's guarded keys apply only when the user trusts its
//! exact content (see `warden_config::trust`), plus the scan configuration built from
//! the result (rules, allowlist, baseline).
//!
//! A [`RootConfig`] carries the [`Stamp`] of everything it was built from: the editor
//! settings' generation, the trust decisions' generation, and the size and mtime of the
//! configuration and baseline files. The server's cache compares stamps on every
//! lookup, so a cached configuration can never outlive one of its inputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use sha2::{Digest, Sha256};
use warden_analysis::secrets::baseline;
use warden_config::trust::{self, Held};
use warden_config::{Settings, Warning};

use crate::scanner::ScanConfig;

/// The editor's `warden` section, validated once when it arrives.
#[derive(Debug, Clone, Default)]
pub struct EditorSettings {
    pub raw: Value,
    pub settings: Settings,
    pub warnings: Vec<Warning>,
    /// Bumped on every change, so configurations built from older settings are stale.
    pub generation: u64,
}

impl EditorSettings {
    pub fn new(raw: Value, generation: u64) -> EditorSettings {
        let (settings, warnings) = warden_config::from_editor(&raw);
        EditorSettings {
            raw,
            settings,
            warnings,
            generation,
        }
    }
}

/// A root's `.warden.toml` as last read, and what trust made of it.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// SHA-256 of the file's bytes: what a trust decision names.
    pub sha256: String,
    pub trusted: bool,
    /// Keys ignored until the user trusts this content (empty when trusted).
    pub held: Vec<Held>,
    /// The 0-based lines that set held keys.
    pub held_lines: Vec<(u32, Held)>,
}

/// Size and modification time of a file; `None` when it does not exist.
pub type FileStamp = Option<(SystemTime, u64)>;

pub fn file_stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// Everything a root configuration depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub settings: u64,
    pub trust: u64,
    pub file: FileStamp,
    pub baseline: FileStamp,
}

impl Stamp {
    pub fn of(root: &Path, settings: u64, trust: u64) -> Stamp {
        Stamp {
            settings,
            trust,
            file: file_stamp(&root.join(warden_config::FILE_NAME)),
            baseline: file_stamp(&root.join(baseline::FILE_NAME)),
        }
    }
}

/// The effective configuration of one root.
pub struct RootConfig {
    pub root: PathBuf,
    pub settings: Arc<Settings>,
    pub file: Option<ConfigFile>,
    /// Problems with the file or the settings it sets.
    pub warnings: Vec<String>,
    pub stamp: Stamp,
    /// Built on first use ([`RootConfig::scan`]): compiling the rules costs tens of
    /// milliseconds that `warden run` does not need.
    scan: std::sync::OnceLock<(Arc<ScanConfig>, Vec<String>)>,
    baseline: Option<PathBuf>,
    advisories: Option<crate::packages::Advisories>,
    metadata: Option<crate::metadata::Metadata>,
    syntax: SyntaxCaches,
}

/// How the trust decision for a root is made.
pub enum Trust<'a> {
    /// The stored hash of the trusted content, if any.
    Stored(Option<&'a str>),
    /// The user trusted the file for this invocation (`warden scan --trust-config`).
    Given,
}

/// The largest `.warden.toml` read (real ones are a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads and parses `root`'s `.warden.toml`: `(text, overlay, sha256)`, or `None` when
/// there is none. An unreadable or broken file is a warning (and an empty overlay).
pub fn read_file(root: &Path, warnings: &mut Vec<String>) -> Option<(String, Value, String)> {
    let path = root.join(warden_config::FILE_NAME);
    // A repository's file: never a FIFO to block on, nor a huge one to hold.
    let bytes = match crate::scanner::read_regular(&path, MAX_CONFIG_BYTES) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            warnings.push(format!("{}: cannot be read: {e}; ignored", path.display()));
            return None;
        }
    };
    let sha256 = sha256_hex(&bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (overlay, file_warnings) = warden_config::parse_file(&text, &path.display().to_string());
    warnings.extend(file_warnings.iter().map(ToString::to_string));
    Some((text, overlay, sha256))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a root's scan configuration takes besides settings.
#[derive(Default)]
pub struct Extras<'a> {
    /// A baseline file other than the root's `.warden-baseline.json` (`--baseline`).
    pub baseline: Option<&'a Path>,
    pub advisories: Option<crate::packages::Advisories>,
    /// Package metadata (the server's; the CLI has none).
    pub metadata: Option<crate::metadata::Metadata>,
    pub syntax: SyntaxCaches,
}

/// What the syntax check remembers by path, independent of settings: the committed
/// versions and the judges' verdicts.
#[derive(Clone, Default)]
pub struct SyntaxCaches {
    pub committed: Arc<crate::committed::Committed>,
    pub judge: Arc<crate::judge::Judge>,
}

/// Builds a root's configuration. `stamp` is taken by the caller *before* reading, so a
/// file changed while this runs leaves a stale stamp behind and is read again.
pub fn build(
    root: &Path,
    editor: &EditorSettings,
    trust: Trust<'_>,
    stamp: Stamp,
    extras: Extras<'_>,
) -> RootConfig {
    let mut warnings = Vec::new();
    let read = read_file(root, &mut warnings);
    let trusted = |sha: &str| match &trust {
        Trust::Given => true,
        Trust::Stored(stored) => *stored == Some(sha),
    };
    let (effective, file) = match &read {
        Some((text, overlay, sha256)) => {
            let is_trusted = trusted(sha256);
            let e = trust::effective_for_repo(&editor.raw, Some(overlay), is_trusted);
            let file = ConfigFile {
                path: root.join(warden_config::FILE_NAME),
                sha256: sha256.clone(),
                trusted: is_trusted,
                held_lines: trust::held_lines(text, &e.held),
                held: e.held.clone(),
            };
            (e, Some(file))
        }
        None => (trust::effective_for_repo(&editor.raw, None, false), None),
    };
    warnings.extend(effective.warnings.iter().map(ToString::to_string));
    RootConfig {
        root: root.to_path_buf(),
        settings: Arc::new(effective.settings),
        file,
        warnings,
        stamp,
        scan: std::sync::OnceLock::new(),
        baseline: extras.baseline.map(Path::to_path_buf),
        advisories: extras.advisories,
        metadata: extras.metadata,
        syntax: extras.syntax,
    }
}

impl RootConfig {
    /// The scan configuration (rules, allowlist, baseline, advisories), built once.
    pub fn scan(&self) -> Arc<ScanConfig> {
        self.scan_built().0.clone()
    }

    /// Whether [`Self::scan`] is built already.
    pub fn scan_is_built(&self) -> bool {
        self.scan.get().is_some()
    }

    /// Problems with user rules, globs or the baseline, found building [`Self::scan`].
    pub fn scan_warnings(&self) -> &[String] {
        &self.scan_built().1
    }

    fn scan_built(&self) -> &(Arc<ScanConfig>, Vec<String>) {
        self.scan.get_or_init(|| {
            let (mut scan, warnings) =
                ScanConfig::new(&self.root, &self.settings, self.baseline.as_deref());
            scan.advisories = self.advisories.clone();
            // The root's effective settings (a trusted `.warden.toml` may turn it off).
            scan.metadata = self
                .metadata
                .clone()
                .filter(|_| self.settings.packages.metadata);
            scan.committed = Some(self.syntax.committed.clone());
            scan.judge = self.syntax.judge.clone();
            (Arc::new(scan), warnings)
        })
    }

    /// One line for people: which keys are held back and why.
    pub fn held_summary(&self) -> Option<String> {
        let file = self.file.as_ref().filter(|f| !f.held.is_empty())?;
        let keys: Vec<String> = file
            .held
            .iter()
            .map(|h| format!("{} ({})", h.key, h.reason))
            .collect();
        Some(format!(
            "{} is not trusted, so these keys are ignored: {}",
            file.path.display(),
            keys.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rebuilt_configurations_share_the_syntax_caches() {
        // A configuration is rebuilt when settings, trust or advisories change; the
        // edit's first phase only reads the committed-version cache, so a rebuild
        // that started an empty one showed committed errors until the next phase.
        let tmp = tempfile::tempdir().unwrap();
        let editor = EditorSettings::new(json!({}), 1);
        let caches = SyntaxCaches::default();
        for generation in [1, 2] {
            let c = build(
                tmp.path(),
                &editor,
                Trust::Stored(None),
                Stamp::of(tmp.path(), generation, 0),
                Extras {
                    syntax: caches.clone(),
                    ..Extras::default()
                },
            );
            let scan = c.scan();
            assert!(Arc::ptr_eq(
                scan.committed.as_ref().unwrap(),
                &caches.committed
            ));
            assert!(Arc::ptr_eq(&scan.judge, &caches.judge));
        }
    }

    #[test]
    fn trust_is_for_the_exact_content() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let editor = EditorSettings::new(json!({}), 1);
        let text = "system_prompt = \"p\"\n[secrets]\ndisable = [\"aws-access-key\"]\n";
        std::fs::write(root.join(".warden.toml"), text).unwrap();
        let stamp = || Stamp::of(root, 1, 0);
        let c = build(
            root,
            &editor,
            Trust::Stored(None),
            stamp(),
            Extras::default(),
        );
        let file = c.file.as_ref().unwrap();
        assert!(!file.trusted);
        assert_eq!(file.held[0].key, "secrets");
        assert_eq!(
            file.held_lines.iter().map(|l| l.0).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(c.settings.system_prompt.as_deref(), Some("p"));
        assert!(c.settings.secrets.disable.is_empty());
        assert!(
            c.held_summary()
                .unwrap()
                .contains("secrets (which secrets are detected)")
        );

        let sha = file.sha256.clone();
        let c = build(
            root,
            &editor,
            Trust::Stored(Some(&sha)),
            stamp(),
            Extras::default(),
        );
        assert!(c.file.as_ref().unwrap().trusted && c.held_summary().is_none());
        assert_eq!(c.settings.secrets.disable, ["aws-access-key"]);

        // One byte more and the decision no longer applies.
        std::fs::write(root.join(".warden.toml"), format!("{text}\n")).unwrap();
        let c = build(
            root,
            &editor,
            Trust::Stored(Some(&sha)),
            stamp(),
            Extras::default(),
        );
        assert!(!c.file.as_ref().unwrap().trusted);
        assert!(c.settings.secrets.disable.is_empty());
        assert!(
            build(root, &editor, Trust::Given, stamp(), Extras::default())
                .file
                .unwrap()
                .trusted
        );
    }

    #[test]
    fn a_fifo_or_huge_config_is_a_warning_not_a_hang() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let editor = EditorSettings::new(json!({}), 1);
        let fifo = root.join(".warden.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let build_now = || {
            build(
                root,
                &editor,
                Trust::Stored(None),
                Stamp::of(root, 1, 0),
                Extras::default(),
            )
        };
        let c = build_now();
        assert!(c.file.is_none());
        assert!(c.warnings[0].contains("a FIFO"), "{:?}", c.warnings);
        std::fs::remove_file(&fifo).unwrap();
        let big = std::fs::File::create(&fifo).unwrap();
        big.set_len(1 << 30).unwrap();
        let c = build_now();
        assert!(
            c.file.is_none() && c.warnings[0].contains("limit"),
            "{:?}",
            c.warnings
        );
    }
}
