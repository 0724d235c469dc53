//! Finding every whole-word occurrence of a name in a text, e.g. to propose annotating all
//! other mentions of an entity. "علی" is found in "علی اکبر" but not inside "علیم".

use unicode_segmentation::GraphemeCursor;

use super::to_u32;

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';

/// Code-point spans `[start, end)` of the occurrences of `needle` that stand as whole words:
/// no letter, digit or combining mark right before or after, and both ends on grapheme-cluster
/// boundaries. Found left to right, without overlaps; a blank needle finds nothing.
pub fn whole_word_occurrences(text: &str, needle: &str) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    if needle.trim().is_empty() {
        return found;
    }
    let needle_chars = to_u32(needle.chars().count());
    // Byte and code-point offsets of where the search goes on, advanced together.
    let (mut from, mut from_chars) = (0, 0);
    while let Some(at) = text[from..].find(needle).map(|i| from + i) {
        let start = from_chars + to_u32(text[from..at].chars().count());
        let end = at + needle.len();
        if is_whole_word(text, at, end) {
            found.push((start, start + needle_chars));
            (from, from_chars) = (end, start + needle_chars);
        } else {
            // A rejected match may overlap an accepted one further on: go on one character later.
            let first = text[at..].chars().next().map_or(1, char::len_utf8);
            (from, from_chars) = (at + first, start + 1);
        }
    }
    found
}

/// Whether the bytes `[start, end)` of `text` form a whole word.
pub(crate) fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word_internal)
        && !after.is_some_and(is_word_internal)
        && is_grapheme_boundary(text, start)
        && is_grapheme_boundary(text, end)
}

/// Characters that continue a word: letters, digits, Arabic-script combining marks, and the
/// zero-width (non-)joiners that Urdu writes inside words.
pub(crate) fn is_word_internal(c: char) -> bool {
    c.is_alphanumeric() || is_arabic_mark(c) || matches!(c, ZWNJ | ZWJ)
}

/// Arabic-script combining marks: honorifics, harakat, superscript alef, annotation marks.
/// (Many of them are also "alphabetic" to Unicode, so `is_alphanumeric` cannot tell them
/// from letters.)
pub(crate) fn is_arabic_mark(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}' // honorifics and small high letters, e.g. U+0611
        | '\u{064B}'..='\u{065F}' // harakat: zabar, zer, pesh, shadda, ...
        | '\u{0670}' // superscript alef
        | '\u{06D6}'..='\u{06ED}' // Quranic annotation marks
    )
}

fn is_grapheme_boundary(text: &str, byte: usize) -> bool {
    // Given the whole text as one chunk, the cursor never asks for more context; should it,
    // the position is treated as no boundary, so no match is made there.
    GraphemeCursor::new(byte, text.len(), true).is_boundary(text, 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, needle: &str) -> Vec<String> {
        whole_word_occurrences(text, needle)
            .into_iter()
            .map(|(s, e)| text.chars().skip(s as usize).take((e - s) as usize).collect())
            .collect()
    }

    #[test]
    fn finds_whole_words_only() {
        let text = "علی اکبر، علیم اور مولا علی۔";
        assert_eq!(whole_word_occurrences(text, "علی"), [(0, 3), (24, 27)]);
        assert_eq!(texts(text, "علی"), ["علی", "علی"]);
        assert_eq!(whole_word_occurrences("علیم", "علی"), []);
        assert_eq!(whole_word_occurrences("ولی", "لی"), []);
    }

    #[test]
    fn marks_and_joiners_continue_a_word() {
        // With a zer, the honorific U+0611, a ZWNJ or ZWJ after it, "حسین" is not whole.
        for text in ["حسینِ مظلوم", "حسینؑ", "حسین\u{200C}ی", "حسین\u{200D}"] {
            assert_eq!(whole_word_occurrences(text, "حسین"), [], "{text:?}");
        }
        // A needle carrying its marks is found with them.
        assert_eq!(whole_word_occurrences("یا حسینؑ!", "حسینؑ"), [(3, 8)]);
        // A mark before the needle belongs to the word before.
        assert_eq!(whole_word_occurrences("بِ\u{0650}علی", "علی"), []);
    }

    #[test]
    fn punctuation_spaces_and_line_breaks_end_a_word() {
        let text = "(علی)\nعلی، «علی» علی۔";
        assert_eq!(texts(text, "علی").len(), 4);
    }

    #[test]
    fn matches_do_not_cut_a_grapheme_cluster() {
        // U+0301 is a combining mark outside the Arabic ranges: the word rule lets "a" stand,
        // the cluster rule does not.
        assert_eq!(whole_word_occurrences("a\u{0301} a", "a"), [(3, 4)]);
        // An emoji modifier joins its emoji.
        assert_eq!(whole_word_occurrences("👍🏽 👍", "👍"), [(3, 4)]);
    }

    #[test]
    fn offsets_are_code_points_after_astral_characters() {
        let text = "😀😀 علی 😀 علی";
        assert_eq!(whole_word_occurrences(text, "علی"), [(3, 6), (9, 12)]);
    }

    #[test]
    fn occurrences_do_not_overlap_and_rejected_matches_do_not_hide_later_ones() {
        assert_eq!(whole_word_occurrences("ا ا ا", "ا ا"), [(0, 3)]);
        // The first "ب ب" starts inside "اب"; the second, one word later, stands alone.
        assert_eq!(whole_word_occurrences("اب ب ب", "ب ب"), [(3, 6)]);
    }

    #[test]
    fn blank_needles_find_nothing() {
        assert_eq!(whole_word_occurrences("علی", ""), []);
        assert_eq!(whole_word_occurrences("علی  علی", " "), []);
        assert_eq!(whole_word_occurrences("", "علی"), []);
    }
}
