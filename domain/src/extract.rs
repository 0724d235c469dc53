//! The built-in extractor: offline, deterministic, no key. It looks for a gazetteer of names,
//! the examples of the active entity types and every entity researchers verified in the
//! project, so it grows as they verify. One Aho-Corasick automaton finds all names in one pass;
//! a match counts only as a whole word (no match inside a longer word), extended over the
//! honorifics and diacritics written after a name ("حسین" finds "حسینؑ").

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::ids::EntityTypeId;
use crate::text::occurrences::{is_arabic_mark, is_whole_word};

/// A name to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct GazetteerEntry {
    pub text: String,
    pub entity_type: EntityTypeId,
    pub confidence: f64,
}

/// A name found in a text, by code-point offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: u32,
    pub end: u32,
    pub entity_type: EntityTypeId,
    pub confidence: f64,
}

pub struct Gazetteer {
    automaton: Option<AhoCorasick>,
    entries: Vec<GazetteerEntry>,
}

impl Gazetteer {
    /// Builds the automaton. A name listed under several types keeps the entry with the
    /// highest confidence (a verified entity outweighs a type's example).
    pub fn new(entries: impl IntoIterator<Item = GazetteerEntry>) -> Self {
        let mut best: HashMap<String, GazetteerEntry> = HashMap::new();
        for e in entries {
            let text = e.text.trim().to_owned();
            if text.is_empty() {
                continue;
            }
            match best.get(&text) {
                Some(existing) if existing.confidence >= e.confidence => {}
                _ => {
                    best.insert(text.clone(), GazetteerEntry { text, ..e });
                }
            }
        }
        let mut entries: Vec<GazetteerEntry> = best.into_values().collect();
        entries.sort_by(|a, b| a.text.cmp(&b.text));
        let automaton = (!entries.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(entries.iter().map(|e| e.text.as_str()))
                .expect("an automaton of a few thousand names builds")
        });
        Self { automaton, entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every whole-word occurrence of a name; where names overlap, the longest wins, then the
    /// leftmost.
    pub fn find(&self, text: &str) -> Vec<Found> {
        let Some(automaton) = &self.automaton else { return vec![] };
        let mut candidates: Vec<(usize, usize, usize)> = automaton
            .find_overlapping_iter(text)
            .filter_map(|m| {
                let end = extend_over_marks(text, m.end());
                is_whole_word(text, m.start(), end).then_some((m.start(), end, m.pattern().as_usize()))
            })
            .collect();
        candidates.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut chosen: Vec<(usize, usize, usize)> = Vec::new();
        for (s, e, p) in candidates {
            if taken.iter().all(|&(ts, te)| e <= ts || s >= te) {
                taken.push((s, e));
                chosen.push((s, e, p));
            }
        }
        chosen.sort_by_key(|c| c.0);
        // Byte offsets to code points in one pass: the chosen spans are disjoint and in order,
        // so each stretch of the text is counted once (no offset table of the whole text).
        let (mut byte, mut chars) = (0usize, 0u32);
        let mut char_at = |at: usize| {
            chars += crate::text::to_u32(text[byte..at].chars().count());
            byte = at;
            chars
        };
        chosen
            .into_iter()
            .map(|(s, e, p)| {
                let entry = &self.entries[p];
                let start = char_at(s);
                Found { start, end: char_at(e), entity_type: entry.entity_type, confidence: entry.confidence }
            })
            .collect()
    }
}

/// The byte offset after the combining marks (not letters) that follow `end`.
fn extend_over_marks(text: &str, end: usize) -> usize {
    let mut end = end;
    for c in text[end..].chars() {
        if is_arabic_mark(c) {
            end += c.len_utf8();
        } else {
            break;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str, t: EntityTypeId, confidence: f64) -> GazetteerEntry {
        GazetteerEntry { text: text.into(), entity_type: t, confidence }
    }

    fn spans(text: &str, found: &[Found]) -> Vec<String> {
        found.iter().map(|f| text.chars().skip(f.start as usize).take((f.end - f.start) as usize).collect()).collect()
    }

    #[test]
    fn whole_words_with_their_honorifics() {
        let person = EntityTypeId::new();
        let place = EntityTypeId::new();
        let g = Gazetteer::new([entry("حسین", person, 0.6), entry("علی", person, 0.6), entry("کربلا", place, 0.6)]);
        let text = "حسینؑ ابن علیؑ کربلا میں، علیم نہیں";
        let found = g.find(text);
        assert_eq!(spans(text, &found), ["حسینؑ", "علیؑ", "کربلا"]);
        assert_eq!(found[2].entity_type, place);
    }

    #[test]
    fn longest_name_wins_and_verified_outweighs_examples() {
        let person = EntityTypeId::new();
        let title = EntityTypeId::new();
        let g = Gazetteer::new([
            entry("علی", person, 0.6),
            entry("علی اکبر", person, 0.9),
            entry("امام", title, 0.6),
            entry("امام", person, 0.9),
        ]);
        let text = "امام علی اکبر";
        let found = g.find(text);
        assert_eq!(spans(text, &found), ["امام", "علی اکبر"]);
        assert_eq!(found[0].entity_type, person, "the verified reading of a name wins");
        assert_eq!(found[0].confidence, 0.9);
    }

    #[test]
    fn empty_gazetteer_finds_nothing() {
        assert!(Gazetteer::new([]).find("کربلا").is_empty());
    }
}
