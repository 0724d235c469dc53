//! The candidate index of one project's knowledge base: which entries a piece of text may name.
//! Every name and alias is kept under its folded key (`text::fold_key`, the folding of
//! model-output alignment), and a text is matched in three ways, best first:
//! - exact: the text's key is a name's key (score 1);
//! - prefix: the text's key begins a name's key, or begins one of its later words (a partial
//!   name as a researcher types it; score 0.5–0.9 for a whole-name prefix, 0.4–0.8 for a word,
//!   the larger the share of the name typed);
//! - fuzzy: the keys are within a small edit distance (1 for keys of 3–5 characters, 2 up to
//!   10, 3 beyond; none below 3), found through shared character bigrams and checked by
//!   Levenshtein distance; score 0.9 × (1 − distance / longer length).
//!
//! Each entry is answered once, with its best-matching name (`matched_alias`); ties go to
//! approved entries, then in order of their folded names. The index changes in place
//! ([`CandidateIndex::upsert`], [`CandidateIndex::remove`]) so it can be kept fresh one entry
//! at a time; no query walks every name except [`CandidateIndex::search`].

use std::collections::{BTreeMap, HashMap};

use crate::ids::{EntityTypeId, KnowledgeItemId};
use crate::text::fold_key;

/// One entry as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedItem {
    pub id: KnowledgeItemId,
    pub entity_type_id: EntityTypeId,
    pub approved: bool,
    /// The name first, then the aliases.
    pub names: Vec<String>,
}

/// How a candidate matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    Exact,
    Prefix,
    Fuzzy,
}

/// An entry a text may name.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub item: KnowledgeItemId,
    pub entity_type_id: EntityTypeId,
    pub score: f64,
    /// The name or alias (as written in the entry) that matched best.
    pub matched_alias: String,
    pub kind: MatchKind,
    pub approved: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    id: KnowledgeItemId,
    entity_type_id: EntityTypeId,
    approved: bool,
    /// The folded name, for ordering ties.
    sort_key: String,
    slots: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Slot {
    entry: u32,
    alias: String,
    key: String,
    chars: Box<[char]>,
}

#[derive(Debug, Clone, Default)]
pub struct CandidateIndex {
    entries: Vec<Option<Entry>>,
    free_entries: Vec<u32>,
    by_id: HashMap<KnowledgeItemId, u32>,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<u32>,
    /// Whole folded names → slots.
    keys: BTreeMap<String, Vec<u32>>,
    /// A folded name from its second, third, ... word on → slots.
    words: BTreeMap<String, Vec<u32>>,
    /// A bigram of a padded folded name → slots holding it (each slot once).
    grams: HashMap<u64, Vec<u32>>,
}

const START: char = '\u{2}';
const END: char = '\u{3}';

/// The distinct bigrams of a key padded with a start and an end mark.
fn bigrams(chars: &[char]) -> Vec<u64> {
    let mut padded = Vec::with_capacity(chars.len() + 2);
    padded.push(START);
    padded.extend_from_slice(chars);
    padded.push(END);
    let mut grams: Vec<u64> = padded.windows(2).map(|w| (u64::from(w[0]) << 32) | u64::from(w[1])).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// The edit distance a fuzzy match of a key of `len` characters may have.
fn max_distance(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3..=5 => 1,
        6..=10 => 2,
        _ => 3,
    }
}

/// Levenshtein distance of `a` and `b` if it is at most `max`.
#[cfg(test)]
fn distance_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    distance_with(a, b, max, &mut (Vec::new(), Vec::new()))
}

/// [`distance_within`], with two rows a caller reuses from call to call.
fn distance_with(a: &[char], b: &[char], max: usize, rows: &mut (Vec<usize>, Vec<usize>)) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let (prev, row) = (&mut rows.0, &mut rows.1);
    prev.clear();
    prev.extend(0..=b.len());
    row.clear();
    row.resize(b.len() + 1, 0);
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        let mut best = row[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            best = best.min(row[j + 1]);
        }
        if best > max {
            return None;
        }
        std::mem::swap(prev, row);
    }
    Some(prev[b.len()]).filter(|&d| d <= max)
}

fn remove_from(map: &mut BTreeMap<String, Vec<u32>>, key: &str, slot: u32) {
    if let Some(list) = map.get_mut(key) {
        list.retain(|&s| s != slot);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

/// The keys of a name from its second word on ("شاہ کربلا" → ["کربلا"]).
fn later_words(key: &str) -> impl Iterator<Item = &str> {
    key.char_indices().filter(|&(_, c)| c == ' ').map(move |(i, _)| &key[i + 1..]).filter(|s| !s.is_empty())
}

impl CandidateIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Names and aliases held.
    pub fn name_count(&self) -> usize {
        self.slots.len() - self.free_slots.len()
    }

    pub fn contains(&self, id: KnowledgeItemId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Adds an entry, or replaces what the index holds of it.
    pub fn upsert(&mut self, item: IndexedItem) {
        self.remove(item.id);
        let sort_key = fold_key(item.names.first().map_or("", String::as_str));
        let entry = Entry {
            id: item.id,
            entity_type_id: item.entity_type_id,
            approved: item.approved,
            sort_key,
            slots: Vec::new(),
        };
        let e = match self.free_entries.pop() {
            Some(i) => {
                self.entries[i as usize] = Some(entry);
                i
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.by_id.insert(item.id, e);
        let mut seen = std::collections::HashSet::new();
        for alias in item.names {
            let key = fold_key(&alias);
            if key.is_empty() || !seen.insert(key.clone()) {
                continue;
            }
            let chars: Box<[char]> = key.chars().collect();
            let grams = bigrams(&chars);
            let slot = Slot { entry: e, alias, key: key.clone(), chars };
            let s = match self.free_slots.pop() {
                Some(i) => {
                    self.slots[i as usize] = Some(slot);
                    i
                }
                None => {
                    self.slots.push(Some(slot));
                    (self.slots.len() - 1) as u32
                }
            };
            for w in later_words(&key) {
                self.words.entry(w.to_owned()).or_default().push(s);
            }
            self.keys.entry(key).or_default().push(s);
            for g in grams {
                self.grams.entry(g).or_default().push(s);
            }
            if let Some(entry) = self.entries[e as usize].as_mut() {
                entry.slots.push(s);
            }
        }
    }

    /// Takes an entry out (nothing happens for one it does not hold).
    pub fn remove(&mut self, id: KnowledgeItemId) {
        let Some(e) = self.by_id.remove(&id) else { return };
        let Some(entry) = self.entries[e as usize].take() else { return };
        self.free_entries.push(e);
        for s in entry.slots {
            let Some(slot) = self.slots[s as usize].take() else { continue };
            self.free_slots.push(s);
            remove_from(&mut self.keys, &slot.key, s);
            for w in later_words(&slot.key) {
                remove_from(&mut self.words, w, s);
            }
            for g in bigrams(&slot.chars) {
                if let Some(list) = self.grams.get_mut(&g) {
                    list.retain(|&x| x != s);
                    if list.is_empty() {
                        self.grams.remove(&g);
                    }
                }
            }
        }
    }

    fn slot(&self, s: u32) -> Option<(&Slot, &Entry)> {
        let slot = self.slots[s as usize].as_ref()?;
        let entry = self.entries[slot.entry as usize].as_ref()?;
        Some((slot, entry))
    }

    /// The entries `text` may name, best first, at most `first` of them; only entries of
    /// `entity_type` when given. A text that folds to nothing names none.
    pub fn candidates(&self, text: &str, entity_type: Option<EntityTypeId>, first: usize) -> Vec<Candidate> {
        let key = fold_key(text);
        if key.is_empty() || first == 0 {
            return Vec::new();
        }
        let query: Vec<char> = key.chars().collect();
        // The best (score, slot, kind) of each entry; the candidate is made for the winners only.
        let mut best: HashMap<u32, (f64, u32, MatchKind)> = HashMap::new();
        let mut offer = |index: &Self, s: u32, score: f64, kind: MatchKind| {
            let Some((slot, entry)) = index.slot(s) else { return };
            if entity_type.is_some_and(|t| t != entry.entity_type_id) {
                return;
            }
            match best.entry(slot.entry) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((score, s, kind));
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let (old, old_slot, _) = *o.get();
                    let shorter = || {
                        index
                            .slot(old_slot)
                            .is_none_or(|(was, _)| slot.alias.chars().count() < was.alias.chars().count())
                    };
                    if score > old || (score == old && shorter()) {
                        o.insert((score, s, kind));
                    }
                }
            }
        };
        // Exact and whole-name prefixes: one ordered range of keys.
        for (k, slots) in self.keys.range(key.clone()..).take_while(|(k, _)| k.starts_with(&key)) {
            let (score, kind) = if *k == key {
                (1.0, MatchKind::Exact)
            } else {
                (0.5 + 0.4 * query.len() as f64 / k.chars().count() as f64, MatchKind::Prefix)
            };
            for &s in slots {
                offer(self, s, score, kind);
            }
        }
        for (k, slots) in self.words.range(key.clone()..).take_while(|(k, _)| k.starts_with(&key)) {
            let score = 0.4 + 0.4 * query.len() as f64 / k.chars().count() as f64;
            for &s in slots {
                offer(self, s, score, MatchKind::Prefix);
            }
        }
        // Fuzzy: names sharing enough bigrams (counted in one array), then checked by edit
        // distance with reused rows.
        let max = max_distance(query.len());
        if max > 0 {
            let grams = bigrams(&query);
            let needed = grams.len().saturating_sub(2 * max).max(1) as u16;
            let mut shared = vec![0u16; self.slots.len()];
            let mut touched: Vec<u32> = Vec::new();
            for g in &grams {
                for &s in self.grams.get(g).map_or(&[][..], Vec::as_slice) {
                    let n = &mut shared[s as usize];
                    *n += 1;
                    if *n == needed {
                        touched.push(s);
                    }
                }
            }
            let mut rows = (Vec::new(), Vec::new());
            for s in touched {
                let Some((slot, _)) = self.slot(s) else { continue };
                if let Some(d) = distance_with(&query, &slot.chars, max, &mut rows).filter(|&d| d > 0) {
                    let longer = query.len().max(slot.chars.len()) as f64;
                    offer(self, s, 0.9 * (1.0 - d as f64 / longer), MatchKind::Fuzzy);
                }
            }
        }
        let mut found: Vec<(f64, bool, &str, KnowledgeItemId, u32, MatchKind)> = best
            .into_iter()
            .filter_map(|(e, (score, s, kind))| {
                let entry = self.entries[e as usize].as_ref()?;
                Some((score, entry.approved, entry.sort_key.as_str(), entry.id, s, kind))
            })
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)).then(a.3.cmp(&b.3)));
        found
            .into_iter()
            .take(first)
            .filter_map(|(score, approved, _, item, s, kind)| {
                let (slot, entry) = self.slot(s)?;
                Some(Candidate {
                    item,
                    entity_type_id: entry.entity_type_id,
                    score,
                    matched_alias: slot.alias.clone(),
                    kind,
                    approved,
                })
            })
            .collect()
    }

    /// The entries with a name or alias whose folded key is exactly `text`'s, of `entity_type`
    /// when given: `(entry, approved)`, each entry once.
    pub fn exact(&self, text: &str, entity_type: Option<EntityTypeId>) -> Vec<(KnowledgeItemId, bool)> {
        let key = fold_key(text);
        let mut out: Vec<(KnowledgeItemId, bool)> = Vec::new();
        for &s in self.keys.get(&key).map_or(&[][..], Vec::as_slice) {
            if let Some((_, entry)) = self.slot(s)
                && entity_type.is_none_or(|t| t == entry.entity_type_id)
                && !out.iter().any(|(id, _)| *id == entry.id)
            {
                out.push((entry.id, entry.approved));
            }
        }
        out
    }

    /// The entries with a name or alias whose folded key contains `text`'s (all entries for a
    /// blank text), narrowed to a type and to approved ones when asked, in id order.
    pub fn search(
        &self,
        text: &str,
        entity_type: Option<EntityTypeId>,
        approved: Option<bool>,
    ) -> Vec<KnowledgeItemId> {
        let key = fold_key(text);
        let mut out: Vec<KnowledgeItemId> = self
            .entries
            .iter()
            .flatten()
            .filter(|e| entity_type.is_none_or(|t| t == e.entity_type_id))
            .filter(|e| approved.is_none_or(|a| a == e.approved))
            .filter(|e| {
                key.is_empty()
                    || e.slots.iter().any(|&s| self.slots[s as usize].as_ref().is_some_and(|sl| sl.key.contains(&key)))
            })
            .map(|e| e.id)
            .collect();
        out.sort();
        out
    }

    /// Pairs of entries of one type that share a folded name or alias: `(a, b, key)` with
    /// `a < b`, each pair once (likely duplicates, for merge proposals).
    pub fn shared_names(&self) -> Vec<(KnowledgeItemId, KnowledgeItemId, String)> {
        let mut pairs: BTreeMap<(KnowledgeItemId, KnowledgeItemId), String> = BTreeMap::new();
        for (key, slots) in &self.keys {
            let owners: Vec<&Entry> = slots.iter().filter_map(|&s| self.slot(s).map(|(_, e)| e)).collect();
            for (i, a) in owners.iter().enumerate() {
                for b in &owners[i + 1..] {
                    if a.id != b.id && a.entity_type_id == b.entity_type_id {
                        let pair = if a.id < b.id { (a.id, b.id) } else { (b.id, a.id) };
                        pairs.entry(pair).or_insert_with(|| key.clone());
                    }
                }
            }
        }
        pairs.into_iter().map(|((a, b), k)| (a, b, k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn item(id: KnowledgeItemId, t: EntityTypeId, names: &[&str]) -> IndexedItem {
        IndexedItem { id, entity_type_id: t, approved: false, names: names.iter().map(|n| n.to_string()).collect() }
    }

    struct Kb {
        index: CandidateIndex,
        husain: KnowledgeItemId,
        abbas: KnowledgeItemId,
        karbala: KnowledgeItemId,
        person: EntityTypeId,
        place: EntityTypeId,
    }

    fn kb() -> Kb {
        let (person, place) = (EntityTypeId::new(), EntityTypeId::new());
        let (husain, abbas, karbala) = (KnowledgeItemId::new(), KnowledgeItemId::new(), KnowledgeItemId::new());
        let mut index = CandidateIndex::new();
        index.upsert(item(husain, person, &["حسینؑ", "شبیر", "سرور", "شاہِ کربلا", "حسین ابن علی"]));
        index.upsert(item(abbas, person, &["عباسؑ", "علمدار", "ابوالفضل"]));
        index.upsert(item(karbala, place, &["کربلا", "نینوا"]));
        Kb { index, husain, abbas, karbala, person, place }
    }

    #[test]
    fn variant_spellings_match_exactly() {
        let kb = kb();
        for text in ["حسین", "حسين", "حُسینؑ", "شاہ کربلا", "شاهِ كربلا", "شبّیر"] {
            let found = kb.index.candidates(text, None, 5);
            assert_eq!(found[0].item, kb.husain, "{text}");
            assert_eq!((found[0].score, found[0].kind), (1.0, MatchKind::Exact), "{text}");
        }
        let found = kb.index.candidates("شاه كربلا", None, 5);
        assert_eq!(found[0].matched_alias, "شاہِ کربلا", "the alias as the entry writes it");
    }

    #[test]
    fn prefixes_of_names_and_of_their_words() {
        let kb = kb();
        let found = kb.index.candidates("ابوال", None, 5);
        assert_eq!(
            (found[0].item, found[0].kind, found[0].matched_alias.as_str()),
            (kb.abbas, MatchKind::Prefix, "ابوالفضل")
        );
        assert!(found[0].score > 0.5 && found[0].score < 0.9);
        // "کربلا" is a place exactly, and a later word of one of Husain's titles.
        let found = kb.index.candidates("کربلا", None, 5);
        assert_eq!(found.iter().map(|c| c.item).collect::<Vec<_>>(), [kb.karbala, kb.husain]);
        assert_eq!(found[1].matched_alias, "شاہِ کربلا");
        assert_eq!(kb.index.candidates("کربلا", Some(kb.person), 5)[0].item, kb.husain);
        assert_eq!(kb.index.candidates("کربلا", Some(kb.place), 5).len(), 1);
    }

    #[test]
    fn near_misses_match_fuzzily() {
        let kb = kb();
        // A letter missing (علمدر), one wrong (عباص): within one edit of five-letter names.
        for (text, expected) in [("علمدر", kb.abbas), ("عباص", kb.abbas), ("نینوہ", kb.karbala)] {
            let found = kb.index.candidates(text, None, 5);
            assert_eq!((found[0].item, found[0].kind), (expected, MatchKind::Fuzzy), "{text}");
            assert!(found[0].score < 0.9);
        }
        // Short texts are not matched loosely.
        assert!(kb.index.candidates("عب", None, 5).iter().all(|c| c.kind == MatchKind::Prefix));
        assert!(kb.index.candidates("دمشق", None, 5).is_empty());
    }

    #[test]
    fn each_entry_once_ranked_and_limited() {
        let kb = kb();
        let found = kb.index.candidates("حسین", None, 5);
        assert_eq!(found.iter().filter(|c| c.item == kb.husain).count(), 1);
        let all = kb.index.candidates("ع", None, 10);
        assert!(all.windows(2).all(|w| w[0].score >= w[1].score));
        assert_eq!(kb.index.candidates("ع", None, 1).len(), 1);
        assert!(kb.index.candidates("\u{0611}", None, 5).is_empty());
    }

    #[test]
    fn ties_go_to_approved_entries() {
        let t = EntityTypeId::new();
        let (a, b) = (KnowledgeItemId::new(), KnowledgeItemId::new());
        let mut index = CandidateIndex::new();
        // "ب" sorts before "ع": without approval, the first would lead.
        index.upsert(item(a, t, &["بعلی", "علی"]));
        index.upsert(IndexedItem { approved: true, ..item(b, t, &["علی"]) });
        let found = index.candidates("علی", None, 5);
        assert_eq!(found.iter().map(|c| c.item).collect::<Vec<_>>(), [b, a]);
        assert!(found[1].score == found[0].score && found[0].approved);
    }

    #[test]
    fn updates_and_removals_take_effect() {
        let mut kb = kb();
        kb.index.upsert(item(kb.abbas, kb.person, &["عباسؑ", "قمر بنی ہاشم"]));
        assert!(kb.index.candidates("علمدار", None, 5).is_empty());
        assert_eq!(kb.index.candidates("قمر بنی ہاشم", None, 5)[0].item, kb.abbas);
        kb.index.remove(kb.karbala);
        assert_eq!(kb.index.candidates("نینوا", None, 5), vec![]);
        assert_eq!(kb.index.len(), 2);
        assert_eq!(kb.index.name_count(), 7);
        assert_eq!(kb.index.exact("حسين", Some(kb.person)), [(kb.husain, false)]);
        assert_eq!(kb.index.search("کربل", None, None), [kb.husain]);
    }

    #[test]
    fn shared_names_suggest_duplicates() {
        let mut kb = kb();
        let other = KnowledgeItemId::new();
        kb.index.upsert(item(other, kb.person, &["سرور", "امام"]));
        let shared = kb.index.shared_names();
        assert_eq!(shared.len(), 1);
        let (a, b, key) = &shared[0];
        assert_eq!([*a.min(b), *a.max(b)], [kb.husain.min(other), kb.husain.max(other)]);
        assert_eq!(key, "سرور");
    }

    /// The reference: every name compared with the text by brute force.
    fn reference(names: &[(usize, String)], text: &str) -> std::collections::BTreeSet<usize> {
        let key = fold_key(text);
        let q: Vec<char> = key.chars().collect();
        let mut out = std::collections::BTreeSet::new();
        if key.is_empty() {
            return out;
        }
        for (i, n) in names {
            let k = fold_key(n);
            let chars: Vec<char> = k.chars().collect();
            let fuzzy = max_distance(q.len()) > 0 && distance_within(&q, &chars, max_distance(q.len())).is_some();
            if k.starts_with(&key) || later_words(&k).any(|w| w.starts_with(&key)) || fuzzy {
                out.insert(*i);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn finds_what_brute_force_finds(
            names in prop::collection::vec("[ابتحسعلمنیہ ]{1,9}", 1..40),
            text in "[ابتحسعلمنیہ]{1,7}",
        ) {
            let t = EntityTypeId::new();
            let ids: Vec<KnowledgeItemId> = names.iter().map(|_| KnowledgeItemId::new()).collect();
            let mut index = CandidateIndex::new();
            for (id, n) in ids.iter().zip(&names) {
                index.upsert(item(*id, t, &[n]));
            }
            let got: std::collections::BTreeSet<usize> = index
                .candidates(&text, None, 1000)
                .iter()
                .map(|c| ids.iter().position(|id| *id == c.item).unwrap())
                .collect();
            let named: Vec<(usize, String)> = names.iter().cloned().enumerate().collect();
            prop_assert_eq!(got, reference(&named, &text));
        }
    }
}
