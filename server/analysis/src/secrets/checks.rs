//! Checksums and structure checks of token formats that carry one (a rule's `checksum`
//! field names the check). A token that passes is almost surely real, not a made-up
//! example; one that fails is reported one level lower, with a message that says so.
//!
//! - `github-crc32`: GitHub's tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm's
//!   (`npm_`): 30 random base62 characters after the prefix, then their CRC32 in six
//!   base62 digits (GitHub's "Behind GitHub's new authentication token formats", 2021;
//!   npm's "new access token format", 2021).
//! - `pypi-macaroon`: a PyPI API token is `pypi-` and a base64url macaroon in the v2
//!   binary format (version byte 2, fields of type, length and data, sections ended by
//!   a zero, a 32-byte signature last); it must parse to its last byte.
//! - `base64-userpass`: base64 of `user:password` (Docker's `auths` entries, HTTP basic
//!   credentials); a value that is not one is no finding.

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checksum {
    GithubCrc32,
    PypiMacaroon,
    Base64Userpass,
}

impl Checksum {
    /// Whether a token that fails the check is no finding at all (the check is what
    /// makes the match a credential: `base64-userpass`), rather than one reported a
    /// level lower (a checksum: the token is probably made up).
    pub fn required(self) -> bool {
        self == Checksum::Base64Userpass
    }

    /// Whether `secret` (the rule's match) passes the check.
    pub fn verify(self, secret: &str) -> bool {
        match self {
            Checksum::GithubCrc32 => github_crc32(secret),
            Checksum::PypiMacaroon => pypi_macaroon(secret),
            Checksum::Base64Userpass => base64_userpass(secret),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in six base62 digits, zero-padded (a CRC32 needs at most six).
pub fn base62_6(mut n: u32) -> String {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn github_crc32(secret: &str) -> bool {
    let Some((_, body)) = secret.split_once('_') else {
        return false;
    };
    if body.len() != 36 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62_6(crc32fast::hash(random.as_bytes())) == check
}

fn pypi_macaroon(secret: &str) -> bool {
    let Some(body) = secret.strip_prefix("pypi-") else {
        return false;
    };
    let body = body.trim_end_matches('=');
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body) else {
        return false;
    };
    macaroon_v2(&bytes)
}

/// A varint (LEB128) at `*at`.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// One section of fields up to its end marker: the field types in order.
fn section(bytes: &[u8], at: &mut usize) -> Option<Vec<u64>> {
    let mut types = Vec::new();
    loop {
        let t = varint(bytes, at)?;
        if t == 0 {
            return Some(types);
        }
        let len = usize::try_from(varint(bytes, at)?).ok()?;
        *at = at.checked_add(len).filter(|&end| end <= bytes.len())?;
        types.push(t);
    }
}

/// The macaroon v2 binary format: version, header section (needs an identifier),
/// caveat sections up to an empty one, then the 32-byte signature field and nothing
/// after it.
fn macaroon_v2(bytes: &[u8]) -> bool {
    const IDENTIFIER: u64 = 2;
    const SIGNATURE: u64 = 6;
    if bytes.first() != Some(&2) {
        return false;
    }
    let mut at = 1;
    let Some(header) = section(bytes, &mut at) else {
        return false;
    };
    if !header.contains(&IDENTIFIER) {
        return false;
    }
    for _ in 0..1000 {
        match section(bytes, &mut at) {
            Some(caveat) if caveat.is_empty() => {
                return varint(bytes, &mut at) == Some(SIGNATURE)
                    && varint(bytes, &mut at) == Some(32)
                    && at + 32 == bytes.len();
            }
            Some(_) => {}
            None => return false,
        }
    }
    false
}

fn base64_userpass(secret: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(secret) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return false;
    };
    text.split_once(':').is_some_and(|(user, pass)| {
        !user.is_empty()
            && !pass.is_empty()
            && text.chars().all(|c| !c.is_control())
            && !user.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(prefix: &str, random: &str) -> String {
        format!(
            "{prefix}{random}{}",
            base62_6(crc32fast::hash(random.as_bytes()))
        )
    }

    #[test]
    fn base62_digits_match_a_hand_computed_value() {
        assert_eq!(base62_6(0), "000000");
        assert_eq!(base62_6(61), "00000z");
        assert_eq!(base62_6(62), "000010");
        // 2^32 - 1 = 4 * 62^5 + 42 * 62^4 + 41 * 62^3 + 15 * 62^2 + 12 * 62 + 3
        assert_eq!(base62_6(u32::MAX), "4gfFC3");
    }

    #[test]
    fn github_and_npm_checksums() {
        let random = "Zx9QmL2vT7kR4pN8wB3cY6hJ1sD5fG";
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"] {
            let token = github(prefix, random);
            assert!(Checksum::GithubCrc32.verify(&token), "{token}");
            // One character changed anywhere: the checksum no longer matches.
            let mut bad = token.clone().into_bytes();
            bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
            assert!(!Checksum::GithubCrc32.verify(std::str::from_utf8(&bad).unwrap()));
        }
        assert!(!Checksum::GithubCrc32.verify("ghp_abcdefghijklmnopqrstuvwxyzABCD012345"));
        assert!(!Checksum::GithubCrc32.verify("ghp_short"));
    }

    /// A macaroon built field by field as the v2 format lays it out.
    fn macaroon(caveats: &[&str], sig_len: usize) -> Vec<u8> {
        let field = |out: &mut Vec<u8>, t: u8, data: &[u8]| {
            out.push(t);
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        };
        let mut m = vec![2];
        field(&mut m, 1, b"pypi.org");
        field(&mut m, 2, b"{\"nonce\":\"5a1b\",\"version\":1}");
        m.push(0);
        for c in caveats {
            field(&mut m, 2, c.as_bytes());
            m.push(0);
        }
        m.push(0);
        field(&mut m, 6, &vec![0xa5; sig_len]);
        m
    }

    #[test]
    fn pypi_tokens_parse_as_macaroons() {
        let enc = |b: &[u8]| {
            format!(
                "pypi-{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            )
        };
        let good = enc(&macaroon(&["{\"version\":1,\"permissions\":\"user\"}"], 32));
        assert!(good.starts_with("pypi-AgEIcHlwaS5vcmc"), "{good}");
        assert!(Checksum::PypiMacaroon.verify(&good));
        assert!(!Checksum::PypiMacaroon.verify(&enc(&macaroon(&[], 31))));
        let mut truncated = macaroon(&["x"], 32);
        truncated.pop();
        assert!(!Checksum::PypiMacaroon.verify(&enc(&truncated)));
        let mut trailing = macaroon(&["x"], 32);
        trailing.push(0);
        assert!(!Checksum::PypiMacaroon.verify(&enc(&trailing)));
        assert!(!Checksum::PypiMacaroon.verify(
            "pypi-AgEIcHlwaS5vcmcAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
    }

    #[test]
    fn base64_user_and_password() {
        assert!(Checksum::Base64Userpass.verify("ZGVwbG95OnM0ZmUtcDRzcw==")); // deploy:s4fe-p4ss
        assert!(!Checksum::Base64Userpass.verify("bm9jb2xvbmhlcmU=")); // nocolonhere
        assert!(!Checksum::Base64Userpass.verify("not base64!"));
    }
}
