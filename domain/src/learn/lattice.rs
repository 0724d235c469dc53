//! Decoding a line: the best valid label sequence (Viterbi) and the probability of a span
//! (forward-backward), over per-word label scores ("emissions", `words × labels`, row-major) and
//! label-pair scores. Only transitions [`LabelSet::allowed`] permits are ever taken, so decoded
//! spans are whole. Probabilities are those of a softmax over whole-sequence scores divided by a
//! temperature (a linear-chain CRF's, with the perceptron's weights), computed with scaling in
//! plain floating point, so a line of any length neither overflows nor underflows.

use super::labels::{Label, LabelSet, Part, WordSpan};

/// The label-pair scores of a model, and which pairs are allowed.
#[derive(Debug, Clone)]
pub struct Transitions {
    pub set: LabelSet,
    /// `labels × labels`: score of `prev` → `next` at `prev * labels + next`.
    pub pair: Vec<f32>,
    /// Score of starting a line with a label.
    pub start: Vec<f32>,
    /// Score of ending a line with a label.
    pub end: Vec<f32>,
    /// For each label, the labels allowed before it.
    allowed_before: Vec<Vec<Label>>,
    /// For each label, the labels allowed after it.
    allowed_after: Vec<Vec<Label>>,
}

/// The transition scores at one temperature, exponentiated once (forward-backward of every
/// line at that temperature uses them).
#[derive(Debug, Clone)]
pub struct Probabilities {
    t_inv: f64,
    pair: Vec<f64>,
    start: Vec<f64>,
    end: Vec<f64>,
}

impl Transitions {
    pub fn new(set: LabelSet, pair: Vec<f32>, start: Vec<f32>, end: Vec<f32>) -> Self {
        let l = set.len();
        assert_eq!(pair.len(), l * l);
        assert_eq!((start.len(), end.len()), (l, l));
        let allowed_before = (0..l).map(|next| (0..l).filter(|&prev| set.allowed(prev, next)).collect()).collect();
        let allowed_after = (0..l).map(|prev| (0..l).filter(|&next| set.allowed(prev, next)).collect()).collect();
        Self { set, pair, start, end, allowed_before, allowed_after }
    }

    pub fn zeros(set: LabelSet) -> Self {
        let l = set.len();
        Self::new(set, vec![0.0; l * l], vec![0.0; l], vec![0.0; l])
    }

    /// The best valid labels of a line (all `O` for a line without words is the empty vector).
    pub fn viterbi(&self, emissions: &[f32], words: usize) -> Vec<Label> {
        let l = self.set.len();
        if words == 0 {
            return vec![];
        }
        let mut score = vec![f32::NEG_INFINITY; words * l];
        let mut back = vec![0u16; words * l];
        for y in 0..l {
            if self.set.may_start(y) {
                score[y] = self.start[y] + emissions[y];
            }
        }
        for t in 1..words {
            for y in 0..l {
                let mut best = f32::NEG_INFINITY;
                let mut arg = 0;
                for &p in &self.allowed_before[y] {
                    let s = score[(t - 1) * l + p] + self.pair[p * l + y];
                    if s > best {
                        best = s;
                        arg = p;
                    }
                }
                score[t * l + y] = best + emissions[t * l + y];
                back[t * l + y] = arg as u16;
            }
        }
        let last = words - 1;
        let mut best = f32::NEG_INFINITY;
        let mut y = 0;
        for k in 0..l {
            if self.set.may_end(k) {
                let s = score[last * l + k] + self.end[k];
                if s > best {
                    best = s;
                    y = k;
                }
            }
        }
        let mut labels = vec![0; words];
        labels[last] = y;
        for t in (1..words).rev() {
            y = back[t * l + y] as usize;
            labels[t - 1] = y;
        }
        labels
    }

    /// The transition scores exponentiated at `temperature`, for [`span_probabilities_at`]
    /// (every path takes one start, one end and the same number of pairs, so each table is
    /// shifted by its maximum first: nothing overflows and the probabilities do not change).
    ///
    /// [`span_probabilities_at`]: Self::span_probabilities_at
    pub fn probabilities(&self, temperature: f64) -> Probabilities {
        let l = self.set.len();
        let t_inv = 1.0 / temperature.max(1e-6);
        let max_pair = self.pair.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let max_start = self.start.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let max_end = self.end.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let pair = (0..l * l)
            .map(|i| {
                let (p, y) = (i / l, i % l);
                if self.set.allowed(p, y) { ((self.pair[i] as f64 - max_pair) * t_inv).exp() } else { 0.0 }
            })
            .collect();
        let start = (0..l)
            .map(|y| if self.set.may_start(y) { ((self.start[y] as f64 - max_start) * t_inv).exp() } else { 0.0 })
            .collect();
        let end = (0..l)
            .map(|y| if self.set.may_end(y) { ((self.end[y] as f64 - max_end) * t_inv).exp() } else { 0.0 })
            .collect();
        Probabilities { t_inv, pair, start, end }
    }

    /// The probability of each span (that exactly its words carry its labels, whatever the rest
    /// of the line carries) under the softmax at `temperature`.
    pub fn span_probabilities(
        &self,
        emissions: &[f32],
        words: usize,
        temperature: f64,
        spans: &[WordSpan],
    ) -> Vec<f64> {
        self.span_probabilities_at(&self.probabilities(temperature), emissions, words, spans)
    }

    /// [`span_probabilities`](Self::span_probabilities) with the tables of a temperature made
    /// once.
    pub fn span_probabilities_at(
        &self,
        tables: &Probabilities,
        emissions: &[f32],
        words: usize,
        spans: &[WordSpan],
    ) -> Vec<f64> {
        if spans.is_empty() || words == 0 {
            return vec![0.0; spans.len()];
        }
        let l = self.set.len();
        let (m, start, end, t_inv) = (&tables.pair, &tables.start, &tables.end, tables.t_inv);
        let mut e = vec![0.0f64; words * l];
        for t in 0..words {
            let row = &emissions[t * l..(t + 1) * l];
            let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            for y in 0..l {
                e[t * l + y] = ((row[y] as f64 - top) * t_inv).exp();
            }
        }
        // Scaled forward.
        let mut alpha = vec![0.0f64; words * l];
        let mut c = vec![0.0f64; words + 1];
        for y in 0..l {
            alpha[y] = start[y] * e[y];
        }
        c[0] = normalize(&mut alpha[..l]);
        for t in 1..words {
            for y in 0..l {
                let mut s = 0.0;
                for &p in &self.allowed_before[y] {
                    s += alpha[(t - 1) * l + p] * m[p * l + y];
                }
                alpha[t * l + y] = s * e[t * l + y];
            }
            c[t] = normalize(&mut alpha[t * l..(t + 1) * l]);
        }
        c[words] = (0..l).map(|y| alpha[(words - 1) * l + y] * end[y]).sum::<f64>().max(f64::MIN_POSITIVE);
        // Scaled backward.
        let mut beta = vec![0.0f64; words * l];
        for y in 0..l {
            beta[(words - 1) * l + y] = end[y] / c[words];
        }
        for t in (0..words - 1).rev() {
            for p in 0..l {
                let mut s = 0.0;
                for &y in &self.allowed_after[p] {
                    s += m[p * l + y] * e[(t + 1) * l + y] * beta[(t + 1) * l + y];
                }
                beta[t * l + p] = s / c[t + 1];
            }
        }
        spans
            .iter()
            .map(|s| {
                let path = span_labels(self.set, s);
                let mut p = alpha[s.first * l + path[0]];
                for (k, w) in path.windows(2).enumerate() {
                    let t = s.first + k + 1;
                    p *= m[w[0] * l + w[1]] * e[t * l + w[1]] / c[t];
                }
                // Where the scaled factors under- or overflow (large weights at a low
                // temperature: a zero times an infinity), the probability is unknown: 0.
                let p = p * beta[s.last * l + path[path.len() - 1]];
                if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 }
            })
            .collect()
    }
}

/// The labels a span's words carry.
fn span_labels(set: LabelSet, s: &WordSpan) -> Vec<Label> {
    if s.first == s.last {
        return vec![set.label(Part::Unit, s.entity_type)];
    }
    (s.first..=s.last)
        .map(|i| {
            let part = if i == s.first {
                Part::Begin
            } else if i == s.last {
                Part::Last
            } else {
                Part::Inside
            };
            set.label(part, s.entity_type)
        })
        .collect()
}

/// Divides by the sum, returning it (the smallest positive float if it is zero).
fn normalize(row: &mut [f64]) -> f64 {
    let sum = row.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    for v in row.iter_mut() {
        *v /= sum;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::labels::{decode, encode};

    /// Every valid labelling of a line, with its score.
    fn brute_force(tr: &Transitions, emissions: &[f32], words: usize) -> Vec<(Vec<Label>, f64)> {
        let l = tr.set.len();
        let mut out = vec![];
        let total = l.pow(words as u32);
        for code in 0..total {
            let labels: Vec<Label> = (0..words).map(|t| (code / l.pow(t as u32)) % l).collect();
            if !tr.set.may_start(labels[0]) || !tr.set.may_end(labels[words - 1]) {
                continue;
            }
            if labels.windows(2).any(|w| !tr.set.allowed(w[0], w[1])) {
                continue;
            }
            let mut s = (tr.start[labels[0]] + tr.end[labels[words - 1]]) as f64;
            for t in 0..words {
                s += emissions[t * l + labels[t]] as f64;
            }
            for w in labels.windows(2) {
                s += tr.pair[w[0] * l + w[1]] as f64;
            }
            out.push((labels, s));
        }
        out
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) * 6.0 - 3.0
            })
            .collect()
    }

    #[test]
    fn viterbi_and_span_probabilities_match_brute_force() {
        let set = LabelSet::new(2);
        let l = set.len();
        for seed in 1..6u64 {
            let tr = Transitions::new(
                set,
                pseudo_random(l * l, seed),
                pseudo_random(l, seed + 10),
                pseudo_random(l, seed + 20),
            );
            let words = 4;
            let emissions = pseudo_random(words * l, seed + 30);
            let all = brute_force(&tr, &emissions, words);
            let best = all.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            assert_eq!(tr.viterbi(&emissions, words), best.0);
            for temperature in [0.5, 1.0, 3.0] {
                let z: f64 = all.iter().map(|(_, s)| (s / temperature).exp()).sum();
                // Every span of the best path, and one that is not on it.
                let mut spans = decode(set, &best.0);
                spans.push(WordSpan { first: 1, last: 2, entity_type: 1 });
                let got = tr.span_probabilities(&emissions, words, temperature, &spans);
                for (span, p) in spans.iter().zip(got) {
                    let expected: f64 = all
                        .iter()
                        .filter(|(labels, _)| {
                            let (mine, _) = encode(set, words, &[*span]);
                            (span.first..=span.last).all(|i| labels[i] == mine[i])
                        })
                        .map(|(_, s)| (s / temperature).exp())
                        .sum::<f64>()
                        / z;
                    assert!((p - expected).abs() < 1e-9, "{span:?} at T={temperature}: {p} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn long_lines_neither_overflow_nor_underflow() {
        let set = LabelSet::new(7);
        let l = set.len();
        let tr = Transitions::new(
            set,
            pseudo_random(l * l, 3).iter().map(|x| x * 40.0).collect(),
            vec![0.0; l],
            vec![0.0; l],
        );
        let words = 3000;
        let emissions: Vec<f32> = pseudo_random(words * l, 4).iter().map(|x| x * 50.0).collect();
        let labels = tr.viterbi(&emissions, words);
        let spans = decode(set, &labels);
        let p = tr.span_probabilities(&emissions, words, 1.0, &spans);
        assert!(p.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
        // Weights of a model trained on tens of thousands of entities, at the lowest temperature
        // tried: every factor but the best underflows, and no probability is NaN.
        let big = Transitions::new(
            set,
            pseudo_random(l * l, 5).iter().map(|x| x * 4000.0).collect(),
            vec![0.0; l],
            vec![0.0; l],
        );
        let emissions: Vec<f32> = pseudo_random(40 * l, 6).iter().map(|x| x * 5000.0).collect();
        let mut spans = decode(set, &big.viterbi(&emissions, 40));
        spans.push(WordSpan { first: 3, last: 5, entity_type: 2 });
        let p = big.span_probabilities(&emissions, 40, 0.25, &spans);
        assert!(p.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)), "{p:?}");
    }
}
