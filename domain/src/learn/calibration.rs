//! Confidence as measured precision: an isotonic (monotone) map from a span's probability under
//! the model to the share of such spans that were right, fitted on cross-validated predictions
//! by pool-adjacent-violators (Zadrozny and Elkan 2002). Each pooled block is one point (its
//! mean probability, its smoothed precision); between points the map is linear, beyond them
//! flat. Precision is smoothed towards the probability itself (two pseudo-observations), so a
//! block of one or two predictions does not jump to 0 or 1.

/// A monotone map of probabilities to calibrated confidences; the identity when empty.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Block means of probability, ascending.
    pub xs: Vec<f64>,
    /// Calibrated confidence at each, non-decreasing.
    pub ys: Vec<f64>,
}

/// Fewer predictions than this are not enough to fit a map: the identity is kept.
const MIN_POINTS: usize = 20;
/// Pseudo-observations pulling a block's precision towards its mean probability.
const PRIOR: f64 = 2.0;

impl Calibration {
    /// Fits the map to `(probability, right)` pairs.
    pub fn fit(points: &[(f64, bool)]) -> Self {
        if points.len() < MIN_POINTS {
            return Self::default();
        }
        let mut sorted: Vec<(f64, bool)> = points.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Blocks: (sum of probabilities, right, count).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for (p, ok) in sorted {
            blocks.push((p, ok as u8 as f64, 1.0));
            while blocks.len() >= 2 {
                let (a, b) = (blocks[blocks.len() - 2], blocks[blocks.len() - 1]);
                if a.1 / a.2 >= b.1 / b.2 {
                    blocks.pop();
                    *blocks.last_mut().expect("two blocks") = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
                } else {
                    break;
                }
            }
        }
        let mut xs = Vec::with_capacity(blocks.len());
        let mut ys: Vec<f64> = Vec::with_capacity(blocks.len());
        for (sum, right, n) in blocks {
            let mean = sum / n;
            let y = (right + PRIOR * mean) / (n + PRIOR);
            // Smoothing may break monotonicity slightly: keep the map non-decreasing.
            let y = ys.last().map_or(y, |&last: &f64| y.max(last));
            xs.push(mean);
            ys.push(y.clamp(0.0, 1.0));
        }
        Self { xs, ys }
    }

    /// The calibrated confidence of a probability.
    pub fn apply(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.0 } else { p };
        let (Some(&first), Some(&last)) = (self.xs.first(), self.xs.last()) else { return p };
        if p <= first {
            return self.ys[0];
        }
        if p >= last {
            return *self.ys.last().expect("not empty");
        }
        let i = self.xs.partition_point(|&x| x <= p).clamp(1, self.xs.len() - 1);
        let (x0, x1, y0, y1) = (self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]);
        if x1 <= x0 { y1 } else { y0 + (y1 - y0) * (p - x0) / (x1 - x0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_under_confident_model_is_lifted_and_the_map_is_monotone() {
        // Right 3 times in 4 at probability 0.4, 1 in 4 at 0.1, always at 0.9.
        let mut points = vec![];
        for i in 0..40 {
            points.push((0.4, i % 4 != 0));
            points.push((0.1, i % 4 == 0));
            points.push((0.9, true));
        }
        let c = Calibration::fit(&points);
        assert!((c.apply(0.4) - 0.75).abs() < 0.03, "{}", c.apply(0.4));
        assert!((c.apply(0.1) - 0.25).abs() < 0.03);
        assert!(c.apply(0.9) > 0.95);
        let mut last = 0.0;
        for k in 0..=100 {
            let y = c.apply(k as f64 / 100.0);
            assert!(y >= last && (0.0..=1.0).contains(&y));
            last = y;
        }
    }

    #[test]
    fn too_few_points_keep_the_identity() {
        let c = Calibration::fit(&[(0.3, true), (0.8, false)]);
        assert_eq!(c, Calibration::default());
        assert_eq!(c.apply(0.37), 0.37);
    }
}
