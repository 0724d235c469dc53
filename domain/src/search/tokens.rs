//! The words search indexes and queries are made of: a text cut into tokens under the one
//! Urdu-aware folding of `text::fold` (the folding model output is aligned under), each token
//! tied to the code points of the original text it came from.
//!
//! Invariants:
//! - a token is a maximal run of folded letters and digits (`char::is_alphanumeric`); every
//!   other folded character (spaces, punctuation, symbols) separates tokens, and characters
//!   the folding drops (diacritics, honorifics, ZWNJ and other joiners, tatweel) separate
//!   nothing: حسینؑ is the token حسین, and حسین‌ابن (with a ZWNJ) is one token;
//! - a token's span starts at the original character its first letter came from and ends
//!   after the original character of its last letter and the dropped characters that follow
//!   it (its marks), so a highlight of حسین in حسینؑ covers حسینؑ;
//! - tokens longer than [`MAX_TOKEN_CHARS`] are not words anyone searches for (a run of
//!   letters without spaces); they are left out, so the databases' limits on a word's length
//!   never apply;
//! - a token holds no ASCII character but `[0-9a-z]` and no whitespace, so that written with
//!   single spaces between them, tokens are read back the same by SQLite FTS5's `ascii`
//!   tokenizer and as PostgreSQL `tsvector` lexemes.

use crate::text::fold::Folder;

/// Longest token indexed, in folded characters.
pub const MAX_TOKEN_CHARS: usize = 64;

/// One word of a text, folded, with the code points `[start, end)` of the original it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: u32,
    pub end: u32,
}

/// The tokens of `text`, in order (see the module docs). Offsets are code points of `text`.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut folder = Folder::new();
    // The token being read: its folded text, its start and the end of its last letter's char.
    let mut current: Option<(String, u32, u32)> = None;
    let mut chars = 0usize;
    for (index, c) in text.chars().enumerate() {
        let at = index as u32;
        let mut emitted = false;
        folder.push(c, |f| {
            emitted = true;
            if f.is_alphanumeric() {
                match &mut current {
                    Some((word, _, end)) => {
                        word.push(f);
                        *end = at + 1;
                    }
                    None => current = Some((f.to_string(), at, at + 1)),
                }
                chars += 1;
            } else if let Some((word, start, end)) = current.take() {
                push(&mut tokens, word, start, end, chars);
                chars = 0;
            }
        });
        // A character the folding drops (a mark after the last letter) belongs to the word.
        if !emitted
            && let Some((_, _, end)) = &mut current
            && *end == at
        {
            *end = at + 1;
        }
    }
    if let Some((word, start, end)) = current.take() {
        push(&mut tokens, word, start, end, chars);
    }
    tokens
}

fn push(tokens: &mut Vec<Token>, text: String, start: u32, end: u32, chars: usize) {
    if chars <= MAX_TOKEN_CHARS {
        tokens.push(Token { text, start, end });
    }
}

/// The folded words of `text`, without offsets (queries and the index's token string).
pub fn words(text: &str) -> Vec<String> {
    tokenize(text).into_iter().map(|t| t.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(String, String)> {
        tokenize(text)
            .into_iter()
            .map(|t| {
                let original: String = text.chars().skip(t.start as usize).take((t.end - t.start) as usize).collect();
                (t.text, original)
            })
            .collect()
    }

    #[test]
    fn words_are_folded_and_tied_to_their_original_spans() {
        let line = "عمّو ہیں حسینؑ ابن علیؑ، سیّد ذیجاه!";
        let got = spans(line);
        let folded: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(folded, ["عمو", "ہیں", "حسین", "ابن", "علی", "سید", "ذیجاہ"]);
        let originals: Vec<&str> = got.iter().map(|(_, o)| o.as_str()).collect();
        assert_eq!(originals, ["عمّو", "ہیں", "حسینؑ", "ابن", "علیؑ", "سیّد", "ذیجاه"]);
    }

    #[test]
    fn arabic_letters_fold_to_the_urdu_ones() {
        assert_eq!(words("حسين كلثوم"), words("حسین کلثوم"));
        assert_eq!(words("شاہِ كربلا"), ["شاہ", "کربلا"]);
    }

    #[test]
    fn joiners_join_and_punctuation_separates() {
        assert_eq!(words("حسین\u{200C}ابن"), ["حسینابن"]);
        assert_eq!(words("حســین"), ["حسین"]);
        assert_eq!(words("کربلا۔فرات،دجلہ"), ["کربلا", "فرات", "دجلہ"]);
        assert_eq!(words("don't STOP-now 12ab"), ["don", "t", "stop", "now", "12ab"]);
        assert_eq!(words("۱۲ ١٢"), ["12", "12"]);
        assert!(words(" \u{064F} \u{200C} ، ").is_empty());
    }

    #[test]
    fn a_mark_before_a_word_is_not_part_of_it() {
        let got = spans("\u{200F}علی");
        assert_eq!(got, [("علی".to_owned(), "علی".to_owned())]);
    }

    #[test]
    fn over_long_runs_are_left_out() {
        let long = "ا".repeat(MAX_TOKEN_CHARS + 1);
        assert_eq!(words(&format!("علی {long} حسین")), ["علی", "حسین"]);
        assert_eq!(words(&"ب".repeat(MAX_TOKEN_CHARS)).len(), 1);
    }

    #[test]
    fn tokens_hold_only_lower_case_ascii_letters_and_digits_besides_other_scripts() {
        for w in words("ÀB:c;D_e-F+G'h\"i\\j حسینؑ 😀 x\u{00A0}y") {
            assert!(w.chars().all(|c| c.is_alphanumeric() && !c.is_ascii_uppercase()), "{w:?}");
        }
    }
}
