//! Inter-annotator agreement between layers of the same documents (pure: the caller gives each
//! document's words and each layer's spans).
//!
//! Units and labels. The word-level measures take as units a document's words by UAX #29 (the
//! words `wordCount` counts); a word's label in a layer is the entity type of that layer's
//! entity covering it (of several overlapping it, the one covering most of its characters, the
//! earliest on a tie), `O` when none does. The character-level α takes every code point as a
//! unit, labelled the same way (the earliest-starting entity covering it).
//!
//! Measures, each as its reference computes it:
//! - Cohen's κ per pair of layers over the words both labelled (scikit-learn's
//!   `cohen_kappa_score`);
//! - Fleiss' κ over the words every layer labelled (statsmodels' `fleiss_kappa`, method
//!   `fleiss`);
//! - Krippendorff's α, nominal, over the words at least two layers labelled (the
//!   `krippendorff` package's `alpha(level_of_measurement="nominal")`), overall, per document,
//!   and per entity type (each word labelled "this type" or "not", so the type's own α);
//! - Krippendorff's α over characters (nominal, every code point a unit);
//! - span F1 per pair, exact (same start, end and type) and overlapping (an entity counts as
//!   found when the other layer has one of the same type overlapping it), pooled over documents,
//!   overall and per type.
//!
//! A measure is `None` where it is undefined (no units, or no variation: the expected
//! disagreement is zero). Every unit left out of a measure is counted with its reason.

use std::collections::{BTreeMap, HashMap};

use crate::ids::{DocumentId, EntityTypeId};
use crate::rounds::layer::Layer;

/// One entity of a layer: a half-open code-point span with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub entity_type: EntityTypeId,
}

/// One document as agreement reads it.
#[derive(Debug, Clone)]
pub struct DocumentLayers {
    pub document: DocumentId,
    /// Length of the content in code points.
    pub length: u32,
    /// The document's words: half-open code-point spans, ascending (UAX #29, as `wordCount`).
    pub words: Vec<(u32, u32)>,
    /// Each compared layer's entities in this document; a layer absent here did not annotate it.
    pub layers: BTreeMap<Layer, Vec<Span>>,
}

/// Why units were left out of a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeftOutReason {
    /// Fewer than two of the compared layers annotated the document (no measure can use it).
    FewerThanTwoLayers,
    /// Not every compared layer annotated the document (Fleiss' κ needs every rater).
    NotEveryLayer,
    /// One of a pair's layers did not annotate the document (that pair's κ and F1).
    PairIncomplete,
}

impl LeftOutReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FewerThanTwoLayers => "FEWER_THAN_TWO_LAYERS",
            Self::NotEveryLayer => "NOT_EVERY_LAYER",
            Self::PairIncomplete => "PAIR_INCOMPLETE",
        }
    }
}

/// Units of a measure left out for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftOut {
    pub reason: LeftOutReason,
    pub units: usize,
}

/// Agreement of two layers.
#[derive(Debug, Clone, PartialEq)]
pub struct PairAgreement {
    pub a: Layer,
    pub b: Layer,
    /// Words both layers labelled.
    pub units: usize,
    pub cohen_kappa: Option<f64>,
    pub f1_exact: Option<f64>,
    pub f1_overlap: Option<f64>,
}

/// Agreement on one entity type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeAgreement {
    pub entity_type: EntityTypeId,
    /// α over words labelled "this type" or "not this type".
    pub krippendorff_alpha: Option<f64>,
    /// Span F1 of this type, pooled over every pair and document.
    pub f1_exact: Option<f64>,
    pub f1_overlap: Option<f64>,
}

/// Agreement within one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentAgreement {
    pub document: DocumentId,
    /// How many of the compared layers annotated it.
    pub layers: usize,
    /// Its words (compared when `layers >= 2`, left out otherwise).
    pub units: usize,
    pub krippendorff_alpha: Option<f64>,
}

/// Everything `agreement` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementReport {
    /// Words at least two layers labelled: the units of α.
    pub units_compared: usize,
    /// Words left out of α, and (per reason) of Fleiss' κ and the pairs.
    pub left_out: Vec<LeftOut>,
    pub krippendorff_alpha: Option<f64>,
    pub fleiss_kappa: Option<f64>,
    /// Words every layer labelled: the units of Fleiss' κ.
    pub fleiss_units: usize,
    pub character_alpha: Option<f64>,
    pub pairs: Vec<PairAgreement>,
    pub by_type: Vec<TypeAgreement>,
    pub by_document: Vec<DocumentAgreement>,
}

/// The labels of `units` (half-open, ascending) in one layer: `0` for `O`, else the index + 1
/// of the entity's type in `types`. A unit takes the span covering most of it (the earliest on a
/// tie).
pub fn unit_labels(units: &[(u32, u32)], spans: &[Span], types: &HashMap<EntityTypeId, u32>) -> Vec<u32> {
    let mut labels = vec![0u32; units.len()];
    let mut best = vec![0u32; units.len()];
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_unstable();
    for span in sorted {
        let Some(&label) = types.get(&span.entity_type) else { continue };
        // The first unit ending after the span starts, then every unit starting before it ends.
        let first = units.partition_point(|&(_, end)| end <= span.start);
        for (i, &(start, end)) in units.iter().enumerate().skip(first) {
            if start >= span.end {
                break;
            }
            let covered = end.min(span.end) - start.max(span.start);
            if covered > best[i] {
                best[i] = covered;
                labels[i] = label;
            }
        }
    }
    labels
}

/// Krippendorff's α (nominal) from a coincidence matrix built over units, each given as the
/// labels its raters gave (missing raters left out), labels in `0..labels`. Units with fewer
/// than two labels add nothing. `None` when no unit is pairable or the expected disagreement is
/// zero.
#[derive(Debug, Clone)]
pub struct NominalAlpha {
    labels: usize,
    /// o[c * labels + k].
    coincidences: Vec<f64>,
}

impl NominalAlpha {
    pub fn new(labels: usize) -> Self {
        Self { labels, coincidences: vec![0.0; labels * labels] }
    }

    /// Adds one unit: the labels of the raters who labelled it.
    pub fn add(&mut self, labels: &[u32]) {
        self.add_many(labels, 1);
    }

    /// Adds `times` copies of one unit (the same labels).
    pub fn add_many(&mut self, labels: &[u32], times: usize) {
        let m = labels.len();
        if m < 2 || times == 0 {
            return;
        }
        let w = times as f64 / (m - 1) as f64;
        for (i, &c) in labels.iter().enumerate() {
            for (j, &k) in labels.iter().enumerate() {
                if i != j {
                    self.coincidences[c as usize * self.labels + k as usize] += w;
                }
            }
        }
    }

    /// Adds `times` copies of a binary unit: `ones` of `raters` gave label 1, the rest 0.
    pub fn add_binary(&mut self, raters: usize, ones: usize, times: usize) {
        if raters < 2 || times == 0 {
            return;
        }
        debug_assert_eq!(self.labels, 2);
        let w = times as f64 / (raters - 1) as f64;
        let (n1, n0) = (ones as f64, (raters - ones) as f64);
        self.coincidences[0] += w * n0 * (n0 - 1.0);
        self.coincidences[3] += w * n1 * (n1 - 1.0);
        self.coincidences[1] += w * n0 * n1;
        self.coincidences[2] += w * n0 * n1;
    }

    pub fn alpha(&self) -> Option<f64> {
        let mut totals = vec![0.0; self.labels];
        let mut observed = 0.0;
        for (c, total) in totals.iter_mut().enumerate() {
            for (k, o) in self.coincidences[c * self.labels..(c + 1) * self.labels].iter().enumerate() {
                *total += o;
                if c != k {
                    observed += o;
                }
            }
        }
        let n: f64 = totals.iter().sum();
        if n <= 1.0 {
            return None;
        }
        let sum_sq: f64 = totals.iter().map(|x| x * x).sum();
        let expected = (n * n - sum_sq) / (n - 1.0);
        if expected <= 1e-12 {
            return None;
        }
        Some(1.0 - observed / expected)
    }
}

/// Cohen's κ of two raters from their confusion counts (`confusion[a * labels + b]`).
#[derive(Debug, Clone)]
pub struct CohenKappa {
    labels: usize,
    confusion: Vec<u64>,
    units: usize,
}

impl CohenKappa {
    pub fn new(labels: usize) -> Self {
        Self { labels, confusion: vec![0; labels * labels], units: 0 }
    }

    pub fn add(&mut self, a: u32, b: u32) {
        self.confusion[a as usize * self.labels + b as usize] += 1;
        self.units += 1;
    }

    pub fn units(&self) -> usize {
        self.units
    }

    pub fn kappa(&self) -> Option<f64> {
        if self.units == 0 {
            return None;
        }
        let n = self.units as f64;
        let l = self.labels;
        let agree: u64 = (0..l).map(|c| self.confusion[c * l + c]).sum();
        let row = |c: usize| (0..l).map(|k| self.confusion[c * l + k]).sum::<u64>() as f64;
        let col = |k: usize| (0..l).map(|c| self.confusion[c * l + k]).sum::<u64>() as f64;
        let pe: f64 = (0..l).map(|c| row(c) * col(c)).sum::<f64>() / (n * n);
        if pe >= 1.0 - 1e-12 {
            return None;
        }
        Some((agree as f64 / n - pe) / (1.0 - pe))
    }
}

/// Cohen's κ of two raters' labels (same length).
pub fn cohen_kappa(a: &[u32], b: &[u32]) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let labels = a.iter().chain(b).max().map_or(0, |m| *m as usize + 1);
    let mut k = CohenKappa::new(labels);
    for (&x, &y) in a.iter().zip(b) {
        k.add(x, y);
    }
    k.kappa()
}

/// Fleiss' κ from per-unit category counts (each unit rated by the same number of raters).
#[derive(Debug, Clone)]
pub struct FleissKappa {
    raters: usize,
    units: usize,
    /// Σ over units of Σ_j n_ij (n_ij - 1).
    agreeing_pairs: f64,
    /// Σ over units of n_ij, per category.
    totals: Vec<f64>,
    scratch: Vec<usize>,
}

impl FleissKappa {
    pub fn new(raters: usize, labels: usize) -> Self {
        Self { raters, units: 0, agreeing_pairs: 0.0, totals: vec![0.0; labels], scratch: vec![0; labels] }
    }

    /// Adds one unit: the labels of all raters.
    pub fn add(&mut self, labels: &[u32]) {
        debug_assert_eq!(labels.len(), self.raters);
        for &l in labels {
            self.scratch[l as usize] += 1;
        }
        for &l in labels {
            let n = std::mem::take(&mut self.scratch[l as usize]);
            if n > 0 {
                self.agreeing_pairs += (n * (n - 1)) as f64;
                self.totals[l as usize] += n as f64;
            }
        }
        self.units += 1;
    }

    pub fn kappa(&self) -> Option<f64> {
        let (n, r) = (self.units as f64, self.raters as f64);
        if self.units == 0 || self.raters < 2 {
            return None;
        }
        let p_bar = self.agreeing_pairs / (n * r * (r - 1.0));
        let pe: f64 = self.totals.iter().map(|t| (t / (n * r)).powi(2)).sum();
        if pe >= 1.0 - 1e-12 {
            return None;
        }
        Some((p_bar - pe) / (1.0 - pe))
    }
}

/// Counts for a pooled F1: entities of A found in B, of B found in A, and the sizes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct F1Counts {
    pub a_found: usize,
    pub b_found: usize,
    pub a_total: usize,
    pub b_total: usize,
}

impl F1Counts {
    fn add(&mut self, other: F1Counts) {
        self.a_found += other.a_found;
        self.b_found += other.b_found;
        self.a_total += other.a_total;
        self.b_total += other.b_total;
    }

    /// The harmonic mean of precision (B's found in A) and recall (A's found in B); `None`
    /// when both layers are empty. Symmetric in A and B.
    pub fn f1(&self) -> Option<f64> {
        if self.a_total + self.b_total == 0 {
            return None;
        }
        if self.a_total == 0 || self.b_total == 0 {
            return Some(0.0);
        }
        let recall = self.a_found as f64 / self.a_total as f64;
        let precision = self.b_found as f64 / self.b_total as f64;
        if recall + precision == 0.0 {
            return Some(0.0);
        }
        Some(2.0 * precision * recall / (precision + recall))
    }
}

/// Exact-match counts of two layers' spans (each set of distinct spans).
pub fn exact_counts(a: &[Span], b: &[Span]) -> F1Counts {
    fn distinct(xs: &[Span]) -> std::borrow::Cow<'_, [Span]> {
        if xs.windows(2).all(|w| w[0] < w[1]) {
            return std::borrow::Cow::Borrowed(xs);
        }
        let mut v = xs.to_vec();
        v.sort_unstable();
        v.dedup();
        std::borrow::Cow::Owned(v)
    }
    let (a, b) = (distinct(a), distinct(b));
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    F1Counts { a_found: common, b_found: common, a_total: a.len(), b_total: b.len() }
}

/// Overlap counts: an entity is found when the other layer has one of the same type sharing at
/// least one character with it.
pub fn overlap_counts(a: &[Span], b: &[Span]) -> F1Counts {
    fn found(xs: &[Span], ys: &[Span]) -> usize {
        let mut by_type: HashMap<EntityTypeId, Vec<(u32, u32)>> = HashMap::new();
        for y in ys {
            by_type.entry(y.entity_type).or_default().push((y.start, y.end));
        }
        // Per type, spans by start with the running maximum end, so "some span starting
        // before x.end ends after x.start" is one binary search.
        let index: HashMap<EntityTypeId, (Vec<u32>, Vec<u32>)> = by_type
            .into_iter()
            .map(|(t, mut v)| {
                v.sort_unstable();
                let starts = v.iter().map(|s| s.0).collect();
                let mut max = 0;
                let ends = v
                    .iter()
                    .map(|s| {
                        max = max.max(s.1);
                        max
                    })
                    .collect();
                (t, (starts, ends))
            })
            .collect();
        xs.iter()
            .filter(|x| {
                index.get(&x.entity_type).is_some_and(|(starts, max_ends)| {
                    let before_end = starts.partition_point(|&s| s < x.end);
                    before_end > 0 && max_ends[before_end - 1] > x.start
                })
            })
            .count()
    }
    F1Counts { a_found: found(a, b), b_found: found(b, a), a_total: a.len(), b_total: b.len() }
}

/// Which of `types` (by index) a layer's spans touch in each unit: `width` words of bits per
/// unit, bit `t` set when a span of type `t` shares a character with the unit.
fn type_bits(units: &[(u32, u32)], spans: &[Span], types: &HashMap<EntityTypeId, u32>, width: usize) -> Vec<u64> {
    let mut bits = vec![0u64; units.len() * width];
    for span in spans {
        let Some(&label) = types.get(&span.entity_type) else { continue };
        let t = label as usize - 1;
        let first = units.partition_point(|&(_, end)| end <= span.start);
        for (i, &(start, _)) in units.iter().enumerate().skip(first) {
            if start >= span.end {
                break;
            }
            bits[i * width + t / 64] |= 1 << (t % 64);
        }
    }
    bits
}

/// Labels of every character of a document in one layer: the earliest-starting span covering it.
fn char_labels(length: u32, spans: &[Span], types: &HashMap<EntityTypeId, u32>) -> Vec<u32> {
    let mut labels = vec![0u32; length as usize];
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_unstable();
    for span in sorted {
        let Some(&label) = types.get(&span.entity_type) else { continue };
        let end = span.end.min(length) as usize;
        for l in labels.iter_mut().take(end).skip(span.start as usize) {
            if *l == 0 {
                *l = label;
            }
        }
    }
    labels
}

/// Computes every measure over `documents` for the layers `raters` (in the order given; pairs
/// follow it).
pub fn agreement(documents: &[DocumentLayers], raters: &[Layer]) -> AgreementReport {
    // Label indexes: every type any compared layer used, in a stable order; 0 is `O`.
    let mut all_types: Vec<EntityTypeId> = documents
        .iter()
        .flat_map(|d| d.layers.iter().filter(|(l, _)| raters.contains(l)).flat_map(|(_, s)| s.iter()))
        .map(|s| s.entity_type)
        .collect();
    all_types.sort_unstable();
    all_types.dedup();
    let types: HashMap<EntityTypeId, u32> = all_types.iter().enumerate().map(|(i, t)| (*t, i as u32 + 1)).collect();
    let labels_n = all_types.len() + 1;
    let width = all_types.len().div_ceil(64).max(1);

    let pair_index: Vec<(usize, usize)> =
        (0..raters.len()).flat_map(|i| (i + 1..raters.len()).map(move |j| (i, j))).collect();
    let mut pair_kappa = vec![CohenKappa::new(labels_n); pair_index.len()];
    let mut pair_exact = vec![F1Counts::default(); pair_index.len()];
    let mut pair_overlap = vec![F1Counts::default(); pair_index.len()];
    let mut pair_left = 0usize;
    let mut type_exact = vec![F1Counts::default(); all_types.len()];
    let mut type_overlap = vec![F1Counts::default(); all_types.len()];
    let mut type_alpha = vec![NominalAlpha::new(2); all_types.len()];

    let mut alpha = NominalAlpha::new(labels_n);
    let mut chars = NominalAlpha::new(labels_n);
    let mut fleiss = FleissKappa::new(raters.len(), labels_n);
    let (mut compared, mut fewer, mut not_every) = (0usize, 0usize, 0usize);
    let mut by_document = Vec::with_capacity(documents.len());
    let mut unit = Vec::with_capacity(raters.len());

    for doc in documents {
        let present: Vec<(usize, &Vec<Span>)> =
            raters.iter().enumerate().filter_map(|(i, r)| doc.layers.get(r).map(|s| (i, s))).collect();
        let units = doc.words.len();
        if present.len() < 2 {
            fewer += units;
            by_document.push(DocumentAgreement {
                document: doc.document,
                layers: present.len(),
                units,
                krippendorff_alpha: None,
            });
            continue;
        }
        compared += units;
        let every = present.len() == raters.len();
        if !every {
            not_every += units;
        }
        let labels: Vec<Vec<u32>> = present.iter().map(|(_, s)| unit_labels(&doc.words, s, &types)).collect();
        let mut doc_alpha = NominalAlpha::new(labels_n);
        for w in 0..units {
            unit.clear();
            unit.extend(labels.iter().map(|l| l[w]));
            alpha.add(&unit);
            doc_alpha.add(&unit);
            if every {
                fleiss.add(&unit);
            }
        }
        // Each type's own α: a word is "this type" in a layer when a span of the type touches it.
        let bits: Vec<Vec<u64>> = present.iter().map(|(_, s)| type_bits(&doc.words, s, &types, width)).collect();
        for (t, acc) in type_alpha.iter_mut().enumerate() {
            let (block, bit) = (t / 64, 1u64 << (t % 64));
            // Units by how many layers marked them: 0..=present.len().
            let mut histogram = vec![0usize; present.len() + 1];
            for w in 0..units {
                histogram[bits.iter().filter(|b| b[w * width + block] & bit != 0).count()] += 1;
            }
            for (ones, times) in histogram.into_iter().enumerate() {
                acc.add_binary(present.len(), ones, times);
            }
        }
        // Characters: runs of equal label tuples add as one unit repeated.
        let char_labels: Vec<Vec<u32>> = present.iter().map(|(_, s)| char_labels(doc.length, s, &types)).collect();
        let len = doc.length as usize;
        let mut c = 0usize;
        while c < len {
            let mut run = 1;
            while c + run < len && char_labels.iter().all(|l| l[c + run] == l[c]) {
                run += 1;
            }
            unit.clear();
            unit.extend(char_labels.iter().map(|l| l[c]));
            chars.add_many(&unit, run);
            c += run;
        }
        for (p, &(i, j)) in pair_index.iter().enumerate() {
            let (Some(pi), Some(pj)) =
                (present.iter().position(|(r, _)| *r == i), present.iter().position(|(r, _)| *r == j))
            else {
                pair_left += units;
                continue;
            };
            for (&x, &y) in labels[pi].iter().zip(&labels[pj]) {
                pair_kappa[p].add(x, y);
            }
            let (sa, sb) = (present[pi].1, present[pj].1);
            pair_exact[p].add(exact_counts(sa, sb));
            pair_overlap[p].add(overlap_counts(sa, sb));
            let split = |spans: &[Span]| {
                let mut per: Vec<Vec<Span>> = vec![Vec::new(); all_types.len()];
                for s in spans {
                    if let Some(&l) = types.get(&s.entity_type) {
                        per[l as usize - 1].push(*s);
                    }
                }
                per
            };
            let (fa, fb) = (split(sa), split(sb));
            for t in 0..all_types.len() {
                type_exact[t].add(exact_counts(&fa[t], &fb[t]));
                type_overlap[t].add(overlap_counts(&fa[t], &fb[t]));
            }
        }
        by_document.push(DocumentAgreement {
            document: doc.document,
            layers: present.len(),
            units,
            krippendorff_alpha: doc_alpha.alpha(),
        });
    }

    let pairs = pair_index
        .iter()
        .enumerate()
        .map(|(p, &(i, j))| PairAgreement {
            a: raters[i],
            b: raters[j],
            units: pair_kappa[p].units(),
            cohen_kappa: pair_kappa[p].kappa(),
            f1_exact: pair_exact[p].f1(),
            f1_overlap: pair_overlap[p].f1(),
        })
        .collect();
    let by_type = all_types
        .iter()
        .enumerate()
        .map(|(t, id)| TypeAgreement {
            entity_type: *id,
            krippendorff_alpha: type_alpha[t].alpha(),
            f1_exact: type_exact[t].f1(),
            f1_overlap: type_overlap[t].f1(),
        })
        .collect();
    let left_out = [
        (LeftOutReason::FewerThanTwoLayers, fewer),
        (LeftOutReason::NotEveryLayer, not_every),
        (LeftOutReason::PairIncomplete, pair_left),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(reason, units)| LeftOut { reason, units })
    .collect();
    AgreementReport {
        units_compared: compared,
        left_out,
        krippendorff_alpha: alpha.alpha(),
        fleiss_kappa: fleiss.kappa(),
        fleiss_units: fleiss.units,
        character_alpha: chars.alpha(),
        pairs,
        by_type,
        by_document,
    }
}

/// The words of `text` as agreement's units: half-open code-point spans of UAX #29 words (the
/// words `wordCount` counts), ascending.
pub fn word_units(text: &str) -> Vec<(u32, u32)> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut out = Vec::new();
    let mut chars_before = 0u32;
    let mut byte_pos = 0usize;
    for (at, word) in text.unicode_word_indices() {
        chars_before += crate::text::to_u32(text[byte_pos..at].chars().count());
        let len = crate::text::to_u32(word.chars().count());
        out.push((chars_before, chars_before + len));
        chars_before += len;
        byte_pos = at + word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u128) -> EntityTypeId {
        EntityTypeId(uuid::Uuid::from_u128(n))
    }

    fn s(start: u32, end: u32, ty: u128) -> Span {
        Span { start, end, entity_type: t(ty) }
    }

    #[test]
    fn words_are_the_words_word_count_counts() {
        let text = "علی نے کہا: hello, world 42";
        let units = word_units(text);
        assert_eq!(units.len(), crate::text::metrics(text).words as usize);
        let chars: Vec<char> = text.chars().collect();
        let first: String = chars[units[0].0 as usize..units[0].1 as usize].iter().collect();
        assert_eq!(first, "علی");
    }

    #[test]
    fn a_word_takes_the_span_covering_most_of_it() {
        let units = [(0, 4), (5, 9)];
        let types: HashMap<_, _> = [(t(1), 1), (t(2), 2)].into_iter().collect();
        assert_eq!(unit_labels(&units, &[s(0, 1, 1), s(1, 9, 2)], &types), vec![2, 2]);
        assert_eq!(unit_labels(&units, &[s(0, 2, 1), s(2, 4, 2)], &types), vec![1, 0]);
        assert_eq!(unit_labels(&units, &[], &types), vec![0, 0]);
    }

    #[test]
    fn kappas_and_alpha_of_known_data() {
        // Two raters, 10 units: the textbook example po = 0.7, pe = 0.5 gives κ = 0.4.
        let a = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
        let b = [1, 1, 1, 1, 0, 1, 0, 0, 0, 1];
        let po: f64 = 0.7;
        let pe = 0.5 * 0.6 + 0.5 * 0.4;
        assert!((cohen_kappa(&a, &b).unwrap() - (po - pe) / (1.0 - pe)).abs() < 1e-12);
        assert_eq!(cohen_kappa(&[1, 1], &[1, 1]), None);
        // Identical raters: α and Fleiss' κ are 1.
        let mut alpha = NominalAlpha::new(3);
        let mut fleiss = FleissKappa::new(3, 3);
        for l in [0, 1, 2, 1] {
            alpha.add(&[l, l, l]);
            fleiss.add(&[l, l, l]);
        }
        assert!((alpha.alpha().unwrap() - 1.0).abs() < 1e-12);
        assert!((fleiss.kappa().unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn f1_exact_and_overlapping() {
        let a = [s(0, 4, 1), s(10, 14, 1), s(20, 24, 2)];
        let b = [s(0, 4, 1), s(11, 15, 1), s(20, 24, 1)];
        assert_eq!(exact_counts(&a, &b).f1(), Some(1.0 / 3.0));
        assert_eq!(overlap_counts(&a, &b).f1(), Some(2.0 / 3.0));
        assert_eq!(exact_counts(&[], &[]).f1(), None);
        assert_eq!(exact_counts(&a, &[]).f1(), Some(0.0));
    }

    #[test]
    fn documents_with_one_layer_are_left_out_and_counted() {
        let doc = |n: u128, layers: Vec<(Layer, Vec<Span>)>| DocumentLayers {
            document: DocumentId(uuid::Uuid::from_u128(n)),
            length: 14,
            words: vec![(0, 4), (5, 9), (10, 14)],
            layers: layers.into_iter().collect(),
        };
        let (x, y, z) = (
            Layer::Annotator(crate::ids::UserId(uuid::Uuid::from_u128(1))),
            Layer::Annotator(crate::ids::UserId(uuid::Uuid::from_u128(2))),
            Layer::Model(uuid::Uuid::from_u128(3)),
        );
        let docs = [
            doc(1, vec![(x, vec![s(0, 4, 1)]), (y, vec![s(0, 4, 1), s(5, 9, 2)])]),
            doc(2, vec![(x, vec![s(0, 4, 1)])]),
            doc(3, vec![(x, vec![s(0, 4, 1)]), (y, vec![s(0, 4, 1)]), (z, vec![])]),
        ];
        let r = agreement(&docs, &[x, y, z]);
        assert_eq!(r.units_compared, 6);
        assert_eq!(r.fleiss_units, 3);
        assert_eq!(
            r.left_out,
            vec![
                LeftOut { reason: LeftOutReason::FewerThanTwoLayers, units: 3 },
                LeftOut { reason: LeftOutReason::NotEveryLayer, units: 3 },
                LeftOut { reason: LeftOutReason::PairIncomplete, units: 6 },
            ]
        );
        assert_eq!(r.pairs.len(), 3);
        assert_eq!(r.pairs[0].units, 6);
        assert_eq!(r.pairs[1].units, 3);
        assert_eq!(r.by_document[1].krippendorff_alpha, None);
        assert_eq!(r.by_type.len(), 2);
    }
}
