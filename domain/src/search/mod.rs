//! Search over a project's texts: the words of a text under the one Urdu-aware folding
//! (`tokens`), the passages the index holds (`passages`), the query language (`query`), and
//! ranking (`rank`: BM25 over the project's passages, highlights, reciprocal rank fusion).
//!
//! The databases' full-text indexes (SQLite FTS5, PostgreSQL `tsvector`) are given the folded
//! words, written with single spaces, and only propose candidates; matching, scoring and order
//! are decided here, so that both databases answer a query alike. A query of whole words may
//! be ranked by the store itself, with the formula and the order given here (`rank::WordScoring`),
//! so that only a page of hits leaves the database.

pub mod passages;
pub mod query;
pub mod rank;
pub mod semantic;
pub mod tokens;

pub use passages::{LineChange, MAX_PASSAGE_TOKENS, Passage, passages, passages_iter};
pub use query::{SearchQuery, Term};
pub use rank::{Candidate, CorpusStats, GroupSlice, Highlight, Matching, PassageId, Ranked, WordGroup, WordScoring};
pub use tokens::{Token, tokenize, words};
