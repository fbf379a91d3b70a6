//! What makes a regex match not a finding: entropy too low, documented examples and
//! placeholders, UUIDs, hashes, integrity strings, base64 blobs, keys that are public
//! by design, inline suppression comments. Also the environment variable name a fix
//! should use.

use std::sync::LazyLock;

use regex::Regex;

/// Shannon entropy in bits per byte.
pub fn entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

static PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your_",
    "your-",
    "<your",
    "replace_me",
    "replace-me",
    "replaceme",
    "redacted",
    "dummy",
    "xxxx",
    "****",
    "....",
];

/// Documented examples and template placeholders, for every rule. Key blocks (which
/// legitimately contain long runs of `A`) skip the low-variety check.
pub fn is_placeholder(secret: &str, key_block: bool) -> bool {
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if secret.contains("${")
        || secret.contains("{{")
        || secret.contains("}}")
        || secret.contains("%(")
        || secret.contains("$(")
    {
        return true;
    }
    // `$NAME` is a reference; a password hash (`$2b$12$...`, `$argon2id$v=19$...`)
    // starts with `$` too, but not with a name and nothing else.
    let reference = secret.strip_prefix('$').is_some_and(|rest| {
        rest.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && !rest.contains('$')
    });
    let wrapped = |open, close| secret.starts_with(open) && secret.ends_with(close);
    // `<name>`, `{Name}` (a format string's field), `[name]`.
    if reference || wrapped('<', '>') || wrapped('{', '}') || wrapped('[', ']') {
        return true;
    }
    if key_block {
        return false;
    }
    // Runs of eight or more of one character (`AKIA0000000000000000`) with little else
    // around them, or almost no variety at all. A token whose format starts with a run
    // (X's app-only bearer tokens: 21 `A`s) has plenty else.
    let bytes = secret.as_bytes();
    let mut in_runs = 0;
    let mut i = 0;
    while i < bytes.len() {
        let j = bytes[i..]
            .iter()
            .position(|&b| b != bytes[i])
            .map_or(bytes.len(), |k| i + k);
        if j - i >= 8 {
            in_runs += j - i;
        }
        i = j;
    }
    if in_runs > 0 && bytes.len() - in_runs < 24 {
        return true;
    }
    let mut distinct = bytes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() <= 3
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap()
});
// Digest lengths: SHA-1 and up. 32 hex digits (MD5's length) is also the format of many
// API keys, and under a name that says key, token or secret it is one.
static HEX_HASH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$",
    )
    .unwrap()
});
static INTEGRITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:sha1|sha256|sha384|sha512|md5)[-:][A-Za-z0-9+/=]+$").unwrap()
});

/// Values that look random but are identifiers, digests or integrity strings: not
/// findings for generic rules.
pub fn is_benign_random(secret: &str) -> bool {
    UUID.is_match(secret) || HEX_HASH.is_match(secret) || INTEGRITY.is_match(secret)
}

/// Lines around a Google API key that say it is a Firebase web or Android app's
/// configuration, where the key identifies the app and is public by design (Firebase's
/// documentation: "API keys for Firebase services are not secret").
const FIREBASE_WINDOW: usize = 10;
static FIREBASE_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)firebase|authDomain|messagingSenderId|"current_key"|google-services"#)
        .unwrap()
});

/// Keys published on purpose, by whatever rule matched them: Stripe publishable keys
/// (`pk_live_`, `pk_test_`), URLs with a user but no password (a Sentry DSN's public
/// key), a token in a badge image's URL (Codecov's graph token, made to be embedded in
/// READMEs), and Google API keys in a Firebase app configuration (checked within
/// [`FIREBASE_WINDOW`] lines of the key).
pub fn is_public_by_design(secret: &str, text: &str, start: usize) -> bool {
    if secret.starts_with("pk_live_") || secret.starts_with("pk_test_") {
        return true;
    }
    let line_start = memchr::memrchr(b'\n', &text.as_bytes()[..start]).map_or(0, |i| i + 1);
    let before = &text[line_start..start];
    let url = before
        .rfind(|c: char| c.is_whitespace() || "\"'`()<>[]".contains(c))
        .map_or(before, |i| &before[i + 1..]);
    if url.contains("://") && url.contains("badge") {
        return true;
    }
    if let Some((scheme, rest)) = secret.split_once("://")
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        && let Some(at) = rest.find('@')
        && !rest[..at].contains([':', '/'])
    {
        return true;
    }
    if secret.starts_with("AIza") {
        let bytes = text.as_bytes();
        let from = memchr::memrchr_iter(b'\n', &bytes[..start])
            .nth(FIREBASE_WINDOW)
            .map_or(0, |i| i + 1);
        let to = memchr::memchr_iter(b'\n', &bytes[start..])
            .nth(FIREBASE_WINDOW)
            .map_or(bytes.len(), |i| start + i);
        return FIREBASE_CONTEXT.is_match(&text[from..to]);
    }
    false
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// A match that is a slice of a longer base64 run (an embedded blob, an image, a
/// certificate) rather than a token of its own.
pub fn inside_base64_blob(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let mut left = start;
    while left > 0 && is_b64(bytes[left - 1]) {
        left -= 1;
    }
    let mut right = end;
    while right < bytes.len() && is_b64(bytes[right]) {
        right += 1;
    }
    (start - left) + (right - end) >= 40
}

/// Inline suppression markers honoured on the finding's line.
pub const SUPPRESS_MARKERS: &[&str] =
    &["warden:allow", "gitleaks:allow", "pragma: allowlist secret"];

pub fn suppressed(line: &str) -> bool {
    SUPPRESS_MARKERS.iter().any(|m| line.contains(m))
}

static ASSIGNED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z_][A-Za-z0-9_.-]*)["']?\]?\s*(?::=|=>|[:=])\s*(?:[A-Za-z_]+\()?["'`]?[^"'`\s]*$"#).unwrap()
});

/// `API_KEY` from `apiKey = "`, `DB_PASSWORD` from `db.password: "`.
pub fn assigned_env_name(line_prefix: &str) -> Option<String> {
    let caps = ASSIGNED_NAME.captures(line_prefix)?;
    let name = caps.get(1)?.as_str();
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    let out = out.trim_matches('_').to_owned();
    (!out.is_empty() && !out.starts_with(|c: char| c.is_ascii_digit())).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_orders_randomness() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!(entropy("hunter2hunter2") < 3.5);
        assert!(entropy("q8Zr2LxV0pTn7WcYb4Ks") > 4.0);
    }

    #[test]
    fn placeholders_and_benign_values() {
        for p in [
            "AKIAIOSFODNN7EXAMPLE",
            "${API_TOKEN}",
            "<your-token>",
            "xxxxxxxxxxxxxxxx",
            "changeme123",
            "{{ secrets.X }}",
            "$TOKEN",
            "$(cat token)",
            "00000000000000000000",
            "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "AIzaSyA00000000000000000000000000000000",
        ] {
            assert!(is_placeholder(p, false), "{p}");
        }
        // A password hash starts with `$` and a digit; an X app-only bearer token with
        // a run of `A`s followed by its random part.
        for real in [
            "$2b$12$ctLtplZQSpAKUedX8PGN.gGGF9U/vEuy4B47hjUsdG.5jGIbiybc8",
            "$argon2id$v=19$m=65536,t=3,p=4$AHU7yUvMNC3z3J7sIrjxqN$RkKZRuGHI57BAEhpz",
            "$P$BxK8E4/sqexpbqVCEa6iVG5Q9l6tCg3",
            "AAAAAAAAAAAAAAAAAAAAAMuOGubnBeh6XVUU04eELoLpHUXi1SR%2BXiAfLIW0xTzcQoV5DZqr",
        ] {
            assert!(!is_placeholder(real, false), "{real}");
        }
        assert!(!is_placeholder(
            "ghp_R4nd0mL00k1ngT0k3nV4lu3abcdefghij",
            false
        ));
        assert!(!is_placeholder("MIIEAAAAAAAAAAAAb3Bl", true));
        assert!(is_benign_random("123e4567-e89b-12d3-a456-426614174000"));
        assert!(is_benign_random("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
        assert!(is_benign_random(
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        ));
        assert!(!is_benign_random("q8Zr2LxV0pTn7WcYb4Ks"));
    }

    #[test]
    fn blobs_suppression_and_names() {
        let blob = format!(
            "data:image/png;base64,{}AKIAQ3EGRB4XY7MNP2KD{}",
            "A".repeat(30),
            "z".repeat(30)
        );
        let start = blob.find("AKIA").unwrap();
        assert!(inside_base64_blob(&blob, start, start + 20));
        let plain = "key = \"AKIAQ3EGRB4XY7MNP2KD\"";
        let s = plain.find("AKIA").unwrap();
        assert!(!inside_base64_blob(plain, s, s + 20));
        assert!(suppressed("token = 'x' # warden:allow"));
        assert!(suppressed("x // gitleaks:allow"));
        assert!(!suppressed("token = 'x'"));
        assert_eq!(
            assigned_env_name("    apiKey = \"").as_deref(),
            Some("API_KEY")
        );
        assert_eq!(
            assigned_env_name("db.password: '").as_deref(),
            Some("DB_PASSWORD")
        );
        assert_eq!(
            assigned_env_name("export GITHUB_TOKEN=").as_deref(),
            Some("GITHUB_TOKEN")
        );
        assert_eq!(assigned_env_name("print(").as_deref(), None);
    }
}
