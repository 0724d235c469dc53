//! Offsets into one text: from the code-point offsets of the API to byte offsets (to slice the
//! Rust string) and UTF-16 offsets (for JavaScript clients), and where grapheme clusters begin.
//!
//! A grapheme cluster is what a reader sees as one character: an Urdu letter with its marks
//! (حُ is ح + damma), an emoji with its modifiers. A span boundary inside one would cut a mark
//! off its letter, so spans must start and end on cluster boundaries.

use unicode_segmentation::UnicodeSegmentation;

use super::to_u32;

/// Offset tables of one text, built once in O(n) so that every lookup is O(1).
///
/// It does not hold the text (a document keeps it next to this map); methods that need it
/// take it, and must be given the text the map was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetMap {
    /// Byte offset of each code point, then the byte length: `char_len + 1` entries.
    bytes: Vec<u32>,
    /// UTF-16 offset of each code point, then the UTF-16 length: `char_len + 1` entries.
    utf16: Vec<u32>,
    /// Bit `i` is set when code-point offset `i` is a grapheme-cluster boundary.
    graphemes: Vec<u64>,
}

impl OffsetMap {
    /// Builds the tables of a text in one pass (about 8 bytes per code point).
    pub fn new(text: &str) -> Self {
        let count = text.chars().count();
        let mut bytes = Vec::with_capacity(count + 1);
        let mut utf16 = Vec::with_capacity(count + 1);
        let mut units = 0;
        for (at, c) in text.char_indices() {
            bytes.push(to_u32(at));
            utf16.push(units);
            units += to_u32(c.len_utf16());
        }
        bytes.push(to_u32(text.len()));
        utf16.push(units);
        let graphemes = grapheme_bits(text, &bytes);
        Self { bytes, utf16, graphemes }
    }

    /// About how much memory the tables take, in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.bytes.capacity() + self.utf16.capacity()) * std::mem::size_of::<u32>()
            + self.graphemes.capacity() * std::mem::size_of::<u64>()
    }

    /// The number of code points.
    pub fn char_len(&self) -> u32 {
        to_u32(self.bytes.len() - 1)
    }

    /// The length in UTF-16 code units.
    pub fn utf16_len(&self) -> u32 {
        self.utf16[self.utf16.len() - 1]
    }

    /// The byte offset of a code-point offset (`char_len` included); None past the end.
    pub fn byte_offset(&self, offset: u32) -> Option<usize> {
        self.bytes.get(offset as usize).map(|&b| b as usize)
    }

    /// The UTF-16 offset of a code-point offset (`char_len` included); None past the end.
    pub fn utf16_offset(&self, offset: u32) -> Option<u32> {
        self.utf16.get(offset as usize).copied()
    }

    /// The code-point offset of a byte offset; None unless it starts a character or is the end.
    pub fn char_offset(&self, byte: usize) -> Option<u32> {
        let byte = u32::try_from(byte).ok()?;
        self.bytes.binary_search(&byte).ok().map(to_u32)
    }

    /// The text of `[start, end)` in code points; None when the range is reversed or too long.
    pub fn slice<'t>(&self, text: &'t str, start: u32, end: u32) -> Option<&'t str> {
        debug_assert_eq!(text.len(), self.byte_offset(self.char_len()).unwrap_or(0));
        if start > end {
            return None;
        }
        text.get(self.byte_offset(start)?..self.byte_offset(end)?)
    }

    /// Whether a span may start or end at `offset`: true at 0, at the end, and between grapheme
    /// clusters; false inside a cluster and past the end.
    pub fn is_grapheme_boundary(&self, offset: u32) -> bool {
        let i = offset as usize;
        self.graphemes.get(i / 64).is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// The first grapheme boundary at or after `offset` (at most `char_len`).
    pub fn boundary_at_or_after(&self, offset: u32) -> u32 {
        let end = self.char_len();
        (offset.min(end)..end).find(|&i| self.is_grapheme_boundary(i)).unwrap_or(end)
    }

    /// The last grapheme boundary at or before `offset` (at least 0).
    pub fn boundary_at_or_before(&self, offset: u32) -> u32 {
        (0..=offset.min(self.char_len())).rev().find(|&i| self.is_grapheme_boundary(i)).unwrap_or(0)
    }
}

/// The grapheme-boundary bitset: one bit per code-point offset, `0..=char_len`.
fn grapheme_bits(text: &str, bytes: &[u32]) -> Vec<u64> {
    let mut bits = vec![0u64; bytes.len().div_ceil(64)];
    let mut set = |i: usize| bits[i / 64] |= 1 << (i % 64);
    // Both sequences ascend, so one pass pairs every cluster start with its code point.
    let mut char_index = 0;
    for (at, _) in text.grapheme_indices(true) {
        while bytes[char_index] as usize != at {
            char_index += 1;
        }
        set(char_index);
    }
    set(bytes.len() - 1);
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ح, damma U+064F, س, ی, ن: the damma belongs to ح.
    const HUSAIN: &str = "حُسین";

    #[test]
    fn offsets_of_urdu_with_marks() {
        let map = OffsetMap::new(HUSAIN);
        assert_eq!(map.char_len(), 5);
        assert_eq!(map.utf16_len(), 5);
        // Every Arabic-block code point is two bytes in UTF-8.
        assert_eq!(map.byte_offset(2), Some(4));
        assert_eq!(map.byte_offset(5), Some(10));
        assert_eq!(map.byte_offset(6), None);
        assert_eq!(map.utf16_offset(3), Some(3));
    }

    #[test]
    fn astral_characters_take_two_utf16_units() {
        let text = "a😀حؑ😀";
        let map = OffsetMap::new(text);
        assert_eq!(map.char_len(), 5);
        let utf16: Vec<u32> = (0..=5).map(|i| map.utf16_offset(i).unwrap()).collect();
        assert_eq!(utf16, [0, 1, 3, 4, 5, 7]);
        assert_eq!(map.utf16_len() as usize, text.encode_utf16().count());
        let bytes: Vec<usize> = (0..=5).map(|i| map.byte_offset(i).unwrap()).collect();
        assert_eq!(bytes, [0, 1, 5, 7, 9, 13]);
    }

    #[test]
    fn byte_offsets_convert_back_only_on_character_starts() {
        let map = OffsetMap::new("a😀b");
        assert_eq!(map.char_offset(0), Some(0));
        assert_eq!(map.char_offset(1), Some(1));
        assert_eq!(map.char_offset(2), None);
        assert_eq!(map.char_offset(5), Some(2));
        assert_eq!(map.char_offset(6), Some(3));
        assert_eq!(map.char_offset(7), None);
    }

    #[test]
    fn slices_by_code_points() {
        let text = "حُسینؑ 😀 علی";
        let map = OffsetMap::new(text);
        assert_eq!(map.slice(text, 0, 6), Some("حُسینؑ"));
        assert_eq!(map.slice(text, 7, 8), Some("😀"));
        assert_eq!(map.slice(text, 9, 12), Some("علی"));
        assert_eq!(map.slice(text, 12, 12), Some(""));
        assert_eq!(map.slice(text, 3, 2), None);
        assert_eq!(map.slice(text, 0, 13), None);
        // Slicing agrees with the contract: chars().skip(start).take(end - start).
        let by_chars: String = text.chars().skip(2).take(5).collect();
        assert_eq!(map.slice(text, 2, 7), Some(by_chars.as_str()));
    }

    #[test]
    fn a_mark_is_not_split_from_its_letter() {
        let map = OffsetMap::new(HUSAIN);
        let boundaries: Vec<bool> = (0..=6).map(|i| map.is_grapheme_boundary(i)).collect();
        // Offset 1 lies between ح and its damma; 6 is past the end.
        assert_eq!(boundaries, [true, false, true, true, true, true, false]);
    }

    #[test]
    fn honorific_zer_and_zwnj_attach_to_the_letter_before() {
        // ن + U+0611, ن + zer U+0650, ZWNJ U+200C after a letter: all extend the cluster.
        let map = OffsetMap::new("نؑ نِ ب\u{200C}ہ");
        let boundaries: Vec<u32> = (0..=map.char_len()).filter(|&i| map.is_grapheme_boundary(i)).collect();
        assert_eq!(boundaries, [0, 2, 3, 5, 6, 8, 9]);
    }

    #[test]
    fn emoji_sequences_are_one_cluster() {
        // A family emoji: three people joined by ZWJ, five code points, one cluster.
        let text = "👩\u{200D}👩\u{200D}👦x";
        let map = OffsetMap::new(text);
        let boundaries: Vec<u32> = (0..=map.char_len()).filter(|&i| map.is_grapheme_boundary(i)).collect();
        assert_eq!(boundaries, [0, 5, 6]);
    }

    #[test]
    fn boundaries_agree_with_grapheme_indices_across_bitset_words() {
        let text = "حُسینؑ نِ 😀 ".repeat(20);
        let map = OffsetMap::new(&text);
        let expected: Vec<u32> =
            text.grapheme_indices(true).map(|(at, _)| map.char_offset(at).unwrap()).chain([map.char_len()]).collect();
        let actual: Vec<u32> = (0..=map.char_len() + 70).filter(|&i| map.is_grapheme_boundary(i)).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn nearest_boundaries() {
        let map = OffsetMap::new(HUSAIN);
        assert_eq!(map.boundary_at_or_after(1), 2);
        assert_eq!(map.boundary_at_or_before(1), 0);
        assert_eq!(map.boundary_at_or_after(2), 2);
        assert_eq!(map.boundary_at_or_after(99), 5);
        assert_eq!(map.boundary_at_or_before(99), 5);
    }

    #[test]
    fn empty_text() {
        let map = OffsetMap::new("");
        assert_eq!((map.char_len(), map.utf16_len()), (0, 0));
        assert!(map.is_grapheme_boundary(0));
        assert_eq!(map.slice("", 0, 0), Some(""));
    }
}
