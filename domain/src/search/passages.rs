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
use crate::text::lines;

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
}

/// The passages of a document's content, in order.
pub fn passages(content: &str) -> Vec<Passage> {
    let mut out = Vec::new();
    for line in lines(content) {
        let tokens = tokenize(&line.text);
        if tokens.is_empty() {
            continue;
        }
        let chars: Vec<char> = line.text.chars().collect();
        let line_len = chars.len() as u32;
        let pieces: Vec<&[Token]> = tokens.chunks(MAX_PASSAGE_TOKENS).collect();
        for (i, piece) in pieces.iter().enumerate() {
            // Offsets within the line: a piece starts at its first word (the first at the
            // line's start) and ends where the next piece starts (the last at the line's end).
            let from = if i == 0 { 0 } else { piece[0].start };
            let to = pieces.get(i + 1).map_or(line_len, |next| next[0].start);
            out.push(Passage {
                line_number: line.number,
                start: line.start + from,
                end: line.start + to,
                text: chars[from as usize..to as usize].iter().collect(),
                words: piece.iter().map(|t| t.text.clone()).collect(),
            });
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
    }
}
