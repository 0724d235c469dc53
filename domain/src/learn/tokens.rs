//! Words of a line: UAX #29 word segmentation, the words `text::metrics` counts (those with a
//! letter or a digit). A word keeps its combining marks and joiners (حسینؑ is one word, its
//! honorific inside it); punctuation and spaces are not words. Offsets are code points into the
//! text that was split.

use unicode_segmentation::UnicodeSegmentation;

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'t> {
    /// The word as written.
    pub text: &'t str,
    /// Code-point offsets `[start, end)` into the text.
    pub start: u32,
    pub end: u32,
    /// Punctuation (not a space) stands between this word and the next.
    pub punct_after: bool,
}

/// The words of `text`, in order.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out: Vec<Token<'_>> = Vec::new();
    // Byte and code-point positions advanced together.
    let (mut byte, mut chars) = (0usize, 0u32);
    for (at, word) in text.unicode_word_indices() {
        let gap = &text[byte..at];
        chars += gap.chars().count() as u32;
        if let Some(last) = out.last_mut() {
            last.punct_after = gap.chars().any(|c| !c.is_whitespace());
        }
        let len = word.chars().count() as u32;
        out.push(Token { text: word, start: chars, end: chars + len, punct_after: false });
        chars += len;
        byte = at + word.len();
    }
    if let Some(last) = out.last_mut() {
        last.punct_after = text[byte..].chars().any(|c| !c.is_whitespace());
    }
    out
}

/// The lines of a text with the code-point offset each starts at (lines end at `\n`; a `\r`
/// before it is left to the line, where it is no word).
pub fn lines_with_offsets(text: &str) -> impl Iterator<Item = (u32, &str)> {
    let mut offset = 0u32;
    text.split('\n').map(move |line| {
        let start = offset;
        offset += line.chars().count() as u32 + 1;
        (start, line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_marks_and_offsets_are_code_points() {
        let line = "حسینِ مظلوم، حُسینؑ کا غم۔";
        let t = tokenize(line);
        let words: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(words, ["حسینِ", "مظلوم", "حُسینؑ", "کا", "غم"]);
        let chars: Vec<char> = line.chars().collect();
        for tok in &t {
            assert_eq!(chars[tok.start as usize..tok.end as usize].iter().collect::<String>(), tok.text);
        }
        let punct: Vec<bool> = t.iter().map(|t| t.punct_after).collect();
        assert_eq!(punct, [false, true, false, false, true]);
    }

    #[test]
    fn the_same_words_as_metrics_counts() {
        let line = "سنہ ۱۲۸۰ء — 1863! خوش\u{200C}نصیب 😀";
        assert_eq!(tokenize(line).len() as u32, crate::text::metrics(line).words);
    }

    #[test]
    fn lines_carry_their_offsets() {
        let text = "اک\nدو تین\n\nچار";
        let got: Vec<(u32, &str)> = lines_with_offsets(text).collect();
        assert_eq!(got, [(0, "اک"), (3, "دو تین"), (10, ""), (11, "چار")]);
    }
}
