//! Placing a model's entity text in the chunk it was found in. Model offsets are never
//! trusted: the text is searched for instead, as whole words, first exactly and then under an
//! Urdu-aware normalisation, because models (and keyboards) write the same name with other
//! letters (Arabic ي for Urdu ی), without its diacritics or honorific (حسین for حسینؑ), or with
//! other spacing. Every match is mapped back to exact code-point offsets of the original text,
//! on grapheme-cluster boundaries.
//!
//! The normalisation ([`normalize`]) is the Urdu-aware folding of `text::fold`, the same by
//! which the knowledge base matches mentions to its entries: variant letters (yeh, kaf, heh),
//! hamza forms, diacritics, honorifics, joiners and an optional izafat do not count.

use super::fold::{Folder, fold};
use super::occurrences::whole_word_occurrences;
use super::{OffsetMap, to_u32};

/// One place of a needle in a text: code points `[start, end)` of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub start: u32,
    pub end: u32,
    /// The text there is the needle exactly; else it is equal under [`normalize`] only.
    pub exact: bool,
}

/// Every whole-word place of `needle` in `chunk_text`, as code-point spans of `chunk_text`,
/// in order: see [`Aligner::find`]. Build an [`Aligner`] to search one text for many needles.
pub fn align(chunk_text: &str, needle: &str) -> Vec<(u32, u32)> {
    Aligner::new(chunk_text).find(needle).into_iter().map(|m| (m.start, m.end)).collect()
}

/// `s` under the folding of `text::fold` (every run of whitespace one space).
pub fn normalize(s: &str) -> String {
    fold(s)
}

/// A text prepared once for searching many needles in it.
#[derive(Debug, Clone)]
pub struct Aligner<'t> {
    text: &'t str,
    offsets: OffsetMap,
    normalized: Normalized,
}

impl<'t> Aligner<'t> {
    /// Indexes the text (one pass, a few bytes per code point).
    pub fn new(text: &'t str) -> Self {
        Self { text, offsets: OffsetMap::new(text), normalized: Normalized::new(text) }
    }

    /// Every whole-word place of `needle` (trimmed) in the text, in order and not overlapping:
    /// the exact ones ([`whole_word_occurrences`]), and those where the text equals the needle
    /// under [`normalize`] only. Both kinds are kept, rather than the normalised ones only when
    /// there is no exact one, because one chunk often holds a name both ways (حسین and حسینؑ),
    /// and each is a mention. A normalised match starts where an original character starts,
    /// takes in the marks and joiners that belong to its last letter (so it ends on a grapheme
    /// boundary: حسین in حسینؑ is the span of حسینؑ), and is dropped if it cannot do so.
    /// The text of every span, normalised and trimmed, is the normalised needle, trimmed. A blank needle, or one
    /// that normalises to nothing, finds nothing.
    pub fn find(&self, needle: &str) -> Vec<Match> {
        let needle = needle.trim();
        let exact = whole_word_occurrences(self.text, needle);
        let mut found: Vec<Match> = exact.iter().map(|&(start, end)| Match { start, end, exact: true }).collect();
        let target = normalize(needle);
        let target = target.trim();
        if target.is_empty() {
            return found;
        }
        for (start, end) in self.normalized_matches(target) {
            if !found.iter().any(|m| m.start < end && start < m.end) {
                found.push(Match { start, end, exact: false });
            }
        }
        found.sort_by_key(|m| m.start);
        found
    }

    /// Original spans where the normalised text holds `target` as whole words.
    fn normalized_matches(&self, target: &str) -> Vec<(u32, u32)> {
        let n = &self.normalized;
        let mut found = Vec::new();
        let mut from = 0; // Byte offset into the normalised text.
        while let Some(at) = n.text[from..].find(target).map(|i| from + i) {
            let first = n.index_of_byte(at);
            let last = n.index_of_byte(at + target.len()) - 1;
            match self.original_span(first, last) {
                Some(span) => {
                    found.push(span);
                    from = at + target.len();
                }
                // Rejected: an overlapping match further on may stand. Go on one char later.
                None => from = at + n.text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        found
    }

    /// The original span of the normalised characters `first..=last`, if they make whole
    /// words there and map to whole original characters and grapheme clusters.
    fn original_span(&self, first: usize, last: usize) -> Option<(u32, u32)> {
        let n = &self.normalized;
        let before = first.checked_sub(1).map(|i| n.chars[i]);
        let after = n.chars.get(last + 1).copied();
        if before.is_some_and(|c| c.alphanumeric) || after.is_some_and(|c| c.alphanumeric) {
            return None;
        }
        let start = n.chars[first].origin;
        // Not from the middle of one original character's expansion (ﻻ → لا), nor into one.
        if first > 0 && n.chars[first - 1].origin == start {
            return None;
        }
        let last_origin = n.chars[last].origin;
        if after.is_some_and(|c| c.origin == last_origin) {
            return None;
        }
        // Take in the marks after the last letter; they must all have been dropped.
        let end = self.offsets.boundary_at_or_after(last_origin + 1);
        if after.is_some_and(|c| c.origin < end) || !self.offsets.is_grapheme_boundary(start) {
            return None;
        }
        Some((start, end))
    }
}

/// A normalised text, each of its characters tied to the original character it came from.
#[derive(Debug, Clone, Default)]
struct Normalized {
    text: String,
    chars: Vec<NormalizedChar>,
}

#[derive(Debug, Clone, Copy)]
struct NormalizedChar {
    /// Byte offset in the normalised text.
    byte: u32,
    /// Code-point offset of the original character it comes from.
    origin: u32,
    /// A letter or digit: what continues a word.
    alphanumeric: bool,
}

impl Normalized {
    fn new(original: &str) -> Self {
        let mut n = Self::default();
        let mut folder = Folder::new();
        for (origin, c) in original.chars().enumerate() {
            let origin = to_u32(origin);
            folder.push(c, |folded| {
                // Runs of whitespace collapse to one space, even across dropped characters.
                if folded != ' ' || !n.text.ends_with(' ') {
                    n.push(folded, origin);
                }
            });
        }
        n
    }

    fn push(&mut self, c: char, origin: u32) {
        self.chars.push(NormalizedChar { byte: to_u32(self.text.len()), origin, alphanumeric: c.is_alphanumeric() });
        self.text.push(c);
    }

    /// The index of the normalised character at a byte offset (the text's length included).
    fn index_of_byte(&self, byte: usize) -> usize {
        self.chars.partition_point(|c| (c.byte as usize) < byte)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn slice(text: &str, (start, end): (u32, u32)) -> String {
        text.chars().skip(start as usize).take((end - start) as usize).collect()
    }

    fn texts(text: &str, needle: &str) -> Vec<String> {
        align(text, needle).into_iter().map(|span| slice(text, span)).collect()
    }

    #[test]
    fn exact_whole_words_are_found() {
        // Corpus line; "علی" is found twice, not inside "علیؑ" exactly but there normalised.
        let line = "عمّو ہیں حسینؑ ابن علیؑ سیّد ذیجاه";
        assert_eq!(texts(line, "حسینؑ"), ["حسینؑ"]);
        assert_eq!(Aligner::new(line).find("حسینؑ"), [Match { start: 9, end: 14, exact: true }]);
        assert_eq!(texts("علی اکبر، علیم اور مولا علی۔", "علی"), ["علی", "علی"]);
    }

    #[test]
    fn a_name_without_its_honorific_or_diacritics_is_found_with_them() {
        let line = "عمّو ہیں حسینؑ ابن علیؑ سیّد ذیجاه";
        assert_eq!(texts(line, "حسین"), ["حسینؑ"]);
        assert_eq!(texts(line, "حسین ابن علی"), ["حسینؑ ابن علیؑ"]);
        assert_eq!(texts(line, "سید"), ["سیّد"]);
        assert_eq!(texts(line, "عمو"), ["عمّو"]);
        // The honorific inside a word (corpus: "زہرؑا").
        assert_eq!(texts("زہرؑا کی طرح عاشق اولاد تھی زینبؑ", "زہرا"), ["زہرؑا"]);
        // And the other way: the model adds marks the text does not have.
        assert_eq!(texts("چلا کے حسینؑ ابن علی لاش سے لپٹے", "حُسینؑ ابنِ علیؑ"), ["حسینؑ ابن علی"]);
        let found = Aligner::new(line).find("حسین");
        assert_eq!(found, [Match { start: 9, end: 14, exact: false }]);
    }

    #[test]
    fn arabic_letters_match_their_urdu_forms() {
        // The model writes Arabic yeh U+064A and kaf U+0643: حسين, كلثوم.
        assert_eq!(texts("میداں میں حسینؑ آئیں تو ہاں جنگ کروں میں", "حسين"), ["حسینؑ"]);
        // The corpus writes them: كلثوم, سيد, خیره; the model writes Urdu letters.
        assert_eq!(texts("كلثوم تھرتھرا کے بروئے زمیں گری", "کلثوم"), ["كلثوم"]);
        assert_eq!(texts("دہنی طرف اکبرؑ خلف سيد ابرار", "سید ابرار"), ["سيد ابرار"]);
        assert_eq!(texts("بالا قد و كلفت و تنومند و خیره سر", "خیرہ"), ["خیره"]);
        // Alef maksura.
        assert_eq!(texts("مصطفى", "مصطفی"), ["مصطفى"]);
    }

    #[test]
    fn hamza_and_madda_forms_match_their_base_letters() {
        assert_eq!(texts("اک آہ بھری زرد ہوا چہرۂ انور", "چہرہ انور"), ["چہرۂ انور"]);
        // ۂ decomposed as ہ + U+0654 in the text, precomposed in the needle.
        assert_eq!(texts("خانہ\u{0654} ماتم", "خانۂ ماتم"), ["خانہ\u{0654} ماتم"]);
        assert_eq!(texts("آمنہ", "امنہ"), ["آمنہ"]);
        assert_eq!(texts("ا\u{0653}منہ", "آمنہ"), ["ا\u{0653}منہ"]);
        assert_eq!(texts("مؤمن", "مومن"), ["مؤمن"]);
        assert_eq!(texts("جائے", "جایے"), ["جائے"]);
        assert_eq!(texts("أحمد", "احمد"), ["أحمد"]);
        // A standalone hamza is a letter.
        assert_eq!(texts("جزء", "جز"), Vec::<String>::new());
    }

    #[test]
    fn do_chashmi_heh_and_yeh_barree_stay_distinct() {
        assert_eq!(texts("بھاری", "بہاری"), Vec::<String>::new());
        assert_eq!(texts("بہاری", "بھاری"), Vec::<String>::new());
        assert_eq!(texts("بھاری", "بهاری"), Vec::<String>::new());
        assert_eq!(texts("کے", "کی"), Vec::<String>::new());
    }

    #[test]
    fn joiners_tatweel_and_spacing_are_ignored() {
        assert_eq!(texts("حسین\u{200C}ابن علی", "حسینابن علی"), ["حسین\u{200C}ابن علی"]);
        assert_eq!(texts("حســین", "حسین"), ["حســین"]);
        assert_eq!(texts("کرب  و\n بلا میں", "کرب و بلا"), ["کرب  و\n بلا"]);
        assert_eq!(texts("کرب و بلا", " کرب   و بلا\n"), ["کرب و بلا"]);
        // A direction mark before the word is not part of it.
        assert_eq!(texts("\u{200F}علی", "علی"), ["علی"]);
    }

    #[test]
    fn only_whole_words_match() {
        // Inside a longer word, or joined to one by a ZWNJ (normalised away): no match.
        assert_eq!(texts("حسینی حسینیؑ تحسین", "حسین"), Vec::<String>::new());
        assert_eq!(texts("حسین\u{200C}ی", "حسين"), Vec::<String>::new());
        // A mark before the word belongs to the word before.
        assert_eq!(texts("بِعلی", "علي"), Vec::<String>::new());
        // A rejected match does not hide a later overlapping one.
        assert_eq!(texts("اب ب ب", "ب ب"), ["ب ب"]);
    }

    #[test]
    fn every_mention_is_kept_exact_or_not() {
        let text = "حسین آئے۔ حسینؑ نے کہا، یا حسينؑ! حسینی";
        let found = Aligner::new(text).find("حسین");
        let got: Vec<(String, bool)> = found.iter().map(|m| (slice(text, (m.start, m.end)), m.exact)).collect();
        assert_eq!(got, [("حسین".into(), true), ("حسینؑ".into(), false), ("حسينؑ".into(), false)]);
    }

    #[test]
    fn offsets_are_code_points_of_the_original() {
        let text = "😀 ﻻ حُسینؑ 😀 زینبؑ";
        assert_eq!(align(text, "زینب"), [(13, 18)]);
        assert_eq!(align(text, "حسین"), [(4, 10)]);
        // A presentation-form ligature (ﻻ = لا) matches whole, not half.
        assert_eq!(align(text, "لا"), [(2, 3)]);
        assert_eq!(align("ﻻ", "ا"), []);
        assert_eq!(align("ﻻ", "ل"), []);
        // ﷺ expands to four words: none of them is a match inside it.
        assert_eq!(align("نبی ﷺ", "الله"), []);
    }

    #[test]
    fn blank_needles_and_texts_find_nothing() {
        for needle in ["", "  ", "\u{064F}", "\u{200C}", "ـ"] {
            assert_eq!(align("علی ـ\u{200C}", needle), [], "{needle:?}");
        }
        assert_eq!(align("", "علی"), []);
    }

    #[test]
    fn a_match_that_would_cut_a_cluster_is_dropped() {
        // Emoji joined by a ZWJ are one cluster: neither half is a match.
        assert_eq!(texts("👩\u{200D}👩", "👩"), Vec::<String>::new());
        // A letter with an Extend mark from outside Arabic: taken in.
        assert_eq!(texts("cafe\u{0301} noir", "cafe"), ["cafe\u{0301}"]);
        assert_eq!(texts("CAFÉ", "café"), ["CAFÉ"]);
    }

    #[test]
    fn an_izafat_in_the_text_or_the_needle_is_optional() {
        assert_eq!(texts("شاہِ کربلا آئے", "شاہ کربلا"), ["شاہِ کربلا"]);
        assert_eq!(texts("نغمہء دل", "نغمۂ دل"), ["نغمہء دل"]);
        assert_eq!(texts("چہرۂ انور", "چہرہ"), ["چہرۂ"]);
    }

    /// Lines of the corpus with the letters the tests above use.
    fn corpus_words() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/corpus");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("the Marsiya corpus must exist at {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let text = String::from_utf8_lossy(&std::fs::read(&files[0]).unwrap()).into_owned();
        text.split_whitespace().take(400).map(str::to_owned).collect()
    }

    #[test]
    fn every_word_of_a_corpus_text_finds_itself() {
        let words = corpus_words();
        let text = words.join(" ");
        let aligner = Aligner::new(&text);
        for word in &words {
            let found = aligner.find(word);
            // A word of letters finds itself; punctuation-only tokens may not stand as words.
            if word.chars().any(char::is_alphanumeric) && word.chars().all(|c| !c.is_ascii_punctuation()) {
                assert!(!found.is_empty(), "{word:?} not found");
            }
            let target = normalize(word);
            for m in found {
                assert_eq!(normalize(&slice(&text, (m.start, m.end))), target.trim());
            }
        }
    }

    fn urdu_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                6 => "[ابپتٹجچحخدرڑزسشصعفقکگلمنںوہھءیےيكهىۂئؤآأ]{1,5}",
                1 => Just("\u{064F}".to_owned()),
                1 => Just("\u{0611}".to_owned()),
                1 => Just("\u{200C}".to_owned()),
                1 => Just("ـ".to_owned()),
                1 => Just("ﻻ".to_owned()),
                3 => Just(" ".to_owned()),
                1 => Just("\n".to_owned()),
                1 => Just("، ".to_owned()),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn every_span_normalises_to_the_needle(text in urdu_text(), pick in any::<prop::sample::Index>(), len in 1usize..12) {
            // A needle cut from the text itself, so that matches are common.
            let chars: Vec<char> = text.chars().collect();
            prop_assume!(!chars.is_empty());
            let from = pick.index(chars.len());
            let needle: String = chars[from..(from + len).min(chars.len())].iter().collect();
            let target = normalize(&needle);
            let aligner = Aligner::new(&text);
            let found = aligner.find(&needle);
            let offsets = OffsetMap::new(&text);
            for w in found.windows(2) {
                prop_assert!(w[0].end <= w[1].start, "sorted, no overlaps: {:?}", found);
            }
            for m in &found {
                let got = slice(&text, (m.start, m.end));
                let normalized = normalize(&got);
                prop_assert_eq!(normalized.trim(), target.trim(), "{:?} in {:?}", needle, text);
                prop_assert!(offsets.is_grapheme_boundary(m.start) && offsets.is_grapheme_boundary(m.end));
                if m.exact {
                    prop_assert_eq!(got, needle.trim());
                }
            }
        }

        #[test]
        fn a_variant_spelling_finds_the_original(text in urdu_text(), pick in any::<prop::sample::Index>()) {
            // Take a whole word of the text, respell it the way a model might: Arabic letters,
            // no marks. It must be found where it stood.
            let words: Vec<&str> =
                text.split([' ', '\n', '،']).filter(|w| normalize(w).chars().any(char::is_alphanumeric)).collect();
            if words.is_empty() {
                return Ok(());
            }
            let word = words[pick.index(words.len())];
            let respelled: String = word
                .chars()
                .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
                .map(|c| match c { 'ی' => 'ي', 'ک' => 'ك', 'ہ' => 'ه', _ => c })
                .collect();
            let target = normalize(&respelled);
            let found = align(&text, &respelled);
            // Words stand between spaces, line breaks and commas, so the word is found.
            prop_assert!(!found.is_empty(), "{:?} ({:?}) not found in {:?}", respelled, word, text);
            for span in &found {
                let normalized = normalize(&slice(&text, *span));
                prop_assert_eq!(normalized.trim(), target.trim());
            }
        }
    }
}
