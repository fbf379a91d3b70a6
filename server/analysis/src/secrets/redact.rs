//! Redaction for text that leaves the machine: every secret the rules find becomes a
//! placeholder `__WARDEN_SECRET_<n>__` (one per distinct value, numbered in order of
//! appearance), and [`Restorer`] puts the values back into a streamed reply, also when
//! a placeholder arrives split across chunks. A placeholder the reply invents (a
//! number never issued) or alters is left as it is, never guessed.

use super::{Context, RuleSet};

const PREFIX: &str = "__WARDEN_SECRET_";
const SUFFIX: &str = "__";

/// Placeholders and the secrets they stand for. Never log or store it.
#[derive(Default, Clone)]
pub struct Redactions {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactions({} secrets)", self.secrets.len())
    }
}

impl Redactions {
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The placeholder for a secret, issuing a new one for a new value.
    fn placeholder(&mut self, secret: &str) -> String {
        let n = match self.secrets.iter().position(|s| s == secret) {
            Some(i) => i + 1,
            None => {
                self.secrets.push(secret.to_owned());
                self.secrets.len()
            }
        };
        format!("{PREFIX}{n}{SUFFIX}")
    }

    fn secret(&self, n: usize) -> Option<&str> {
        n.checked_sub(1)
            .and_then(|i| self.secrets.get(i))
            .map(String::as_str)
    }

    /// Replaces every known placeholder in a complete text.
    pub fn restore(&self, text: &str) -> String {
        let mut r = Restorer::new(self);
        let mut out = r.push(text);
        out.push_str(&r.finish());
        out
    }

    /// [`Redactions::restore`] for JSON text (tool-call arguments): each secret goes
    /// back JSON-escaped.
    pub fn restore_json(&self, text: &str) -> String {
        let mut p = Pending::json();
        let mut out = p.push(self, text);
        out.push_str(&p.finish(self));
        out
    }
}

/// Replaces the secrets `rules` find in `text` with placeholders, adding to
/// `redactions` (so several texts of one request share numbering). Returns the text to
/// send and how many secrets it contained.
pub fn redact(
    text: &str,
    ctx: &Context<'_>,
    rules: &RuleSet,
    redactions: &mut Redactions,
) -> (String, usize) {
    // A secret a `warden:allow` marker accepts in the editor is still redacted.
    let mut findings = rules.scan_unsuppressed(text, ctx).findings;
    findings.sort_by_key(|f| f.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut count = 0;
    for f in findings {
        if f.start < at || f.end > text.len() {
            continue; // overlapping findings: the first one already covers it
        }
        out.push_str(&text[at..f.start]);
        out.push_str(&redactions.placeholder(&text[f.start..f.end]));
        at = f.end;
        count += 1;
    }
    out.push_str(&text[at..]);
    (out, count)
}

/// Restores placeholders in a reply that arrives in chunks.
pub struct Restorer<'a> {
    redactions: &'a Redactions,
    pending: Pending,
}

impl<'a> Restorer<'a> {
    pub fn new(redactions: &'a Redactions) -> Self {
        Restorer {
            redactions,
            pending: Pending::default(),
        }
    }

    /// Takes the next chunk; returns what can be shown now. A tail that could still
    /// become a placeholder is held back until the next chunk or [`Restorer::finish`].
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push(self.redactions, chunk)
    }

    /// Everything still held back (an unfinished placeholder stays as written).
    pub fn finish(&mut self) -> String {
        self.pending.finish(self.redactions)
    }
}

/// One stream's held-back tail, for callers that keep many streams of one request
/// (the gateway: a text block, each tool call's arguments) beside their
/// [`Redactions`]. In JSON mode the stream is JSON text (streamed tool-call
/// arguments), so a restored secret is JSON-escaped: a quote or a newline in it cannot
/// break the arguments the client parses.
#[derive(Debug, Default, Clone)]
pub struct Pending {
    held: String,
    json: bool,
}

impl Pending {
    /// A stream of JSON text.
    pub fn json() -> Pending {
        Pending {
            held: String::new(),
            json: true,
        }
    }

    /// See [`Restorer::push`].
    pub fn push(&mut self, redactions: &Redactions, chunk: &str) -> String {
        if self.held.is_empty() && !chunk.contains('_') {
            return chunk.to_owned(); // the common case: nothing to hold or restore
        }
        self.held.push_str(chunk);
        let (out, consumed) = self.process(redactions, false);
        self.held.drain(..consumed);
        out
    }

    /// See [`Restorer::finish`].
    pub fn finish(&mut self, redactions: &Redactions) -> String {
        let (out, _) = self.process(redactions, true);
        self.held.clear();
        out
    }

    /// Replaces complete placeholders in `held`; unless `last`, stops before a tail
    /// that could still become one. Returns the output and the bytes consumed.
    fn process(&self, redactions: &Redactions, last: bool) -> (String, usize) {
        let text = self.held.as_str();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some(i) = text[at..].find(PREFIX).map(|i| at + i) {
            out.push_str(&text[at..i]);
            let after = &text[i + PREFIX.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let rest = &after[digits..];
            if !last && (rest.is_empty() || (digits > 0 && rest == "_")) {
                return (out, i); // may complete with the next chunk
            }
            // Exactly as issued: no leading zero, the suffix right after the digits.
            let secret = (rest.starts_with(SUFFIX) && !after.starts_with('0'))
                .then(|| after[..digits].parse().ok())
                .flatten()
                .and_then(|n| redactions.secret(n));
            match secret {
                Some(s) if self.json => {
                    let quoted = serde_json::to_string(s).unwrap_or_default();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                    at = i + PREFIX.len() + digits + SUFFIX.len();
                }
                Some(s) => {
                    out.push_str(s);
                    at = i + PREFIX.len() + digits + SUFFIX.len();
                }
                None => {
                    out.push_str(PREFIX);
                    at = i + PREFIX.len();
                }
            }
        }
        // No placeholder starts in the rest; hold a tail that is a prefix of one.
        let hold = if last { 0 } else { prefix_tail(&text[at..]) };
        let end = text.len() - hold;
        out.push_str(&text[at..end]);
        (out, end)
    }
}

/// The length of the longest suffix of `text` that is a proper prefix of the
/// placeholder prefix (`_`, `__W`, ..., `__WARDEN_SECRET`).
fn prefix_tail(text: &str) -> usize {
    (1..PREFIX.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && text.ends_with(&PREFIX[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    const AWS: &str = "AKIAQ3EGRB4XY7MNP2KD";
    const GHP: &str = "ghp_Xr8TqL2mW9vN4kP7sJ1cY6dF3hG5bZ0aQeRt";

    fn redacted(text: &str) -> (String, Redactions) {
        let mut r = Redactions::default();
        let ctx = Context {
            lang: Lang::detect(None, Some("python")),
            ..Default::default()
        };
        let (out, _) = redact(text, &ctx, &RuleSet::builtin(), &mut r);
        (out, r)
    }

    #[test]
    fn secrets_become_numbered_placeholders_and_come_back() {
        let text = format!("A = \"{AWS}\"\nB = \"{GHP}\"\nC = \"{AWS}\"\n");
        let (out, r) = redacted(&text);
        assert_eq!(
            out,
            "A = \"__WARDEN_SECRET_1__\"\nB = \"__WARDEN_SECRET_2__\"\nC = \"__WARDEN_SECRET_1__\"\n"
        );
        assert!(!out.contains(AWS) && !out.contains(GHP));
        assert_eq!(r.len(), 2);
        assert_eq!(r.restore(&out), text);
        assert_eq!(
            format!("{r:?}"),
            "Redactions(2 secrets)",
            "Debug never shows values"
        );
    }

    #[test]
    fn restores_across_every_chunk_boundary() {
        let (_, r) = redacted(&format!("k = \"{AWS}\"\n"));
        let reply = "key = \"__WARDEN_SECRET_1__\"  # kept\n";
        let want = format!("key = \"{AWS}\"  # kept\n");
        for cut in 0..=reply.len() {
            for cut2 in cut..=reply.len() {
                let mut s = Restorer::new(&r);
                let mut got = s.push(&reply[..cut]);
                got.push_str(&s.push(&reply[cut..cut2]));
                got.push_str(&s.push(&reply[cut2..]));
                got.push_str(&s.finish());
                assert_eq!(got, want, "cuts at {cut} and {cut2}");
            }
        }
        // One character at a time.
        let mut s = Restorer::new(&r);
        let mut got: String = reply.chars().map(|c| s.push(&c.to_string())).collect();
        got.push_str(&s.finish());
        assert_eq!(got, want);
    }

    #[test]
    fn invented_or_altered_placeholders_stay_visible() {
        let (_, r) = redacted(&format!("k = \"{AWS}\"\n"));
        for reply in [
            "x = \"__WARDEN_SECRET_2__\"",
            "x = \"__WARDEN_SECRET_01__\"",
            "x = \"__WARDEN_SECRET_1_\"",
            "x = \"__WARDEN_SECRET__\"",
            "x = \"__WARDEN_SECRET_1",
            "x = \"WARDEN_SECRET_1__\"",
        ] {
            assert_eq!(r.restore(reply), reply);
        }
        // Text that only looks like the start of one is released at the end.
        let mut s = Restorer::new(&r);
        assert_eq!(s.push("a __WARD"), "a ");
        assert_eq!(s.finish(), "__WARD");
        assert_eq!(prefix_tail("héllo __"), 2);
        assert_eq!(prefix_tail("é"), 0);
    }

    /// A labelled corpus file's text, and the context a scan of it has.
    fn sample<'a>(corpus: &str, file: &'a str) -> (String, Context<'a>) {
        let text = std::fs::read_to_string(format!("{corpus}/{file}")).unwrap();
        let path = std::path::Path::new(file);
        let ctx = Context {
            lang: Lang::detect(Some(path), None),
            path: Some(path),
            ..Default::default()
        };
        (text, ctx)
    }

    /// Every built-in rule's corpus secrets (fixtures/secrets, three per rule, in
    /// several file kinds) leave redacted and come back restored: the LLM actions
    /// redact with the same rules the diagnostics use.
    #[test]
    fn every_rule_in_every_family_is_redacted_and_restored() {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/secrets");
        let labels = std::fs::read_to_string(format!("{corpus}/labels.tsv")).unwrap();
        let rules = RuleSet::builtin();
        let mut rules_seen = std::collections::BTreeSet::new();
        for line in labels.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            let (file, rule) = (cols.next().unwrap(), cols.nth(1).unwrap());
            let (text, ctx) = sample(corpus, file);
            let secrets: Vec<String> = rules
                .scan_with(&text, &ctx)
                .findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| text[f.start..f.end].to_owned())
                .collect();
            assert!(!secrets.is_empty(), "{file}: no {rule} finding");
            let mut r = Redactions::default();
            let (out, n) = redact(&text, &ctx, &rules, &mut r);
            assert!(n >= 1, "{file}");
            for secret in &secrets {
                assert!(
                    !out.contains(secret.as_str()),
                    "{file}: {rule} left in the prompt"
                );
            }
            assert_eq!(r.restore(&out), text, "{file}");
            rules_seen.insert(rule.to_owned());
        }
        assert!(rules_seen.len() >= 300, "{} rules", rules_seen.len());
    }

    /// Every context of the labelled corpus by context (fixtures/secrets/contexts:
    /// unquoted values, XML, command lines, and encoded: Kubernetes Secret data,
    /// `.dockerconfigjson`, base64 PEM keys, percent escapes): the labelled line does
    /// not leave as it was, and the reply comes back whole.
    #[test]
    fn every_context_including_encoded_secrets_is_redacted_and_restored() {
        let corpus = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/secrets/contexts"
        );
        let labels = std::fs::read_to_string(format!("{corpus}/labels.tsv")).unwrap();
        let rules = RuleSet::builtin();
        let mut contexts = std::collections::BTreeSet::new();
        for line in labels.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, at, context) = (cols[0], cols[1].parse::<usize>().unwrap(), cols[2]);
            let (text, ctx) = sample(corpus, file);
            let mut r = Redactions::default();
            let (out, _) = redact(&text, &ctx, &rules, &mut r);
            let before = text.lines().nth(at - 1).unwrap();
            let after = out.lines().nth(at - 1).unwrap();
            assert_ne!(before, after, "{file}:{at} ({context}) left as it was");
            assert_eq!(r.restore(&out), text, "{file}");
            contexts.insert(context.to_owned());
        }
        for encoded in [
            "k8s-secret",
            "dockerconfigjson",
            "base64-pem",
            "percent-encoded",
        ] {
            assert!(contexts.contains(encoded), "{encoded}");
        }
    }

    #[test]
    fn json_streams_get_escaped_secrets_across_chunks() {
        let mut r = Redactions::default();
        let secret = "pa\"ss\nword\\x";
        let ph = r.placeholder(secret);
        let args = format!("{{\"password\": \"{ph}\", \"n\": 1}}");
        for cut in 0..args.len() {
            let mut p = Pending::json();
            let mut out = p.push(&r, &args[..cut]);
            out.push_str(&p.push(&r, &args[cut..]));
            out.push_str(&p.finish(&r));
            let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
            assert_eq!(v["password"], secret, "cut at {cut}");
        }
        assert_eq!(r.restore_json(&ph), "pa\\\"ss\\nword\\\\x");
        assert_eq!(r.restore(&ph), secret);
    }
}
