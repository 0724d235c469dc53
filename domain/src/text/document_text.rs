//! A document's text with its lookup tables, built once so that validating spans and
//! describing them (line, stanza, word position, context) costs O(log n) each, even for
//! 100,000 entities of a large document.

use std::sync::{Arc, OnceLock};

use unicode_segmentation::UnicodeSegmentation;

use super::lines::LineIndex;
use super::offsets::OffsetMap;

/// A document's content with its offset and line tables.
#[derive(Debug, Clone)]
pub struct DocumentText {
    /// Shared: a reader of the content ([`shared_text`](Self::shared_text)) takes this
    /// allocation, not a copy of it.
    text: Arc<str>,
    offsets: OffsetMap,
    lines: LineIndex,
    /// Code-point offset where each word (UAX #29, as `unicode_words`) ends, ascending. Built
    /// on first use: only span contexts need it.
    word_ends: OnceLock<Vec<u32>>,
}

impl DocumentText {
    /// Indexes a text (already decoded and newline-normalised).
    pub fn new(text: impl Into<String>) -> Self {
        let text: Arc<str> = text.into().into();
        Self { offsets: OffsetMap::new(&text), lines: LineIndex::new(&text), word_ends: OnceLock::new(), text }
    }

    /// The content.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The content itself, shared (no copy): what a reader of a cached text is handed.
    pub fn shared_text(&self) -> Arc<str> {
        Arc::clone(&self.text)
    }

    /// Byte, UTF-16 and grapheme-boundary tables of the content.
    pub fn offsets(&self) -> &OffsetMap {
        &self.offsets
    }

    /// Line starts and stanzas of the content.
    pub fn line_index(&self) -> &LineIndex {
        &self.lines
    }

    /// The length in code points.
    pub fn char_len(&self) -> u32 {
        self.offsets.char_len()
    }

    /// The text of `[start, end)` in code points; None when out of range or reversed.
    pub fn slice(&self, start: u32, end: u32) -> Option<&str> {
        self.offsets.slice(&self.text, start, end)
    }

    /// How many words end at or before `offset`: the words wholly before it. Words never
    /// cross a line break (UAX #29 breaks around newlines), so differences of this count
    /// between two offsets of one line count that line's words.
    pub fn words_before(&self, offset: u32) -> u32 {
        let ends = self.word_ends.get_or_init(|| self.compute_word_ends());
        super::to_u32(ends.partition_point(|&end| end <= offset))
    }

    /// Builds the word index now rather than on first use (for a text about to be shared).
    pub fn index_words(&self) {
        self.word_ends.get_or_init(|| self.compute_word_ends());
    }

    /// Word, character and line counts, as [`super::metrics`] gives them (from the tables).
    pub fn metrics(&self) -> super::TextMetrics {
        let ends = self.word_ends.get_or_init(|| self.compute_word_ends());
        super::TextMetrics {
            words: super::to_u32(ends.len()),
            characters: self.char_len(),
            lines: self.lines.line_count(),
        }
    }

    /// About how much memory the text and its tables take, in bytes.
    pub fn memory_bytes(&self) -> usize {
        let words = self.word_ends.get().map_or(0, Vec::len);
        std::mem::size_of::<Self>()
            + self.text.len()
            + self.offsets.memory_bytes()
            + self.lines.memory_bytes()
            + words * std::mem::size_of::<u32>()
    }

    fn compute_word_ends(&self) -> Vec<u32> {
        self.text
            .unicode_word_indices()
            .map(|(at, word)| self.offsets.char_offset(at + word.len()).expect("words end on character boundaries"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_the_text_once() {
        let doc = DocumentText::new("حُسینؑ علی\n😀 اکبر");
        assert_eq!(doc.char_len(), 17);
        assert_eq!(doc.slice(7, 10), Some("علی"));
        assert_eq!(doc.slice(13, 17), Some("اکبر"));
        assert_eq!(doc.slice(13, 18), None);
        assert_eq!(doc.line_index().locate(13), (2, 1));
        assert_eq!(doc.offsets().utf16_offset(13), Some(14));
    }

    #[test]
    fn readers_share_the_text_without_copying_it() {
        let doc = DocumentText::new("حُسینؑ علی");
        let (a, b) = (doc.shared_text(), doc.shared_text());
        assert!(Arc::ptr_eq(&a, &b) && std::ptr::eq(a.as_ptr(), doc.text().as_ptr()));
        assert_eq!(&*a, "حُسینؑ علی");
    }

    #[test]
    fn metrics_from_the_tables_agree_with_counting_the_text() {
        for text in ["", "\n", "a", "حُسینؑ علی\n😀 اکبر\n", "ا\n\nب\n\n", "x\ny"] {
            assert_eq!(DocumentText::new(text).metrics(), super::super::metrics(text), "{text:?}");
        }
    }

    #[test]
    fn counts_whole_words_before_an_offset() {
        // Words: حُسینؑ [0, 6), علی [7, 10), اکبر [13, 17).
        let doc = DocumentText::new("حُسینؑ علی\n😀 اکبر");
        let counts: Vec<u32> = [0, 3, 6, 7, 10, 11, 13, 17].iter().map(|&i| doc.words_before(i)).collect();
        assert_eq!(counts, [0, 0, 1, 1, 2, 2, 2, 3]);
    }
}
