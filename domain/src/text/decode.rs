//! Turning uploaded bytes into text: UTF-8 (with or without a byte-order mark) or UTF-16 with
//! a byte-order mark, and normalising line endings so every stored text uses `\n`.
//!
//! Errors name the byte offset in the uploaded file, so a researcher can find the bad spot in a
//! hex editor; nothing is replaced silently, since a replaced character would shift every
//! entity offset after it.

use crate::error::{DomainError, DomainResult};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// An uploaded file decoded to text, with the encoding it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, without the byte-order mark; line endings as uploaded.
    pub text: String,
    /// `"utf-8"`, `"utf-8-bom"`, `"utf-16le"` or `"utf-16be"`.
    pub encoding: &'static str,
}

const UTF32LE_BOM: &[u8] = &[0xFF, 0xFE, 0x00, 0x00];
const UTF32BE_BOM: &[u8] = &[0x00, 0x00, 0xFE, 0xFF];

/// Decodes an upload: UTF-16 only when it starts with a byte-order mark (without one, UTF-16 is
/// indistinguishable from binary), UTF-8 otherwise. A UTF-32 byte-order mark is refused by
/// name (it starts like UTF-16's). A NUL character is refused with its byte offset: no text
/// needs one, and PostgreSQL cannot store it.
pub fn decode_upload(bytes: &[u8]) -> DomainResult<Decoded> {
    if bytes.starts_with(UTF32LE_BOM) || bytes.starts_with(UTF32BE_BOM) {
        return Err(DomainError::invalid(
            "file",
            "is UTF-32 (it starts with a UTF-32 byte-order mark), which is not accepted: save it as UTF-8",
        ));
    }
    let decoded = decode_any(bytes)?;
    if let Some(at) = decoded.text.find('\0') {
        // The byte offset in the file: the text before it, in the file's encoding.
        let before = &decoded.text[..at];
        let offset = match decoded.encoding {
            "utf-8" => before.len(),
            "utf-8-bom" => UTF8_BOM.len() + before.len(),
            _ => 2 + 2 * before.encode_utf16().count(),
        };
        return Err(DomainError::invalid(
            "file",
            format!("holds U+0000 (NUL) at byte {offset}, which is not accepted"),
        ));
    }
    Ok(decoded)
}

fn decode_any(bytes: &[u8]) -> DomainResult<Decoded> {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        return decode_utf8(rest, UTF8_BOM.len(), "utf-8-bom");
    }
    if let Some(rest) = bytes.strip_prefix(UTF16LE_BOM) {
        return decode_utf16(rest, u16::from_le_bytes, "utf-16le");
    }
    if let Some(rest) = bytes.strip_prefix(UTF16BE_BOM) {
        return decode_utf16(rest, u16::from_be_bytes, "utf-16be");
    }
    decode_utf8(bytes, 0, "utf-8")
}

/// `skipped` is the length of the byte-order mark, so offsets count from the file's start.
fn decode_utf8(bytes: &[u8], skipped: usize, encoding: &'static str) -> DomainResult<Decoded> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Decoded { text: text.to_owned(), encoding }),
        Err(e) => {
            let at = skipped + e.valid_up_to();
            // `error_len` is None only when the input ends inside a multi-byte sequence.
            let message = match e.error_len() {
                Some(_) => format!("invalid UTF-8 at byte {at}"),
                None => format!("invalid UTF-8 at byte {at} (truncated sequence)"),
            };
            Err(DomainError::invalid("file", message))
        }
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, encoding: &'static str) -> DomainResult<Decoded> {
    const BOM_LEN: usize = 2;
    if !bytes.len().is_multiple_of(2) {
        let at = BOM_LEN + bytes.len() - 1;
        return Err(DomainError::invalid("file", format!("invalid UTF-16 at byte {at} (odd number of bytes)")));
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len());
    let mut units_read = 0;
    for decoded in char::decode_utf16(units) {
        match decoded {
            Ok(c) => {
                text.push(c);
                units_read += c.len_utf16();
            }
            Err(e) => {
                let at = BOM_LEN + 2 * units_read;
                return Err(DomainError::invalid(
                    "file",
                    format!("invalid UTF-16 at byte {at} (unpaired surrogate {:#06X})", e.unpaired_surrogate()),
                ));
            }
        }
    }
    Ok(Decoded { text, encoding })
}

/// Turns CRLF and lone CR into LF. Applied to every text at ingestion, pasted or uploaded, so
/// offsets never depend on the line endings of the machine the text came from.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_owned();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf32_and_nul_are_refused_by_name() {
        for bom in [UTF32LE_BOM, UTF32BE_BOM] {
            let mut bytes = bom.to_vec();
            bytes.extend_from_slice(&[0x41, 0, 0, 0]);
            assert!(error_message(&bytes).contains("UTF-32"), "{bom:?}");
        }
        assert_eq!(error_message("حسین\0".as_bytes()), "holds U+0000 (NUL) at byte 8, which is not accepted");
        let mut utf16 = UTF16LE_BOM.to_vec();
        utf16.extend_from_slice(&[0x41, 0, 0, 0]);
        assert_eq!(error_message(&utf16), "holds U+0000 (NUL) at byte 4, which is not accepted");
    }

    fn error_message(bytes: &[u8]) -> String {
        match decode_upload(bytes) {
            Err(DomainError::Invalid { field, message }) => {
                assert_eq!(field, "file");
                message
            }
            other => panic!("expected an invalid-file error, got {other:?}"),
        }
    }

    fn utf16(text: &str, bom: &[u8], to_bytes: fn(u16) -> [u8; 2]) -> Vec<u8> {
        let mut bytes = bom.to_vec();
        bytes.extend(text.encode_utf16().flat_map(to_bytes));
        bytes
    }

    const URDU: &str = "حُسینؑ کے ساتھ‌ ہیں 😀\nدوسری سطر";

    #[test]
    fn plain_utf8_is_decoded_as_is() {
        let decoded = decode_upload(URDU.as_bytes()).unwrap();
        assert_eq!(decoded.text, URDU);
        assert_eq!(decoded.encoding, "utf-8");
    }

    #[test]
    fn empty_upload_is_empty_utf8() {
        let decoded = decode_upload(b"").unwrap();
        assert_eq!(decoded.text, "");
        assert_eq!(decoded.encoding, "utf-8");
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend(URDU.as_bytes());
        let decoded = decode_upload(&bytes).unwrap();
        assert_eq!(decoded.text, URDU);
        assert_eq!(decoded.encoding, "utf-8-bom");
    }

    #[test]
    fn utf16_with_bom_is_decoded_in_both_byte_orders() {
        let le = decode_upload(&utf16(URDU, UTF16LE_BOM, u16::to_le_bytes)).unwrap();
        assert_eq!((le.text.as_str(), le.encoding), (URDU, "utf-16le"));
        let be = decode_upload(&utf16(URDU, UTF16BE_BOM, u16::to_be_bytes)).unwrap();
        assert_eq!((be.text.as_str(), be.encoding), (URDU, "utf-16be"));
    }

    #[test]
    fn nul_characters_are_refused() {
        assert_eq!(error_message(b"a\0b"), "holds U+0000 (NUL) at byte 1, which is not accepted");
    }

    #[test]
    fn invalid_utf8_names_the_byte_offset() {
        // "ح" is D8 AD; FF can never occur in UTF-8.
        assert_eq!(error_message(b"\xD8\xAD\xFFx"), "invalid UTF-8 at byte 2");
    }

    #[test]
    fn invalid_utf8_offset_counts_the_bom() {
        assert_eq!(error_message(b"\xEF\xBB\xBFab\xC0\x80"), "invalid UTF-8 at byte 5");
    }

    #[test]
    fn truncated_utf8_at_the_end_is_invalid() {
        // The emoji is F0 9F 98 80; the upload stops after its second byte.
        assert_eq!(error_message(b"ab\xF0\x9F"), "invalid UTF-8 at byte 2 (truncated sequence)");
    }

    #[test]
    fn utf16_without_bom_is_not_guessed() {
        // Without a BOM, "ab" in UTF-16LE is just UTF-8 with NULs: refused, not guessed at.
        assert_eq!(error_message(b"a\0b\0"), "holds U+0000 (NUL) at byte 1, which is not accepted");
    }

    #[test]
    fn utf16_with_odd_length_is_invalid() {
        let mut bytes = utf16("ab", UTF16LE_BOM, u16::to_le_bytes);
        bytes.push(0x41);
        assert_eq!(error_message(&bytes), "invalid UTF-16 at byte 6 (odd number of bytes)");
    }

    #[test]
    fn utf16_unpaired_surrogate_names_its_byte_offset() {
        // BOM, "😀" (a surrogate pair, 4 bytes), then a lone high surrogate, then "a".
        let mut bytes = utf16("😀", UTF16BE_BOM, u16::to_be_bytes);
        bytes.extend([0xD8, 0x3D, 0x00, 0x61]);
        assert_eq!(error_message(&bytes), "invalid UTF-16 at byte 6 (unpaired surrogate 0xD83D)");
        let mut bytes = UTF16LE_BOM.to_vec();
        bytes.extend([0x00, 0xDC]); // a lone low surrogate first
        assert_eq!(error_message(&bytes), "invalid UTF-16 at byte 2 (unpaired surrogate 0xDC00)");
    }

    #[test]
    fn newlines_are_normalised() {
        assert_eq!(normalize_newlines("a\r\nb\rc\nd\r"), "a\nb\nc\nd\n");
        assert_eq!(normalize_newlines("\r\r\n\n"), "\n\n\n");
        assert_eq!(normalize_newlines("حسینؑ\r\nعلی"), "حسینؑ\nعلی");
        assert_eq!(normalize_newlines("no breaks"), "no breaks");
    }

    /// The Marsiya corpus in corpus/marsiya/: every file is UTF-8, except one whose upload was cut
    /// inside a multi-byte sequence. The test fails, not skips, when the corpus is missing.
    #[test]
    fn corpus_decodes_except_the_one_truncated_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/corpus");
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the Marsiya corpus must exist at {dir}: {e}"));
        let mut files = 0;
        let mut failures = Vec::new();
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            files += 1;
            match decode_upload(&bytes) {
                Ok(decoded) => assert!(!decoded.text.is_empty(), "{path:?} is empty"),
                Err(e) => failures.push((path, bytes, e)),
            }
        }
        assert!(files > 1, "{dir} holds {files} file(s)");
        assert_eq!(failures.len(), 1, "failures: {failures:?}");
        let (path, bytes, error) = &failures[0];
        // The tail is the last lead byte and the continuation bytes (10xxxxxx) after it.
        let lead = bytes.iter().rposition(|b| b & 0xC0 != 0x80).unwrap();
        let tail = bytes.len() - lead;
        assert!(tail >= 1 && bytes[lead] >= 0xC0, "{path:?} ends in a cut sequence");
        let at = bytes.len() - tail;
        assert_eq!(
            *error,
            DomainError::invalid("file", format!("invalid UTF-8 at byte {at} (truncated sequence)")),
            "{path:?}"
        );
    }
}
