//! Ranking: which candidate passages match a query, their BM25 scores, their order, where
//! the query's words stand in them, and the fusion of a lexical and a semantic ranking.
//!
//! The index (SQLite FTS5, or PostgreSQL full-text search) only proposes candidates; whether a
//! passage matches, and its score, are decided here, from the passage's folded words and the
//! project's counts, so that both databases give the same hits with the same scores in the same
//! order. Invariants:
//! - a hit holds every term (`Matching::All`) or at least one (`Matching::Any`), as
//!   `Term::places` finds them among its words; a candidate that does not is no hit;
//! - BM25 (k1 = 1.2, b = 0.75) over the project's passages: for each term, `idf × tf × (k1 + 1)
//!   / (tf + k1 × (1 − b + b × dl / avgdl))`, with `idf = ln(1 + (N − df + 0.5) / (df + 0.5))`
//!   (always positive, as Lucene's), `tf` the term's places in the passage, `dl` its words,
//!   `N` and `avgdl` the project's passages and their mean length, `df` the project's
//!   passages holding the term; summed in term order (the same floating-point sum everywhere);
//! - the order is by score, highest first, then by document title, the document's creation,
//!   its id, and the passage's start: a total order, stable across databases (which assign
//!   different ids to the same data only at the last, never-reached, tie-break for distinct
//!   titles).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::query::{SearchQuery, Term};
use super::tokens::tokenize;
use crate::ids::DocumentId;

pub const K1: f64 = 1.2;
pub const B: f64 = 0.75;
/// The constant of reciprocal rank fusion (Cormack et al., 2009).
pub const RRF_K: f64 = 60.0;

/// A passage's row id in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PassageId(pub i64);

/// Whether a hit must hold every term of the query or any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    All,
    Any,
}

/// A passage the index proposes for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub passage: PassageId,
    pub document_id: DocumentId,
    pub document_title: String,
    pub document_created_at: DateTime<Utc>,
    pub line_number: u32,
    /// Code-point offsets into the document.
    pub start: u32,
    pub end: u32,
    /// The passage's folded words, separated by single spaces.
    pub words: String,
}

/// The counts BM25 needs of the project's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpusStats {
    /// Passages in the project.
    pub passages: u64,
    /// Words in all of them.
    pub words: u64,
}

impl CorpusStats {
    pub fn mean_length(&self) -> f64 {
        if self.passages == 0 { 0.0 } else { self.words as f64 / self.passages as f64 }
    }
}

/// A candidate that matches, with its score and the places of the terms in its words.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub candidate: Candidate,
    pub score: f64,
    /// `[first, last + 1)` word indexes of every place of every term, by first word.
    pub places: Vec<(usize, usize)>,
}

/// The inverse document frequency of a term held by `df` of `n` passages.
pub fn idf(n: u64, df: u64) -> f64 {
    let (n, df) = (n as f64, df.min(n) as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// One term's BM25 share for a passage of `dl` words where it stands `tf` times.
pub fn term_score(idf: f64, tf: usize, dl: usize, mean_length: f64) -> f64 {
    if tf == 0 {
        return 0.0;
    }
    let tf = tf as f64;
    let norm = if mean_length > 0.0 { dl as f64 / mean_length } else { 1.0 };
    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * norm))
}

/// The matching candidates, scored and ordered (see the module docs). `df[i]` is the
/// project's count of passages holding `query.terms[i]`.
pub fn rank(
    query: &SearchQuery,
    matching: Matching,
    candidates: Vec<Candidate>,
    stats: CorpusStats,
    df: &[u64],
) -> Vec<Ranked> {
    let idfs: Vec<f64> = query.terms.iter().enumerate().map(|(i, _)| idf(stats.passages, df[i])).collect();
    let mean = stats.mean_length();
    let mut ranked: Vec<Ranked> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let words: Vec<&str> = candidate.words.split(' ').filter(|w| !w.is_empty()).collect();
            let mut score = 0.0;
            let mut places = Vec::new();
            let mut held = 0;
            for (term, idf) in query.terms.iter().zip(&idfs) {
                let found = term.places(&words);
                if !found.is_empty() {
                    held += 1;
                }
                score += term_score(*idf, found.len(), words.len(), mean);
                places.extend(found);
            }
            let matches = match matching {
                Matching::All => held == query.terms.len(),
                Matching::Any => held > 0,
            };
            places.sort_unstable();
            places.dedup();
            matches.then_some(Ranked { candidate, score, places })
        })
        .collect();
    ranked.sort_by(order);
    ranked
}

/// A query of whole words only, ranked by the store itself (so that only a page of hits
/// leaves the database): the words, each word's idf, and the project's mean passage length.
/// The store computes [`term_score`] of each word with the same floating-point operations in
/// the same order, `((idf × tf) × (k1 + 1)) / (tf + k1 × ((1 − b) + b × (dl / avgdl)))`, sums
/// the words' shares in order and orders by that score, then [`by_place`]; so its order is
/// [`order`]'s, bit for bit, on either database.
#[derive(Debug, Clone, PartialEq)]
pub struct WordScoring {
    pub words: Vec<String>,
    pub idfs: Vec<f64>,
    /// `avgdl`, positive.
    pub mean_length: f64,
}

impl WordScoring {
    /// The scoring of `query` when all its terms are whole words and the project has words;
    /// `None` otherwise.
    pub fn of(query: &SearchQuery, stats: CorpusStats, df: &[u64]) -> Option<Self> {
        let mean_length = stats.mean_length();
        if mean_length <= 0.0 || df.len() != query.terms.len() {
            return None;
        }
        let words = query
            .terms
            .iter()
            .map(|t| match t {
                Term::Word(w) => Some(w.clone()),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()?;
        let idfs = df.iter().map(|&d| idf(stats.passages, d)).collect();
        Some(Self { words, idfs, mean_length })
    }

    /// `k1 + 1`, `k1`, `1 − b` and `b`, as the store's expression takes them.
    pub fn constants() -> [f64; 4] {
        [K1 + 1.0, K1, 1.0 - B, B]
    }
}

/// The project's passages holding one word `tf` times among `word_count` words: BM25 gives
/// them all the same score for the word (the store keeps the count of each group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordGroup {
    pub tf: u32,
    pub word_count: u32,
    pub passages: u64,
}

/// Where a page of a one-word query's hits stands among the word's groups: the groups of one
/// score (`(tf, word_count)` pairs), and the rows of that score the page takes, in
/// [`by_place`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSlice {
    pub groups: Vec<(u32, u32)>,
    pub offset: u64,
    pub limit: u64,
}

/// The slices of the groups (of a word of inverse document frequency `idf`, in a project of
/// mean passage length `mean_length`) that rows `offset .. offset + limit` of the word's hits
/// fall in, best score first. Hits are ordered by score (as [`rank`] computes it from the
/// same `tf` and length, with [`term_score`]), then by place; groups of bit-identical scores
/// are one slice, since their passages interleave by place.
pub fn group_slices(groups: &[WordGroup], idf: f64, mean_length: f64, offset: u64, limit: u64) -> Vec<GroupSlice> {
    let mut scored: Vec<(f64, &WordGroup)> = groups
        .iter()
        .filter(|g| g.passages > 0)
        .map(|g| (term_score(idf, g.tf as usize, g.word_count as usize, mean_length), g))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1.tf, a.1.word_count).cmp(&(b.1.tf, b.1.word_count))));
    let end = offset.saturating_add(limit);
    let mut slices = Vec::new();
    let mut at = 0u64;
    let mut i = 0;
    while i < scored.len() && at < end {
        let score = scored[i].0;
        let mut members = Vec::new();
        let mut count = 0u64;
        while i < scored.len() && scored[i].0.total_cmp(&score).is_eq() {
            members.push((scored[i].1.tf, scored[i].1.word_count));
            count += scored[i].1.passages;
            i += 1;
        }
        let (from, to) = (offset.max(at), end.min(at + count));
        if from < to {
            slices.push(GroupSlice { groups: members, offset: from - at, limit: to - from });
        }
        at += count;
    }
    slices
}

/// The order of hits: by score, highest first, then by document and place.
pub fn order(a: &Ranked, b: &Ranked) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| by_place(&a.candidate, &b.candidate))
}

/// Document title, the document's creation, its id, then the start offset.
pub fn by_place(a: &Candidate, b: &Candidate) -> Ordering {
    a.document_title
        .cmp(&b.document_title)
        .then(a.document_created_at.cmp(&b.document_created_at))
        .then(a.document_id.0.cmp(&b.document_id.0))
        .then(a.start.cmp(&b.start))
}

/// A span of a document's content a hit highlights, in code points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Highlight {
    pub start: u32,
    pub end: u32,
}

/// The spans of `places` (word indexes) in a passage whose text is `text` and which starts at
/// `passage_start` in its document; overlapping spans are merged. Words beyond the text's
/// (a stale passage) are skipped.
pub fn highlights(text: &str, passage_start: u32, places: &[(usize, usize)]) -> Vec<Highlight> {
    let tokens = tokenize(text);
    let mut spans: Vec<Highlight> = places
        .iter()
        .filter(|&&(first, end)| end > first && end <= tokens.len())
        .map(|&(first, end)| Highlight {
            start: passage_start + tokens[first].start,
            end: passage_start + tokens[end - 1].end,
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<Highlight> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start < last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}

/// Reciprocal rank fusion: each item's score is the sum over the rankings it is in of
/// `1 / (RRF_K + rank)`, ranks 1-based. Returns `(item, score)`, best first; ties keep the order
/// of first appearance (the first ranking's order first).
pub fn reciprocal_rank_fusion<T: Clone + PartialEq>(rankings: &[Vec<T>]) -> Vec<(T, f64)> {
    let mut fused: Vec<(T, f64)> = Vec::new();
    for ranking in rankings {
        for (i, item) in ranking.iter().enumerate() {
            let share = 1.0 / (RRF_K + (i + 1) as f64);
            match fused.iter_mut().find(|(t, _)| t == item) {
                Some((_, score)) => *score += share,
                None => fused.push((item.clone(), share)),
            }
        }
    }
    // A stable sort keeps first appearance among equal scores.
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

/// Whether `term` holds in the words (`Term::places`), for filters over terms.
pub fn holds(term: &Term, words: &str) -> bool {
    let words: Vec<&str> = words.split(' ').filter(|w| !w.is_empty()).collect();
    !term.places(&words).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::passages::passages;

    fn candidates(texts: &[(&str, &str)]) -> Vec<Candidate> {
        let created = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut out = Vec::new();
        for (title, content) in texts {
            let doc = DocumentId::new();
            for p in passages(content) {
                out.push(Candidate {
                    passage: PassageId(out.len() as i64 + 1),
                    document_id: doc,
                    document_title: (*title).to_owned(),
                    document_created_at: created,
                    line_number: p.line_number,
                    start: p.start,
                    end: p.end,
                    words: p.word_string(),
                });
            }
        }
        out
    }

    fn stats(c: &[Candidate]) -> CorpusStats {
        CorpusStats { passages: c.len() as u64, words: c.iter().map(|c| c.words.split(' ').count() as u64).sum() }
    }

    fn df(query: &SearchQuery, c: &[Candidate]) -> Vec<u64> {
        query.terms.iter().map(|t| c.iter().filter(|c| holds(t, &c.words)).count() as u64).collect()
    }

    #[test]
    fn bm25_matches_a_hand_computation() {
        // N = 4 passages of 2, 4, 3, 3 words: avgdl = 3. "علی" in two passages, once each.
        let all = candidates(&[("a", "علی حسن\nعلی اکبر علی اصغر\nحسین عباس زینب\nفرات کربلا نجف")]);
        let q = SearchQuery::parse("علی").unwrap();
        let ranked = rank(&q, Matching::All, all.clone(), stats(&all), &df(&q, &all));
        assert_eq!(ranked.len(), 2);
        let idf = (1.0f64 + (4.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
        let short = idf * 1.0 * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 2.0 / 3.0));
        let long = idf * 2.0 * 2.2 / (2.0 + 1.2 * (0.25 + 0.75 * 4.0 / 3.0));
        assert_eq!(ranked[0].candidate.line_number, 2, "two places outweigh a shorter line");
        assert!((ranked[0].score - long).abs() < 1e-12);
        assert!((ranked[1].score - short).abs() < 1e-12);
        assert_eq!(ranked[0].places, [(0, 1), (2, 3)]);
    }

    #[test]
    fn all_terms_or_any_term() {
        let all = candidates(&[("a", "حسین عباس\nحسین\nعباس زینب\nفرات")]);
        let q = SearchQuery::parse("حسین عباس").unwrap();
        let d = df(&q, &all);
        let lines =
            |m| rank(&q, m, all.clone(), stats(&all), &d).iter().map(|r| r.candidate.line_number).collect::<Vec<_>>();
        assert_eq!(lines(Matching::All), [1]);
        assert_eq!(lines(Matching::Any)[0], 1);
        assert_eq!(lines(Matching::Any).len(), 3);
    }

    #[test]
    fn ties_are_ordered_by_title_then_place() {
        let all = candidates(&[("b", "علی\nعلی"), ("a", "علی")]);
        let q = SearchQuery::parse("علی").unwrap();
        let ranked = rank(&q, Matching::All, all.clone(), stats(&all), &df(&q, &all));
        let order: Vec<(&str, u32)> =
            ranked.iter().map(|r| (r.candidate.document_title.as_str(), r.candidate.line_number)).collect();
        assert_eq!(order, [("a", 1), ("b", 1), ("b", 2)]);
    }

    #[test]
    fn highlights_are_code_points_of_the_original() {
        let content = "پہلا\nعمّو ہیں حسینؑ ابن علیؑ";
        let p = &passages(content)[1];
        let words: Vec<&str> = p.words.iter().map(String::as_str).collect();
        let phrase = SearchQuery::parse("\"حسين ابن علی\"").unwrap();
        let places = phrase.terms[0].places(&words);
        let spans = highlights(&p.text, p.start, &places);
        let got: Vec<String> = spans
            .iter()
            .map(|h| content.chars().skip(h.start as usize).take((h.end - h.start) as usize).collect())
            .collect();
        assert_eq!(got, ["حسینؑ ابن علیؑ"]);
        // Overlapping places merge.
        assert_eq!(highlights("ا ا ا", 10, &[(0, 2), (1, 3)]), [Highlight { start: 10, end: 15 }]);
    }

    #[test]
    fn fusion_rewards_agreement() {
        let fused = reciprocal_rank_fusion(&[vec!["a", "b", "c"], vec!["c", "b", "d"]]);
        let order: Vec<&str> = fused.iter().map(|(t, _)| *t).collect();
        // c: 1/63 + 1/61 > b: 2/62 > a: 1/61 > d: 1/63.
        assert_eq!(order, ["c", "b", "a", "d"]);
        assert!((fused[0].1 - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
    }

    #[test]
    fn a_page_of_one_word_is_read_from_its_groups_as_ranking_orders_them() {
        // A word in lines of many lengths and counts: the hits computed from the groups' slices
        // are those ranking every line gives, page by page.
        let mut content = String::new();
        for i in 0..60 {
            let tf = 1 + i % 3;
            let others = i % 7;
            let mut line: Vec<&str> = vec!["علی"; tf];
            line.extend(std::iter::repeat_n("حسن", others));
            content.push_str(&line.join(" "));
            content.push('\n');
        }
        let all = candidates(&[("b", &content), ("a", &content)]);
        let q = SearchQuery::parse("علی").unwrap();
        let d = df(&q, &all);
        let st = stats(&all);
        let everything = rank(&q, Matching::All, all.clone(), st, &d);
        let mut groups: Vec<WordGroup> = Vec::new();
        for c in &all {
            let words: Vec<&str> = c.words.split(' ').collect();
            let tf = words.iter().filter(|w| **w == "علی").count() as u32;
            let wc = words.len() as u32;
            match groups.iter_mut().find(|g| (g.tf, g.word_count) == (tf, wc)) {
                Some(g) => g.passages += 1,
                None => groups.push(WordGroup { tf, word_count: wc, passages: 1 }),
            }
        }
        let idf = idf(st.passages, d[0]);
        for (offset, limit) in [(0, 20), (13, 7), (100, 20), (115, 10), (0, 200), (119, 5)] {
            let mut page = Vec::new();
            for slice in group_slices(&groups, idf, st.mean_length(), offset, limit) {
                let mut members: Vec<Candidate> = all
                    .iter()
                    .filter(|c| {
                        let words: Vec<&str> = c.words.split(' ').collect();
                        let tf = words.iter().filter(|w| **w == "علی").count() as u32;
                        slice.groups.contains(&(tf, words.len() as u32))
                    })
                    .cloned()
                    .collect();
                members.sort_by(by_place);
                page.extend(members.into_iter().skip(slice.offset as usize).take(slice.limit as usize));
            }
            let page = rank(&q, Matching::All, page, st, &d);
            let want: Vec<_> = everything.iter().skip(offset as usize).take(limit as usize).collect();
            let got: Vec<_> = page.iter().collect();
            assert_eq!(got, want, "rows {offset}..{}", offset + limit);
        }
    }

    #[test]
    fn idf_is_positive_even_for_common_words() {
        assert!(idf(10, 10) > 0.0);
        assert!(idf(10, 1) > idf(10, 5));
    }
}
