//! Scoring predicted spans against gold spans, for the tagger's cross-validation and for
//! experiments with any model. Per type and over all types (micro-averaged):
//! - exact: a prediction is right when a gold span has the same start, end and type;
//! - overlapping: a prediction is right when it overlaps a gold span of the same type, each
//!   gold span matched at most once (predictions taken in order, the gold span overlapping most);
//! - a confusion matrix of gold type × predicted type over spans paired by identical offsets
//!   first and then by overlap, with `MISSED` for a gold span nothing was paired with and
//!   `SPURIOUS` for a prediction paired with no gold span;
//! - a reliability table: predictions binned by confidence, with the share of each bin that is
//!   exactly right, and the expected calibration error (the bins' |confidence − precision|
//!   weighted by their size).

use std::collections::BTreeMap;

use super::LabeledSpan;

/// The predicted side of a confusion row for a gold span nothing was paired with.
pub const MISSED: &str = "MISSED";
/// The gold side of a confusion row for a prediction paired with no gold span.
pub const SPURIOUS: &str = "SPURIOUS";

/// Counts and scores of one type (or of all types).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TypeScores {
    pub label: String,
    pub true_positives: u32,
    pub false_positives: u32,
    pub false_negatives: u32,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl TypeScores {
    fn new(label: String, tp: u32, predicted: u32, gold: u32) -> Self {
        let precision = if predicted == 0 { 0.0 } else { tp as f64 / predicted as f64 };
        let recall = if gold == 0 { 0.0 } else { tp as f64 / gold as f64 };
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        Self {
            label,
            true_positives: tp,
            false_positives: predicted - tp,
            false_negatives: gold - tp,
            precision,
            recall,
            f1,
        }
    }
}

/// Scores over all types and per type.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    pub overall: TypeScores,
    /// Per type, by label.
    pub by_type: Vec<TypeScores>,
}

/// One cell of a confusion matrix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    /// A gold type, or [`SPURIOUS`].
    pub gold: String,
    /// A predicted type, or [`MISSED`].
    pub predicted: String,
    pub count: u32,
}

/// One confidence bin of a reliability table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReliabilityBin {
    /// Confidences in `[lower, upper)` (the last bin includes 1).
    pub lower: f64,
    pub upper: f64,
    pub count: u32,
    pub mean_confidence: f64,
    /// The share of the bin's predictions that are exactly right (0 for an empty bin).
    pub precision: f64,
}

/// Confidence against measured precision.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reliability {
    pub bins: Vec<ReliabilityBin>,
    pub expected_calibration_error: f64,
}

impl Reliability {
    /// The table of `(confidence, exactly right)` pairs in `bins` equal bins.
    pub fn new(predictions: &[(f64, bool)], bins: usize) -> Self {
        let bins = bins.max(1);
        let mut count = vec![0u32; bins];
        let mut conf = vec![0.0f64; bins];
        let mut right = vec![0u32; bins];
        for &(c, ok) in predictions {
            let b = ((c.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
            count[b] += 1;
            conf[b] += c;
            right[b] += ok as u32;
        }
        let total = predictions.len().max(1) as f64;
        let mut ece = 0.0;
        let bins: Vec<ReliabilityBin> = (0..bins)
            .map(|b| {
                let n = count[b];
                let (mean, precision) =
                    if n == 0 { (0.0, 0.0) } else { (conf[b] / n as f64, right[b] as f64 / n as f64) };
                ece += n as f64 / total * (mean - precision).abs();
                ReliabilityBin {
                    lower: b as f64 / count.len() as f64,
                    upper: (b + 1) as f64 / count.len() as f64,
                    count: n,
                    mean_confidence: mean,
                    precision,
                }
            })
            .collect();
        Self { bins, expected_calibration_error: ece }
    }
}

/// Counts gathered text by text.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Per label: (exact true positives, overlap matches of predictions, overlap matches of gold,
    /// predicted, gold).
    counts: BTreeMap<String, [u32; 5]>,
    confusion: BTreeMap<(String, String), u32>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one text's gold and predicted spans (offsets into the same text).
    pub fn add(&mut self, gold: &[LabeledSpan], predicted: &[LabeledSpan]) {
        for g in gold {
            self.counts.entry(g.label.clone()).or_default()[4] += 1;
        }
        for p in predicted {
            let c = self.counts.entry(p.label.clone()).or_default();
            c[3] += 1;
            if gold.contains(p) {
                c[0] += 1;
            }
        }
        // Overlap matching, per type, each gold span at most once.
        let mut used = vec![false; gold.len()];
        for p in predicted {
            let best = gold
                .iter()
                .enumerate()
                .filter(|(i, g)| !used[*i] && g.label == p.label && overlap(g, p) > 0)
                .max_by_key(|(i, g)| (overlap(g, p), std::cmp::Reverse(*i)));
            if let Some((i, g)) = best {
                used[i] = true;
                let c = self.counts.get_mut(&g.label).expect("counted above");
                c[1] += 1;
                c[2] += 1;
            }
        }
        // Confusion: identical offsets first, then overlaps.
        let mut gold_used = vec![false; gold.len()];
        let mut pred_used = vec![false; predicted.len()];
        for (pi, p) in predicted.iter().enumerate() {
            if let Some(gi) =
                (0..gold.len()).find(|&gi| !gold_used[gi] && gold[gi].start == p.start && gold[gi].end == p.end)
            {
                gold_used[gi] = true;
                pred_used[pi] = true;
                *self.confusion.entry((gold[gi].label.clone(), p.label.clone())).or_default() += 1;
            }
        }
        for (pi, p) in predicted.iter().enumerate() {
            if pred_used[pi] {
                continue;
            }
            let best = (0..gold.len())
                .filter(|&gi| !gold_used[gi] && overlap(&gold[gi], p) > 0)
                .max_by_key(|&gi| (overlap(&gold[gi], p), std::cmp::Reverse(gi)));
            if let Some(gi) = best {
                gold_used[gi] = true;
                pred_used[pi] = true;
                *self.confusion.entry((gold[gi].label.clone(), p.label.clone())).or_default() += 1;
            }
        }
        for (gi, g) in gold.iter().enumerate() {
            if !gold_used[gi] {
                *self.confusion.entry((g.label.clone(), MISSED.to_owned())).or_default() += 1;
            }
        }
        for (pi, p) in predicted.iter().enumerate() {
            if !pred_used[pi] {
                *self.confusion.entry((SPURIOUS.to_owned(), p.label.clone())).or_default() += 1;
            }
        }
    }

    /// Exact-match scores.
    pub fn exact(&self) -> Scores {
        self.scores(|c| (c[0], c[0]))
    }

    /// Overlap-match scores.
    pub fn overlapping(&self) -> Scores {
        self.scores(|c| (c[1], c[2]))
    }

    fn scores(&self, matched: impl Fn(&[u32; 5]) -> (u32, u32)) -> Scores {
        let mut all = [0u32; 4]; // matched predictions, matched gold, predicted, gold
        let by_type = self
            .counts
            .iter()
            .map(|(label, c)| {
                let (mp, mg) = matched(c);
                all[0] += mp;
                all[1] += mg;
                all[2] += c[3];
                all[3] += c[4];
                scores_of(label.clone(), mp, mg, c[3], c[4])
            })
            .collect();
        Scores { overall: scores_of(String::new(), all[0], all[1], all[2], all[3]), by_type }
    }

    /// The confusion matrix, in (gold, predicted) order.
    pub fn confusion(&self) -> Vec<Confusion> {
        self.confusion
            .iter()
            .map(|((g, p), &count)| Confusion { gold: g.clone(), predicted: p.clone(), count })
            .collect()
    }
}

/// Precision from matched predictions, recall from matched gold (they differ only for overlap
/// matching, where they are equal by construction, and are kept apart for clarity).
fn scores_of(label: String, matched_predicted: u32, matched_gold: u32, predicted: u32, gold: u32) -> TypeScores {
    let mut s = TypeScores::new(label, matched_predicted, predicted, gold);
    s.recall = if gold == 0 { 0.0 } else { matched_gold as f64 / gold as f64 };
    s.false_negatives = gold - matched_gold;
    s.f1 = if s.precision + s.recall == 0.0 { 0.0 } else { 2.0 * s.precision * s.recall / (s.precision + s.recall) };
    s
}

fn overlap(a: &LabeledSpan, b: &LabeledSpan) -> u32 {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

/// What cross-validation measured of a model trained the way the stored one was.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub folds: u32,
    /// Lines trained on, and gold spans in them.
    pub lines: u32,
    pub gold_entities: u32,
    pub exact: Scores,
    pub overlapping: Scores,
    pub reliability: Reliability,
    /// The temperature the confidences are computed at (fitted on the folds' predictions).
    pub temperature: f64,
    /// The map from probabilities to confidences (fitted on the folds' predictions).
    #[serde(default)]
    pub calibration: super::calibration::Calibration,
    /// What decoding takes off each word's outside score (chosen for the best cross-validated
    /// F1; 0 for models trained before it).
    #[serde(default)]
    pub outside_bias: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, end: u32, label: &str) -> LabeledSpan {
        LabeledSpan { start, end, label: label.into() }
    }

    #[test]
    fn exact_and_overlapping_scores_per_type() {
        let gold = [span(0, 4, "PERSON"), span(5, 9, "PERSON"), span(10, 14, "LOCATION")];
        let predicted = [span(0, 4, "PERSON"), span(5, 7, "PERSON"), span(10, 14, "PERSON"), span(20, 22, "DATE")];
        let mut t = Tally::new();
        t.add(&gold, &predicted);
        let exact = t.exact();
        assert_eq!(
            (exact.overall.true_positives, exact.overall.false_positives, exact.overall.false_negatives),
            (1, 3, 2)
        );
        assert!((exact.overall.precision - 0.25).abs() < 1e-12);
        assert!((exact.overall.recall - 1.0 / 3.0).abs() < 1e-12);
        let person = exact.by_type.iter().find(|s| s.label == "PERSON").unwrap();
        assert_eq!((person.true_positives, person.false_positives, person.false_negatives), (1, 2, 1));
        let overlap = t.overlapping();
        assert_eq!(overlap.overall.true_positives, 2, "the cut-short PERSON overlaps");
        assert!((overlap.overall.recall - 2.0 / 3.0).abs() < 1e-12);
        let confusion: Vec<(String, String, u32)> =
            t.confusion().into_iter().map(|c| (c.gold, c.predicted, c.count)).collect();
        assert_eq!(
            confusion,
            [
                ("LOCATION".into(), "PERSON".into(), 1),
                ("PERSON".into(), "PERSON".into(), 2),
                ("SPURIOUS".into(), "DATE".into(), 1),
            ]
        );
    }

    #[test]
    fn a_missed_span_is_counted_as_missed() {
        let mut t = Tally::new();
        t.add(&[span(0, 3, "PERSON")], &[]);
        assert_eq!(t.confusion(), [Confusion { gold: "PERSON".into(), predicted: MISSED.into(), count: 1 }]);
        assert_eq!(t.exact().overall.recall, 0.0);
        assert_eq!(t.exact().overall.precision, 0.0);
    }

    #[test]
    fn each_gold_span_is_matched_once_when_overlapping() {
        let mut t = Tally::new();
        t.add(&[span(0, 10, "PERSON")], &[span(0, 3, "PERSON"), span(4, 10, "PERSON")]);
        let o = t.overlapping().overall;
        assert_eq!((o.true_positives, o.false_positives, o.false_negatives), (1, 1, 0));
    }

    #[test]
    fn reliability_bins_confidence_against_precision() {
        let preds = [(0.95, true), (0.91, true), (0.99, false), (0.15, false), (0.12, true), (1.0, true)];
        let r = Reliability::new(&preds, 10);
        assert_eq!(r.bins.len(), 10);
        let top = &r.bins[9];
        assert_eq!(top.count, 4);
        assert!((top.precision - 0.75).abs() < 1e-12);
        assert!((top.mean_confidence - (0.95 + 0.91 + 0.99 + 1.0) / 4.0).abs() < 1e-12);
        assert_eq!(r.bins[1].count, 2);
        let ece = 4.0 / 6.0 * (top.mean_confidence - 0.75).abs() + 2.0 / 6.0 * (0.135f64 - 0.5).abs();
        assert!((r.expected_calibration_error - ece).abs() < 1e-12);
    }
}
