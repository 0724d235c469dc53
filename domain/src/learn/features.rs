//! The features of each word of a line, as 64-bit keys (a template id hashed with its values;
//! no strings are kept). Chosen for Urdu poetry:
//! - the folded word ([`fold`](super::fold)), its prefixes and suffixes (1–3 letters: Urdu marks
//!   case and plurals at the end, ابو/ابن-like forms at the start) and its letter 2- and 3-grams
//!   (so an unseen spelling of a seen name shares most of its features), its length;
//! - honorific marks written on the word (ؑ ؓ ؒ ؐ ؔ, ﷺ): in Marsiya they follow the names of the
//!   holy family and of companions, and ؔ the poet's pen name; and on the words beside it;
//! - izafat (a zer or the hamza of ۂ/ۓ ending the word): the word is joined to the next,
//!   as in شاہِ دیں, دخترِ زہرا;
//! - the two words on each side, and the pairs with the word before and after;
//! - where the word stands in its line (first, second, next to last, last; a misra's end often
//!   holds its rhyme), and punctuation around it;
//! - digits;
//! - the word's clusters ([`clusters`](super::clusters), learnt from unlabelled poetry) at every
//!   granularity, and the coarser ones of the words beside it; and how often those texts write
//!   the word with an honorific (a name of the holy family is often written so, even where
//!   this line does not);
//! - hits of the reference names (gazetteers, knowledge-base aliases) and of the gold the model
//!   learnt: the word's part in the name and the name's type, on the word and on its neighbours,
//!   and whether the word alone was ever part of a gold name;
//! - hits of the built-in Marsiya names ([`builtin`](super::names::builtin): the people, titles,
//!   places, groups and times the poetry returns to) by their class, on the word and beside it:
//!   the gold teaches what a class is in the project's types, so a name the gold never showed
//!   is still recognised (measured on the annotated lines: unseen names found 17 % -> 39 %);
//! - cue words ([`CUES`]) on the word and up to two words from it: titles said before a name
//!   (حضرت, امام, بی بی), kinship words joined to one (ابن, دختر, پسر, فرزند), the vocative
//!   (اے, یا), verbs of speech, postpositions after a place (میں, سے), the genitive, and the
//!   blessings said after a holy name.

use super::labels::Part;
use super::names::Hit;
use super::tokens::Token;

/// The honorific marks and the pen-name mark, as written after a name.
pub const HONORIFICS: [char; 6] = ['\u{0610}', '\u{0611}', '\u{0612}', '\u{0613}', '\u{0614}', '\u{FDFA}'];

/// What the features of a line are computed from.
pub struct LineInput<'a> {
    pub tokens: &'a [Token<'a>],
    /// The folded words, one per token.
    pub folded: &'a [&'a str],
    /// Hits of the reference names, one per token.
    pub reference: &'a [Option<Hit>],
    /// Hits of the gold names, one per token.
    pub gold: &'a [Option<Hit>],
    /// Hits of the built-in Marsiya names ([`builtin`](super::names::builtin)), by class.
    pub builtin: &'a [Option<Hit>],
    /// The type each word was a part of in the gold, if any (and whether of several types).
    pub gold_words: &'a [Option<(usize, bool)>],
    /// Each word's clusters (coarse to fine), if the word is in the cluster table.
    pub clusters: &'a [Option<&'a [u16]>],
    /// How often the clustered texts write each word with an honorific.
    pub honorific_rates: &'a [Option<super::clusters::HonorificRate>],
}

// Template ids: one per kind of feature.
const BIAS: u64 = 1;
const WORD: u64 = 2;
const PREFIX: u64 = 3;
const SUFFIX: u64 = 4;
const NGRAM: u64 = 5;
const LENGTH: u64 = 6;
const HONORIFIC: u64 = 7;
const HONORIFIC_ANY: u64 = 8;
const HONORIFIC_NEAR: u64 = 9;
const IZAFAT: u64 = 10;
const IZAFAT_BEFORE: u64 = 11;
const NEIGHBOUR: u64 = 12;
const PAIR: u64 = 13;
const POSITION: u64 = 14;
const PUNCT: u64 = 15;
const DIGITS: u64 = 16;
const NAME_HIT: u64 = 17;
const NAME_PART: u64 = 18;
const NAME_NEAR: u64 = 19;
const NAME_AMBIGUOUS: u64 = 20;
const GOLD_WORD: u64 = 21;
const SUFFIX_NEAR: u64 = 22;
const CLUSTER: u64 = 23;
const CLUSTER_NEAR: u64 = 24;
const HONORIFIC_RATE: u64 = 25;
const CUE: u64 = 26;
const CUE_NEAR: u64 = 27;
const BUILTIN_HIT: u64 = 28;
const BUILTIN_NEAR: u64 = 29;
const JOINED: u64 = 30;
const FUZZY: u64 = 31;

/// Words that announce or follow a name in Marsiya, by kind: titles and honorifics said before a
/// name, kinship words (a name follows in izafat: ابن علی, دختر زہرا), the vocative, the verbs
/// of speech a speaker's name stands beside, postpositions (a place is followed by میں, سے),
/// and the blessings said after a holy name.
const CUES: [(u64, &[&str]); 7] = [
    (
        1,
        &[
            "حضرت",
            "امام",
            "شاہ",
            "شہ",
            "جناب",
            "سید",
            "سیدہ",
            "بی",
            "بیبی",
            "مولا",
            "سرور",
            "شہزادہ",
            "شہزادی",
            "بانو",
            "میر",
            "سردار",
            "خواجہ",
            "شیخ",
            "مرزا",
            "علمدار",
            "آقا",
        ],
    ),
    (
        2,
        &[
            "ابن",
            "بن",
            "بنت",
            "پسر",
            "دختر",
            "بھائی",
            "بہن",
            "ماں",
            "اماں",
            "بیٹا",
            "بیٹی",
            "بیٹے",
            "فرزند",
            "زوجہ",
            "بابا",
            "پدر",
            "مادر",
            "نواسہ",
            "نواسی",
            "پوتا",
            "پوتی",
            "چچا",
            "خواہر",
            "برادر",
            "نور",
            "دلبند",
            "جان",
            "لال",
            "ام",
            "ابو",
        ],
    ),
    (3, &["اے", "یا", "اجی", "او"]),
    (
        4,
        &[
            "کہا",
            "بولے",
            "بولی",
            "فرمایا",
            "فرماتے",
            "فرماتی",
            "کہتی",
            "کہتے",
            "پکارے",
            "پکاری",
            "روئے",
            "روئی",
            "چلے",
            "چلی",
            "آئے",
            "آئی",
        ],
    ),
    (5, &["میں", "سے", "تک", "پر", "پہ", "کو", "مین"]),
    (6, &["کا", "کی", "کے", "نے"]),
    (7, &["علیہ", "السلام", "علیہا", "رضی", "صلعم", "ع"]),
];

fn cue_of(folded: &str) -> Option<u64> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<String, u64>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut table = std::collections::HashMap::new();
            for (kind, words) in CUES {
                for w in words {
                    table.entry(super::fold(w)).or_insert(kind);
                }
            }
            table
        })
        .get(folded)
        .copied()
}

/// The templates whose features count half: letters and neighbouring words are many and
/// each is weak evidence; at full weight, a few hundred gold lines let them drown the word, its
/// clusters and the name lists (measured on the annotated lines: F1 0.645 at half weight, 0.618
/// at full weight, 0.637 without them).
const LIGHT: [u64; 5] = [PREFIX, SUFFIX, NGRAM, NEIGHBOUR, PAIR];

/// The value a feature key stands for: its lowest bit marks a light feature ([`LIGHT`]).
pub fn value(key: u64) -> f32 {
    if key & 1 == 1 { 0.5 } else { 1.0 }
}

/// The feature keys of every word of a line.
pub fn line_features(input: &LineInput<'_>) -> Vec<Vec<u64>> {
    let n = input.tokens.len();
    let word_hashes: Vec<u64> = input.folded.iter().map(|w| hash_str(WORD, w)).collect();
    let honorific: Vec<Option<char>> =
        input.tokens.iter().map(|t| t.text.chars().find(|c| HONORIFICS.contains(c))).collect();
    let izafat: Vec<bool> = input.tokens.iter().map(|t| has_izafat(t.text)).collect();
    let at = |i: isize| -> u64 {
        if i < 0 {
            hash_str(WORD, "<s>")
        } else if i as usize >= n {
            hash_str(WORD, "</s>")
        } else {
            word_hashes[i as usize]
        }
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut f = Keys(Vec::with_capacity(48));
        let word = input.folded[i];
        let ii = i as isize;
        f.add(BIAS, key(BIAS, 0));
        f.add(WORD, word_hashes[i]);
        let chars: Vec<char> = word.chars().collect();
        let len = chars.len();
        for k in 1..=3.min(len) {
            f.add(PREFIX, hash_chars(PREFIX + 64 * k as u64, &chars[..k]));
            f.add(SUFFIX, hash_chars(SUFFIX + 64 * k as u64, &chars[len - k..]));
        }
        // Letter n-grams of the word with its edges marked.
        let mut padded = Vec::with_capacity(len + 2);
        padded.push('^');
        padded.extend_from_slice(&chars);
        padded.push('$');
        for k in 2..=3 {
            if padded.len() >= k {
                for w in padded.windows(k) {
                    f.add(NGRAM, hash_chars(NGRAM + 64 * k as u64, w));
                }
            }
        }
        f.add(LENGTH, key(LENGTH, len.min(7) as u64));
        if chars.iter().all(|c| c.is_ascii_digit()) {
            f.add(DIGITS, key(DIGITS, 0));
        }
        if let Some(mark) = honorific[i] {
            f.add(HONORIFIC, key(HONORIFIC, mark as u64));
            f.add(HONORIFIC_ANY, key(HONORIFIC_ANY, 0));
        }
        if i > 0 && honorific[i - 1].is_some() {
            f.add(HONORIFIC_NEAR, key(HONORIFIC_NEAR, 1));
        }
        if i + 1 < n && honorific[i + 1].is_some() {
            f.add(HONORIFIC_NEAR, key(HONORIFIC_NEAR, 2));
        }
        if izafat[i] {
            f.add(IZAFAT, key(IZAFAT, 0));
        }
        if i > 0 && izafat[i - 1] {
            f.add(IZAFAT_BEFORE, key(IZAFAT_BEFORE, 0));
        }
        for (slot, d) in [(1u64, -2isize), (2, -1), (3, 1), (4, 2)] {
            f.add(NEIGHBOUR, mix(key(NEIGHBOUR, slot), at(ii + d)));
        }
        f.add(PAIR, mix(mix(key(PAIR, 1), at(ii - 1)), word_hashes[i]));
        f.add(PAIR, mix(mix(key(PAIR, 2), word_hashes[i]), at(ii + 1)));
        for (slot, d) in [(1u64, -1isize), (2, 1)] {
            let j = ii + d;
            if j >= 0 && (j as usize) < n {
                let c: Vec<char> = input.folded[j as usize].chars().collect();
                let k = 2.min(c.len());
                f.add(SUFFIX_NEAR, mix(key(SUFFIX_NEAR, slot), hash_chars(0, &c[c.len() - k..])));
            }
        }
        if i == 0 {
            f.add(POSITION, key(POSITION, 1));
        }
        if i == 1 {
            f.add(POSITION, key(POSITION, 2));
        }
        if i + 2 == n {
            f.add(POSITION, key(POSITION, 3));
        }
        if i + 1 == n {
            f.add(POSITION, key(POSITION, 4));
        }
        if input.tokens[i].punct_after {
            f.add(PUNCT, key(PUNCT, 1));
        }
        if i > 0 && input.tokens[i - 1].punct_after {
            f.add(PUNCT, key(PUNCT, 2));
        }
        for (source, hits) in [(0u64, input.reference), (1, input.gold)] {
            if let Some(hit) = hits[i] {
                f.add(NAME_HIT, key(NAME_HIT, source << 32 | (part_id(hit.part) << 16) | hit.entity_type as u64));
                f.add(NAME_PART, key(NAME_PART, source << 32 | part_id(hit.part)));
                f.add(NAME_HIT, key(NAME_HIT, source << 32 | 0xFFFF_0000 | hit.entity_type as u64));
                if hit.ambiguous {
                    f.add(NAME_AMBIGUOUS, key(NAME_AMBIGUOUS, source));
                }
            }
            for (slot, d) in [(1u64, -1isize), (2, 1)] {
                let j = ii + d;
                if j >= 0
                    && let Some(Some(hit)) = hits.get(j as usize)
                {
                    f.add(NAME_NEAR, key(NAME_NEAR, source << 40 | slot << 32 | hit.entity_type as u64));
                }
            }
        }
        if let Some(ids) = input.clusters[i] {
            for (g, &id) in ids.iter().enumerate() {
                f.add(CLUSTER, key(CLUSTER, (g as u64) << 16 | id as u64));
            }
        }
        for (slot, d) in [(1u64, -1isize), (2, 1)] {
            let j = ii + d;
            if j >= 0
                && let Some(Some(ids)) = input.clusters.get(j as usize)
            {
                for (g, &id) in ids.iter().enumerate().take(2) {
                    f.add(CLUSTER_NEAR, key(CLUSTER_NEAR, slot << 32 | (g as u64) << 16 | id as u64));
                }
            }
        }
        if let Some(rate) = input.honorific_rates[i]
            && rate != super::clusters::HonorificRate::Rarely
        {
            f.add(HONORIFIC_RATE, key(HONORIFIC_RATE, rate as u64));
        }
        // Hits of the built-in Marsiya names, by class.
        if let Some(hit) = input.builtin[i] {
            f.add(BUILTIN_HIT, key(BUILTIN_HIT, (part_id(hit.part) << 16) | hit.entity_type as u64));
            f.add(BUILTIN_HIT, key(BUILTIN_HIT, 0xFFFF_0000 | hit.entity_type as u64));
            if hit.ambiguous {
                f.add(BUILTIN_HIT, key(BUILTIN_HIT, 0xFFFF_FFFF));
            }
        }
        for (slot, d) in [(1u64, -1isize), (2, 1)] {
            let j = ii + d;
            if j >= 0
                && let Some(Some(hit)) = input.builtin.get(j as usize)
            {
                f.add(BUILTIN_NEAR, key(BUILTIN_NEAR, slot << 32 | hit.entity_type as u64));
            }
        }
        if input.builtin[i].is_none()
            && let Some(class) = fuzzy_builtin(word)
        {
            f.add(FUZZY, key(FUZZY, class));
        }
        // Cue words beside the word (a title before a name, a postposition after a place).
        if let Some(c) = cue_of(word) {
            f.add(CUE, key(CUE, c));
        }
        for (slot, d) in [(1u64, -2isize), (2, -1), (3, 1), (4, 2)] {
            let j = ii + d;
            if j >= 0
                && (j as usize) < n
                && let Some(c) = cue_of(input.folded[j as usize])
            {
                f.add(CUE_NEAR, key(CUE_NEAR, slot << 8 | c));
            }
        }
        {
            // A title, a kinship word or an izafat joined to a name beside it: the conjunction
            // (the word's own cue or izafat, the neighbour's name hit) that says whether the two
            // are one span (حضرت زینب, دختر فاطمہ, خلفِ بوتراب) or two.
            let join_of = |j: usize| cue_of(input.folded[j]).filter(|c| *c <= 2).or(izafat[j].then_some(15));
            let hit_of = |j: usize| -> Option<u64> {
                if let Some(h) = input.gold[j] {
                    return Some(1 << 12 | h.entity_type as u64);
                }
                if let Some(h) = input.reference[j] {
                    return Some(h.entity_type as u64);
                }
                input.builtin[j].map(|h| 2 << 12 | h.entity_type as u64)
            };
            if i + 1 < n
                && let (Some(c), Some(h)) = (join_of(i), hit_of(i + 1))
            {
                f.add(JOINED, key(JOINED, 1 << 32 | c << 16 | h));
            }
            if i > 0
                && let (Some(c), Some(h)) = (join_of(i - 1), hit_of(i))
            {
                f.add(JOINED, key(JOINED, 2 << 32 | c << 16 | h));
            }
        }
        if let Some((t, ambiguous)) = input.gold_words[i] {
            f.add(GOLD_WORD, key(GOLD_WORD, t as u64));
            if ambiguous {
                f.add(GOLD_WORD, key(GOLD_WORD, 0xFFFF));
            }
        }
        out.push(f.0);
    }
    out
}

/// The class of the one-word built-in names (of four letters or more) that `folded` is one
/// letter away from (a letter left out, added or changed: شپیر for شبیر), if they agree on one.
fn fuzzy_builtin(folded: &str) -> Option<u64> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<String, Option<u64>>> = std::sync::OnceLock::new();
    fn deletions(w: &[char]) -> impl Iterator<Item = String> + '_ {
        (0..w.len()).map(move |i| w[..i].iter().chain(&w[i + 1..]).collect())
    }
    let table = TABLE.get_or_init(|| {
        let mut table: std::collections::HashMap<String, Option<u64>> = std::collections::HashMap::new();
        let mut put = |k: String, c: u64| {
            let e = table.entry(k).or_insert(Some(c));
            if *e != Some(c) {
                *e = None;
            }
        };
        for (class, name) in super::names::builtin_names() {
            let w: Vec<char> = super::fold(name).chars().collect();
            if w.len() < 4 || w.contains(&' ') {
                continue;
            }
            put(w.iter().collect(), *class as u64);
            for d in deletions(&w) {
                put(d, *class as u64);
            }
        }
        table
    });
    let w: Vec<char> = folded.chars().collect();
    if w.len() < 3 {
        return None;
    }
    let mut found: Option<u64> = None;
    for k in std::iter::once(folded.to_owned()).chain(deletions(&w)) {
        match table.get(&k) {
            Some(Some(c)) if found.is_none_or(|f| f == *c) => found = Some(*c),
            Some(_) => return None,
            None => {}
        }
    }
    found
}

/// A word's keys as they are made: the lowest bit of each says whether its template is light.
struct Keys(Vec<u64>);

impl Keys {
    fn add(&mut self, template: u64, key: u64) {
        self.0.push((key & !1) | LIGHT.contains(&template) as u64);
    }
}

fn part_id(part: Part) -> u64 {
    match part {
        Part::Outside => 0,
        Part::Begin => 1,
        Part::Inside => 2,
        Part::Last => 3,
        Part::Unit => 4,
    }
}

/// An izafat written on the word: a final zer, or ۂ / ۓ (or their decomposed forms).
pub fn has_izafat(word: &str) -> bool {
    let mut rev = word.chars().rev().filter(|c| !HONORIFICS.contains(c));
    matches!(
        (rev.next(), rev.next()),
        (Some('\u{0650}' | '\u{06C2}' | '\u{06D3}'), _)
            | (Some('\u{0654}'), Some('\u{06C1}' | '\u{06D2}' | '\u{0647}'))
    )
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The final mix of splitmix64: every input bit reaches every output bit.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn key(template: u64, value: u64) -> u64 {
    finalize(template.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ finalize(value ^ 0x5851_f42d_4c95_7f2d))
}

fn mix(a: u64, b: u64) -> u64 {
    finalize(a ^ b.rotate_left(23).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn hash_str(template: u64, s: &str) -> u64 {
    let mut h = FNV_OFFSET ^ template;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    finalize(h)
}

fn hash_chars(template: u64, chars: &[char]) -> u64 {
    let mut h = FNV_OFFSET ^ template;
    for &c in chars {
        h ^= c as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    finalize(h)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_word_one_letter_from_a_builtin_name_is_a_fuzzy_hit_of_its_class() {
        let person = super::super::names::BUILTIN_CLASSES.iter().position(|c| *c == "PERSON").unwrap() as u64;
        // شپیر (پ for ب) and شبیرر (a letter added) are شبیر; a short word, or one far from
        // every name, is nothing.
        assert_eq!(fuzzy_builtin(&crate::learn::fold("شپیر")), Some(person));
        assert_eq!(fuzzy_builtin(&crate::learn::fold("شبیرر")), Some(person));
        assert_eq!(fuzzy_builtin(&crate::learn::fold("کا")), None);
        assert_eq!(fuzzy_builtin(&crate::learn::fold("دروازہ")), None);
    }
    use super::*;
    use crate::learn::fold;
    use crate::learn::tokens::tokenize;

    fn features(line: &str) -> Vec<Vec<u64>> {
        let tokens = tokenize(line);
        let folded: Vec<String> = tokens.iter().map(|t| fold(t.text)).collect();
        let folded: Vec<&str> = folded.iter().map(String::as_str).collect();
        let none = vec![None; tokens.len()];
        let no_words = vec![None; tokens.len()];
        let no_clusters = vec![None; tokens.len()];
        let no_rates = vec![None; tokens.len()];
        line_features(&LineInput {
            tokens: &tokens,
            folded: &folded,
            reference: &none,
            gold: &none,
            builtin: &none,
            gold_words: &no_words,
            clusters: &no_clusters,
            honorific_rates: &no_rates,
        })
    }

    #[test]
    fn izafat_is_read_from_zer_and_hamza_heh() {
        assert!(has_izafat("شاہِ"));
        assert!(has_izafat("چہرۂ"));
        assert!(has_izafat("خانہ\u{0654}"));
        assert!(!has_izafat("شاہ"));
        assert!(!has_izafat("حسینؑ"));
    }

    #[test]
    fn spellings_of_one_word_share_its_features_but_the_honorific() {
        // Arabic yeh and a damma fold away; the honorific adds features of its own.
        let plain = features("حسین آئے");
        let variant = features("حُسين آئے");
        let marked = features("حسینؑ آئے");
        assert_eq!(plain[0], variant[0]);
        assert!(marked[0].len() > plain[0].len());
        assert!(plain[0].iter().all(|k| marked[0].contains(k)));
        // The next word sees the honorific beside it.
        assert_ne!(plain[1], marked[1]);
    }

    #[test]
    fn features_are_keys_of_their_values_not_of_their_place_in_the_text() {
        let a = features("یا علی مدد");
        let b = features("یا علی مدد");
        assert_eq!(a, b);
        let c = features("یا علی کرم");
        assert_ne!(a[1], c[1], "the next word is a feature");
        assert_eq!(a[0][..3], c[0][..3]);
    }
}
