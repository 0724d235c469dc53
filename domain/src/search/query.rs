//! A search query as researchers type it, parsed into terms of folded words.
//!
//! The syntax: words separated by spaces (`حسین عباس`: lines holding both); a word ending in
//! `*` is a prefix (`کربل*` finds کربلا and کربلائی); text in double quotes is a phrase, its
//! words next to each other in this order (`"شاہ کربلا"`), and may end in a prefix
//! (`"ابن عل"*`). Every word is folded as the index is (`search::tokens`), so Arabic yeh and
//! kaf, diacritics, honorifics and ZWNJ make no difference. A word that folds to several
//! (`ابن-علی`) is a phrase of them. Invariants of a parsed query: it has between 1 and
//! [`MAX_TERMS`] distinct terms, every word is non-empty, and a prefix has at least
//! [`MIN_PREFIX_CHARS`] characters.

use super::tokens::words;
use crate::error::{DomainError, DomainResult};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most terms in one query.
pub const MAX_TERMS: usize = 16;
/// Shortest prefix (`ab*`), in folded characters: a one-letter prefix matches most words.
pub const MIN_PREFIX_CHARS: usize = 2;

/// One thing a passage must contain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    /// A whole word.
    Word(String),
    /// Any word starting with this.
    Prefix(String),
    /// These words in this order, next to each other (at least two); the last may be a prefix.
    Phrase { words: Vec<String>, last_is_prefix: bool },
}

impl Term {
    /// The term's words, in order.
    pub fn words(&self) -> Vec<&str> {
        match self {
            Self::Word(w) | Self::Prefix(w) => vec![w.as_str()],
            Self::Phrase { words, .. } => words.iter().map(String::as_str).collect(),
        }
    }

    /// Whether the last word is a prefix.
    pub fn ends_in_prefix(&self) -> bool {
        match self {
            Self::Word(_) => false,
            Self::Prefix(_) => true,
            Self::Phrase { last_is_prefix, .. } => *last_is_prefix,
        }
    }

    /// The places of the term among a passage's words: `[first, last + 1)` word indexes, in
    /// order (overlapping places of a phrase of repeated words included).
    pub fn places(&self, passage: &[&str]) -> Vec<(usize, usize)> {
        let want = self.words();
        let prefix = self.ends_in_prefix();
        let n = want.len();
        if passage.len() < n {
            return Vec::new();
        }
        (0..=passage.len() - n)
            .filter(|&at| {
                want.iter().enumerate().all(|(i, w)| {
                    let word = passage[at + i];
                    if prefix && i == n - 1 { word.starts_with(w) } else { word == *w }
                })
            })
            .map(|at| (at, at + n))
            .collect()
    }

    /// A term of these folded words: a word, a prefix or a phrase; `None` without words.
    fn of(words: Vec<String>, prefix: bool) -> DomainResult<Option<Self>> {
        if prefix && words.last().is_some_and(|w| w.chars().count() < MIN_PREFIX_CHARS) {
            return Err(DomainError::invalid(
                "query",
                format!("a prefix (a word ending in *) needs at least {MIN_PREFIX_CHARS} letters"),
            ));
        }
        Ok(match words.len() {
            0 => None,
            1 => {
                let w = words.into_iter().next().expect("one word");
                Some(if prefix { Self::Prefix(w) } else { Self::Word(w) })
            }
            _ => Some(Self::Phrase { words, last_is_prefix: prefix }),
        })
    }
}

/// A parsed query: what every hit holds (all terms), or, for retrieval, any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
}

impl SearchQuery {
    /// Parses a query (see the module docs). Errors: `Invalid` on `query` when it is longer
    /// than [`MAX_QUERY_CHARS`], has no word to search for, more than [`MAX_TERMS`] terms, or
    /// a prefix shorter than [`MIN_PREFIX_CHARS`].
    pub fn parse(raw: &str) -> DomainResult<Self> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(DomainError::invalid("query", format!("must be at most {MAX_QUERY_CHARS} characters")));
        }
        let mut terms: Vec<Term> = Vec::new();
        let mut add = |term: Option<Term>| {
            if let Some(t) = term
                && !terms.contains(&t)
            {
                terms.push(t);
            }
        };
        let mut rest = raw;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            if let Some(quoted) = rest.strip_prefix('"') {
                // A phrase, to the closing quote (or the end of the query).
                let (inside, after) = quoted.split_once('"').unwrap_or((quoted, ""));
                let prefix = after.starts_with('*');
                add(Term::of(words(inside), prefix)?);
                rest = after.strip_prefix('*').unwrap_or(after);
            } else {
                let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
                let word = &rest[..end];
                let (word, prefix) = match word.strip_suffix('*') {
                    Some(w) => (w, true),
                    None => (word, false),
                };
                add(Term::of(words(word), prefix)?);
                rest = &rest[end..];
            }
        }
        if terms.is_empty() {
            return Err(DomainError::invalid("query", "has no word to search for"));
        }
        if terms.len() > MAX_TERMS {
            return Err(DomainError::invalid("query", format!("may hold at most {MAX_TERMS} words and phrases")));
        }
        Ok(Self { terms })
    }

    /// A query of the words of a free text (a question), each a term, the most frequent words
    /// of a language included: for retrieval, where any term may match. Errors as [`parse`]
    /// for a text without words; words beyond [`MAX_TERMS`] are left out.
    ///
    /// [`parse`]: Self::parse
    pub fn any_words_of(text: &str) -> DomainResult<Self> {
        let mut terms: Vec<Term> = Vec::new();
        for w in words(text) {
            let t = Term::Word(w);
            if !terms.contains(&t) && terms.len() < MAX_TERMS {
                terms.push(t);
            }
        }
        if terms.is_empty() {
            return Err(DomainError::invalid("question", "has no word to search for"));
        }
        Ok(Self { terms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Vec<Term> {
        SearchQuery::parse(q).unwrap().terms
    }

    fn word(w: &str) -> Term {
        Term::Word(w.into())
    }

    #[test]
    fn words_prefixes_and_phrases() {
        assert_eq!(parse("  حسین   عباس "), [word("حسین"), word("عباس")]);
        assert_eq!(parse("کربل*"), [Term::Prefix("کربل".into())]);
        assert_eq!(
            parse("\"شاہِ كربلا\" زینبؑ"),
            [Term::Phrase { words: vec!["شاہ".into(), "کربلا".into()], last_is_prefix: false }, word("زینب")]
        );
        assert_eq!(
            parse("\"ابن عل\"*"),
            [Term::Phrase { words: vec!["ابن".into(), "عل".into()], last_is_prefix: true }]
        );
        // An unclosed quote runs to the end; a one-word phrase is a word.
        assert_eq!(parse("\"حسین"), [word("حسین")]);
        assert_eq!(parse("علی\"اکبر\""), [word("علی"), word("اکبر")]);
        // A word that folds to several is a phrase.
        assert_eq!(parse("ابن-علی"), [Term::Phrase { words: vec!["ابن".into(), "علی".into()], last_is_prefix: false }]);
        // Duplicates (after folding) count once.
        assert_eq!(parse("حسین حسين حُسینؑ"), [word("حسین")]);
    }

    #[test]
    fn bad_queries_are_refused_on_the_query_field() {
        for q in ["", "   ", "، ۔ !", "\u{064F}", "\"\"", "ب*"] {
            let e = SearchQuery::parse(q).unwrap_err();
            assert!(matches!(&e, DomainError::Invalid { field, .. } if field == "query"), "{q:?}: {e:?}");
        }
        assert!(SearchQuery::parse(&"ا ".repeat(300)).is_err(), "too long");
        let many: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
        assert!(SearchQuery::parse(&many.join(" ")).is_err(), "too many terms");
        assert!(SearchQuery::parse(&many[..16].join(" ")).is_ok());
    }

    #[test]
    fn places_of_terms_among_words() {
        let line = ["شاہ", "کربلا", "شاہ", "کربلائی", "کربلا"];
        assert_eq!(word("کربلا").places(&line), [(1, 2), (4, 5)]);
        assert_eq!(Term::Prefix("کربل".into()).places(&line), [(1, 2), (3, 4), (4, 5)]);
        let phrase = Term::Phrase { words: vec!["شاہ".into(), "کربلا".into()], last_is_prefix: false };
        assert_eq!(phrase.places(&line), [(0, 2)]);
        let prefix_phrase = Term::Phrase { words: vec!["شاہ".into(), "کرب".into()], last_is_prefix: true };
        assert_eq!(prefix_phrase.places(&line), [(0, 2), (2, 4)]);
        assert_eq!(phrase.places(&["شاہ"]), []);
    }

    #[test]
    fn questions_become_any_word_queries() {
        let q = SearchQuery::any_words_of("حسینؑ کے بھائی کون تھے؟").unwrap();
        assert_eq!(q.terms.len(), 5);
        assert!(SearchQuery::any_words_of("؟ ! ،").is_err());
    }
}
