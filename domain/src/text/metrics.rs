//! Counting a text the way a reader would: words by Unicode word segmentation (right for Urdu,
//! where a word carries combining marks and zero-width non-joiners), characters as code points
//! (the unit of every offset), and lines as `str::lines` counts them.

use unicode_segmentation::UnicodeSegmentation;

use super::to_u32;

/// Word, character and line counts of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextMetrics {
    /// Words by Unicode word segmentation.
    pub words: u32,
    /// Code points.
    pub characters: u32,
    /// Lines, as `str::lines` counts them.
    pub lines: u32,
}

/// Counts words (UAX #29 words that contain a letter or digit), code points and lines (a final
/// newline does not start another line; an empty text has none).
pub fn metrics(text: &str) -> TextMetrics {
    TextMetrics {
        words: to_u32(text.unicode_words().count()),
        characters: to_u32(text.chars().count()),
        lines: to_u32(text.lines().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        text.unicode_words().collect()
    }

    #[test]
    fn empty_text_has_nothing() {
        let zero = TextMetrics { words: 0, characters: 0, lines: 0 };
        assert_eq!(metrics(""), zero);
    }

    #[test]
    fn lines_are_counted_like_str_lines() {
        let count = |t: &str| metrics(t).lines;
        assert_eq!(count("a"), 1);
        assert_eq!(count("a\n"), 1);
        assert_eq!(count("a\nb"), 2);
        assert_eq!(count("a\n\nb"), 3);
        assert_eq!(count("\n"), 1);
        assert_eq!(count("a\n\n"), 2);
    }

    #[test]
    fn characters_are_code_points() {
        // ح, damma U+064F, س, ی, ن, honorific U+0611: six code points, one word.
        let m = metrics("حُسینؑ");
        assert_eq!((m.characters, m.words), (6, 1));
        // An astral character is one code point (two UTF-16 units, four bytes).
        assert_eq!(metrics("😀").characters, 1);
    }

    #[test]
    fn urdu_words_keep_their_marks() {
        // Zer U+0650 and the honorific U+0611 stay inside their words; the Urdu full stop
        // U+06D4 and the Arabic comma U+060C are not words.
        let line = "حسینِ مظلوم، حُسینؑ کا غم۔";
        assert_eq!(words(line), ["حسینِ", "مظلوم", "حُسینؑ", "کا", "غم"]);
        assert_eq!(metrics(line).words, 5);
    }

    #[test]
    fn zwnj_inside_a_word_does_not_split_it() {
        // UAX #29 gives ZWNJ (U+200C) Word_Break=Extend: it attaches to the letter before it
        // (rule WB4) and letters on both sides stay together (WB5), so a compound written with
        // ZWNJ is one word, and the ZWNJ stays inside it.
        assert_eq!(words("خوش\u{200C}نصیب لوگ"), ["خوش\u{200C}نصیب", "لوگ"]);
        // A trailing ZWNJ stays on its word; a ZWNJ alone is no word.
        assert_eq!(words("دل\u{200C} \u{200C}"), ["دل\u{200C}"]);
        // ZWJ (U+200D) behaves the same.
        assert_eq!(words("ہ\u{200D}ے"), ["ہ\u{200D}ے"]);
    }

    #[test]
    fn digits_are_words_and_punctuation_is_not() {
        assert_eq!(words("سنہ ۱۲۸۰ء — 1863!"), ["سنہ", "۱۲۸۰ء", "1863"]);
    }

    #[test]
    fn emoji_are_not_words() {
        let m = metrics("غم 😀 ہے");
        assert_eq!((m.words, m.characters), (2, 7));
    }
}
