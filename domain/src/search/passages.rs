//! What the search index holds of a document: its passages, one per line, each with the
//! folded words it is found by.
//!
//! Invariants:
//! - a passage is a line of the document (`text::lines`), or a piece of a line longer than
//!   [`MAX_PASSAGE_TOKENS`] words (prose without line breaks): such a line is cut before its
//!   65th, 129th, ... word, so that pieces cover the line from its start to its end without
//!   gaps, and every piece keeps the line's number;
//! - lines without a word (blank lines, lines of punctuation) are not passages;
//! - `start`/`end` are code-point offsets of `Document.content`, and `text` is the content
//!   there; `words` are `search::tokens::words(text)`, so ranking (which reads `words`) and
//!   highlighting (which tokenizes `text` again) count the same words.

use super::tokens::{Token, tokenize};
use crate::text::{line_spans, to_u32};

/// Most words in one passage; longer lines are cut into pieces of at most this many.
pub const MAX_PASSAGE_TOKENS: usize = 64;

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// The line it is (or is a piece of), 1-based.
    pub line_number: u32,
    /// Code-point offsets into the document's content.
    pub start: u32,
    pub end: u32,
    pub text: String,
    /// Its folded words, in order.
    pub words: Vec<String>,
}

impl Passage {
    /// The words as the index stores them: separated by single spaces.
    pub fn word_string(&self) -> String {
        self.words.join(" ")
    }

    /// The words beyond each word's first occurrence, in order, separated by single spaces
    /// (empty when no word repeats): a word stands `1 +` its count here times in the passage.
    pub fn repeats(&self) -> String {
        let mut seen = std::collections::HashSet::with_capacity(self.words.len());
        let extra: Vec<&str> = self.words.iter().filter(|w| !seen.insert(w.as_str())).map(String::as_str).collect();
        extra.join(" ")
    }
}

/// The passages of a document's content, in order.
pub fn passages(content: &str) -> Vec<Passage> {
    passages_iter(content).collect()
}

/// The passages of a document's content, in order, made one line at a time: what indexes a
/// large document holds the passages of one line, never all of them.
pub fn passages_iter(content: &str) -> impl Iterator<Item = Passage> + Send + '_ {
    line_spans(content).flat_map(|(number, start, text)| line_passages(number, start, text))
}

/// The passages of one line (none if it has no word).
fn line_passages(number: u32, line_start: u32, text: &str) -> Vec<Passage> {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Vec::new();
    }
    let pieces: Vec<&[Token]> = tokens.chunks(MAX_PASSAGE_TOKENS).collect();
    // Offsets within the line: a piece starts at its first word (the first at the line's
    // start) and ends where the next piece starts (the last at the line's end).
    let mut bounds: Vec<u32> = pieces.iter().skip(1).map(|piece| piece[0].start).collect();
    let line_len = to_u32(text.chars().count());
    bounds.insert(0, 0);
    bounds.push(line_len);
    let bytes = byte_offsets(text, &bounds);
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| Passage {
            line_number: number,
            start: line_start + bounds[i],
            end: line_start + bounds[i + 1],
            text: text[bytes[i]..bytes[i + 1]].to_owned(),
            words: piece.iter().map(|t| t.text.clone()).collect(),
        })
        .collect()
}

/// The byte offsets of ascending code-point offsets of `text` (its length for its end), in
/// one pass.
fn byte_offsets(text: &str, code_points: &[u32]) -> Vec<usize> {
    let mut out = Vec::with_capacity(code_points.len());
    let mut chars = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).enumerate();
    for &cp in code_points {
        for (index, byte) in chars.by_ref() {
            if index as u32 == cp {
                out.push(byte);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(text: &str, start: u32, end: u32) -> String {
        text.chars().skip(start as usize).take((end - start) as usize).collect()
    }

    #[test]
    fn repeats_are_the_occurrences_after_each_words_first() {
        let p = &passages("ہے ہے پسر فاطمہ مارا گیا ہے ہے")[0];
        assert_eq!(p.repeats(), "ہے ہے ہے");
        assert_eq!(passages("حسین ابن علی")[0].repeats(), "");
        let p = &passages("علی حسن علی حسن علی")[0];
        assert_eq!(p.repeats(), "علی حسن علی");
    }

    #[test]
    fn lines_with_words_are_passages() {
        let content = "جلد چهارم\n\n  ،  \nآفت میں گرفتار ہیں ناموس محمدؐ\n";
        let got = passages(content);
        let summary: Vec<(u32, &str, Vec<&str>)> = got
            .iter()
            .map(|p| (p.line_number, p.text.as_str(), p.words.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "جلد چهارم", vec!["جلد", "چہارم"]),
                (4, "آفت میں گرفتار ہیں ناموس محمدؐ", vec!["افت", "میں", "گرفتار", "ہیں", "ناموس", "محمد"]),
            ]
        );
        for p in &got {
            assert_eq!(slice(content, p.start, p.end), p.text);
        }
    }

    #[test]
    fn long_lines_are_cut_into_pieces_that_cover_them() {
        let words: Vec<String> = (0..150).map(|i| format!("w{i}")).collect();
        let line = words.join(" ");
        let content = format!("اول\n{line}\nآخر");
        let got = passages(&content);
        assert_eq!(got.len(), 5);
        let pieces = &got[1..4];
        assert!(pieces.iter().all(|p| p.line_number == 2));
        assert_eq!(pieces.iter().map(|p| p.words.len()).collect::<Vec<_>>(), [64, 64, 22]);
        assert_eq!(pieces[0].start, 4);
        assert_eq!(pieces[2].end, 4 + line.chars().count() as u32);
        assert_eq!(pieces[0].end, pieces[1].start);
        assert_eq!(pieces[1].end, pieces[2].start);
        assert!(pieces[1].text.starts_with("w64 "));
        for p in &got {
            assert_eq!(slice(&content, p.start, p.end), p.text);
            assert_eq!(super::super::tokens::words(&p.text), p.words);
        }
        // Pieces of a line of many-byte letters and marks are cut on character boundaries.
        let line: Vec<String> = (0..200).map(|i| format!("حسینؑ{i}، 😀")).collect();
        let content = format!("\n{}\n", line.join(" "));
        let got = passages(&content);
        assert_eq!(got.len(), 4);
        assert_eq!(got.iter().map(|p| p.words.len()).sum::<usize>(), 200);
        for p in &got {
            assert_eq!(slice(&content, p.start, p.end), p.text);
            assert_eq!(super::super::tokens::words(&p.text), p.words);
        }
    }
}
