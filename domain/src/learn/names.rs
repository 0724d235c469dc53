//! Name lists as tagger features: gazetteers, knowledge-base aliases, type examples (names the
//! caller supplies) and the gold the model learnt from. A name is matched word by word under
//! [`fold`](super::fold), so it is found whatever its diacritics, honorifics or letter variants;
//! matches are leftmost-longest and do not overlap. A name listed under several types reports its
//! most frequent type (ties: the type listed first) and that it is ambiguous.

use std::collections::HashMap;

use super::labels::Part;
use super::tokens::tokenize;

/// Where a name comes from: its hits are separate features, since a list someone curated and the
/// gold of the project are not equally reliable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, Default)]
pub enum NameSource {
    /// A gazetteer, a type's examples, an approved knowledge-base alias.
    #[default]
    Reference,
    /// Verified or curated entities of the project.
    Gold,
}

/// A name to look for, with the type key it stands for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Name {
    pub text: String,
    pub label: String,
    #[serde(default)]
    pub source: NameSource,
}

/// A project's reference names, as training and extraction give them to the tagger: the active
/// entity types' examples, then the knowledge base's approved names and aliases (`approved`).
pub fn reference_names(
    types: &[crate::entity_type::EntityType],
    approved: impl IntoIterator<Item = (String, crate::ids::EntityTypeId)>,
) -> Vec<(String, crate::ids::EntityTypeId)> {
    let examples = types.iter().filter(|t| t.is_active).flat_map(|t| t.examples.iter().map(move |x| (x.clone(), t.id)));
    examples.chain(approved).collect()
}

impl Name {
    pub fn reference(text: impl Into<String>, label: impl Into<String>) -> Self {
        Self { text: text.into(), label: label.into(), source: NameSource::Reference }
    }

    pub fn gold(text: impl Into<String>, label: impl Into<String>) -> Self {
        Self { text: text.into(), label: label.into(), source: NameSource::Gold }
    }
}

/// A word's place in a name found in its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub part: Part,
    /// The name's most frequent type.
    pub entity_type: usize,
    /// The name is listed under more than one type.
    pub ambiguous: bool,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    /// The folded words after the first.
    rest: Vec<String>,
    /// How often the name is listed under each type.
    counts: Vec<u32>,
}

/// Names of one source, indexed by their first folded word.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    types: usize,
    by_first: HashMap<String, Vec<Entry>>,
    /// Per folded word: how often it is a word of a name of each type.
    words: HashMap<String, Vec<u32>>,
}

impl NameIndex {
    pub fn new(types: usize) -> Self {
        Self { types, ..Self::default() }
    }

    /// Adds a name under type `entity_type`; a name without a word is ignored.
    pub fn add(&mut self, text: &str, entity_type: usize) {
        let words: Vec<String> = tokenize(text).iter().map(|t| super::fold(t.text)).collect();
        self.add_words(&words, entity_type);
    }

    /// Adds a name given as folded words.
    pub fn add_words(&mut self, words: &[String], entity_type: usize) {
        let Some((first, rest)) = words.split_first() else { return };
        for w in words {
            self.words.entry(w.clone()).or_insert_with(|| vec![0; self.types])[entity_type] += 1;
        }
        let entries = self.by_first.entry(first.clone()).or_default();
        let entry = match entries.iter_mut().position(|e| e.rest == rest) {
            Some(i) => &mut entries[i],
            None => {
                entries.push(Entry { rest: rest.to_vec(), counts: vec![0; self.types] });
                entries.last_mut().expect("just pushed")
            }
        };
        entry.counts[entity_type] += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.by_first.is_empty()
    }

    /// How many distinct names.
    pub fn len(&self) -> usize {
        self.by_first.values().map(Vec::len).sum()
    }

    /// The hit of each word of a line (its folded words), leftmost-longest.
    pub fn hits<S: AsRef<str>>(&self, folded: &[S]) -> Vec<Option<Hit>> {
        let mut out = vec![None; folded.len()];
        let mut i = 0;
        while i < folded.len() {
            let best = self.by_first.get(folded[i].as_ref()).and_then(|entries| {
                entries
                    .iter()
                    .filter(|e| {
                        i + e.rest.len() < folded.len()
                            && e.rest.iter().zip(&folded[i + 1..]).all(|(a, b)| a == b.as_ref())
                    })
                    .max_by_key(|e| e.rest.len())
            });
            match best {
                Some(entry) => {
                    let (entity_type, ambiguous) = majority(&entry.counts);
                    let n = entry.rest.len() + 1;
                    for (k, slot) in out[i..i + n].iter_mut().enumerate() {
                        let part = match (n, k) {
                            (1, _) => Part::Unit,
                            (_, 0) => Part::Begin,
                            (n, k) if k == n - 1 => Part::Last,
                            _ => Part::Inside,
                        };
                        *slot = Some(Hit { part, entity_type, ambiguous });
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        out
    }

    /// The most frequent type a folded word is part of a name of, if any.
    pub fn word_type(&self, folded: &str) -> Option<(usize, bool)> {
        self.words.get(folded).map(|counts| majority(counts))
    }
}

/// The classes of the built-in Marsiya names ([`builtin`]), in the order of their ids.
pub const BUILTIN_CLASSES: [&str; 7] = ["PERSON", "TITLE", "PLACE", "GROUP", "TIME", "DAY", "COUNT"];

/// The built-in names of the Marsiya tradition (`marsiya_names.tsv`), each under its class's
/// index in [`BUILTIN_CLASSES`]. A hit is a feature of the class, whatever the project calls
/// its types.
pub fn builtin() -> &'static NameIndex {
    static BUILTIN: std::sync::OnceLock<NameIndex> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(|| {
        let mut index = NameIndex::new(BUILTIN_CLASSES.len());
        for (class, name) in builtin_names() {
            index.add(name, *class);
        }
        index
    })
}

/// The built-in names as listed: (class index, name).
pub fn builtin_names() -> &'static [(usize, String)] {
    static NAMES: std::sync::OnceLock<Vec<(usize, String)>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        include_str!("marsiya_names.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (class, name) = line.split_once('\t').expect("a class and a name");
                let c = BUILTIN_CLASSES.iter().position(|k| *k == class).expect("a known class");
                (c, name.to_owned())
            })
            .collect()
    })
}

/// The most frequent type (first on ties) and whether another type occurs too.
fn majority(counts: &[u32]) -> (usize, bool) {
    let mut best = 0;
    for (t, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = t;
        }
    }
    (best, counts.iter().filter(|&&c| c > 0).count() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::fold;

    fn folded(line: &str) -> Vec<String> {
        tokenize(line).iter().map(|t| fold(t.text)).collect()
    }

    #[test]
    fn names_match_whole_words_under_folding_longest_first() {
        let mut index = NameIndex::new(2);
        index.add("حسین", 0);
        index.add("حسین ابن علی", 0);
        index.add("کربلا", 1);
        let hits = index.hits(&folded("حُسینؑ ابن علیؑ كربلا میں حسینی"));
        let parts: Vec<Option<(Part, usize)>> = hits.iter().map(|h| h.map(|h| (h.part, h.entity_type))).collect();
        assert_eq!(
            parts,
            [Some((Part::Begin, 0)), Some((Part::Inside, 0)), Some((Part::Last, 0)), Some((Part::Unit, 1)), None, None]
        );
    }

    #[test]
    fn an_ambiguous_name_reports_its_most_frequent_type() {
        let mut index = NameIndex::new(2);
        index.add("شام", 1);
        index.add("شام", 0);
        index.add("شام", 1);
        let hit = index.hits(&folded("شام"))[0].unwrap();
        assert_eq!((hit.entity_type, hit.ambiguous), (1, true));
        assert_eq!(index.word_type("شام"), Some((1, true)));
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn the_builtin_names_are_found_under_folding_by_class() {
        let hits = builtin().hits(&folded("اے نہر علقمہ، علی اکبرؑ کدھر گیا"));
        let classes: Vec<Option<(Part, &str)>> =
            hits.iter().map(|h| h.map(|h| (h.part, BUILTIN_CLASSES[h.entity_type]))).collect();
        assert_eq!(
            classes,
            [
                None,
                Some((Part::Begin, "PLACE")),
                Some((Part::Last, "PLACE")),
                Some((Part::Begin, "PERSON")),
                Some((Part::Last, "PERSON")),
                None,
                None
            ]
        );
        // شام is a place (Syria) and a time (evening): both classes, ambiguous.
        assert!(builtin().hits(&folded("شام"))[0].unwrap().ambiguous);
    }

    #[test]
    fn a_name_running_past_the_line_does_not_match() {
        let mut index = NameIndex::new(1);
        index.add("علی اکبر", 0);
        assert_eq!(index.hits(&folded("یا علی")), [None, None]);
    }
}
