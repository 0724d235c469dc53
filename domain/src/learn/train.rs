//! Training: an averaged structured perceptron over the words of gold lines, and k-fold
//! cross-validation that measures the model and fits the temperature of its confidences.
//! On a few hundred lines, the weights a perceptron ends with depend much on the order it met
//! the lines in; so several perceptrons, each over its own shuffled orders, are averaged into
//! the model (bagging, [`TrainingOptions::bags`]; fewer as the gold grows, [`bags_for`]).
//!
//! The gold the model learns from is also a feature (a name seen verified is likely one again),
//! but a model trained with every gold name as a hit would learn that a hit is always right. So
//! the gold-name features of a training line come from the gold of the *other* lines only
//! (jackknifing over `folds` groups): the model learns how far a seen name can be trusted on a
//! line it was not seen on, which is what tagging a new text asks of it.
//!
//! Deterministic: the order of lines in each epoch of each bag, the jackknife groups and the
//! folds come from a generator seeded by [`TrainingOptions::seed`]; features are numbered in
//! order of first appearance; the same input gives the same model.

use super::calibration::Calibration;
use super::evaluate::{Metrics, Reliability, Tally};
use super::features::{LineInput, line_features};
use super::labels::{Label, LabelSet, Part, WordSpan, encode};
use super::lattice::Transitions;
use super::model::{KeyMap, Tagger};
use super::names::{Name, NameIndex, NameSource};
use super::tokens::{lines_with_offsets, tokenize};
use super::{Annotated, LabeledSpan, fold};

/// How to train.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrainingOptions {
    /// Passes over the training lines.
    pub epochs: u32,
    /// Seeds the order of lines, the jackknife groups and the folds.
    pub seed: u64,
    /// Cross-validation folds (and jackknife groups), at least 2.
    pub folds: u32,
    /// At most how many perceptrons, each over its own orders of the lines, are averaged into
    /// one model (bagging; 1: one perceptron). Fewer on much gold: see [`bags_for`].
    #[serde(default = "one")]
    pub bags: u32,
}

fn one() -> u32 {
    1
}

impl Default for TrainingOptions {
    fn default() -> Self {
        Self { epochs: 8, seed: 0x6e69_7368_616e, folds: 5, bags: 8 }
    }
}

/// Lines of gold up to which every bag is trained: past them, fewer perceptrons are averaged
/// (about this many lines' worth of steps per epoch, at least one perceptron), so that
/// training on much gold costs what one perceptron costs.
const BAGGED_LINES: usize = 4000;

/// How many perceptrons to average when training on `lines` lines, at most `bags`.
///
/// On a few hundred gold lines the perceptron depends much on the order it sees them in
/// (measured on 24 splits by text of the annotated lines: F1 0.771 with one, 0.797 with eight
/// averaged, better on 21 of the 24; with the joins of [`joined`](super::model::joined), 0.781
/// and 0.811, better on 23); on tens of thousands the order matters little and the cost would.
/// More did not help there: sixteen 0.797, thirty-two 0.796 (without the joins), twelve 0.809.
pub fn bags_for(bags: u32, lines: usize) -> usize {
    (bags.max(1) as usize).min(BAGGED_LINES.div_ceil(lines.max(1))).max(1)
}

/// Why no model could be trained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    #[error("no gold entity to learn from")]
    NoGold,
    #[error("{lines} lines with words; at least {needed} are needed to cross-validate")]
    TooFewLines { lines: usize, needed: usize },
}

/// A trained model and what cross-validation measured of it.
#[derive(Debug, Clone)]
pub struct Trained {
    pub tagger: Tagger,
    pub metrics: Metrics,
}

/// Trains on `data` (the reference `names` as features): cross-validates to measure the model and
/// fit its temperature, then trains on everything.
pub fn train(data: &[Annotated], names: &[Name], options: &TrainingOptions) -> Result<Trained, TrainError> {
    let corpus = Corpus::new(data)?;
    let folds = options.folds.max(2) as usize;
    if corpus.lines.len() < folds {
        return Err(TrainError::TooFewLines { lines: corpus.lines.len(), needed: folds });
    }
    let metrics = corpus.cross_validate(names, options);
    let all: Vec<usize> = (0..corpus.lines.len()).collect();
    let tagger =
        corpus.fit(&all, names, options, metrics.temperature, metrics.calibration.clone(), metrics.outside_bias as f32);
    Ok(Trained { tagger, metrics })
}

/// Only the cross-validated measurement of training on `data`.
pub fn cross_validate(data: &[Annotated], names: &[Name], options: &TrainingOptions) -> Result<Metrics, TrainError> {
    let corpus = Corpus::new(data)?;
    let folds = options.folds.max(2) as usize;
    if corpus.lines.len() < folds {
        return Err(TrainError::TooFewLines { lines: corpus.lines.len(), needed: folds });
    }
    Ok(corpus.cross_validate(names, options))
}

/// A small, fast, seedable generator (splitmix64): enough for shuffling.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// One gold line, ready to train on.
struct Line {
    text: String,
    folded: Vec<String>,
    spans: Vec<WordSpan>,
    labels: Vec<Label>,
    /// The gold spans, code points into the line.
    gold: Vec<LabeledSpan>,
}

/// The gold lines and the types they hold.
struct Corpus {
    labels: Vec<String>,
    set: LabelSet,
    lines: Vec<Line>,
    gold_entities: usize,
}

/// Temperatures tried when fitting confidences: 0.25 to about 200, in steps of 25 %.
fn temperatures() -> Vec<f64> {
    (0..31).map(|k| 0.25 * 1.25f64.powi(k)).collect()
}

impl Corpus {
    fn new(data: &[Annotated]) -> Result<Self, TrainError> {
        let mut labels: Vec<String> = data.iter().flat_map(|a| a.spans.iter().map(|s| s.label.clone())).collect();
        labels.sort();
        labels.dedup();
        if labels.is_empty() {
            return Err(TrainError::NoGold);
        }
        let set = LabelSet::new(labels.len());
        let mut lines = Vec::new();
        let mut gold_entities = 0;
        for a in data {
            for (offset, text) in lines_with_offsets(&a.text) {
                let tokens = tokenize(text);
                if tokens.is_empty() {
                    continue;
                }
                let len = text.chars().count() as u32;
                let mut spans = Vec::new();
                for s in &a.spans {
                    if s.start < offset || s.end > offset + len || s.start >= s.end {
                        continue;
                    }
                    let (start, end) = (s.start - offset, s.end - offset);
                    let covered: Vec<usize> =
                        (0..tokens.len()).filter(|&i| tokens[i].start < end && tokens[i].end > start).collect();
                    if let (Some(&first), Some(&last)) = (covered.first(), covered.last()) {
                        let t = labels.binary_search(&s.label).expect("every gold label is listed");
                        spans.push(WordSpan { first, last, entity_type: t });
                    }
                }
                let (labels_of_line, _dropped) = encode(set, tokens.len(), &spans);
                // The spans as encoded (overlaps resolved), back as word spans and offsets.
                let spans = super::labels::decode(set, &labels_of_line);
                gold_entities += spans.len();
                let gold = spans
                    .iter()
                    .map(|s| LabeledSpan {
                        start: tokens[s.first].start,
                        end: tokens[s.last].end,
                        label: labels[s.entity_type].clone(),
                    })
                    .collect();
                lines.push(Line {
                    text: text.to_owned(),
                    folded: tokens.iter().map(|t| fold(t.text)).collect(),
                    spans,
                    labels: labels_of_line,
                    gold,
                });
            }
        }
        if gold_entities == 0 {
            return Err(TrainError::NoGold);
        }
        Ok(Self { labels, set, lines, gold_entities })
    }

    fn reference_index(&self, names: &[Name], builtin_types: &[Option<usize>]) -> NameIndex {
        let mut index = NameIndex::new(self.labels.len());
        for n in names.iter().filter(|n| n.source == NameSource::Reference) {
            if let Ok(t) = self.labels.binary_search(&n.label) {
                index.add(&n.text, t);
            }
        }
        add_builtin(&mut index, builtin_types);
        index
    }

    /// The project type each class of built-in names stands for in the gold of the lines
    /// `train`: the type of most of the gold spans that are exactly a built-in name of the
    /// class, if at least two are and they are more than half.
    fn builtin_types(&self, train: &[usize]) -> Vec<Option<usize>> {
        let classes = super::names::BUILTIN_CLASSES.len();
        let mut counts = vec![vec![0u32; self.labels.len()]; classes];
        for &line in train {
            let l = &self.lines[line];
            let hits = super::names::builtin().hits(&l.folded);
            for s in &l.spans {
                let (Some(first), Some(last)) = (hits[s.first], hits[s.last]) else { continue };
                let whole = if s.first == s.last {
                    first.part == Part::Unit
                } else {
                    first.part == Part::Begin
                        && last.part == Part::Last
                        && hits[s.first + 1..s.last].iter().all(|h| h.map(|h| h.part) == Some(Part::Inside))
                };
                if whole && first.entity_type == last.entity_type {
                    counts[first.entity_type][s.entity_type] += 1;
                }
            }
        }
        counts
            .iter()
            .map(|c| {
                let total: u32 = c.iter().sum();
                let (t, &n) = c.iter().enumerate().max_by_key(|&(t, n)| (*n, std::cmp::Reverse(t)))?;
                (n >= 2 && 2 * n > total).then_some(t)
            })
            .collect()
    }

    /// The gold names of a line: the folded words of each span, with its type.
    fn names_of(&self, line: usize) -> impl Iterator<Item = (Vec<String>, usize)> + '_ {
        let l = &self.lines[line];
        l.spans.iter().map(move |s| (l.folded[s.first..=s.last].to_vec(), s.entity_type))
    }

    /// The caller's gold names, folded.
    fn caller_gold(&self, names: &[Name]) -> Vec<(Vec<String>, usize)> {
        names
            .iter()
            .filter(|n| n.source == NameSource::Gold)
            .filter_map(|n| {
                let t = self.labels.binary_search(&n.label).ok()?;
                let words: Vec<String> = tokenize(&n.text).iter().map(|t| fold(t.text)).collect();
                (!words.is_empty()).then_some((words, t))
            })
            .collect()
    }

    /// Trains on the lines `train` (indices into `self.lines`).
    fn fit(
        &self,
        train: &[usize],
        names: &[Name],
        options: &TrainingOptions,
        temperature: f64,
        calibration: Calibration,
        outside_bias: f32,
    ) -> Tagger {
        let k = self.labels.len();
        let l = self.set.len();
        let mut rng = Rng::new(options.seed ^ 0x6a61_636b);
        // Jackknife groups over the training lines.
        let groups = (options.folds.max(2) as usize).min(train.len()).max(1);
        let mut order: Vec<usize> = (0..train.len()).collect();
        rng.shuffle(&mut order);
        let mut group_of = vec![0usize; train.len()];
        for (pos, &i) in order.iter().enumerate() {
            group_of[i] = pos % groups;
        }
        let caller_gold = self.caller_gold(names);
        let mut held_out_index: Vec<NameIndex> = (0..groups).map(|_| NameIndex::new(k)).collect();
        let mut full = NameIndex::new(k);
        let mut gold_names = Vec::new();
        for (words, t) in &caller_gold {
            full.add_words(words, *t);
            for index in &mut held_out_index {
                index.add_words(words, *t);
            }
            gold_names.push((words.clone(), *t));
        }
        for (pos, &line) in train.iter().enumerate() {
            for (words, t) in self.names_of(line) {
                full.add_words(&words, t);
                for (g, index) in held_out_index.iter_mut().enumerate() {
                    if g != group_of[pos] {
                        index.add_words(&words, t);
                    }
                }
                gold_names.push((words, t));
            }
        }
        let builtin_types = self.builtin_types(train);
        let reference = self.reference_index(names, &builtin_types);
        // Features of every training line; a light feature (letters, neighbours) seen once only
        // is dropped: it would memorise one word of one line, which the word's own feature does,
        // and they are most of all features (dropping them trains several times faster, and
        // measured, F1 does not fall). The others are numbered in order of first appearance.
        let keys: Vec<Vec<Vec<u64>>> = train
            .iter()
            .enumerate()
            .map(|(pos, &line)| self.line_keys(line, &reference, &held_out_index[group_of[pos]]))
            .collect();
        let mut seen: KeyMap<u32> = KeyMap::default();
        for key in keys.iter().flatten().flatten() {
            *seen.entry(*key).or_default() += 1;
        }
        let min_count = 2;
        let mut rows: KeyMap<u32> = KeyMap::default();
        let line_rows: Vec<Vec<Vec<u32>>> = keys
            .into_iter()
            .map(|line| {
                line.into_iter()
                    .map(|ks| {
                        ks.into_iter()
                            .filter(|k| *k & 1 == 0 || seen[k] >= min_count)
                            .map(|key| {
                                let next = rows.len() as u32;
                                *rows.entry(key).or_insert(next)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let n_rows = rows.len();
        // Bagging: the perceptrons of several orders of the lines, averaged (see
        // [`TrainingOptions::bags`]).
        let bags = bags_for(options.bags, train.len());
        let mut weights = vec![0.0f32; n_rows * l];
        let mut pairs = vec![0.0f32; l * l + 2 * l];
        for _ in 0..bags {
            let mut p = Perceptron::new(self.set, n_rows);
            for (&key, &row) in &rows {
                p.scale[row as usize] = super::features::value(key);
            }
            let mut order: Vec<usize> = (0..train.len()).collect();
            for _ in 0..options.epochs {
                rng.shuffle(&mut order);
                for &pos in &order {
                    let gold = &self.lines[train[pos]].labels;
                    p.learn(&line_rows[pos], gold);
                }
            }
            let (w, t) = p.averaged();
            for (sum, v) in weights.iter_mut().zip(&w) {
                *sum += v / bags as f32;
            }
            for (sum, v) in pairs.iter_mut().zip(t.pair.iter().chain(&t.start).chain(&t.end)) {
                *sum += v / bags as f32;
            }
        }
        let transitions = Transitions::new(
            self.set,
            pairs[..l * l].to_vec(),
            pairs[l * l..l * l + l].to_vec(),
            pairs[l * l + l..].to_vec(),
        );
        // Keep only the features that carry a weight.
        let mut kept: KeyMap<u32> = KeyMap::default();
        let mut kept_weights = Vec::new();
        let mut by_row: Vec<(u64, u32)> = rows.into_iter().collect();
        by_row.sort_by_key(|&(_, r)| r);
        for (key, row) in by_row {
            let w = &weights[row as usize * l..(row as usize + 1) * l];
            if w.iter().any(|&v| v != 0.0) {
                kept.insert(key, (kept_weights.len() / l) as u32);
                kept_weights.extend_from_slice(w);
            }
        }
        let tables = transitions.probabilities(temperature);
        Tagger {
            labels: self.labels.clone(),
            set: self.set,
            rows: kept,
            weights: kept_weights,
            transitions,
            temperature,
            tables,
            calibration,
            outside_bias,
            builtin_types,
            gold: full,
            gold_names,
        }
    }

    fn line_keys(&self, line: usize, reference: &NameIndex, gold: &NameIndex) -> Vec<Vec<u64>> {
        let l = &self.lines[line];
        let tokens = tokenize(&l.text);
        let folded: Vec<&str> = l.folded.iter().map(String::as_str).collect();
        let ref_hits = reference.hits(&l.folded);
        let gold_hits = gold.hits(&l.folded);
        let builtin = super::names::builtin().hits(&l.folded);
        let gold_words: Vec<Option<(usize, bool)>> = l.folded.iter().map(|w| gold.word_type(w)).collect();
        let clusters = super::clusters::WordClusters::builtin();
        let word_clusters: Vec<Option<&[u16]>> = l.folded.iter().map(|w| clusters.of(w)).collect();
        let rates: Vec<_> = l.folded.iter().map(|w| clusters.honorific(w)).collect();
        line_features(&LineInput {
            tokens: &tokens,
            folded: &folded,
            reference: &ref_hits,
            gold: &gold_hits,
            builtin: &builtin,
            gold_words: &gold_words,
            clusters: &word_clusters,
            honorific_rates: &rates,
        })
    }

    /// Trains on `train`, and scores each word of the `test` lines under it (the bias and the
    /// temperature are chosen once every fold has run).
    fn run_fold(&self, test: &[usize], train: &[usize], names: &[Name], options: &TrainingOptions) -> FoldResult {
        let tagger = self.fit(train, names, options, 1.0, Calibration::default(), 0.0);
        let tag_names = tagger.names(names);
        let lines = test
            .iter()
            .map(|&line| {
                let l = &self.lines[line];
                let tokens = tokenize(&l.text);
                let folded: Vec<&str> = l.folded.iter().map(String::as_str).collect();
                (line, tagger.emissions(&tokens, &folded, &tag_names))
            })
            .collect();
        FoldResult { lines, transitions: tagger.transitions, joiners: tag_names.joiners }
    }

    /// The spans a fold's model decodes in a line at an outside bias (its emissions at that
    /// bias, the spans as decoded), and the spans as tagging gives them (the joins of
    /// [`joined`](super::model::joined) made), each with the decoded spans it comes from (bit
    /// `i` for the `i`-th).
    fn decode_at(
        &self,
        r: &FoldResult,
        line: usize,
        emissions: &[f32],
        bias: f32,
    ) -> (Vec<f32>, Vec<WordSpan>, Vec<(WordSpan, u64)>) {
        let l = self.set.len();
        let mut e = emissions.to_vec();
        for row in e.chunks_mut(l) {
            row[0] -= bias;
        }
        let words = self.lines[line].folded.len();
        let spans = super::labels::decode(self.set, &r.transitions.viterbi(&e, words));
        let tokens = tokenize(&self.lines[line].text);
        let folded: Vec<&str> = self.lines[line].folded.iter().map(String::as_str).collect();
        // Each joined span carries the decoded spans it comes from (a bit each).
        let joined = super::model::joined(
            spans.iter().copied().zip((0..).map(|i: u32| 1u64 << i.min(63))).collect(),
            &tokens,
            &folded,
            &r.joiners,
            |a, b| a | b,
        );
        (e, spans, joined)
    }

    fn spans_of(&self, line: usize, spans: &[WordSpan]) -> Vec<LabeledSpan> {
        let tokens = tokenize(&self.lines[line].text);
        spans
            .iter()
            .map(|s| LabeledSpan {
                start: tokens[s.first].start,
                end: tokens[s.last].end,
                label: self.labels[s.entity_type].clone(),
            })
            .collect()
    }

    /// k-fold cross-validation: each fold tagged by a model trained on the others.
    fn cross_validate(&self, names: &[Name], options: &TrainingOptions) -> Metrics {
        let folds = (options.folds.max(2) as usize).min(self.lines.len());
        let mut rng = Rng::new(options.seed ^ 0x666f_6c64);
        let mut order: Vec<usize> = (0..self.lines.len()).collect();
        rng.shuffle(&mut order);
        let temps = temperatures();
        // The folds run on as many threads as the machine offers; each returns its lines'
        // scores, merged in fold order, so the result does not depend on them.
        let fold_lines: Vec<(Vec<usize>, Vec<usize>)> = (0..folds)
            .map(|f| {
                let test = order.iter().enumerate().filter(|(i, _)| i % folds == f).map(|(_, &l)| l).collect();
                let train = order.iter().enumerate().filter(|(i, _)| i % folds != f).map(|(_, &l)| l).collect();
                (test, train)
            })
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, folds);
        let mut results: Vec<Option<FoldResult>> = (0..folds).map(|_| None).collect();
        std::thread::scope(|scope| {
            let chunks: Vec<Vec<usize>> = (0..threads).map(|t| (t..folds).step_by(threads).collect()).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|mine| {
                    let fold_lines = &fold_lines;
                    scope.spawn(move || {
                        mine.into_iter()
                            .map(|f| (f, self.run_fold(&fold_lines[f].0, &fold_lines[f].1, names, options)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (f, r) in h.join().expect("a fold panicked") {
                    results[f] = Some(r);
                }
            }
        });
        let results: Vec<FoldResult> = results.into_iter().map(|r| r.expect("every fold ran")).collect();
        // The outside bias of the best F1 over every fold's lines (the smallest on ties).
        let mut best_bias = (0.0f32, -1.0f64);
        for &bias in OUTSIDE_BIASES {
            let mut tally = Tally::new();
            for r in &results {
                for (line, emissions) in &r.lines {
                    let (_, _, joined) = self.decode_at(r, *line, emissions, bias);
                    let spans: Vec<WordSpan> = joined.into_iter().map(|(s, _)| s).collect();
                    tally.add(&self.lines[*line].gold, &self.spans_of(*line, &spans));
                }
            }
            let f1 = tally.exact().overall.f1;
            if f1 > best_bias.1 + 1e-9 {
                best_bias = (bias, f1);
            }
        }
        let bias = best_bias.0;
        let mut tally = Tally::new();
        let mut predictions: Vec<(usize, bool, Vec<f64>)> = Vec::new();
        for (f, r) in results.iter().enumerate() {
            let tables: Vec<_> = temps.iter().map(|&t| r.transitions.probabilities(t)).collect();
            for (line, emissions) in &r.lines {
                let (e, spans, joined) = self.decode_at(r, *line, emissions, bias);
                let predicted = self.spans_of(*line, &joined.iter().map(|(s, _)| *s).collect::<Vec<_>>());
                let gold = &self.lines[*line].gold;
                if !spans.is_empty() {
                    // Each span's probability is the lowest of the decoded spans it comes from,
                    // as when tagging.
                    let words = self.lines[*line].folded.len();
                    let per_t: Vec<Vec<f64>> =
                        tables.iter().map(|t| r.transitions.span_probabilities_at(t, &e, words, &spans)).collect();
                    for (p, (_, i)) in predicted.iter().zip(&joined) {
                        let p_of = |v: &Vec<f64>| {
                            (0..v.len()).filter(|&k| i >> k.min(63) & 1 == 1).map(|k| v[k]).fold(1.0, f64::min)
                        };
                        predictions.push((f, gold.contains(p), per_t.iter().map(p_of).collect()));
                    }
                }
                tally.add(gold, &predicted);
            }
        }
        let best = (0..temps.len())
            .min_by(|&a, &b| log_loss(&predictions, a).total_cmp(&log_loss(&predictions, b)))
            .unwrap_or(0);
        // Confidence = measured precision: an isotonic map on top of the temperature. The table
        // is measured out of fold (each fold's predictions mapped by the map fitted on the other
        // folds'), so it is not flattered by the map having seen them; the model keeps the map
        // fitted on all of them.
        let pairs: Vec<(f64, bool)> = predictions.iter().map(|(_, ok, p)| (p[best], *ok)).collect();
        let out_of_fold: Vec<(f64, bool)> = (0..folds)
            .flat_map(|f| {
                let others: Vec<(f64, bool)> =
                    predictions.iter().filter(|(g, _, _)| *g != f).map(|(_, ok, p)| (p[best], *ok)).collect();
                let map = Calibration::fit(&others);
                predictions.iter().filter(move |(g, _, _)| *g == f).map(move |(_, ok, p)| (map.apply(p[best]), *ok))
            })
            .collect();
        Metrics {
            folds: folds as u32,
            lines: self.lines.len() as u32,
            gold_entities: self.gold_entities as u32,
            exact: tally.exact(),
            overlapping: tally.overlapping(),
            reliability: Reliability::new(&out_of_fold, 10),
            temperature: temps[best],
            calibration: Calibration::fit(&pairs),
            outside_bias: bias as f64,
        }
    }
}

/// Adds the built-in names of each class that stands for a type, under that type.
pub(crate) fn add_builtin(index: &mut NameIndex, builtin_types: &[Option<usize>]) {
    for (class, name) in super::names::builtin_names() {
        if let Some(Some(t)) = builtin_types.get(*class) {
            index.add(name, *t);
        }
    }
}

/// The outside biases tried (in units of one perceptron update).
const OUTSIDE_BIASES: &[f32] = &[0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];

/// What one fold of cross-validation found: the emissions of each test line under the fold's
/// model, and the model's transitions.
struct FoldResult {
    lines: Vec<(usize, Vec<f32>)>,
    transitions: Transitions,
    /// The words the fold's model joins to the spans after them.
    joiners: std::collections::HashMap<String, Vec<usize>>,
}

/// The mean log loss of the predictions' probabilities at temperature index `t`.
fn log_loss(predictions: &[(usize, bool, Vec<f64>)], t: usize) -> f64 {
    predictions
        .iter()
        .map(|(_, ok, p)| {
            let p = p[t].clamp(1e-6, 1.0 - 1e-6);
            if *ok { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / predictions.len().max(1) as f64
}

/// The weights being learnt, with the sums that make their average (Collins 2002, with the
/// lazy-update trick: the average is `w - u / c`, `u` summing each update times the step it was
/// made at).
struct Perceptron {
    set: LabelSet,
    w: Vec<f32>,
    u: Vec<f32>,
    /// Each row's feature value.
    scale: Vec<f32>,
    tw: Vec<f32>,
    tu: Vec<f32>,
    /// The current transitions (`tw` as a lattice), updated with it.
    current: Transitions,
    /// Steps taken (lines seen), from 1.
    c: f32,
}

impl Perceptron {
    fn new(set: LabelSet, rows: usize) -> Self {
        let l = set.len();
        // Transitions: `l × l` pairs, then `l` starts, then `l` ends.
        let t = l * l + 2 * l;
        Self {
            set,
            w: vec![0.0; rows * l],
            u: vec![0.0; rows * l],
            scale: vec![1.0; rows],
            tw: vec![0.0; t],
            tu: vec![0.0; t],
            current: Transitions::zeros(set),
            c: 1.0,
        }
    }

    fn transitions(&self, w: &[f32]) -> Transitions {
        let l = self.set.len();
        Transitions::new(self.set, w[..l * l].to_vec(), w[l * l..l * l + l].to_vec(), w[l * l + l..].to_vec())
    }

    /// One step on one line: decode with the current weights, and where the labels are wrong,
    /// move towards the gold and away from the prediction.
    fn learn(&mut self, rows: &[Vec<u32>], gold: &[Label]) {
        let l = self.set.len();
        let n = rows.len();
        let mut emissions = vec![0.0f32; n * l];
        for (t, rs) in rows.iter().enumerate() {
            let out = &mut emissions[t * l..(t + 1) * l];
            for &r in rs {
                let v = self.scale[r as usize];
                for (o, w) in out.iter_mut().zip(&self.w[r as usize * l..(r as usize + 1) * l]) {
                    *o += v * w;
                }
            }
        }
        let predicted = self.current.viterbi(&emissions, n);
        if predicted != gold {
            let c = self.c;
            for t in 0..n {
                if predicted[t] != gold[t] {
                    for &r in &rows[t] {
                        let base = r as usize * l;
                        let v = self.scale[r as usize];
                        self.w[base + gold[t]] += v;
                        self.u[base + gold[t]] += c * v;
                        self.w[base + predicted[t]] -= v;
                        self.u[base + predicted[t]] -= c * v;
                    }
                }
            }
            let (tw, tu, current) = (&mut self.tw, &mut self.tu, &mut self.current);
            let mut bump = |i: usize, d: f32| {
                tw[i] += d;
                tu[i] += c * d;
                match i {
                    i if i < l * l => current.pair[i] += d,
                    i if i < l * l + l => current.start[i - l * l] += d,
                    i => current.end[i - l * l - l] += d,
                }
            };
            bump(l * l + gold[0], 1.0);
            bump(l * l + predicted[0], -1.0);
            bump(l * l + l + gold[n - 1], 1.0);
            bump(l * l + l + predicted[n - 1], -1.0);
            for t in 1..n {
                bump(gold[t - 1] * l + gold[t], 1.0);
                bump(predicted[t - 1] * l + predicted[t], -1.0);
            }
        }
        self.c += 1.0;
    }

    /// The averaged weights and transitions.
    fn averaged(&self) -> (Vec<f32>, Transitions) {
        let c = self.c;
        let w = self.w.iter().zip(&self.u).map(|(w, u)| w - u / c).collect();
        let tw: Vec<f32> = self.tw.iter().zip(&self.tu).map(|(w, u)| w - u / c).collect();
        (w, self.transitions(&tw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tagged: &str) -> Annotated {
        // `<TYPE>text</TYPE>` tags, as in the corpus's tagged sample.
        let mut text = String::new();
        let mut spans = Vec::new();
        let mut rest = tagged;
        while let Some(open) = rest.find('<') {
            text.push_str(&rest[..open]);
            let close = rest[open..].find('>').unwrap() + open;
            let label = &rest[open + 1..close];
            let end_tag = format!("</{label}>");
            let inner_end = rest[close + 1..].find(&end_tag).unwrap() + close + 1;
            let start = text.chars().count() as u32;
            text.push_str(&rest[close + 1..inner_end]);
            spans.push(LabeledSpan { start, end: text.chars().count() as u32, label: label.into() });
            rest = &rest[inner_end + end_tag.len()..];
        }
        text.push_str(rest);
        Annotated { text, spans }
    }

    fn toy() -> Vec<Annotated> {
        [
            "رو کے فرماتی ہیں کسی گوشے میں جائے <PERSON>زینب</PERSON>",
            "ہاتھ کھل جائیں تو منھ اپنا چھپائے <PERSON>زینب</PERSON>",
            "سخت اینا میں ہے، فرزند شتہ <LOCATION>کرب و بلا</LOCATION>",
            "خار تلووں میں میں <LOCATION>مقتل</LOCATION> سے جو پیدل ہے چلا",
            "<PERSON>عباس</PERSON> کی فرقت کا کسی دل پہ الم ہے",
            "<PERSON>اکبر</PERSON> کی جوانی کا کسی رانڈ کو غم ہے",
            "<PERSON>اصغر</PERSON> کے لئے چشم کسی بی بی کی نم ہے",
            "کہتی تھی یہ <PERSON>کبرا</PERSON> مجھے زحمت نے ہے گھیرا",
            "منھ مجھ کو <PERSON>سکینہ</PERSON> نظر آتا نہیں تیرا",
            "پہنچے جو <LOCATION>کربلا</LOCATION> میں تو خیمے لگا دیے",
        ]
        .iter()
        .map(|t| line(t))
        .collect()
    }

    #[test]
    fn a_trained_model_tags_what_it_learnt_and_stores_exactly() {
        let data = toy();
        let trained = train(&data, &[], &TrainingOptions::default()).unwrap();
        let names = trained.tagger.names(&[]);
        let got = trained.tagger.tag("جائے زینب\nکرب و بلا", &names);
        let spans: Vec<(u32, u32, &str)> = got.iter().map(|t| (t.start, t.end, t.label.as_str())).collect();
        assert_eq!(spans, [(5, 9, "PERSON"), (10, 19, "LOCATION")]);
        assert!(got.iter().all(|t| (0.0..=1.0).contains(&t.confidence)));
        let bytes = trained.tagger.to_bytes();
        let back = Tagger::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.tag("جائے زینب\nکرب و بلا", &back.names(&[])), got);
        assert!(Tagger::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Tagger::from_bytes(b"NSHT").is_err());
    }

    #[test]
    fn the_outside_bias_is_chosen_by_cross_validation_and_stored() {
        let trained = train(&toy(), &[], &TrainingOptions::default()).unwrap();
        let bias = trained.metrics.outside_bias as f32;
        assert!(OUTSIDE_BIASES.contains(&bias), "{bias}");
        assert_eq!(trained.tagger.outside_bias, bias);
        let bytes = trained.tagger.to_bytes();
        assert_eq!(Tagger::from_bytes(&bytes).unwrap().outside_bias, bias);
        // A model stored before the bias (format 2: no bias after the temperature) still reads,
        // with none.
        let mut old = bytes.clone();
        old[4..8].copy_from_slice(&2u32.to_le_bytes());
        let at = 4 + 4 + 4 + trained.tagger.labels.iter().map(|l| 4 + l.len()).sum::<usize>() + 8;
        old.drain(at..at + 4);
        // ... nor the types of the built-in names' classes at the end.
        old.truncate(old.len() - 4 - 4 * trained.tagger.builtin_types.len());
        let mut back = Tagger::from_bytes(&old).unwrap();
        assert_eq!((back.outside_bias, back.builtin_types.len()), (0.0, 0));
        back.outside_bias = bias;
        back.builtin_types = trained.tagger.builtin_types.clone();
        assert_eq!(back.to_bytes(), bytes, "the rest reads as it was");
        // A larger bias finds at least the spans a smaller one does, on a line of unknown words.
        let names = trained.tagger.names(&[]);
        let line = "کل عون نے کوفہ میں جا کے کہا";
        let mut eager = trained.tagger.clone();
        eager.outside_bias = 0.0;
        let base = eager.tag(line, &names).len();
        eager.outside_bias = 50.0;
        assert!(eager.tag(line, &names).len() >= base.max(1));
    }

    #[test]
    fn a_class_of_builtin_names_stands_for_the_type_the_gold_gives_it() {
        // Two places of the toy gold are built-in PLACE names (کربلا, مقتل) and LOCATION; its
        // persons (زینب twice, عباس, ...) make PERSON stand for PERSON; no TITLE is in it.
        let trained = train(&toy(), &[], &TrainingOptions::default()).unwrap();
        let tagger = &trained.tagger;
        let class = |c: &str| super::super::names::BUILTIN_CLASSES.iter().position(|k| *k == c).unwrap();
        let type_of = |c: &str| tagger.builtin_types[class(c)].map(|t| tagger.labels[t].as_str());
        assert_eq!(type_of("PERSON"), Some("PERSON"));
        assert_eq!(type_of("PLACE"), Some("LOCATION"));
        assert_eq!(type_of("TITLE"), None);
        // So a built-in place the gold never showed is a reference name of LOCATION.
        let names = tagger.names(&[]);
        let folded: Vec<String> = ["نینوا"].iter().map(|w| fold(w)).collect();
        let hit = names.reference.hits(&folded)[0].unwrap();
        assert_eq!(tagger.labels[hit.entity_type], "LOCATION");
    }

    #[test]
    fn training_is_deterministic_given_a_seed() {
        let data = toy();
        let a = train(&data, &[], &TrainingOptions::default()).unwrap();
        let b = train(&data, &[], &TrainingOptions::default()).unwrap();
        assert_eq!(a.tagger.to_bytes(), b.tagger.to_bytes());
        assert_eq!(a.metrics, b.metrics);
        let other = TrainingOptions { seed: 7, ..TrainingOptions::default() };
        let c = train(&data, &[], &other).unwrap();
        assert_ne!(a.tagger.to_bytes(), c.tagger.to_bytes(), "another seed, another order of lines");
    }

    #[test]
    fn reference_names_are_features_of_the_types_the_gold_holds() {
        let data = toy();
        let names = [Name::reference("کوفہ", "LOCATION"), Name::reference("دمشق", "UNKNOWN")];
        let trained = train(&data, &names, &TrainingOptions::default()).unwrap();
        assert_eq!(trained.tagger.labels(), ["LOCATION", "PERSON"]);
        let m = &trained.metrics;
        assert_eq!((m.folds, m.lines, m.gold_entities), (5, 10, 10));
        assert_eq!(
            m.reliability.bins.iter().map(|b| b.count).sum::<u32>(),
            m.exact.overall.true_positives + m.exact.overall.false_positives
        );
    }

    #[test]
    fn no_gold_or_too_few_lines_is_an_error() {
        assert_eq!(
            train(&[Annotated { text: "کچھ نہیں".into(), spans: vec![] }], &[], &TrainingOptions::default())
                .unwrap_err(),
            TrainError::NoGold
        );
        let two = &toy()[..2];
        assert_eq!(
            train(two, &[], &TrainingOptions::default()).unwrap_err(),
            TrainError::TooFewLines { lines: 2, needed: 5 }
        );
    }
}
