//! Secret detection. [`RuleSet::scan`] finds secrets in a text in one pass: an
//! Aho-Corasick search for every rule's keywords decides which rules run on which
//! lines; each triggered rule's regex runs only on those lines (multi-line rules, such
//! as PEM blocks, on the whole text); matches are then filtered (entropy, placeholders,
//! allowlists, inline `warden:allow`) and de-duplicated, provider rules winning over
//! generic ones. Tokens whose format has a checksum are checked (`checks`); encoded
//! segments (base64, percent escapes, Kubernetes `Secret` data) are decoded and scanned
//! too when a trigger keyword points at them (`decode`). Findings carry exact byte
//! spans and a SHA-256 fingerprint of the secret, never the secret itself.

pub mod baseline;
pub mod checks;
pub mod decode;
pub mod filters;
pub mod redact;
pub mod rules;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::Input;
use regex_automata::util::captures::Captures;
use sha2::{Digest, Sha256};

use crate::lines::LazyIndex;
use crate::{Finding, FindingKind, Lang, LineIndex};
pub use rules::{Rule, RuleSpec};

/// Lines longer than this are treated as minified or generated and skipped.
pub const DEFAULT_MAX_LINE_LEN: usize = 20_000;

/// File names whose generic-looking values are dependency metadata, not secrets.
const LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "go.sum",
    "composer.lock",
    "Gemfile.lock",
];

/// A compiled set of rules plus the keyword automaton that selects them.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    automaton: AhoCorasick,
    /// For each automaton pattern, the rules that keyword triggers.
    by_keyword: Vec<Vec<usize>>,
    /// For each automaton pattern, the decoder it triggers (see `decode::TRIGGERS`).
    triggers: Vec<Option<decode::Trigger>>,
}

/// What to scan and how.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub lang: Lang,
    pub path: Option<&'a Path>,
    pub max_line_len: usize,
}

/// Extensions of plain-text configuration files (besides the languages warden knows).
const CONFIG_EXTENSIONS: &[&str] = &[
    "ini",
    "cfg",
    "conf",
    "config",
    "cnf",
    "properties",
    "env",
    "npmrc",
    "pypirc",
    "netrc",
    "envrc",
    "tfvars",
    "hcl",
];

impl Context<'_> {
    /// Whether the text is a configuration file, where an unquoted `name = value` or
    /// `name: value` is an assignment (see `RuleSpec::config_only`): shell, `.env`,
    /// YAML, TOML, Dockerfile, Makefile, files named like INI/properties/conf files,
    /// dotfiles (`.npmrc`, `.netrc`, `.git-credentials`) and files without an extension
    /// (`credentials`). Without a path: when the language says so.
    pub fn is_config_file(&self) -> bool {
        if self.lang.is_shell_like()
            || matches!(
                self.lang,
                Lang::Dotenv | Lang::Yaml | Lang::Toml | Lang::Dockerfile | Lang::Makefile
            )
        {
            return true;
        }
        if !matches!(self.lang, Lang::Other) {
            return false;
        }
        let Some(name) = self
            .path
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
        else {
            return true;
        };
        match name.rsplit_once('.') {
            None => true,
            Some(("", _)) => true, // a dotfile
            Some((_, ext)) => CONFIG_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        }
    }
}

impl Default for Context<'_> {
    fn default() -> Self {
        Context {
            lang: Lang::Other,
            path: None,
            max_line_len: DEFAULT_MAX_LINE_LEN,
        }
    }
}

#[derive(Debug, Default)]
pub struct ScanOutput {
    pub findings: Vec<Finding>,
    /// Lines skipped as minified (longer than `max_line_len`).
    pub long_lines_skipped: usize,
}

static BUILTIN: LazyLock<Arc<RuleSet>> =
    LazyLock::new(|| Arc::new(RuleSet::new(rules::builtin_specs(), &[]).0));

impl RuleSet {
    /// The built-in rules, compiled once per process.
    pub fn builtin() -> Arc<RuleSet> {
        BUILTIN.clone()
    }

    /// Compiles `specs` minus `disabled` ids. Rules that do not compile are left out and
    /// reported (one message each); the rest still work.
    pub fn new(specs: Vec<RuleSpec>, disabled: &[String]) -> (RuleSet, Vec<String>) {
        let mut errors = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for spec in specs {
            if disabled.contains(&spec.id) {
                continue;
            }
            match spec.compile() {
                Ok(rule) => {
                    rules.retain(|r| r.id != rule.id); // a later rule with the same id wins
                    rules.push(rule);
                }
                Err(e) => errors.push(e),
            }
        }
        let mut keywords: Vec<String> = Vec::new();
        let mut by_keyword: Vec<Vec<usize>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            if rule.keywords.is_empty() {
                errors.push(format!(
                    "secret rule {:?} has no keywords; it never runs",
                    rule.id
                ));
            }
            for k in &rule.keywords {
                match keywords.iter().position(|x| x == k) {
                    Some(p) => by_keyword[p].push(i),
                    None => {
                        keywords.push(k.clone());
                        by_keyword.push(vec![i]);
                    }
                }
            }
        }
        let mut triggers = vec![None; keywords.len()];
        for (k, t) in decode::TRIGGERS {
            match keywords.iter().position(|x| x == k) {
                Some(p) => triggers[p] = Some(*t),
                None => {
                    keywords.push((*k).to_owned());
                    by_keyword.push(Vec::new());
                    triggers.push(Some(*t));
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&keywords)
            .expect("keywords build an automaton");
        (
            RuleSet {
                rules,
                automaton,
                by_keyword,
                triggers,
            },
            errors,
        )
    }

    /// Built-in rules plus `extra` (same id replaces), minus `disabled`.
    pub fn with_config(extra: Vec<RuleSpec>, disabled: &[String]) -> (RuleSet, Vec<String>) {
        let mut specs = rules::builtin_specs();
        specs.extend(extra);
        RuleSet::new(specs, disabled)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Every secret in `text` (the `scan(text, language)` API).
    pub fn scan(&self, text: &str, lang: Lang) -> Vec<Finding> {
        self.scan_with(
            text,
            &Context {
                lang,
                ..Context::default()
            },
        )
        .findings
    }

    pub fn scan_with(&self, text: &str, ctx: &Context<'_>) -> ScanOutput {
        self.scan_indexed(text, &LazyIndex::new(text), ctx)
    }

    /// [`RuleSet::scan_with`] given the text's line index (built only if there is a
    /// finding).
    pub fn scan_indexed(&self, text: &str, index: &LazyIndex<'_>, ctx: &Context<'_>) -> ScanOutput {
        if text.is_empty() || self.rules.is_empty() {
            return ScanOutput::default();
        }
        self.scan_region(text, index, 0..text.len(), ctx, true, true)
            .0
    }

    /// [`RuleSet::scan_with`] that keeps secrets on lines an inline marker
    /// (`warden:allow`, ...) accepts: for text that is stored or leaves the machine
    /// (redaction), where an accepted secret is still a secret.
    pub fn scan_unsuppressed(&self, text: &str, ctx: &Context<'_>) -> ScanOutput {
        if text.is_empty() || self.rules.is_empty() {
            return ScanOutput::default();
        }
        self.scan_region(text, &LazyIndex::new(text), 0..text.len(), ctx, true, false)
            .0
    }

    /// The secrets of `text` after edits, given the findings `tracked` kept through
    /// them: only the lines the edits touched are scanned again, the rest of the
    /// findings are reused. `None` when only a full scan can tell: the edits touched
    /// a multi-line secret (a PEM block) or a multi-line rule's keyword. Otherwise the
    /// result equals [`RuleSet::scan_with`]'s on the same text: every other rule, and
    /// every filter (entropy, base64 runs, inline suppressions), looks at one line.
    pub fn rescan(
        &self,
        text: &str,
        index: &LazyIndex<'_>,
        ctx: &Context<'_>,
        tracked: &Tracked,
    ) -> Option<Vec<Finding>> {
        let multiline = |id: &str| self.rule(id).is_none_or(|r| r.multiline);
        // A Kubernetes `Secret`'s values are decoded because of a line elsewhere, and
        // a Google key is public in a Firebase configuration of several lines.
        if tracked.lost.iter().any(|id| multiline(id))
            || decode::is_kubernetes_secret(text)
            || memchr::memmem::find(text.as_bytes(), b"AIza").is_some()
        {
            return None;
        }
        let Some((a, b)) = tracked.dirty else {
            let mut kept = tracked.findings.clone();
            relocate(&mut kept, index.get());
            return Some(kept);
        };
        let bytes = text.as_bytes();
        let (a, b) = (a.min(text.len()), b.min(text.len()));
        let start = memchr::memrchr(b'\n', &bytes[..a]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[b..]).map_or(text.len(), |i| b + i);
        let mut findings = Vec::with_capacity(tracked.findings.len() + 1);
        for f in &tracked.findings {
            if f.end < start || f.start > end {
                findings.push(f.clone());
            } else if multiline(&f.rule) {
                return None;
            }
        }
        if start < end {
            let (out, multiline_hit) = self.scan_region(text, index, start..end, ctx, false, true);
            if multiline_hit {
                return None;
            }
            findings.extend(out.findings);
        }
        relocate(&mut findings, index.get());
        findings.sort_by_key(|f| (f.start, f.end));
        Some(findings)
    }

    /// Scans the whole lines `region` of `text` (offsets stay absolute). Multi-line
    /// rules run on the whole text when `multiline` is set; otherwise a hit on one of
    /// their keywords (or on a whole-file decoder's) is only reported (the second value).
    /// `suppress`: drop findings on lines an inline marker accepts.
    fn scan_region(
        &self,
        text: &str,
        index: &LazyIndex<'_>,
        region: std::ops::Range<usize>,
        ctx: &Context<'_>,
        multiline: bool,
        suppress: bool,
    ) -> (ScanOutput, bool) {
        let mut out = ScanOutput::default();
        let mut pass = Pass {
            decodes_left: decode::MAX_DECODES,
            long_lines: 0,
        };
        let (candidates, multiline_hit) =
            self.candidates(text, region, ctx, multiline, 0, &mut pass);
        out.long_lines_skipped = pass.long_lines;
        out.findings = dedupe(&self.rules, candidates)
            .into_iter()
            .filter(|c| !suppress || !self.suppressed(text, index.get(), c))
            .map(|c| self.finding(text, index.get(), c))
            .collect();
        (out, multiline_hit)
    }

    /// The matches in `region` of `text`, before de-duplication, and whether a
    /// multi-line rule or whole-file decoder was triggered. Encoded segments that a
    /// trigger points at are decoded and scanned `depth + 1` deep (see `decode`).
    fn candidates(
        &self,
        text: &str,
        region: std::ops::Range<usize>,
        ctx: &Context<'_>,
        multiline: bool,
        depth: u8,
        pass: &mut Pass,
    ) -> (Vec<Candidate>, bool) {
        let lockfile = ctx
            .path
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .is_some_and(|n| LOCKFILES.contains(&n));
        let config_style = ctx.is_config_file();
        let bytes = text.as_bytes();
        let mut last_line_scanned = vec![usize::MAX; self.rules.len()];
        let mut multiline_triggered = vec![false; self.rules.len()];
        let mut current_line: Option<std::ops::Range<usize>> = None;
        let mut current_line_long = false;
        let mut candidates = Vec::new();
        let mut caps = vec![None; self.rules.len()];
        // Decoding asked for: (trigger, line, keyword offset).
        let mut decodes: Vec<(decode::Trigger, std::ops::Range<usize>, usize)> = Vec::new();
        let mut whole_file_decode = false;

        let base = region.start;
        for hit in self.automaton.find_overlapping_iter(&text[region]) {
            let hit_start = base + hit.start();
            let line = match &current_line {
                // Hits arrive in order; a hit past the current line starts a new one.
                Some(l) if hit_start <= l.end => l.clone(),
                _ => {
                    let start = memchr::memrchr(b'\n', &bytes[..hit_start]).map_or(0, |i| i + 1);
                    let end = memchr::memchr(b'\n', &bytes[hit_start..])
                        .map_or(bytes.len(), |i| hit_start + i);
                    current_line_long = end - start > ctx.max_line_len;
                    if current_line_long && depth == 0 {
                        pass.long_lines += 1;
                    }
                    current_line = Some(start..end);
                    start..end
                }
            };
            let pattern = hit.pattern().as_usize();
            if let Some(trigger) = self.triggers[pattern] {
                match trigger {
                    decode::Trigger::KubernetesSecret => whole_file_decode = true,
                    _ if depth < decode::MAX_DEPTH && !current_line_long => {
                        // Percent-decoding takes the whole line: once a line.
                        let seen = decodes
                            .iter()
                            .rev()
                            .take_while(|(_, l, _)| *l == line)
                            .any(|(t, _, _)| *t == trigger);
                        if !seen || trigger == decode::Trigger::Base64 {
                            decodes.push((trigger, line.clone(), hit_start));
                        }
                    }
                    _ => {}
                }
            }
            for &r in &self.by_keyword[pattern] {
                let rule = &self.rules[r];
                if (rule.generic && lockfile) || (rule.config_only && !config_style) {
                    continue;
                }
                if rule.multiline {
                    multiline_triggered[r] = true;
                    continue;
                }
                if current_line_long || last_line_scanned[r] == line.start {
                    continue;
                }
                last_line_scanned[r] = line.start;
                if !rule.may_match(&bytes[line.clone()]) {
                    continue;
                }
                self.match_rule(
                    r,
                    text,
                    &text[line.clone()],
                    line.start,
                    &mut caps,
                    &mut candidates,
                );
            }
        }
        let multiline_hit = multiline_triggered.iter().any(|t| *t) || whole_file_decode;
        if multiline {
            for (r, triggered) in multiline_triggered.iter().enumerate() {
                if *triggered {
                    self.match_rule(r, text, text, 0, &mut caps, &mut candidates);
                }
            }
        }
        let mut decoded = Vec::new();
        for (trigger, line, at) in decodes {
            if pass.decodes_left == 0 {
                break;
            }
            // A base64 run already decoded from another of its triggers.
            if decoded.iter().any(|d: &decode::Decoded| {
                d.encoding == decode::Encoding::Base64 && d.span.contains(&at)
            }) {
                continue;
            }
            pass.decodes_left -= 1;
            decoded.extend(match trigger {
                decode::Trigger::Base64 => decode::base64_at(text, line, at),
                _ => decode::percent_line(text, line),
            });
        }
        if multiline
            && whole_file_decode
            && depth < decode::MAX_DEPTH
            && decode::is_kubernetes_secret(text)
        {
            let data = decode::kubernetes_data(text, pass.decodes_left);
            pass.decodes_left -= data.len();
            decoded.extend(data);
        }
        for d in decoded {
            let (inner, _) = self.candidates(&d.text, 0..d.text.len(), ctx, true, depth + 1, pass);
            for c in inner {
                if let Some(span) = d.original(c.start, c.end) {
                    candidates.push(Candidate {
                        start: span.start,
                        end: span.end,
                        encoded: Some(c.encoded.unwrap_or(d.encoding)),
                        ..c
                    });
                }
            }
        }
        (candidates, multiline_hit)
    }

    /// Runs rule `r` on `hay` (at `base` in `text`). `caps` holds each rule's capture
    /// slots, allocated once per scan.
    fn match_rule(
        &self,
        r: usize,
        text: &str,
        hay: &str,
        base: usize,
        caps: &mut [Option<Captures>],
        out: &mut Vec<Candidate>,
    ) {
        let rule = &self.rules[r];
        let caps = caps[r].get_or_insert_with(|| rule.regex.create_captures());
        let mut at = 0;
        while at <= hay.len() {
            // The whole line stays the haystack: `\b` and `^` see the text before `at`.
            rule.regex
                .search_captures(&Input::new(hay).span(at..hay.len()), caps);
            let Some(whole) = caps.get_match() else {
                break;
            };
            at = if whole.end() > whole.start() {
                whole.end()
            } else {
                whole.end() + 1
            };
            // Group 0 for rules whose secret may sit in one of several groups.
            let span = if rule.secret_group == 0 {
                (1..caps.group_len())
                    .find_map(|i| caps.get_group(i))
                    .unwrap_or(whole.span())
            } else {
                match caps.get_group(rule.secret_group) {
                    Some(span) => span,
                    None => continue,
                }
            };
            let (start, end) = (base + span.start, base + span.end);
            let secret = &hay[span.range()];
            if self.rejects(rule, secret, text, start, end) {
                continue;
            }
            let checked = rule.checksum.map(|c| c.verify(secret));
            if checked == Some(false) && rule.checksum.is_some_and(|c| c.required()) {
                continue;
            }
            out.push(Candidate {
                rule: r,
                start,
                end,
                checked,
                encoded: None,
            });
        }
    }

    fn rejects(&self, rule: &Rule, secret: &str, text: &str, start: usize, end: usize) -> bool {
        // Hex carries at most 4 bits a character: a random 32-digit hex key scores
        // 3.3-3.8 where random base64 of the same length scores 4.5 and more.
        // (Digits alone, `1234567890...`, are not hex keys.)
        let hex = secret.len() >= 20
            && secret.bytes().all(|b| b.is_ascii_hexdigit())
            && secret.bytes().any(|b| b.is_ascii_alphabetic());
        let floor = if rule.generic && hex {
            rule.entropy.min(3.0)
        } else {
            rule.entropy
        };
        if filters::entropy(secret) < floor || filters::is_placeholder(secret, rule.multiline) {
            return true;
        }
        if !rule.multiline && filters::inside_base64_blob(text, start, end) {
            return true;
        }
        if rule.generic && filters::is_benign_random(secret) {
            return true;
        }
        if filters::is_public_by_design(secret, text, start) {
            return true;
        }
        let lower = secret.to_ascii_lowercase();
        rule.stopwords.iter().any(|w| lower.contains(w.as_str()))
            || rule.allow_regexes.iter().any(|re| re.is_match(secret))
    }

    fn suppressed(&self, text: &str, index: &LineIndex, c: &Candidate) -> bool {
        let first = index.line_col(c.start).line as usize;
        let last = index.line_col(c.end).line as usize;
        [first, last]
            .into_iter()
            .filter_map(|l| index.line_range(l, text))
            .any(|r| filters::suppressed(&text[r]))
    }

    fn finding(&self, text: &str, index: &LineIndex, c: Candidate) -> Finding {
        let rule = &self.rules[c.rule];
        let secret = &text[c.start..c.end];
        let message = if rule.generic {
            format!(
                "Possible {} ({:.1} bits of entropy per character); move it to an environment variable or a secret store",
                rule.description,
                filters::entropy(secret)
            )
        } else {
            format!(
                "{} {} in source; revoke it if it was shared, and load it from the environment instead",
                rule.provider, rule.description
            )
        };
        let line_start = crate::lines::line_around(text, c.start).start;
        let env_name = if rule.generic {
            filters::assigned_env_name(&text[line_start..c.start])
                .unwrap_or_else(|| rule.env.clone())
        } else {
            rule.env.clone()
        };
        let mut message = message;
        if let Some(encoding) = c.encoded {
            message.push_str(&format!(" (found {encoding})"));
        }
        let mut severity = rule.severity;
        match c.checked {
            Some(true) => message.push_str(" (its checksum is valid: a real token)"),
            Some(false) => {
                message.push_str(" (its checksum does not match: made up or mangled?)");
                severity = severity.lower();
            }
            None => {}
        }
        let mut f = Finding::at(
            index,
            FindingKind::Secret,
            &rule.id,
            severity,
            message,
            c.start,
            c.end,
        );
        f.fingerprint = Some(fingerprint(secret));
        f.env_name = Some(env_name);
        f
    }
}

/// Overlapping candidates reduced to one: a provider rule beats a generic one, a
/// secret found decoded beats the same span read as it is; otherwise the first stays.
fn dedupe(rules: &[Rule], mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by_key(|c: &Candidate| (c.start, std::cmp::Reverse(c.end)));
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        match kept.last_mut() {
            Some(last) if c.start < last.end => {
                let (lg, cg) = (rules[last.rule].generic, rules[c.rule].generic);
                let decoded_wins = lg == cg
                    && c.encoded.is_some()
                    && last.encoded.is_none()
                    && (c.start, c.end) == (last.start, last.end);
                if (lg && !cg) || decoded_wins {
                    *last = c;
                }
            }
            _ => kept.push(c),
        }
    }
    kept
}

/// What one scan carries through its decoding levels.
struct Pass {
    /// Encoded segments it may still decode (at most `decode::MAX_DECODES`).
    decodes_left: usize,
    /// Lines skipped as minified (of the text itself, not of decoded text).
    long_lines: usize,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    rule: usize,
    start: usize,
    end: usize,
    /// The rule's checksum result, when it has one.
    checked: Option<bool>,
    /// How the secret was encoded at `start..end` (found in the decoded text).
    encoded: Option<decode::Encoding>,
}

/// SHA-256 (hex) of a secret value: what baselines and stores keep instead of it.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Secret findings of a text kept current through its edits, for [`RuleSet::rescan`]:
/// findings before an edit stay, findings after it move with it, and the edited bytes
/// accumulate in one dirty span until the next full scan starts a new `Tracked`.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    /// Raw findings (before baselines), with offsets into the current text.
    findings: Vec<Finding>,
    /// Bytes changed since the full scan, in current offsets.
    dirty: Option<(usize, usize)>,
    /// Rules of findings an edit went through (their secret changed).
    lost: Vec<String>,
}

impl Tracked {
    /// After a full scan that found `findings`.
    pub fn new(findings: Vec<Finding>) -> Tracked {
        Tracked {
            findings,
            dirty: None,
            lost: Vec::new(),
        }
    }

    /// Bytes `start..old_end` were replaced by `new_len` bytes.
    pub fn edit(&mut self, start: usize, old_end: usize, new_len: usize) {
        let new_end = start + new_len;
        let shift = |at: usize| (at + new_len).saturating_sub(old_end - start);
        let mut lost = Vec::new();
        self.findings.retain_mut(|f| {
            if f.end < start {
                true
            } else if f.start > old_end {
                f.start = shift(f.start);
                f.end = shift(f.end);
                true
            } else {
                lost.push(std::mem::take(&mut f.rule));
                false
            }
        });
        self.lost.extend(lost);
        self.dirty = Some(match self.dirty {
            None => (start, new_end),
            Some((a, b)) if b < start => (a, new_end),
            Some((a, b)) if a > old_end => (start, shift(b)),
            Some((a, b)) => (a.min(start), if b > old_end { shift(b) } else { new_end }),
        });
    }
}

/// Recomputes findings' lines and columns from their byte offsets.
fn relocate(findings: &mut [Finding], index: &LineIndex) {
    for f in findings {
        f.range = crate::Range {
            start: index.line_col(f.start),
            end: index.line_col(f.end),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn scan(text: &str) -> Vec<Finding> {
        RuleSet::builtin().scan(text, Lang::Other)
    }

    fn py(text: &str) -> Vec<Finding> {
        RuleSet::builtin().scan(text, Lang::detect(None, Some("python")))
    }

    #[test]
    fn builtin_rules_compile_with_enough_providers() {
        let (set, errors) = RuleSet::new(rules::builtin_specs(), &[]);
        assert!(errors.is_empty(), "{errors:?}");
        let mut providers: Vec<&str> = set.rules().iter().map(|r| r.provider.as_str()).collect();
        providers.sort();
        providers.dedup();
        assert!(providers.len() >= 40, "{} providers", providers.len());
    }

    #[test]
    fn a_secret_at_the_very_start_of_the_text_is_found() {
        let f = scan("aws_secret_access_key = \"78Y97o+UjYp7RNmxNyHaYV9NOd8r0q8C/mSiWMFG\"");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "aws-secret-access-key");
    }

    #[test]
    fn exact_span_and_no_secret_in_message() {
        let text = "import os\nAWS_KEY = \"AKIAQ3EGRB4XY7MNP2KD\"\n";
        let f = py(text);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "aws-access-key-id");
        assert_eq!(&text[f[0].start..f[0].end], "AKIAQ3EGRB4XY7MNP2KD");
        assert_eq!((f[0].range.start.line, f[0].range.start.col), (1, 11));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(!f[0].message.contains("AKIAQ3"));
        assert_eq!(
            f[0].fingerprint.as_deref(),
            Some(fingerprint("AKIAQ3EGRB4XY7MNP2KD").as_str())
        );
    }

    #[test]
    fn documented_examples_and_placeholders_are_not_findings() {
        for text in [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "token = \"${GITHUB_TOKEN}\"",
            "api_key = \"<your-token>\"",
            "password = \"xxxxxxxxxxxx\"",
            "password = \"changeme\"",
            "id = \"123e4567-e89b-12d3-a456-426614174000\"",
            "\"integrity\": \"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"",
            "secret_hash = \"da39a3ee5e6b4b0d3255bfef95601890afd80709\"",
            "token = os.environ[\"TOKEN\"]",
            "password = get_password()",
        ] {
            assert!(scan(text).is_empty(), "{text}: {:#?}", scan(text));
        }
    }

    #[test]
    fn provider_rule_wins_over_generic_on_the_same_secret() {
        let text = "github_token = \"ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt\"";
        let f = scan(text);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "github-pat");
    }

    #[test]
    fn generic_assignments_need_entropy_and_name_the_variable() {
        let f = py("db_password = \"Tr0ub4dor&3-horse-Zq9!\"\n");
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "generic-secret");
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].env_name.as_deref(), Some("DB_PASSWORD"));
        assert!(
            py("password = \"hunter2hunter2\"\n").is_empty(),
            "low entropy"
        );
    }

    #[test]
    fn suppression_markers_and_multiline_keys() {
        assert!(scan("k = 'AKIAQ3EGRB4XY7MNP2KD' # warden:allow").is_empty());
        assert!(scan("k = 'AKIAQ3EGRB4XY7MNP2KD' // gitleaks:allow").is_empty());
        assert!(scan("k = 'AKIAQ3EGRB4XY7MNP2KD' # pragma: allowlist secret").is_empty());
        let marked = "k = 'AKIAQ3EGRB4XY7MNP2KD' # warden:allow";
        let kept = RuleSet::builtin().scan_unsuppressed(marked, &Context::default());
        assert_eq!(
            kept.findings.len(),
            1,
            "redaction still sees an accepted secret"
        );
        let pem = "x = 1\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBpZ2tqZXJ1c2tqZmhnZXJ1a2doZXJrZ2hrZXJnaGtlcmdoawAAAJhzZGZn\n-----END OPENSSH PRIVATE KEY-----\n";
        let f = scan(pem);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "private-key");
        assert_eq!((f[0].range.start.line, f[0].range.end.line), (1, 4));
    }

    /// `n` lines of pseudo-random base64, `width` characters each (the last shorter).
    fn b64_lines(seed: u64, n: usize, width: usize) -> Vec<String> {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|i| {
                let w = if i + 1 == n { width / 2 } else { width };
                (0..w)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        B64[(x >> 58) as usize] as char
                    })
                    .collect()
            })
            .collect()
    }

    fn key_block(label: &str, body: &[String]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----",
            body.join("\n")
        )
    }

    /// The private-key findings of `text`, as (first line, last line, matched text).
    fn keys(text: &str) -> Vec<(u32, u32, String)> {
        scan(text)
            .into_iter()
            .filter(|f| f.rule == "private-key")
            .map(|f| {
                (
                    f.range.start.line,
                    f.range.end.line,
                    text[f.start..f.end].to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn an_empty_key_block_does_not_run_to_a_later_end_marker() {
        let real = key_block("RSA PRIVATE KEY", &b64_lines(1, 6, 64));
        let text = format!(
            "package keys\n\nconst empty = `-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----`\n\nfunc TestEmpty(t *testing.T) {{\n\tif _, err := Parse(empty); err == nil {{\n\t\tt.Fatal(\"want an error\")\n\t}}\n}}\n\nconst real = `{real}`\n"
        );
        let found = keys(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), (11, 18));
        assert_eq!(found[0].2, real, "exactly the real key");
        // Also with no code in between, and with the empty block after the real key.
        let adjacent = format!("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n{real}\n");
        assert_eq!(keys(&adjacent).len(), 1);
        assert_eq!(keys(&adjacent)[0].2, real);
        let after = format!(
            "{real}\n-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\nfoo()\n{real}\n"
        );
        let found = keys(&after);
        assert_eq!(
            found.iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
            [(0, 7), (11, 18)]
        );
        // Redaction replaces exactly the key, never the code around it.
        let mut r = redact::Redactions::default();
        let (out, n) = redact::redact(&text, &Context::default(), &RuleSet::builtin(), &mut r);
        assert_eq!(n, 1);
        assert!(out.contains("func TestEmpty(t *testing.T)"), "{out}");
        assert!(out.contains("const real = `__WARDEN_SECRET_1__`"), "{out}");
    }

    #[test]
    fn a_key_block_interrupted_by_code_is_not_a_key() {
        let body = b64_lines(2, 4, 64);
        for text in [
            // a line of code in the middle
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n{}\n}}\n{}\n-----END PRIVATE KEY-----\n",
                body[0], body[1], body[2]
            ),
            // an unterminated block, then code, then an unrelated END marker
            format!(
                "x = \"-----BEGIN PRIVATE KEY-----\"\n{}\ny = \"-----END PRIVATE KEY-----\"\n",
                body[0]
            ),
            // placeholders and elisions
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----"
                .into(),
            "-----BEGIN PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----".into(),
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----".into(),
        ] {
            assert_eq!(keys(&text), [], "{text}");
        }
    }

    #[test]
    fn real_key_blocks_in_every_shape_are_found_whole() {
        let body = b64_lines(3, 5, 64);
        let ssh = b64_lines(4, 6, 70);
        let pgp = b64_lines(5, 8, 64);
        let encrypted_pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,5D3D6C2E6B1B1B3C2A8F7E9D0C4B3A21\n\n{}\n-----END RSA PRIVATE KEY-----",
            body.join("\n")
        );
        let pgp_block = format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: deploy signing key\n\n{}\n=nW4p\n-----END PGP PRIVATE KEY BLOCK-----",
            pgp.join("\n")
        );
        let cases: Vec<(String, String)> = vec![
            (key_block("PRIVATE KEY", &body), String::new()),
            (key_block("EC PRIVATE KEY", &body[..3]), String::new()),
            (key_block("ENCRYPTED PRIVATE KEY", &body), String::new()),
            (key_block("OPENSSH PRIVATE KEY", &ssh), String::new()),
            (encrypted_pem, String::new()),
            (pgp_block, String::new()),
            // CRLF line ends
            (
                key_block("RSA PRIVATE KEY", &body).replace('\n', "\r\n"),
                String::new(),
            ),
            // a JSON string with \n escapes
            (
                key_block("PRIVATE KEY", &body).replace('\n', "\\n"),
                "{\"key\": \"".into(),
            ),
            (
                key_block("PRIVATE KEY", &body).replace('\n', "\\r\\n"),
                "{\"key\": \"".into(),
            ),
            // an indented YAML block scalar
            (
                format!(
                    "-----BEGIN PRIVATE KEY-----\n    {}\n    -----END PRIVATE KEY-----",
                    body.join("\n    ")
                ),
                "tls:\n  key: |\n    ".into(),
            ),
            // flattened onto one line
            (
                format!(
                    "-----BEGIN RSA PRIVATE KEY----- {} -----END RSA PRIVATE KEY-----",
                    body.join(" ")
                ),
                "PRIVATE_KEY=\"".into(),
            ),
        ];
        for (key, before) in cases {
            let text = format!("{before}{key}\"\nnext = 1\n");
            let found = keys(&text);
            assert_eq!(found.len(), 1, "{text}\n{found:#?}");
            assert_eq!(found[0].2, key, "{text}");
            let first = before.matches('\n').count() as u32;
            let last = first + key.matches('\n').count() as u32;
            assert_eq!((found[0].0, found[0].1), (first, last), "{text}");
        }
    }

    #[test]
    fn lockfiles_skip_generic_rules_and_long_lines_are_skipped() {
        let set = RuleSet::builtin();
        let text = "\"token\": \"q8Zr2LxV0pTn7WcYb4Ks\"\n";
        let ctx = Context {
            path: Some(Path::new("web/package-lock.json")),
            ..Context::default()
        };
        assert!(set.scan_with(text, &ctx).findings.is_empty());
        assert_eq!(set.scan_with(text, &Context::default()).findings.len(), 1);
        let long = format!(
            "var a='{}';token='ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt'",
            "x".repeat(30_000)
        );
        let out = set.scan_with(&long, &Context::default());
        assert!(out.findings.is_empty());
        assert_eq!(out.long_lines_skipped, 1);
    }

    #[test]
    fn user_rules_add_disable_and_report_errors() {
        let extra = vec![
            RuleSpec {
                id: "acme-key".into(),
                provider: Some("Acme".into()),
                description: Some("API key".into()),
                regex: r"\b(acme_[a-z0-9]{24})\b".into(),
                secret_group: 1,
                keywords: vec!["acme_".into()],
                entropy: 2.0,
                severity: Severity::Error,
                multiline: false,
                generic: false,
                config_only: false,
                env: None,
                checksum: None,
                requires: String::new(),
                allowlist: Default::default(),
            },
            RuleSpec {
                id: "broken".into(),
                regex: "(".into(),
                ..RuleSpec::clone(&rules::builtin_specs()[0])
            },
        ];
        let (set, errors) = RuleSet::with_config(extra, &["aws-access-key-id".to_string()]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("broken"));
        let f = set.scan(
            "k = acme_q8zr2lxv0ptn7wcyb4ksm1n2 and AKIAQ3EGRB4XY7MNP2KD",
            Lang::Other,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "acme-key");
        assert_eq!(f[0].env_name.as_deref(), Some("ACME_KEY"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let set = RuleSet::builtin();
        for text in [
            "",
            "\n\n\n",
            "é😀\u{0}\u{1}token=",
            "password=\"",
            "-----BEGIN PRIVATE KEY-----",
            "\r\n\r",
        ] {
            let _ = set.scan(text, Lang::Other);
        }
    }

    /// Random edits (typing, deleting, pasting secrets, joining and splitting lines);
    /// after each, the rescan of the edited lines equals a full scan of the new text.
    #[test]
    fn rescanning_edited_lines_equals_a_full_scan() {
        let set = RuleSet::builtin();
        let ctx = Context {
            lang: Lang::detect(None, Some("python")),
            ..Context::default()
        };
        let pastes = [
            "AKIAQ3EGRB4XY7MNP2KD",
            "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt",
            "db_password = \"Tr0ub4dor&3-horse-Zq9!\"\n",
            "\n",
            "x",
            "\"",
            "token = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!("def f{i}(a):\n    return a + {i}\n"));
            if i % 7 == 0 {
                text.push_str(&format!("KEY_{i} = \"{}\"\n", pastes[i % 3]));
            }
        }
        let mut tracked = Tracked::new(set.scan_with(&text, &ctx).findings);
        let mut rescanned = 0;
        for step in 0..400 {
            let mut a = next(text.len() + 1);
            while !text.is_char_boundary(a) {
                a -= 1;
            }
            let mut b = (a + next(12)).min(text.len());
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            let paste = if next(3) == 0 {
                ""
            } else {
                pastes[next(pastes.len())]
            };
            text.replace_range(a..b, paste);
            tracked.edit(a, b, paste.len());
            let full = set.scan_with(&text, &ctx).findings;
            if let Some(found) = set.rescan(&text, &LazyIndex::new(&text), &ctx, &tracked) {
                assert_eq!(found, full, "step {step}: edit {a}..{b} <- {paste:?}");
                rescanned += 1;
            }
            // Now and then a full scan starts over, as the server's second phase does.
            if next(4) == 0 {
                tracked = Tracked::new(full);
            }
        }
        assert!(rescanned > 350, "only {rescanned} of 400 rescans answered");
    }

    #[test]
    fn an_edit_inside_a_pem_block_asks_for_a_full_scan() {
        let set = RuleSet::builtin();
        let body: String = (0..6)
            .map(|i| format!("{}\n", "MIIEpAIBAAKCAQEA7y2x9Qk3".repeat(2 + i % 2)))
            .collect();
        let text = format!(
            "x = 1\nKEY = \"\"\"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\"\"\"\n"
        );
        let ctx = Context::default();
        let found = set.scan_with(&text, &ctx).findings;
        assert!(
            found.iter().any(|f| f.rule.contains("private-key")),
            "{found:#?}"
        );
        let mut tracked = Tracked::new(found);
        let at = text.find("MIIE").unwrap() + 4;
        let mut edited = text.clone();
        edited.insert(at, 'Z');
        tracked.edit(at, at, 1);
        assert!(
            set.rescan(&edited, &LazyIndex::new(&edited), &ctx, &tracked)
                .is_none()
        );
        // An edit far from it keeps the block's finding without a full scan.
        let mut tracked = Tracked::new(set.scan_with(&text, &ctx).findings);
        let mut edited = text.clone();
        edited.insert_str(0, "y = 2\n");
        tracked.edit(0, 0, 6);
        let again = set
            .rescan(&edited, &LazyIndex::new(&edited), &ctx, &tracked)
            .unwrap();
        assert_eq!(again, set.scan_with(&edited, &ctx).findings);
    }

    /// Look-alikes of provider tokens (fixtures/secrets/lookalikes.tsv, generated with
    /// the corpus): the rule each imitates must not fire on it.
    #[test]
    fn provider_rules_do_not_fire_on_their_lookalikes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/secrets/lookalikes.tsv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let set = RuleSet::builtin();
        let mut checked = 0;
        let mut wrong = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (rule, sample) = line.split_once('\t').unwrap();
            assert!(set.rule(rule).is_some(), "no rule {rule}");
            checked += 1;
            if set.scan(sample, Lang::Other).iter().any(|f| f.rule == rule) {
                wrong.push(line.to_owned());
            }
        }
        assert!(checked >= 500, "{checked} look-alikes");
        assert!(
            wrong.is_empty(),
            "{} rules fired on look-alikes:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn in_file(text: &str, name: &str) -> Vec<Finding> {
        let path = Path::new(name);
        RuleSet::builtin()
            .scan_with(
                text,
                &Context {
                    lang: Lang::detect(Some(path), None),
                    path: Some(path),
                    ..Context::default()
                },
            )
            .findings
    }

    #[test]
    fn kubernetes_secret_data_is_decoded_and_reported_at_the_encoded_value() {
        let value = b64("Xk9#mP2$vL8qR4wZ7tY1");
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  username: {}\n  password: {value}\n",
            b64("admin")
        );
        let f = in_file(&text, "k8s/db-secret.yaml");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(&text[f[0].start..f[0].end], value);
        assert!(f[0].message.contains("in base64"), "{}", f[0].message);
        assert_eq!(f[0].env_name.as_deref(), Some("PASSWORD"));
        // In a file that is not a Secret the values are not decoded (a random-looking
        // `password:` value may still be one as it is).
        let other = text.replace("kind: Secret", "kind: ConfigMap");
        let f2 = in_file(&other, "k8s/db-secret.yaml");
        assert!(
            f2.iter().all(|f| !f.message.contains("in base64")),
            "{f2:?}"
        );
        // An edit elsewhere in a Secret asks for a full scan (the decoding depends on
        // the `kind:` line).
        let set = RuleSet::builtin();
        let tracked = Tracked::new(f.clone());
        assert!(
            set.rescan(&text, &LazyIndex::new(&text), &Context::default(), &tracked)
                .is_none()
        );
    }

    #[test]
    fn docker_configs_are_decoded_two_levels_deep() {
        let auth = b64("deploy:Zr8#qW2vLx9!mK4p");
        let config = format!(r#"{{"auths":{{"registry.internal:5000":{{"auth":"{auth}"}}}}}}"#);
        // ~/.docker/config.json as it is: the `auth` value.
        let f = in_file(&config, "config.json");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "docker-config-auth");
        assert_eq!(&config[f[0].start..f[0].end], auth);
        // A Kubernetes pull secret: the whole config in base64.
        let blob = b64(&config);
        let text = format!(
            "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {blob}\n"
        );
        let f = in_file(&text, "pull-secret.yaml");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "docker-config-auth");
        assert_eq!(&text[f[0].start..f[0].end], blob);
        // An `auth` that is not base64 of user:password is not a Docker credential.
        let not = r#"{"auth": "bm9jb2xvbmhlcmVhdGFsbA=="}"#;
        assert!(
            in_file(not, "x.json")
                .iter()
                .all(|f| f.rule != "docker-config-auth")
        );
    }

    #[test]
    fn a_base64_wrapped_private_key_is_found() {
        let body = b64_lines(7, 8, 64).join("\n");
        let key = key_block("RSA PRIVATE KEY", &b64_lines(7, 8, 64));
        assert!(key.contains(&body));
        let blob = b64(&key);
        for (at, text) in [
            ("k8s", format!("data:\n  tls.key: {blob}\n")),
            ("env", format!("TLS_KEY_B64={blob}\n")),
            ("json", format!("{{\"key\": \"{blob}\"}}\n")),
            ("mid", format!("x = \"{}\"\n", b64(&format!("ab{key}")))),
        ] {
            let f = in_file(&text, "deploy/values.yaml");
            assert_eq!(f.len(), 1, "{at}: {f:?}");
            assert_eq!(f[0].rule, "private-key", "{at}");
            assert!(f[0].message.contains("in base64"), "{at}");
            assert!(text[f[0].start..f[0].end].starts_with("LS0t") || at == "mid");
        }
    }

    #[test]
    fn percent_encoded_secrets_are_found_at_their_escapes() {
        let text = "aws_secret_access_key=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYzQ8vT3pLm9\n";
        let f = in_file(text, "settings.ini");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "aws-secret-access-key");
        assert_eq!(
            &text[f[0].start..f[0].end],
            "wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYzQ8vT3pLm9"
        );
        assert!(f[0].message.contains("percent-encoded"));
        // Escapes in an ordinary URL are nothing.
        assert!(in_file("see https://example.org/a%2Fb?q=x%3Dy\n", "README.md").is_empty());
    }

    #[test]
    fn checksums_raise_or_lower_the_severity() {
        let random = "Zx9QmL2vT7kR4pN8wB3cY6hJ1sD5fG";
        let good = format!(
            "ghp_{random}{}",
            checks::base62_6(crc32fast::hash(random.as_bytes()))
        );
        let bad = format!("ghp_{random}AAAAAA");
        let f = in_file(&format!("token = \"{good}\"\n"), "a.py");
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity),
            ("github-pat", Severity::Error)
        );
        assert!(f[0].message.contains("checksum is valid"));
        let f = in_file(&format!("token = \"{bad}\"\n"), "a.py");
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity),
            ("github-pat", Severity::Warning)
        );
        assert!(f[0].message.contains("checksum does not match"));
    }

    #[test]
    fn decoding_is_bounded() {
        // Many triggers on many lines: at most MAX_DECODES decodes, and a scan ends.
        let line = format!("k: {}\n", b64("-----BEGIN x\n").repeat(3));
        let text = line.repeat(decode::MAX_DECODES * 4);
        let _ = in_file(&text, "a.yaml");
        // A segment larger than the bound is not decoded.
        let huge = b64(&format!("-----BEGIN {}", "A".repeat(decode::MAX_SEGMENT)));
        assert!(in_file(&format!("k: {huge}\n"), "a.yaml").is_empty());
    }

    #[test]
    fn keys_public_by_design_are_not_findings_and_their_look_alikes_are() {
        let key = "AIzaSyD4kR7vXq2LmN9pT3wZ8bC1eF6gH0jKsYu";
        let firebase = format!(
            "const firebaseConfig = {{\n  apiKey: \"{key}\",\n  authDomain: \"shop-7f2a.firebaseapp.com\",\n  projectId: \"shop-7f2a\",\n}};\n"
        );
        assert!(in_file(&firebase, "web/src/firebase.js").is_empty());
        let android = format!("{{\"api_key\": [{{\"current_key\": \"{key}\"}}]}}");
        assert!(in_file(&android, "app/google-services.json").is_empty());
        // The same key for a server API (Gemini, Maps) is a secret.
        let f = in_file(&format!("GEMINI_API_KEY = \"{key}\"\n"), "llm.py");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "google-api-key");
        for (text, name) in [
            (
                "STRIPE_PUBLISHABLE_KEY = \"pk_live_51Hx9QmL2vT7kR4pN8wB3cY6hJ1sD5fGzXa\"\n",
                "settings.py",
            ),
            (
                "secret_key: \"pk_test_51Hx9QmL2vT7kR4pN8wB3cY6hJ1sD5fGzXa\"\n",
                "config.yaml",
            ),
            (
                "SENTRY_DSN = \"https://3f2a9c1b7e4d4f60a8b2c5d9e1f07a3b@o450512.ingest.sentry.io/4505127\"\n",
                "settings.py",
            ),
            (
                "SENTRY_DSN=https://3f2a9c1b7e4d4f60a8b2c5d9e1f07a3b@o450512.ingest.sentry.io/4505127\n",
                ".env",
            ),
            // A Codecov graph token in a README badge.
            (
                "[![codecov](https://codecov.io/gh/o/r/branch/main/graph/badge.svg?token=5iM9farjnC)](https://codecov.io/gh/o/r)\n",
                "README.md",
            ),
            // Minified code, not a query string.
            (
                "w.is_end_tag?w.start_tag_token=this._tag_stack.try_pop(w.tag_name):(x)\n",
                "a.min.js",
            ),
            // A Heroku resource's UUID in a URL, not a key.
            (
                "see https://dashboard.heroku.com/apps/shop/resources/0b3e6a2c-9d41-4f7e-8a15-c2d96e7b3f08\n",
                "README.md",
            ),
        ] {
            let f = in_file(text, name);
            assert!(f.is_empty(), "{text}: {f:?}");
        }
        let f = in_file(
            "HEROKU_API_KEY=0b3e6a2c-9d41-4f7e-8a15-c2d96e7b3f08\n",
            ".env.production",
        );
        assert_eq!(
            f.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
            ["heroku-api-key"]
        );
        // Sentry user tokens are exactly 64 hex digits (65 is some other string).
        let hex = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
        let rules = |t: &str| -> Vec<String> {
            in_file(&format!("x = \"{t}\"\n"), "a.py")
                .into_iter()
                .map(|f| f.rule)
                .collect()
        };
        assert_eq!(rules(&format!("sntryu_{hex}")), ["sentry-user-token"]);
        assert!(rules(&format!("sntryu_{hex}0")).is_empty());
    }

    #[test]
    fn placeholders_are_not_findings_in_any_context() {
        for value in [
            "{Password}",
            "{{ db_password }}",
            "<password>",
            "${DB_PASSWORD}",
            "%(password)s",
            "$DB_PASSWORD",
            "[password]",
        ] {
            for (text, name) in [
                (format!("password = \"{value}\"\n"), "app.py"),
                (format!("DB_PASSWORD={value}\n"), ".env"),
                (format!("  password: {value}\n"), "values.yaml"),
                (format!("export DB_PASSWORD={value}\n"), "deploy.sh"),
                (format!("<password>{value}</password>\n"), "settings.xml"),
                (format!("db.password={value}\n"), "app.properties"),
            ] {
                let f = in_file(&text, name);
                assert!(f.is_empty(), "{text}: {f:?}");
            }
        }
    }
}
