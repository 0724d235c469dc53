//! Lines and stanzas of a text, for reviewing a document line by line and for placing an
//! entity in its line and stanza.
//!
//! A stanza (band) of a Marsiya is a block of non-blank lines; blank (whitespace-only) lines
//! separate stanzas. A blank line takes the number of the stanza before it, so a stanza's
//! trailing blank lines stay with it; blank lines before the first stanza belong to stanza 1.
//! Lines end at `\n` only: texts are stored with normalised line endings.

use super::to_u32;

/// One line of a text, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Line number, 1-based.
    pub number: u32,
    /// Stanza number, 1-based.
    pub stanza: u32,
    /// Code-point offset of the line's first character.
    pub start: u32,
    /// Code-point offset just past the line's last character (the `\n` is not included).
    pub end: u32,
    /// The line's text, without its `\n`.
    pub text: String,
}

/// The lines of a text, as many as `str::lines` yields (a final `\n` starts no new line).
pub fn lines(text: &str) -> Vec<Line> {
    let stanzas = stanza_numbers(raw_lines(text).map(|(_, line)| line));
    raw_lines(text)
        .zip(stanzas)
        .zip(1..)
        .map(|(((start, line), stanza), number)| Line {
            number,
            stanza,
            start,
            end: start + to_u32(line.chars().count()),
            text: line.to_owned(),
        })
        .collect()
}

/// Where each line starts, built once per document, so that the line and stanza of any offset
/// are found by binary search (fast enough for 100,000 entities of a large document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    /// Code-point offset where each line starts, ascending; never empty.
    starts: Vec<u32>,
    /// Stanza of each line.
    stanzas: Vec<u32>,
    /// Whether the text has no line at all (`starts` then holds a line 1 at offset 0 anyway).
    empty: bool,
}

impl LineIndex {
    /// Indexes the lines of a text in one pass.
    pub fn new(text: &str) -> Self {
        let mut starts: Vec<u32> = raw_lines(text).map(|(start, _)| start).collect();
        let mut stanzas = stanza_numbers(raw_lines(text).map(|(_, line)| line));
        let empty = starts.is_empty();
        if empty {
            // An empty text: offset 0 still lies on line 1 of stanza 1.
            starts.push(0);
            stanzas.push(1);
        }
        Self { starts, stanzas, empty }
    }

    /// `(line number, stanza)` of a code-point offset, both 1-based. A `\n` belongs to the line
    /// it ends; offsets past the last line's start (the end of the text included) lie on the
    /// last line.
    pub fn locate(&self, offset: u32) -> (u32, u32) {
        // `starts[0]` is 0, so at least one start is <= offset.
        let index = self.starts.partition_point(|&start| start <= offset) - 1;
        (to_u32(index + 1), self.stanzas[index])
    }

    /// How many lines the text has, as `str::lines` counts them (an empty text has none).
    pub fn line_count(&self) -> u32 {
        if self.empty { 0 } else { to_u32(self.starts.len()) }
    }

    /// About how much memory the index takes, in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.starts.capacity() + self.stanzas.capacity()) * std::mem::size_of::<u32>()
    }

    /// The code-point offset where line `number` (1-based) starts.
    pub fn line_start(&self, number: u32) -> Option<u32> {
        let index = (number as usize).checked_sub(1)?;
        self.starts.get(index).copied()
    }
}

/// `(start offset in code points, text without its `\n`)` of each line: as many lines as
/// `str::lines` yields, but a `\r` stays in the line, so offsets hold for any text.
fn raw_lines(text: &str) -> impl Iterator<Item = (u32, &str)> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |piece| {
        let at = start;
        start += to_u32(piece.chars().count());
        (at, piece.strip_suffix('\n').unwrap_or(piece))
    })
}

/// The stanza number of each line (see the module comment for blank lines).
fn stanza_numbers<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<u32> {
    let mut stanza = 0;
    let mut after_blank = false;
    lines
        .map(|line| {
            if line.trim().is_empty() {
                after_blank = stanza > 0;
            } else {
                if stanza == 0 || after_blank {
                    stanza += 1;
                }
                after_blank = false;
            }
            stanza.max(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(text: &str) -> Vec<(u32, u32, u32, u32, String)> {
        lines(text).into_iter().map(|l| (l.number, l.stanza, l.start, l.end, l.text)).collect()
    }

    fn line(number: u32, stanza: u32, start: u32, end: u32, text: &str) -> (u32, u32, u32, u32, String) {
        (number, stanza, start, end, text.to_owned())
    }

    #[test]
    fn line_counts_follow_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\n\nb", "\n", "\n\n", "a\n\n"] {
            assert_eq!(lines(text).len(), text.lines().count(), "{text:?}");
        }
    }

    #[test]
    fn offsets_are_code_points_and_exclude_the_newline() {
        let text = "حُسینؑ\n😀 علی\n";
        assert_eq!(summary(text), [line(1, 1, 0, 6, "حُسینؑ"), line(2, 1, 7, 12, "😀 علی")]);
        for l in lines(text) {
            let by_chars: String = text.chars().skip(l.start as usize).take((l.end - l.start) as usize).collect();
            assert_eq!(by_chars, l.text);
        }
    }

    #[test]
    fn blank_lines_separate_stanzas_and_belong_to_the_stanza_before() {
        let text = "\n  \nا\nب\n\n \t\nج\n\nد\n";
        let stanzas: Vec<(u32, u32)> = lines(text).iter().map(|l| (l.number, l.stanza)).collect();
        assert_eq!(stanzas, [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 2), (8, 2), (9, 3)]);
    }

    #[test]
    fn a_line_of_marks_or_zwnj_is_not_blank() {
        // ZWNJ is not whitespace, so a line holding one still belongs to the stanza.
        let text = "ا\n\u{200C}\nب";
        let stanzas: Vec<u32> = lines(text).iter().map(|l| l.stanza).collect();
        assert_eq!(stanzas, [1, 1, 1]);
    }

    #[test]
    fn index_locates_offsets() {
        // Lines start at 0, 5 (blank) and 6; "ب" starts stanza 2.
        let text = "اَلف\n\nب 😀\n";
        let index = LineIndex::new(text);
        let located: Vec<(u32, u32)> = (0..=10).map(|i| index.locate(i)).collect();
        assert_eq!(
            located,
            [
                (1, 1),
                (1, 1),
                (1, 1),
                (1, 1),
                (1, 1), // the `\n` ending line 1
                (2, 1), // the blank line
                (3, 2),
                (3, 2),
                (3, 2),
                (3, 2), // the final `\n`
                (3, 2), // the end of the text
            ]
        );
        assert_eq!(index.line_start(3), Some(6));
        assert_eq!(index.line_start(0), None);
        assert_eq!(index.line_start(4), None);
    }

    #[test]
    fn index_agrees_with_lines() {
        let text = "پہلا بند\nدوسرا مصرع\n\n\nدوسرا بند\nآخری\n";
        let index = LineIndex::new(text);
        for l in lines(text) {
            for offset in l.start..=l.end {
                assert_eq!(index.locate(offset), (l.number, l.stanza), "offset {offset}");
            }
            assert_eq!(index.line_start(l.number), Some(l.start));
        }
    }

    #[test]
    fn empty_text_has_one_position() {
        let index = LineIndex::new("");
        assert_eq!(index.locate(0), (1, 1));
        assert_eq!(index.line_start(1), Some(0));
    }
}
