//! Keeping an API key out of what a provider says back. Providers echo the key they were
//! sent, whole or masked (`sk-proj-****abcd`, `sk-SECR…`), inside words, JSON, URLs or after
//! a newline, sometimes upper-cased or percent-encoded. Redaction works from the key itself:
//!
//! 1. every encoding of the whole key (as is, percent-encoded, JSON-escaped, base64) is
//!    replaced wherever it appears, ignoring ASCII case;
//! 2. the message is cut into runs of characters a key or its mask can hold (letters, digits,
//!    `-_.~%+/\*…•`); a run is replaced whole when, read without case and percent-decoded,
//!    it holds a piece of the key of [`FRAGMENT`] characters or more, or a mask (`***`, `...`,
//!    `…`, `•`, `xxx`) next to at least three characters of the key's start or end.
//!
//! Whatever separates runs (spaces, newlines, quotes, `:`, `=`, `,`, braces) stays, so the
//! message keeps its shape: `key=<redacted>`, `{"key":"<redacted>"}`.

use base64::Engine as _;

pub const REDACTED: &str = "<redacted>";

/// The shortest piece of the key that marks a run as holding it.
const FRAGMENT: usize = 6;

/// `message` with every trace of `key` replaced by [`REDACTED`].
pub fn redact(message: &str, key: Option<&str>) -> String {
    let Some(key) = key.map(str::trim).filter(|k| !k.is_empty()) else {
        return message.to_owned();
    };
    let mut out = message.to_owned();
    for form in encodings(key) {
        out = replace_ignoring_case(&out, &form, REDACTED);
    }
    redact_runs(&out, key)
}

/// The key as it may be written: as is, percent-encoded, JSON-escaped, in base64.
fn encodings(key: &str) -> Vec<String> {
    let mut forms = vec![key.to_owned(), percent_encode(key), key.replace('/', "\\/")];
    if let Ok(json) = serde_json::to_string(key) {
        forms.push(json.trim_matches('"').to_owned());
    }
    for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
    {
        forms.push(engine.encode(key));
    }
    forms.sort();
    forms.dedup();
    // Longest first, so that a longer form is not broken up by a shorter one inside it.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.retain(|f| !f.is_empty());
    forms
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `haystack` with every occurrence of `needle` (ASCII case ignored) replaced.
fn replace_ignoring_case(haystack: &str, needle: &str, with: &str) -> String {
    let lower_haystack = haystack.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut from = 0;
    while let Some(found) = lower_haystack[from..].find(&lower_needle) {
        let at = from + found;
        out.push_str(&haystack[from..at]);
        out.push_str(with);
        from = at + needle.len();
    }
    out.push_str(&haystack[from..]);
    out
}

fn is_run_char(c: char) -> bool {
    c.is_alphanumeric() || "-_.~%+/\\*…•".contains(c)
}

/// Replaces each run of key-like characters that holds a piece of `key`.
fn redact_runs(message: &str, key: &str) -> String {
    let key: Vec<char> = key.to_lowercase().chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            // `<redacted>` itself is a run of its own: `<` and `>` separate runs.
            out.push_str(if holds_key(run, &key) { REDACTED } else { run });
            run.clear();
        }
    };
    for c in message.chars() {
        if is_run_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn holds_key(run: &str, key: &[char]) -> bool {
    let text: Vec<char> = percent_decode(run).replace('\\', "").to_lowercase().chars().collect();
    let contains = |piece: &[char]| !piece.is_empty() && text.windows(piece.len()).any(|w| w == piece);
    let fragment = FRAGMENT.min(key.len());
    if key.windows(fragment).any(contains) {
        return true;
    }
    let masked = text.contains(&'…')
        || text.contains(&'•')
        || text.windows(3).any(|w| w.iter().all(|&c| c == '*' || c == '.') || w.iter().all(|&c| c == 'x'));
    masked && key.len() >= 6 && (contains(&key[..3]) || contains(&key[key.len() - 3..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-SECRETkey0123456789abcdefZZ3456";

    #[test]
    fn every_form_of_the_key_is_redacted() {
        let encoded = percent_encode("sk-SECR****3456");
        let cases = [
            format!("Incorrect API key provided: {KEY}."),
            "key=sk-SECR****3456".to_owned(),
            r#"{"error":{"key":"sk-SECR…"}}"#.to_owned(),
            "invalid key\nsk-SECR****3456 was revoked".to_owned(),
            format!("KEY {} IS WRONG", KEY.to_uppercase()),
            format!("url: https://api.example/v1?key={encoded}&x=1"),
            format!("url: https://api.example/v1?key={}", percent_encode(KEY)),
            "Your key ending in ****3456 is invalid".to_owned(),
            "key: ...3456 (masked: sk-s•••••)".to_owned(),
            format!("basic {}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(KEY)),
            format!("({KEY})"),
            "sk-secretkey01".to_owned(),
        ];
        for message in cases {
            let redacted = redact(&message, Some(KEY));
            let lower = redacted.to_lowercase();
            for piece in ["secr", "3456", "0123", "zz"] {
                assert!(!lower.contains(piece), "{piece:?} survives in {redacted:?} (from {message:?})");
            }
            assert!(redacted.contains(REDACTED), "{redacted:?}");
        }
    }

    #[test]
    fn the_message_keeps_its_shape() {
        assert_eq!(redact("key=sk-SECR****3456, retry", Some(KEY)), "key=<redacted>, retry");
        assert_eq!(redact(r#"{"key":"sk-SECR…"}"#, Some(KEY)), r#"{"key":"<redacted>"}"#);
        assert_eq!(redact("no key here: model not found", Some(KEY)), "no key here: model not found");
        assert_eq!(redact("no key here", None), "no key here");
        // Short keys are redacted whole, not by pieces that would take ordinary words.
        assert_eq!(redact("the key ab12 was wrong, abacus", Some("ab12")), "the key <redacted> was wrong, abacus");
    }
}
