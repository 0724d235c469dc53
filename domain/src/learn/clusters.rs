//! Word clusters learnt from unlabelled text: words that stand in the same contexts fall in the
//! same cluster, so a name the gold never showed shares features with names it did (عون with
//! قاسم, نینوا with کربلا). Clusters are the classic way to lift a tagger trained on little gold
//! (Miller et al. 2004; Turian et al. 2010).
//!
//! How ([`WordClusters::learn`], deterministic given its options): words are folded
//! ([`fold`](super::fold)); each word that occurs at least `min_count` times gets a context
//! vector counting the frequent words (and the line's edges) one and two places before and
//! after it, weighted by positive pointwise mutual information, projected to `dimensions`
//! dimensions by a fixed sparse random projection, centred (the mean vector taken out) and
//! normalised; spherical k-means (k-means++
//! seeding) then groups the vectors at each granularity in `granularities`. A word carries one
//! cluster id per granularity.
//!
//! The table learnt from the Marsiya corpus (`corpus/marsiya/corpus`, by the
//! `word_clusters` example) ships with the tagger ([`WordClusters::builtin`]); a model records
//! the table's fingerprint, so a model is never read against another table.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::features::HONORIFICS;
use super::fold;
use super::tokens::{lines_with_offsets, tokenize};

/// How to learn clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    pub min_count: u32,
    /// Cluster counts, coarse to fine.
    pub granularities: Vec<usize>,
    /// Passes over the vocabulary (fewer if no word moves).
    pub iterations: u32,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self { min_count: 3, granularities: vec![16, 64, 256], iterations: 15 }
    }
}

/// Each word's cluster at each granularity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordClusters {
    granularities: Vec<usize>,
    /// Per word: its cluster at each granularity, then how often the corpus writes it with an
    /// honorific mark ([`HonorificRate`] as a number).
    words: HashMap<String, Vec<u16>>,
}

/// How often a word is written with an honorific mark (ؑ ؓ ؒ ؐ ؔ ﷺ) in the texts clustered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HonorificRate {
    /// Under one occurrence in twenty.
    Rarely = 0,
    /// Up to one in three.
    Sometimes = 1,
    /// More often.
    Often = 2,
}

static BUILTIN: OnceLock<WordClusters> = OnceLock::new();

impl WordClusters {
    /// The table learnt from the Marsiya corpus.
    pub fn builtin() -> &'static WordClusters {
        BUILTIN.get_or_init(|| {
            Self::parse(include_str!("marsiya_clusters.tsv")).expect("the shipped cluster table parses")
        })
    }

    /// The clusters of a folded word, coarse to fine.
    pub fn of(&self, folded: &str) -> Option<&[u16]> {
        self.words.get(folded).map(|ids| &ids[..self.granularities.len()])
    }

    /// How often the texts wrote the word with an honorific, if it was clustered.
    pub fn honorific(&self, folded: &str) -> Option<HonorificRate> {
        self.words.get(folded).map(|ids| match ids[self.granularities.len()] {
            0 => HonorificRate::Rarely,
            1 => HonorificRate::Sometimes,
            _ => HonorificRate::Often,
        })
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn granularities(&self) -> &[usize] {
        &self.granularities
    }

    /// A fingerprint of the table (FNV-1a over its text form): the same table, the same number.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.to_text().bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    /// The table as text: a header line `# granularities 16 64 256`, then one line per word
    /// (sorted), `word<TAB>id<TAB>id<TAB>id<TAB>honorific rate (0, 1, 2)`.
    pub fn to_text(&self) -> String {
        let mut words: Vec<(&String, &Vec<u16>)> = self.words.iter().collect();
        words.sort();
        let mut out = String::from("# granularities");
        for g in &self.granularities {
            out.push_str(&format!(" {g}"));
        }
        out.push('\n');
        for (w, ids) in words {
            out.push_str(w);
            for id in ids {
                out.push_str(&format!("\t{id}"));
            }
            out.push('\n');
        }
        out
    }

    /// Reads [`to_text`](Self::to_text)'s form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        let header = lines.next().ok_or("an empty table")?;
        let granularities: Vec<usize> = header
            .strip_prefix("# granularities")
            .ok_or("no header")?
            .split_whitespace()
            .map(|g| g.parse().map_err(|_| format!("bad granularity {g:?}")))
            .collect::<Result<_, _>>()?;
        let mut words = HashMap::new();
        for (n, line) in lines.enumerate() {
            let mut parts = line.split('\t');
            let word = parts.next().ok_or_else(|| format!("line {}: no word", n + 2))?;
            let ids: Vec<u16> = parts
                .map(|p| p.parse().map_err(|_| format!("line {}: bad id {p:?}", n + 2)))
                .collect::<Result<_, _>>()?;
            if ids.len() != granularities.len() + 1
                || ids.iter().zip(granularities.iter().chain([&3])).any(|(&id, &g)| id as usize >= g)
            {
                return Err(format!("line {}: ids do not fit the granularities", n + 2));
            }
            words.insert(word.to_owned(), ids);
        }
        Ok(Self { granularities, words })
    }

    /// Learns clusters from texts.
    pub fn learn<'a>(texts: impl IntoIterator<Item = &'a str>, options: &ClusterOptions) -> Self {
        // Folded words, numbered; each line framed by `<s>` and `</s>`.
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut lines: Vec<Vec<u32>> = Vec::new();
        let mut intern = |w: String| {
            let id = *ids.entry(w.clone()).or_insert_with(|| {
                names.push(w);
                counts.push(0);
                names.len() as u32 - 1
            });
            counts[id as usize] += 1;
            id
        };
        let bos = intern("<s>".into());
        let eos = intern("</s>".into());
        let mut marked: HashMap<u32, u32> = HashMap::new();
        for text in texts {
            for (_, line) in lines_with_offsets(text) {
                let tokens = tokenize(line);
                if tokens.is_empty() {
                    continue;
                }
                let mut l = vec![bos];
                for t in &tokens {
                    let id = intern(fold(t.text));
                    if t.text.chars().any(|c| HONORIFICS.contains(&c)) {
                        *marked.entry(id).or_default() += 1;
                    }
                    l.push(id);
                }
                l.push(eos);
                lines.push(l);
            }
        }
        // The vocabulary: words seen `min_count` times, by frequency (ties by spelling); every
        // rarer word is one pseudo-word, and so are the line edges (they do not move).
        let mut vocab: Vec<u32> = (0..names.len() as u32)
            .filter(|&i| i != bos && i != eos && counts[i as usize] >= options.min_count)
            .collect();
        vocab.sort_by(|&a, &b| {
            counts[b as usize].cmp(&counts[a as usize]).then(names[a as usize].cmp(&names[b as usize]))
        });
        let n = vocab.len();
        let (rare, edge) = (n, n + 1);
        let mut index = vec![rare; names.len()];
        for (i, &w) in vocab.iter().enumerate() {
            index[w as usize] = i;
        }
        index[bos as usize] = edge;
        index[eos as usize] = edge;
        // Bigram counts between vocabulary indices (the two pseudo-words included).
        let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
        for l in &lines {
            for w in l.windows(2) {
                *pairs.entry((index[w[0] as usize] as u32, index[w[1] as usize] as u32)).or_default() += 1;
            }
        }
        let mut pairs: Vec<((u32, u32), u32)> = pairs.into_iter().collect();
        pairs.sort_unstable();
        let bigrams = Bigrams::new(n + 2, &pairs);
        let mut words: HashMap<String, Vec<u16>> = vocab
            .iter()
            .map(|&w| (names[w as usize].clone(), Vec::with_capacity(options.granularities.len())))
            .collect();
        for &k in &options.granularities {
            let classes = exchange(&bigrams, n, k, options.iterations);
            for (i, &w) in vocab.iter().enumerate() {
                words.get_mut(&names[w as usize]).expect("every vocabulary word").push(classes[i]);
            }
        }
        for &w in &vocab {
            let rate = marked.get(&w).copied().unwrap_or(0) as f64 / counts[w as usize] as f64;
            let bucket = if rate >= 1.0 / 3.0 {
                2
            } else if rate >= 0.05 {
                1
            } else {
                0
            };
            words.get_mut(&names[w as usize]).expect("every vocabulary word").push(bucket);
        }
        Self { granularities: options.granularities.clone(), words }
    }
}

/// Bigram counts as adjacency lists: for each word, its right neighbours and its left ones.
struct Bigrams {
    right: Vec<Vec<(u32, u32)>>,
    left: Vec<Vec<(u32, u32)>>,
}

impl Bigrams {
    fn new(words: usize, pairs: &[((u32, u32), u32)]) -> Self {
        let mut right = vec![Vec::new(); words];
        let mut left = vec![Vec::new(); words];
        for &((a, b), c) in pairs {
            right[a as usize].push((b, c));
            left[b as usize].push((a, c));
        }
        Self { right, left }
    }
}

fn xlogx(x: f64) -> f64 {
    if x > 0.0 { x * x.ln() } else { 0.0 }
}

/// The exchange algorithm (Kneser and Ney 1993; Martin, Liermann and Ney 1998): `k` classes
/// for the first `movable` words (the others keep classes of their own), maximising the
/// likelihood of a class bigram model, `Σ N(c,d) log N(c,d) − Σ N(c) log N(c) − Σ N(d) log N(d)`.
/// Each word in turn leaves its class and joins the one that gains most; words start in
/// classes by frequency rank. Deterministic.
fn exchange(bigrams: &Bigrams, movable: usize, k: usize, iterations: u32) -> Vec<u16> {
    let words = bigrams.right.len();
    let k = k.clamp(1, u16::MAX as usize - 2).min(movable.max(1));
    // Fixed words (rare, edges) get classes k, k+1, ...
    let total = k + (words - movable);
    let mut class: Vec<usize> = (0..words).map(|w| if w < movable { w % k } else { k + (w - movable) }).collect();
    // Class bigram counts (dense), and class counts as first and as second of a pair.
    let mut pair = vec![0f64; total * total];
    let mut first = vec![0f64; total];
    let mut second = vec![0f64; total];
    for (a, list) in bigrams.right.iter().enumerate() {
        for &(b, c) in list {
            let (ca, cb) = (class[a], class[b as usize]);
            pair[ca * total + cb] += c as f64;
            first[ca] += c as f64;
            second[cb] += c as f64;
        }
    }
    // Per-word scratch: counts of the word's right and left neighbours by class.
    let mut right = vec![0f64; total];
    let mut left = vec![0f64; total];
    let mut touched_r: Vec<usize> = Vec::new();
    let mut touched_l: Vec<usize> = Vec::new();
    for _ in 0..iterations.max(1) {
        let mut moved = 0;
        for w in 0..movable {
            let a = class[w];
            let mut self_pairs = 0f64;
            let (mut n_first, mut n_second) = (0f64, 0f64);
            for &(x, c) in &bigrams.right[w] {
                n_first += c as f64;
                if x as usize == w {
                    self_pairs += c as f64;
                } else {
                    let d = class[x as usize];
                    if right[d] == 0.0 {
                        touched_r.push(d);
                    }
                    right[d] += c as f64;
                }
            }
            for &(x, c) in &bigrams.left[w] {
                n_second += c as f64;
                if x as usize != w {
                    let d = class[x as usize];
                    if left[d] == 0.0 {
                        touched_l.push(d);
                    }
                    left[d] += c as f64;
                }
            }
            // Take w out of a.
            apply(
                &mut pair,
                &mut first,
                &mut second,
                total,
                a,
                &right,
                &left,
                &touched_r,
                &touched_l,
                self_pairs,
                n_first,
                n_second,
                -1.0,
            );
            // The gain of putting it into each class.
            let mut best = a;
            let mut best_gain = f64::NEG_INFINITY;
            for b in 0..k {
                let mut gain = 0.0;
                for &d in &touched_r {
                    if d != b {
                        let v = pair[b * total + d];
                        gain += xlogx(v + right[d]) - xlogx(v);
                    }
                }
                for &c in &touched_l {
                    if c != b {
                        let v = pair[c * total + b];
                        gain += xlogx(v + left[c]) - xlogx(v);
                    }
                }
                let v = pair[b * total + b];
                gain += xlogx(v + right[b] + left[b] + self_pairs) - xlogx(v);
                gain -= xlogx(first[b] + n_first) - xlogx(first[b]);
                gain -= xlogx(second[b] + n_second) - xlogx(second[b]);
                if gain > best_gain + 1e-9 || (b == a && gain >= best_gain - 1e-9) {
                    best_gain = gain;
                    best = b;
                }
            }
            apply(
                &mut pair,
                &mut first,
                &mut second,
                total,
                best,
                &right,
                &left,
                &touched_r,
                &touched_l,
                self_pairs,
                n_first,
                n_second,
                1.0,
            );
            if best != a {
                class[w] = best;
                moved += 1;
            }
            for &d in &touched_r {
                right[d] = 0.0;
            }
            for &d in &touched_l {
                left[d] = 0.0;
            }
            touched_r.clear();
            touched_l.clear();
        }
        if moved == 0 {
            break;
        }
    }
    class[..movable].iter().map(|&c| c as u16).collect()
}

/// Adds (`sign` 1) or removes (−1) a word's counts to or from class `b`.
#[allow(clippy::too_many_arguments)]
fn apply(
    pair: &mut [f64],
    first: &mut [f64],
    second: &mut [f64],
    total: usize,
    b: usize,
    right: &[f64],
    left: &[f64],
    touched_r: &[usize],
    touched_l: &[usize],
    self_pairs: f64,
    n_first: f64,
    n_second: f64,
    sign: f64,
) {
    for &d in touched_r {
        pair[b * total + d] += sign * right[d];
    }
    for &c in touched_l {
        pair[c * total + b] += sign * left[c];
    }
    pair[b * total + b] += sign * self_pairs;
    first[b] += sign * n_first;
    second[b] += sign * n_second;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny corpus where names and places stand in contexts of their own.
    fn corpus() -> String {
        let mut s = String::new();
        let names = ["حسینؑ", "عباس", "قاسم", "اکبر", "عون"];
        let places = ["کربلا", "کوفہ", "مدینہ", "شام"];
        for (i, name) in names.iter().enumerate() {
            for (j, place) in places.iter().enumerate() {
                let other = names[(i + j + 1) % names.len()];
                s.push_str(&format!("کہا {name} نے {place} میں\n"));
                s.push_str(&format!("یا {name} سے {other} نے کہا\n"));
                s.push_str(&format!("جب {place} سے {place} تک\n"));
            }
        }
        s
    }

    fn options() -> ClusterOptions {
        ClusterOptions { min_count: 2, granularities: vec![2, 4], iterations: 10 }
    }

    #[test]
    fn words_of_like_contexts_share_a_cluster() {
        let text = corpus();
        let c = WordClusters::learn([text.as_str()], &options());
        let fine = |w: &str| c.of(w).unwrap()[1];
        for name in ["عباس", "قاسم", "اکبر", "عون"] {
            assert_eq!(fine("حسین"), fine(name), "{name}");
        }
        for place in ["کوفہ", "مدینہ", "شام"] {
            assert_eq!(fine("کربلا"), fine(place), "{place}");
        }
        assert_ne!(fine("حسین"), fine("کربلا"));
        assert!(c.of("نایاب").is_none());
        assert_eq!(c.honorific("حسین"), Some(HonorificRate::Often));
        assert_eq!(c.honorific("عباس"), Some(HonorificRate::Rarely));
    }

    #[test]
    fn learning_is_deterministic_and_the_table_round_trips() {
        let text = corpus();
        let a = WordClusters::learn([text.as_str()], &options());
        let b = WordClusters::learn([text.as_str()], &options());
        assert_eq!(a, b);
        let back = WordClusters::parse(&a.to_text()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.fingerprint(), a.fingerprint());
        assert!(WordClusters::parse("# granularities 2\nعلی\t5\t0\n").is_err());
        assert!(WordClusters::parse("# granularities 2\nعلی\t1\n").is_err());
        assert!(WordClusters::parse("# granularities 2\nعلی\t1\t0\n").is_ok());
    }

    #[test]
    fn the_shipped_table_covers_the_corpus_names() {
        let c = WordClusters::builtin();
        assert!(c.len() > 5000, "{} words", c.len());
        for name in ["حسین", "عباس", "زینب", "کربلا", "سکینہ"] {
            assert!(c.of(&fold(name)).is_some(), "{name}");
        }
    }
}
