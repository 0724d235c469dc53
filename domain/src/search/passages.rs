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

/// What a content edit changes of a document's passages, line by line: the lines the two
/// texts share at their start keep their passages as they are; those they share at their end
/// keep their words and text, moved by [`lines`](Self::lines) line numbers and
/// [`chars`](Self::chars) code points; only the passages of the lines between are made again.
///
/// Invariant (`passages_follow_the_changed_lines`): the passages of the old text before
/// [`start`](Self::start), those at or after [`old_end`](Self::old_end) moved, and
/// [`added`](Self::added) are, in offset order, exactly `passages(new)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    /// Code-point offset (the same in both texts) where the first changed line starts: the
    /// passages before it stay.
    pub start: u32,
    /// Code-point offset in the old text where the unchanged trailing lines start (`None`:
    /// there are none): the passages in `start..old_end` are the changed lines' own.
    pub old_end: Option<u32>,
    /// How far the trailing lines' numbers move.
    pub lines: i64,
    /// How far the trailing lines' offsets move.
    pub chars: i64,
    /// The passages of the old text's changed lines (what the index loses).
    pub removed: Vec<Passage>,
    /// The passages of the new text's changed lines (what the index gains).
    pub added: Vec<Passage>,
}

impl LineChange {
    /// The lines changed between `old` and `new`: the longest run of lines equal at the start
    /// (text and offset) and, after it, at the end (text and distance from the text's end).
    pub fn between(old: &str, new: &str) -> Self {
        let old_lines: Vec<(u32, u32, &str)> = line_spans(old).collect();
        let new_lines: Vec<(u32, u32, &str)> = line_spans(new).collect();
        let (old_len, new_len) = (to_u32(old.chars().count()), to_u32(new.chars().count()));
        let same_start = |o: &(u32, u32, &str), n: &(u32, u32, &str)| o.1 == n.1 && o.2 == n.2;
        let prefix = old_lines.iter().zip(&new_lines).take_while(|(o, n)| same_start(o, n)).count();
        let room = old_lines.len().min(new_lines.len()) - prefix;
        let same_end = |o: &(u32, u32, &str), n: &(u32, u32, &str)| old_len - o.1 == new_len - n.1 && o.2 == n.2;
        let suffix =
            old_lines.iter().rev().zip(new_lines.iter().rev()).take(room).take_while(|(o, n)| same_end(o, n)).count();
        let start = match (old_lines.get(prefix), new_lines.get(prefix)) {
            (Some(o), _) => o.1,
            (None, Some(n)) => n.1,
            (None, None) => old_len,
        };
        let old_end = (suffix > 0).then(|| old_lines[old_lines.len() - suffix].1);
        let passages_of = |lines: &[(u32, u32, &str)]| -> Vec<Passage> {
            lines.iter().flat_map(|&(number, start, text)| line_passages(number, start, text)).collect()
        };
        Self {
            start,
            old_end,
            lines: new_lines.len() as i64 - old_lines.len() as i64,
            chars: i64::from(new_len) - i64::from(old_len),
            removed: passages_of(&old_lines[prefix..old_lines.len() - suffix]),
            added: passages_of(&new_lines[prefix..new_lines.len() - suffix]),
        }
    }
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

    /// The old text's passages with a [`LineChange`] applied, as the index applies it.
    fn applied(old: &str, change: &LineChange) -> Vec<Passage> {
        let mut out: Vec<Passage> = passages(old).into_iter().filter(|p| p.start < change.start).collect();
        out.extend(change.added.iter().cloned());
        if let Some(end) = change.old_end {
            out.extend(passages(old).into_iter().filter(|p| p.start >= end).map(|mut p| {
                p.line_number = (i64::from(p.line_number) + change.lines) as u32;
                p.start = (i64::from(p.start) + change.chars) as u32;
                p.end = (i64::from(p.end) + change.chars) as u32;
                p
            }));
        }
        out
    }

    #[test]
    fn a_one_word_edit_changes_one_lines_passages() {
        let old = "جلد چهارم\nآفت میں گرفتار\n\nہیں ناموس محمدؐ\nحسین ابن علی\n";
        let new = "جلد چهارم\nآفت میں بہت گرفتار\n\nہیں ناموس محمدؐ\nحسین ابن علی\n";
        let change = LineChange::between(old, new);
        assert_eq!(change.removed.len(), 1);
        assert_eq!(change.added.len(), 1);
        assert_eq!(change.added[0].text, "آفت میں بہت گرفتار");
        assert_eq!((change.lines, change.chars), (0, 4));
        assert_eq!(applied(old, &change), passages(new));
        let same = LineChange::between(old, old);
        assert!(same.removed.is_empty() && same.added.is_empty() && same.chars == 0);
    }

    proptest::proptest! {
        #[test]
        fn passages_follow_the_changed_lines(
            old in proptest::collection::vec("(علی|حسن|a b|،|ہے ہے|)", 0..12),
            cut in 0usize..12,
            removed in 0usize..4,
            inserted in proptest::collection::vec("(علی|نئی|b|  |)", 0..4),
            end_newline in proptest::bool::ANY,
        ) {
            let join = |lines: &[String]| {
                let mut s = lines.join("\n");
                if end_newline { s.push('\n'); }
                s
            };
            let cut = cut.min(old.len());
            let mut new = old.clone();
            let removed = removed.min(new.len() - cut);
            new.splice(cut..cut + removed, inserted);
            let (old, new) = (join(&old), join(&new));
            let change = LineChange::between(&old, &new);
            proptest::prop_assert_eq!(applied(&old, &change), passages(&new));
        }
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
