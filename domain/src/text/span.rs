//! Spans of a document: checking the `start`/`end` a client sends for an entity, and describing
//! a span for review (its line, stanza, word position, surrounding text and UTF-16 offsets).

use crate::error::{DomainError, DomainResult};

use super::document_text::DocumentText;

/// How many code points of context are shown on each side of a span.
pub const CONTEXT_CHARS: u32 = 50;

/// Checks a span sent by a client: `0 <= start < end <= length` in code points, and both ends
/// on grapheme-cluster boundaries (a span must not cut a mark off its letter). Errors name the
/// offending input field, `start` or `end`.
pub fn validate_span(doc: &DocumentText, start: i64, end: i64) -> DomainResult<(u32, u32)> {
    let (start, end) = check_range(doc, start, end)?;
    let offsets = doc.offsets();
    if !offsets.is_grapheme_boundary(start) {
        return Err(inside_cluster("start", start));
    }
    if !offsets.is_grapheme_boundary(end) {
        return Err(inside_cluster("end", end));
    }
    Ok((start, end))
}

/// `0 <= start < end <= length`.
fn check_range(doc: &DocumentText, start: i64, end: i64) -> DomainResult<(u32, u32)> {
    let len = doc.char_len();
    if start < 0 {
        return Err(DomainError::invalid("start", "must not be negative"));
    }
    if start >= i64::from(len) {
        return Err(DomainError::invalid("start", format!("must be less than the document length ({len} characters)")));
    }
    if end <= start {
        return Err(DomainError::invalid("end", "must be greater than start"));
    }
    if end > i64::from(len) {
        return Err(DomainError::invalid("end", format!("must be at most the document length ({len} characters)")));
    }
    // Both lie in 0..=len, which fits u32.
    Ok((start as u32, end as u32))
}

fn inside_cluster(field: &str, offset: u32) -> DomainError {
    DomainError::invalid(field, format!("offset {offset} falls inside a character (a letter and its marks)"))
}

/// A span described for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The span's text.
    pub text: String,
    /// Line of the span's start, 1-based.
    pub line_number: u32,
    /// Stanza of the span's start, 1-based.
    pub stanza: u32,
    /// Which word of its line the span starts in, 1-based: one more than the words of the line
    /// that end at or before the span's start.
    pub word_position: u32,
    /// Up to [`CONTEXT_CHARS`] code points before the span (newlines included), never starting
    /// inside a grapheme cluster.
    pub context_before: String,
    /// Up to [`CONTEXT_CHARS`] code points after the span, never ending inside a cluster.
    pub context_after: String,
    /// The span's start in UTF-16 code units, for JavaScript clients.
    pub utf16_start: u32,
    /// The span's end in UTF-16 code units.
    pub utf16_end: u32,
}

/// Describes the span `[start, end)` of a document. Only the range is checked (`0 <= start <
/// end <= length`), not grapheme alignment: that is enforced when a span is written, and a
/// stored span must stay readable even if a newer Unicode version moves a cluster boundary.
pub fn span_context(doc: &DocumentText, start: u32, end: u32) -> DomainResult<SpanContext> {
    let (start, end) = check_range(doc, start.into(), end.into())?;
    let offsets = doc.offsets();
    let (line_number, stanza) = doc.line_index().locate(start);
    let line_start = doc.line_index().line_start(line_number).unwrap_or(0);
    let before_start = offsets.boundary_at_or_after(start.saturating_sub(CONTEXT_CHARS)).min(start);
    let after_end = offsets.boundary_at_or_before(end.saturating_add(CONTEXT_CHARS)).max(end);
    let slice = |from, to| doc.slice(from, to).unwrap_or_default().to_owned();
    Ok(SpanContext {
        text: slice(start, end),
        line_number,
        stanza,
        word_position: doc.words_before(start) - doc.words_before(line_start) + 1,
        context_before: slice(before_start, start),
        context_after: slice(end, after_end),
        utf16_start: offsets.utf16_offset(start).unwrap_or_default(),
        utf16_end: offsets.utf16_offset(end).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line 1: حُسینؑ [0, 6) space علی [7, 10) \n; line 2: blank; line 3: 😀 [12] space
    /// اکبرِ [14, 19) space خوش‌نصیب [20, 28).
    const TEXT: &str = "حُسینؑ علی\n\n😀 اکبرِ خوش\u{200C}نصیب";

    fn doc() -> DocumentText {
        DocumentText::new(TEXT)
    }

    fn field_of(result: DomainResult<(u32, u32)>) -> String {
        match result {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid-input error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_grapheme_aligned_spans() {
        let doc = doc();
        assert_eq!(validate_span(&doc, 0, 6), Ok((0, 6)));
        assert_eq!(validate_span(&doc, 12, 13), Ok((12, 13)));
        assert_eq!(validate_span(&doc, 0, 28), Ok((0, 28)));
        assert_eq!(validate_span(&doc, 20, 28), Ok((20, 28)));
    }

    #[test]
    fn rejects_out_of_range_spans_naming_the_field() {
        let doc = doc();
        assert_eq!(field_of(validate_span(&doc, -1, 3)), "start");
        assert_eq!(field_of(validate_span(&doc, 28, 29)), "start");
        assert_eq!(field_of(validate_span(&doc, i64::MAX, i64::MAX)), "start");
        assert_eq!(field_of(validate_span(&doc, 3, 3)), "end");
        assert_eq!(field_of(validate_span(&doc, 5, 2)), "end");
        assert_eq!(field_of(validate_span(&doc, 0, 29)), "end");
        assert_eq!(
            validate_span(&doc, 0, 29),
            Err(DomainError::invalid("end", "must be at most the document length (28 characters)"))
        );
    }

    #[test]
    fn rejects_boundaries_inside_a_cluster() {
        let doc = doc();
        // 1 is between ح and its damma; 5 is between ن and the honorific U+0611.
        assert_eq!(field_of(validate_span(&doc, 1, 6)), "start");
        assert_eq!(field_of(validate_span(&doc, 0, 5)), "end");
        // 18 is between ر and its zer; 23 is between ش and the ZWNJ.
        assert_eq!(field_of(validate_span(&doc, 14, 18)), "end");
        assert_eq!(field_of(validate_span(&doc, 20, 23)), "end");
        assert_eq!(
            validate_span(&doc, 1, 6),
            Err(DomainError::invalid("start", "offset 1 falls inside a character (a letter and its marks)"))
        );
    }

    #[test]
    fn describes_a_span() {
        let doc = doc();
        let context = span_context(&doc, 14, 19).unwrap();
        assert_eq!(
            context,
            SpanContext {
                text: "اکبرِ".into(),
                line_number: 3,
                stanza: 2,
                word_position: 1, // the emoji is no word
                context_before: "حُسینؑ علی\n\n😀 ".into(),
                context_after: " خوش\u{200C}نصیب".into(),
                utf16_start: 15,
                utf16_end: 20,
            }
        );
        assert_eq!(span_context(&doc, 20, 28).unwrap().word_position, 2);
        assert_eq!(span_context(&doc, 7, 10).unwrap().word_position, 2);
        assert_eq!(span_context(&doc, 0, 6).unwrap().word_position, 1);
    }

    #[test]
    fn word_position_of_a_span_starting_inside_or_between_words() {
        let doc = doc();
        // Inside the first word of line 1, and on the space before the second.
        assert_eq!(span_context(&doc, 2, 4).unwrap().word_position, 1);
        assert_eq!(span_context(&doc, 6, 10).unwrap().word_position, 2);
    }

    #[test]
    fn context_is_cut_at_fifty_code_points_on_cluster_boundaries() {
        // 30 × "بِ" (letter + zer), "علی ", 30 × "بِ": clusters start at even offsets only.
        let marked = "بِ".repeat(30);
        let text = format!("{marked}علی {marked}");
        let doc = DocumentText::new(text);
        let context = span_context(&doc, 60, 63).unwrap();
        assert_eq!(context.text, "علی");
        // 50 code points before would start at offset 10, a boundary: exactly 50.
        assert_eq!(context.context_before.chars().count(), 50);
        // 50 after would end at 113, inside a cluster: cut back to 112, 49 code points.
        assert_eq!(context.context_after.chars().count(), 49);
        let context = span_context(&doc, 59, 63);
        assert!(context.is_ok(), "contexts of unaligned spans are still given");
        let context = context.unwrap();
        // From offset 9 (inside a cluster) the context moves on to 10.
        assert_eq!(context.context_before.chars().count(), 49);
    }

    #[test]
    fn context_of_astral_characters_counts_code_points() {
        let text = format!("{}x{}", "😀".repeat(60), "😀".repeat(60));
        let doc = DocumentText::new(text);
        let context = span_context(&doc, 60, 61).unwrap();
        assert_eq!(context.context_before, "😀".repeat(50));
        assert_eq!(context.context_after, "😀".repeat(50));
        assert_eq!((context.utf16_start, context.utf16_end), (120, 121));
    }

    #[test]
    fn span_context_checks_the_range() {
        let doc = doc();
        assert!(span_context(&doc, 3, 3).is_err());
        assert!(span_context(&doc, 0, 29).is_err());
    }
}
