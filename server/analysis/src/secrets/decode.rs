//! Encoded secrets: Kubernetes `Secret` manifests (their `data:` values are base64),
//! `.dockerconfigjson` and other base64 blobs that hold a PEM key, a Docker `auths` map
//! or a service-account key, and percent-encoded credentials (`%2F`, `%40` in a URL or
//! a query string). A candidate is decoded (bounded: [`MAX_SEGMENT`] bytes,
//! [`MAX_DEPTH`] levels, [`MAX_DECODES`] a scan), the decoded text is scanned with the
//! same rules, and what is found there is reported at the encoded span.
//!
//! Decoding costs nothing on text that gives no reason for it: it starts from
//! [`TRIGGERS`], keywords of the same automaton as the rules' (the base64 forms of
//! `-----BEGIN`, `"auths"`, `"private_key"` and `service_account` at each of the three
//! alignments, `%2F`-style escapes, `kind: Secret`).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use regex::Regex;

/// The largest encoded segment decoded.
pub const MAX_SEGMENT: usize = 64 * 1024;
/// Decoded text is scanned again, down to this many levels (a base64 `.dockerconfigjson`
/// holds base64 `auth` values).
pub const MAX_DEPTH: u8 = 2;
/// At most this many segments decoded in one scan.
pub const MAX_DECODES: usize = 256;

/// How a secret was written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Percent,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Base64 => "in base64",
            Encoding::Percent => "percent-encoded",
        })
    }
}

/// What a trigger keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A base64 run on the keyword's line.
    Base64,
    /// Percent escapes on the keyword's line.
    Percent,
    /// The whole file may be a Kubernetes `Secret`: its `data:` values are base64.
    KubernetesSecret,
}

/// Trigger keywords (lower case: the automaton ignores ASCII case).
pub const TRIGGERS: &[(&str, Trigger)] = &[
    // -----BEGIN
    ("ls0tls1crudjt", Trigger::Base64),
    ("0tls0tqkvhsu", Trigger::Base64),
    ("tls0tlujfr0lo", Trigger::Base64),
    // "auths" (a Docker configuration: `.dockerconfigjson`, `~/.docker/config.json`)
    ("imf1dghzi", Trigger::Base64),
    ("jhdxrocy", Trigger::Base64),
    ("iyxv0ahmi", Trigger::Base64),
    // "private_key" (a cloud service-account key file)
    ("inbyaxzhdgvfa2v5i", Trigger::Base64),
    ("jwcml2yxrlx2tles", Trigger::Base64),
    ("ichjpdmf0zv9rzxki", Trigger::Base64),
    // service_account
    ("c2vydmljzv9hy2nvdw50", Trigger::Base64),
    ("nlcnzpy2vfywnjb3vud", Trigger::Base64),
    ("zzxj2awnlx2fjy291bn", Trigger::Base64),
    // Escapes of the characters that base64 secrets and passwords hold.
    ("%2b", Trigger::Percent),
    ("%2f", Trigger::Percent),
    ("%3d", Trigger::Percent),
    ("%40", Trigger::Percent),
    ("%3a", Trigger::Percent),
    ("%21", Trigger::Percent),
    ("%23", Trigger::Percent),
    ("%24", Trigger::Percent),
    ("%26", Trigger::Percent),
    ("%25", Trigger::Percent),
    ("kind: secret", Trigger::KubernetesSecret),
];

/// Whether `text` is a Kubernetes `Secret` manifest (the exact spelling `kubectl`
/// writes), whose `data:` values are decoded.
pub fn is_kubernetes_secret(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), b"kind: Secret").is_some()
}

/// One decoded segment: `span` of the original text was `encoding`; `text` is the
/// original line with that span decoded, and `decoded` the decoded part's range in it.
#[derive(Debug)]
pub struct Decoded {
    pub span: Range<usize>,
    pub encoding: Encoding,
    pub text: String,
    pub decoded: Range<usize>,
    /// For percent-decoding (the whole line is decoded): the original offset of each
    /// byte of `text`, and of its end.
    pub map: Option<Vec<usize>>,
}

impl Decoded {
    /// The original span of `start..end` of the decoded text, if it lies in what was
    /// decoded.
    pub fn original(&self, start: usize, end: usize) -> Option<Range<usize>> {
        match &self.map {
            Some(map) => {
                let (a, b) = (*map.get(start)?, *map.get(end)?);
                // Only what the escapes changed: the plain scan finds the rest.
                let changed = (b - a) != (end - start);
                changed.then_some(a..b)
            }
            None => {
                (start < self.decoded.end && end > self.decoded.start).then(|| self.span.clone())
            }
        }
    }
}

static BASE64: LazyLock<GeneralPurpose> = LazyLock::new(|| {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
});

/// Base64 decoded to text: UTF-8 with no control characters but line breaks and tabs
/// (binary data holds no secret the rules could read).
fn base64_text(encoded: &str) -> Option<String> {
    if encoded.len() > MAX_SEGMENT || encoded.len() < 8 {
        return None;
    }
    let bytes = BASE64.decode(encoded).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .then_some(text)
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// `line` (at `line_start` in the text) with `span` replaced by `decoded`.
fn splice(text: &str, line: Range<usize>, span: Range<usize>, decoded: &str) -> Decoded {
    let mut out = String::with_capacity(line.len() + decoded.len());
    out.push_str(&text[line.start..span.start]);
    let start = out.len();
    out.push_str(decoded);
    let end = out.len();
    out.push_str(&text[span.end..line.end]);
    Decoded {
        span,
        encoding: Encoding::Base64,
        text: out,
        decoded: start..end,
        map: None,
    }
}

/// The base64 run around `at` on `line`, decoded.
pub fn base64_at(text: &str, line: Range<usize>, at: usize) -> Option<Decoded> {
    let bytes = text.as_bytes();
    let mut start = at;
    while start > line.start && is_b64(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = at;
    while end < line.end && is_b64(bytes[end]) {
        end += 1;
    }
    while end < line.end && end - start < MAX_SEGMENT && bytes[end] == b'=' {
        end += 1;
    }
    let decoded = base64_text(&text[start..end])?;
    Some(splice(text, line, start..end, &decoded))
}

static DATA_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^[ \t]+[A-Za-z0-9_.-]+:[ \t]*["']?([A-Za-z0-9+/]{8,}={0,2})["']?[ \t]*\r?$"#)
        .expect("valid regex")
});

/// The `data:` values of a Kubernetes `Secret` manifest, decoded (each on its line:
/// `password: <decoded>`), at most `limit` of them.
pub fn kubernetes_data(text: &str, limit: usize) -> Vec<Decoded> {
    DATA_VALUE
        .captures_iter(text)
        .filter_map(|caps| {
            let value = caps.get(1)?;
            let decoded = base64_text(value.as_str())?;
            let line = crate::lines::line_around(text, value.start());
            Some(splice(text, line, value.range(), &decoded))
        })
        .take(limit)
        .collect()
}

/// `line` with its percent escapes decoded, when it has any and decodes to UTF-8.
pub fn percent_line(text: &str, line: Range<usize>) -> Option<Decoded> {
    if line.len() > MAX_SEGMENT {
        return None;
    }
    let src = &text.as_bytes()[line.clone()];
    let mut out = Vec::with_capacity(src.len());
    let mut map = Vec::with_capacity(src.len() + 1);
    let mut i = 0;
    let mut escapes = 0;
    while i < src.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if src[i] == b'%'
            && let (Some(h), Some(l)) = (
                src.get(i + 1).copied().and_then(hex),
                src.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            map.push(line.start + i);
            i += 3;
            escapes += 1;
            continue;
        }
        out.push(src[i]);
        map.push(line.start + i);
        i += 1;
    }
    map.push(line.end);
    if escapes == 0 {
        return None;
    }
    let decoded = match String::from_utf8_lossy(&out) {
        Cow::Borrowed(s) => s.to_owned(),
        Cow::Owned(_) => return None,
    };
    Some(Decoded {
        span: line,
        encoding: Encoding::Percent,
        decoded: 0..decoded.len(),
        text: decoded,
        map: Some(map),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn triggers_are_the_base64_of_their_markers_at_every_alignment() {
        for (marker, _) in [
            ("-----BEGIN", 0),
            ("\"auths\"", 0),
            ("\"private_key\"", 0),
            ("service_account", 0),
        ] {
            for pad in ["", "x", "xy"] {
                let enc = b64(&format!("{pad}{marker} and more")).to_ascii_lowercase();
                assert!(
                    TRIGGERS
                        .iter()
                        .any(|(k, t)| *t == Trigger::Base64 && enc.contains(k)),
                    "{marker:?} after {pad:?}: {enc}"
                );
            }
        }
    }

    #[test]
    fn base64_runs_decode_to_text_only() {
        let text = format!("key: {}\n", b64("-----BEGIN RSA PRIVATE KEY-----\nabc"));
        let d = base64_at(&text, 0..text.len() - 1, 7).unwrap();
        assert_eq!(d.span.start, 5);
        assert!(d.text.starts_with("key: -----BEGIN RSA"));
        assert_eq!(
            &d.text[d.decoded.clone()],
            "-----BEGIN RSA PRIVATE KEY-----\nabc"
        );
        // Binary is not text.
        let bin = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150, 1, 2]);
        let text = format!("x {bin}");
        assert!(base64_at(&text, 0..text.len(), 3).is_none());
    }

    #[test]
    fn percent_decoding_maps_back_to_the_original() {
        let text = "url=https://u:p%40ss%2Fw0rd@host/x";
        let d = percent_line(text, 0..text.len()).unwrap();
        assert_eq!(d.text, "url=https://u:p@ss/w0rd@host/x");
        let at = d.text.find("p@ss/w0rd").unwrap();
        let orig = d.original(at, at + "p@ss/w0rd".len()).unwrap();
        assert_eq!(&text[orig], "p%40ss%2Fw0rd");
        // A span the escapes did not touch is the plain scan's.
        assert!(d.original(0, 3).is_none());
        assert!(percent_line("no escapes %zz here", 0..19).is_none());
    }

    #[test]
    fn kubernetes_data_values() {
        let text = format!(
            "apiVersion: v1\nkind: Secret\ndata:\n  password: {}\n  note: {}\n",
            b64("Xk9#mP2$vL8qR4wZ"),
            b64("\u{0}\u{1}binary")
        );
        assert!(is_kubernetes_secret(&text));
        let d = kubernetes_data(&text, MAX_DECODES);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].text, "  password: Xk9#mP2$vL8qR4wZ");
    }
}
