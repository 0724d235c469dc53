//! PDF text layers. Each text object (`BT`…`ET`) or line move ends a line. Arabic-script PDFs
//! often hold presentation forms (the shaped glyphs of U+FB50–U+FDFF and U+FE70–U+FEFF) and
//! runs stored in visual order: presentation forms are folded by NFKC (only those blocks; the
//! rest of the text is kept as written), and a line whose shaped words read backwards (a final
//! form first, an initial form last) is put back in logical order, its digit and Latin runs
//! kept left to right. A PDF whose pages hold no text is BAD_USER_INPUT "no text layer".

use unicode_normalization::UnicodeNormalization;

use super::join_lines;
use crate::error::{DomainError, DomainResult};

/// The text layer of a PDF, in logical order; streams inflate to at most `max_bytes` each.
pub fn text(bytes: &[u8], max_bytes: usize) -> DomainResult<String> {
    let doc = lopdf::Document::load_mem(bytes)
        .map_err(|e| DomainError::invalid("file", format!("is not a readable PDF ({e})")))?;
    if doc.is_encrypted() {
        return Err(DomainError::invalid("file", "is an encrypted PDF, which is not accepted"));
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let mut lines = Vec::new();
    for page in pages {
        let raw = doc
            .extract_text_with_limit(&[page], max_bytes)
            .map_err(|e| DomainError::invalid("file", format!("page {page} of the PDF could not be read ({e})")))?;
        lines.extend(raw.split('\n').map(logical_line));
        lines.push(String::new());
    }
    let text = join_lines(lines);
    if text.trim().is_empty() {
        return Err(DomainError::invalid("file", "is a PDF with no text layer (scanned pages need OCR first)"));
    }
    Ok(text)
}

/// A line of a text layer with presentation forms folded and visual order undone.
pub fn logical_line(raw: &str) -> String {
    // Reversed before folding: a ligature (lam-alef) folds to two letters that keep their order.
    if reads_backwards(raw) { fold_presentation_forms(&reverse_visual(raw)) } else { fold_presentation_forms(raw) }
}

fn is_presentation_form(c: char) -> bool {
    matches!(c, '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// NFKC on presentation forms only (a ligature may fold to several letters).
pub fn fold_presentation_forms(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_presentation_form(c) {
            out.extend(std::iter::once(c).nfkc());
        } else {
            out.push(c);
        }
    }
    out
}

/// The shaped form of a presentation-form letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Isolated,
    Final,
    Initial,
    Medial,
}

/// The form of a letter of the presentation-form blocks: their letters come in runs of the
/// same base letter, ordered isolated, final, initial, medial.
fn form_of(c: char) -> Option<Form> {
    if !is_presentation_form(c) {
        return None;
    }
    let base = single_base(c)?;
    let mut first = c as u32;
    while let Some(prev) = char::from_u32(first - 1) {
        if is_presentation_form(prev) && single_base(prev) == Some(base) {
            first -= 1;
        } else {
            break;
        }
    }
    match c as u32 - first {
        0 => Some(Form::Isolated),
        1 => Some(Form::Final),
        2 => Some(Form::Initial),
        3 => Some(Form::Medial),
        _ => None,
    }
}

fn single_base(c: char) -> Option<char> {
    let mut it = std::iter::once(c).nfkc();
    let base = it.next()?;
    if it.next().is_none() && base != c { Some(base) } else { None }
}

/// Whether the line's shaped words are stored last letter first.
fn reads_backwards(line: &str) -> bool {
    let (mut backwards, mut forwards) = (0, 0);
    for word in line.split(|c: char| !is_presentation_form(c)).filter(|w| w.chars().count() > 1) {
        let first = word.chars().next().and_then(form_of);
        let last = word.chars().last().and_then(form_of);
        if matches!(first, Some(Form::Final)) || matches!(last, Some(Form::Initial)) {
            backwards += 1;
        }
        if matches!(first, Some(Form::Initial)) || matches!(last, Some(Form::Final)) {
            forwards += 1;
        }
    }
    backwards > forwards
}

/// Reverses a visually ordered line, keeping runs of digits and Latin letters as they read.
fn reverse_visual(line: &str) -> String {
    let chars: Vec<char> = line.chars().rev().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if is_ltr(chars[i]) {
            let start = i;
            while i < chars.len()
                && (is_ltr(chars[i]) || (matches!(chars[i], '.' | ',') && i + 1 < chars.len() && is_ltr(chars[i + 1])))
            {
                i += 1;
            }
            out.extend(chars[start..i].iter().rev());
        } else {
            out.push(mirror(chars[i]));
            i += 1;
        }
    }
    out
}

fn is_ltr(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('\u{0660}'..='\u{0669}').contains(&c) || ('\u{06F0}'..='\u{06F9}').contains(&c)
}

fn mirror(c: char) -> char {
    match c {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '«' => '»',
        '»' => '«',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presentation_forms_fold_and_visual_order_is_restored() {
        // "سلام علی" shaped, stored in visual order (right-most glyph last): ﻰﻠﻋ ﻡﻼﺳ
        let visual = "\u{FEF0}\u{FEE0}\u{FECB} \u{FEE1}\u{FEFC}\u{FEB3}";
        assert_eq!(logical_line(visual), "سلام علی".replace('ی', "ى"));
        // The same shaped text in logical order is only folded.
        let logical = "\u{FEB3}\u{FEFC}\u{FEE1} \u{FECB}\u{FEE0}\u{FEF0}";
        assert_eq!(logical_line(logical), "سلام على");
        // Plain letters are kept as written.
        assert_eq!(logical_line("حسینؑ 72"), "حسینؑ 72");
    }

    #[test]
    fn digits_keep_their_order_in_a_reversed_line() {
        let visual = "72 \u{FEF0}\u{FEE0}\u{FECB}";
        assert_eq!(logical_line(visual), "على 72");
    }
}
