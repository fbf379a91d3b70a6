//! Capped output capture for one stream: counts every byte, keeps (and hands out for
//! streaming) at most `cap` bytes, and turns bytes into text without ever splitting a
//! UTF-8 sequence across chunks (an incomplete tail waits for the next chunk; invalid
//! bytes become U+FFFD).

#[derive(Debug, Clone)]
pub struct Capture {
    cap: usize,
    /// Raw bytes accepted so far (at most `cap`).
    accepted: usize,
    pub text: String,
    pub total: u64,
    pub truncated: bool,
    carry: Vec<u8>,
}

impl Capture {
    pub fn new(cap: usize) -> Capture {
        Capture {
            cap,
            accepted: 0,
            text: String::new(),
            total: 0,
            truncated: false,
            carry: Vec::new(),
        }
    }

    /// Takes the next bytes; returns the text to stream now (empty when nothing new
    /// fits under the cap or a UTF-8 sequence is still incomplete).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.total += bytes.len() as u64;
        let room = self.cap - self.accepted;
        let take = bytes.len().min(room);
        if take < bytes.len() {
            self.truncated = true;
        }
        self.accepted += take;
        self.carry.extend_from_slice(&bytes[..take]);
        let at_cap = self.accepted == self.cap;
        let out = decode(&mut self.carry, at_cap);
        self.text.push_str(&out);
        out
    }

    /// The end of the stream: an incomplete trailing sequence becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = decode(&mut self.carry, true);
        self.text.push_str(&out);
        out
    }
}

/// Decodes `buf` as far as possible, leaving an incomplete trailing sequence in it
/// unless `flush`.
fn decode(buf: &mut Vec<u8>, flush: bool) -> String {
    let mut out = String::new();
    let mut rest: &[u8] = buf;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                rest = &[];
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).expect("valid prefix"));
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        rest = &bad[n..];
                    }
                    None if flush => {
                        out.push('\u{FFFD}');
                        rest = &[];
                        break;
                    }
                    None => {
                        rest = bad;
                        break;
                    }
                }
            }
        }
    }
    let keep = rest.to_vec();
    *buf = keep;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sequences_wait_for_their_end() {
        let mut c = Capture::new(100);
        let bytes = "é€".as_bytes();
        assert_eq!(c.push(&bytes[..1]), "");
        assert_eq!(c.push(&bytes[1..3]), "é");
        assert_eq!(c.push(&bytes[3..]), "€");
        assert_eq!(c.text, "é€");
        assert!(!c.truncated);
    }

    #[test]
    fn invalid_bytes_are_replaced_and_tails_flushed() {
        let mut c = Capture::new(100);
        assert_eq!(c.push(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(c.push(b"\xe2\x82"), "");
        assert_eq!(c.finish(), "\u{FFFD}");
    }

    #[test]
    fn cap_keeps_a_prefix_and_counts_everything() {
        let mut c = Capture::new(5);
        assert_eq!(c.push(b"abc"), "abc");
        assert_eq!(c.push(b"defgh"), "de");
        assert_eq!(c.push(b"ijk"), "");
        assert_eq!(c.text, "abcde");
        assert_eq!(c.total, 11);
        assert!(c.truncated);
        // A sequence cut by the cap is dropped, not kept half.
        let mut c = Capture::new(2);
        assert_eq!(c.push("aé".as_bytes()), "a\u{FFFD}");
    }
}
