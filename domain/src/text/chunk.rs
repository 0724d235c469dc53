//! Cutting a document into chunks small enough for one model call. A chunk ends at the end of
//! a line wherever it can, so that a verse reaches the model whole, and consecutive chunks
//! share a few whole lines, so that a name at the edge of one chunk is seen in full in the
//! next. Only a line longer than a whole chunk is cut: after a space if it has one, else between
//! grapheme clusters, else anywhere. Offsets are code points, as everywhere in `text`.

use super::OffsetMap;
use super::to_u32;

/// One chunk of a text: `text` is the text's code points `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 0-based position among the chunks.
    pub index: u32,
    /// Code-point offset of the chunk's first character in the whole text.
    pub start: u32,
    /// Code-point offset just past the chunk's last character.
    pub end: u32,
    pub text: String,
}

impl Chunk {
    /// The length in code points.
    pub fn char_len(&self) -> u32 {
        self.end - self.start
    }
}

/// Cuts `text` into chunks of at most `size` code points (a `size` of 0 is taken as 1) that
/// cover it from its first to its last code point, in order. A chunk holds whole lines (each
/// with its `\n`) as many as fit; the next one starts with as many of the last whole lines of
/// the previous one as fit in `overlap` code points, while leaving room for at least one new
/// line, so starts and ends both strictly increase and the shared part is at most `overlap`.
/// A line longer than `size` is cut into pieces of at most `size`, each ending after a
/// whitespace where the line has one in reach, else on a grapheme-cluster boundary, else
/// (a single cluster longer than `size`) at exactly `size`; its pieces are then packed like
/// lines. An empty text has no chunks. Deterministic: the same input gives the same chunks.
pub fn chunks(text: &str, size: u32, overlap: u32) -> Vec<Chunk> {
    chunks_with(text, &OffsetMap::new(text), size, overlap)
}

/// [`chunks`], with the text's offset map already built (a document's `DocumentText` has one).
pub fn chunks_with(text: &str, map: &OffsetMap, size: u32, overlap: u32) -> Vec<Chunk> {
    let size = size.max(1);
    let pieces = pieces(text, map, size);
    let mut chunks = Vec::new();
    let mut first = 0; // Index of the chunk's first piece.
    while first < pieces.len() {
        let start = pieces[first].0;
        let mut next = first + 1; // Index of the piece after the chunk.
        while next < pieces.len() && pieces[next].1 - start <= size {
            next += 1;
        }
        let end = pieces[next - 1].1;
        let slice = map.slice(text, start, end).expect("pieces lie within the text");
        chunks.push(Chunk { index: to_u32(chunks.len()), start, end, text: slice.to_owned() });
        if next == pieces.len() {
            break;
        }
        // The next chunk repeats whole pieces from the end of this one, within `overlap`, and
        // must still fit the piece after this one, so that it reaches further than this one.
        let budget = overlap.min(size - (pieces[next].1 - pieces[next].0));
        let mut repeat_from = next;
        while repeat_from > first + 1 && end - pieces[repeat_from - 1].0 <= budget {
            repeat_from -= 1;
        }
        first = repeat_from;
    }
    chunks
}

/// The text as consecutive `[start, end)` pieces of at most `size` code points: its lines,
/// each with its `\n`, and the pieces of lines that are too long.
fn pieces(text: &str, map: &OffsetMap, size: u32) -> Vec<(u32, u32)> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let line_end = line_start + to_u32(line.chars().count());
        let mut from = line_start;
        while line_end - from > size {
            let limit = from + size;
            // After the last whitespace in reach; else the last cluster boundary; else hard.
            let cut = (from + 1..=limit)
                .rev()
                .find(|&i| chars[i as usize - 1].is_whitespace())
                .or_else(|| Some(map.boundary_at_or_before(limit)).filter(|&b| b > from))
                .unwrap_or(limit);
            pieces.push((from, cut));
            from = cut;
        }
        pieces.push((from, line_end));
        line_start = line_end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spans(text: &str, size: u32, overlap: u32) -> Vec<(u32, u32)> {
        chunks(text, size, overlap).iter().map(|c| (c.start, c.end)).collect()
    }

    /// Six-line stanzas of the corpus, each line 20 to 40 code points.
    const STANZA: &str = "عباس علمدار کی درگاہ کے صدقے\n\
                          شوکت کے تصدق حشم و جاہ کے صدقے\n\
                          کیا شیر ہے ابن اسد اللہ کے صدقے\n\
                          جس راہ سے سب جاتے ہیں اُس راہ کے صدقے\n\
                          پہلے نہ بہشت اور نہ رخ حور دکھائے\n\
                          اللہ ان آنکھون سے وہی نور دکھائے\n";

    #[test]
    fn chunks_end_on_line_ends_and_overlap_by_whole_lines() {
        let lines: Vec<(u32, u32)> = {
            let mut at = 0;
            STANZA
                .split_inclusive('\n')
                .map(|l| {
                    let span = (at, at + to_u32(l.chars().count()));
                    at = span.1;
                    span
                })
                .collect()
        };
        // 80 code points hold two lines (of 29 to 38), never three; an overlap of 40 repeats one.
        let got = chunks(STANZA, 80, 40);
        let expected: Vec<(u32, u32)> = (0..5).map(|i| (lines[i].0, lines[i + 1].1)).collect();
        assert_eq!(got.iter().map(|c| (c.start, c.end)).collect::<Vec<_>>(), expected);
        for c in &got {
            assert!(c.text.ends_with('\n'));
            assert_eq!(c.text.chars().count() as u32, c.char_len());
            assert_eq!(c.index as usize, got.iter().position(|d| d == c).unwrap());
        }
        // No overlap asked: the lines are shared out.
        assert_eq!(spans(STANZA, 80, 0), [(0, lines[1].1), (lines[2].0, lines[3].1), (lines[4].0, lines[5].1)]);
    }

    #[test]
    fn a_text_that_fits_is_one_chunk() {
        let n = to_u32(STANZA.chars().count());
        assert_eq!(chunks(STANZA, 10_000, 500), [Chunk { index: 0, start: 0, end: n, text: STANZA.to_owned() }]);
        assert_eq!(spans("علی", 3, 3), [(0, 3)]);
        assert_eq!(chunks("", 100, 10), []);
    }

    #[test]
    fn a_long_line_is_cut_after_a_space() {
        // 3 + 1 + 4 + 1 + 4: cut after the spaces that are in reach of 7 code points.
        assert_eq!(spans("علی اکبر عباس", 7, 0), [(0, 4), (4, 9), (9, 13)]);
        assert_eq!(chunks("علی اکبر عباس", 7, 0)[1].text, "اکبر ");
    }

    #[test]
    fn a_line_without_spaces_is_cut_between_clusters_then_anywhere() {
        // ح + damma is one cluster: a cut at 1 would split it, so the cut comes before it.
        assert_eq!(spans("سحُسین", 2, 0), [(0, 1), (1, 3), (3, 5), (5, 6)]);
        // One cluster longer than a chunk: cut at the size (the documented fallback).
        assert_eq!(spans("ح\u{064F}\u{0651}\u{0670}", 2, 0), [(0, 2), (2, 4)]);
        assert_eq!(spans("abc", 0, 0), [(0, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn the_overlap_leaves_room_for_a_new_line() {
        // Lines of 5 code points: a chunk of 10 holds two, an overlap of 5 or more repeats one.
        let text = "آمنہ\nزہرا\nعلیؑ\n";
        assert_eq!(spans(text, 10, 9), [(0, 10), (5, 15)]);
        assert_eq!(spans(text, 10, 4), [(0, 10), (10, 15)]);
        assert_eq!(spans(text, 15, 9), [(0, 15)]);
        // A third line of 9: repeating the second would leave no room for it, so nothing is
        // repeated (else the next chunk would hold the repeated line alone, reaching no further).
        let text = "آمنہ\nزہرا\nعلی اکبر\n";
        assert_eq!(spans(text, 10, 9), [(0, 10), (10, 19)]);
    }

    /// Every file of the Marsiya corpus in corpus/marsiya/ (the test fails when it is missing): lines
    /// are short, so chunks end on line ends.
    #[test]
    fn chunks_the_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/corpus");
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the Marsiya corpus must exist at {dir}: {e}"));
        for entry in entries {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
            let got = chunks(&text, 1500, 200);
            check(&text, 1500, 200, &got);
            let n = to_u32(text.chars().count());
            assert!(got.iter().all(|c| c.text.ends_with('\n') || c.end == n));
        }
    }

    /// The properties every chunking has.
    fn check(text: &str, size: u32, overlap: u32, got: &[Chunk]) {
        let n = to_u32(text.chars().count());
        if n == 0 {
            assert!(got.is_empty());
            return;
        }
        assert_eq!(got[0].start, 0, "the first chunk starts the text");
        assert_eq!(got[got.len() - 1].end, n, "the last chunk ends the text");
        for (i, c) in got.iter().enumerate() {
            assert_eq!(c.index as usize, i);
            assert!(c.start < c.end && c.char_len() <= size.max(1), "chunk {i} {c:?} of size {size}");
            let slice: String = text.chars().skip(c.start as usize).take(c.char_len() as usize).collect();
            assert_eq!(c.text, slice);
        }
        for w in got.windows(2) {
            assert!(w[0].start < w[1].start && w[0].end < w[1].end, "starts and ends increase");
            assert!(w[1].start <= w[0].end, "no gap between chunks");
            assert!(w[0].end - w[1].start <= overlap, "the overlap is bounded");
        }
    }

    fn urdu_text() -> impl Strategy<Value = String> {
        // Words of letters with marks, spaces, line breaks (blank lines too) and the odd emoji.
        prop::collection::vec(
            prop_oneof![
                4 => "[ابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنںوہھءیے]{1,8}",
                1 => Just("حُسینؑ".to_owned()),
                1 => Just("\u{0650}".to_owned()),
                2 => Just(" ".to_owned()),
                2 => Just("\n".to_owned()),
                1 => Just("👩\u{200D}👩\u{200D}👦".to_owned()),
            ],
            0..80,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn chunks_cover_the_text_within_size_and_overlap(text in urdu_text(), size in 0u32..60, overlap in 0u32..40) {
            let got = chunks(&text, size, overlap);
            check(&text, size, overlap, &got);
            prop_assert_eq!(chunks(&text, size, overlap), got);
        }

        #[test]
        fn short_lines_are_never_cut(text in urdu_text(), size in 1u32..80, overlap in 0u32..30) {
            // Every line fits in a chunk.
            let longest = text.split_inclusive('\n').map(|l| l.chars().count() as u32).max().unwrap_or(0);
            let size = size.max(longest);
            let n = to_u32(text.chars().count());
            let chars: Vec<char> = text.chars().collect();
            for c in chunks(&text, size, overlap) {
                prop_assert!(c.start == 0 || chars[c.start as usize - 1] == '\n', "{:?} starts a line", c);
                prop_assert!(c.end == n || chars[c.end as usize - 1] == '\n', "{:?} ends a line", c);
            }
        }
    }
}
