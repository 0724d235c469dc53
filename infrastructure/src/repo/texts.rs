//! Indexed document texts kept in memory, so that an action on a span (creating, moving an
//! entity) looks its span up in tables built once per version of the content instead of
//! reading and indexing the whole text again.
//!
//! An entry is keyed by the document and names the content it indexes by its SHA-256: a text
//! is only ever served for the hash it was built from, so an edit (a new hash) can never be
//! answered with the old text, whichever replica made it. The cache holds at most
//! [`BUDGET_BYTES`] of texts and tables, dropping the least recently used first; the entry
//! just stored always stays, even alone over the budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nishan_domain::ids::DocumentId;
use nishan_domain::text::DocumentText;

/// Memory the cached texts may take, tables included.
pub const BUDGET_BYTES: usize = 256 << 20;

struct Entry {
    hash: String,
    text: Arc<DocumentText>,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Entries {
    by_document: HashMap<DocumentId, Entry>,
    bytes: usize,
    clock: u64,
}

/// Recently used document texts (see the module comment).
pub struct TextCache {
    budget: usize,
    entries: Mutex<Entries>,
}

impl Default for TextCache {
    fn default() -> Self {
        Self::with_budget(BUDGET_BYTES)
    }
}

impl TextCache {
    pub fn with_budget(budget: usize) -> Self {
        Self { budget, entries: Mutex::default() }
    }

    /// The text of `document` whose content hashes to `hash`, if cached.
    pub fn get(&self, document: DocumentId, hash: &str) -> Option<Arc<DocumentText>> {
        let mut entries = self.entries.lock().expect("text cache lock");
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.by_document.get_mut(&document).filter(|e| e.hash == hash)?;
        entry.used = now;
        Some(Arc::clone(&entry.text))
    }

    /// Keeps `text` as the content of `document` hashing to `hash` (replacing the text of any
    /// other version), then drops the least recently used texts over the budget.
    pub fn put(&self, document: DocumentId, hash: &str, text: Arc<DocumentText>) {
        let bytes = text.memory_bytes();
        let mut entries = self.entries.lock().expect("text cache lock");
        entries.clock += 1;
        let used = entries.clock;
        if let Some(old) = entries.by_document.insert(document, Entry { hash: hash.to_owned(), text, bytes, used }) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
        while entries.bytes > self.budget && entries.by_document.len() > 1 {
            let oldest = entries
                .by_document
                .iter()
                .filter(|(id, _)| **id != document)
                .min_by_key(|(_, e)| e.used)
                .map(|(id, _)| *id)
                .expect("another entry");
            let gone = entries.by_document.remove(&oldest).expect("the oldest entry");
            entries.bytes -= gone.bytes;
        }
    }

    /// How many texts are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().expect("text cache lock").by_document.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Arc<DocumentText> {
        Arc::new(DocumentText::new(s))
    }

    #[test]
    fn a_text_is_served_only_for_its_hash() {
        let cache = TextCache::default();
        let doc = DocumentId::new();
        cache.put(doc, "h1", text("علی"));
        assert_eq!(cache.get(doc, "h1").unwrap().text(), "علی");
        assert!(cache.get(doc, "h2").is_none(), "another version's hash");
        assert!(cache.get(DocumentId::new(), "h1").is_none(), "another document");
        cache.put(doc, "h2", text("حسین"));
        assert!(cache.get(doc, "h1").is_none(), "the old version is replaced");
        assert_eq!(cache.get(doc, "h2").unwrap().text(), "حسین");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_go_first_over_the_budget() {
        let one = text(&"ب".repeat(1000)).memory_bytes();
        let cache = TextCache::with_budget(one * 2 + one / 2);
        let docs: Vec<DocumentId> = (0..3).map(|_| DocumentId::new()).collect();
        cache.put(docs[0], "a", text(&"ب".repeat(1000)));
        cache.put(docs[1], "b", text(&"ب".repeat(1000)));
        assert!(cache.get(docs[0], "a").is_some());
        cache.put(docs[2], "c", text(&"ب".repeat(1000)));
        assert!(cache.get(docs[1], "b").is_none(), "the least recently used is dropped");
        assert!(cache.get(docs[0], "a").is_some() && cache.get(docs[2], "c").is_some());
        // One text over the whole budget stays: it is the one just used.
        cache.put(docs[1], "b", text(&"ب".repeat(10_000)));
        assert_eq!(cache.len(), 1);
        assert!(cache.get(docs[1], "b").is_some());
    }
}
