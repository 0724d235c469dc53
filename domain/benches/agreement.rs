//! Agreement benchmark (issue 12): the whole Marsiya corpus (every UTF-8 text) with three layers
//! each (a seeded base annotation of about one word in seven, and two variants that drop, retype,
//! stretch and add spans), measured by `nishan_domain::rounds::agreement` as `agreement` runs it:
//! word units, Cohen's κ per pair, Fleiss' κ, Krippendorff's α overall, per document and per
//! type, character-level α, span F1. Target: the whole corpus under 1 s. Figures go to stdout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use nishan_domain::ids::{DocumentId, EntityTypeId, UserId};
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::agreement::{DocumentLayers, Span, agreement, word_units};

/// Every corpus file that is valid UTF-8, in name order (the corpus is at the repository's top).
fn corpus_texts() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the Marsiya corpus is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.into_iter().filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok()).collect()
}

/// xorshift64*: the same layers on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn layers(rng: &mut Rng, words: &[(u32, u32)], types: &[EntityTypeId]) -> [Vec<Span>; 3] {
    let pick = |rng: &mut Rng| types[(rng.next() % types.len() as u64) as usize];
    let mut base = BTreeSet::new();
    for w in words {
        if rng.next().is_multiple_of(7) {
            base.insert(Span { start: w.0, end: w.1, entity_type: pick(rng) });
        }
    }
    let variant = |rng: &mut Rng| -> Vec<Span> {
        let mut out = BTreeSet::new();
        for s in &base {
            match rng.next() % 10 {
                0 => {}
                1 => {
                    out.insert(Span { entity_type: pick(rng), ..*s });
                }
                2 => {
                    out.insert(Span { end: s.end + 1, ..*s });
                }
                _ => {
                    out.insert(*s);
                }
            }
        }
        for w in words {
            if rng.next().is_multiple_of(50) {
                out.insert(Span { start: w.0, end: w.1, entity_type: pick(rng) });
            }
        }
        out.into_iter().collect()
    };
    let (b, c) = (variant(rng), variant(rng));
    [base.into_iter().collect(), b, c]
}

fn main() {
    let texts = corpus_texts();
    let types: Vec<EntityTypeId> = (1..=7).map(|n| EntityTypeId(uuid::Uuid::from_u128(n))).collect();
    let raters = [
        Layer::Annotator(UserId(uuid::Uuid::from_u128(11))),
        Layer::Annotator(UserId(uuid::Uuid::from_u128(12))),
        Layer::Annotator(UserId(uuid::Uuid::from_u128(13))),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let docs: Vec<DocumentLayers> = texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            let words = word_units(text);
            let [a, b, c] = layers(&mut rng, &words, &types);
            DocumentLayers {
                document: DocumentId(uuid::Uuid::from_u128(n as u128)),
                length: text.chars().count() as u32,
                words,
                layers: BTreeMap::from([(raters[0], a), (raters[1], b), (raters[2], c)]),
            }
        })
        .collect();
    let prepared = started.elapsed();
    let words: usize = docs.iter().map(|d| d.words.len()).sum();
    let chars: u64 = docs.iter().map(|d| u64::from(d.length)).sum();
    let spans: usize = docs.iter().flat_map(|d| d.layers.values()).map(Vec::len).sum();
    let mut best = f64::INFINITY;
    let mut report = None;
    for _ in 0..5 {
        let t = Instant::now();
        report = Some(agreement(&docs, &raters));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let report = report.unwrap();
    println!(
        "agreement: {} texts, {words} words, {chars} characters, {spans} entities in 3 layers (made in {:.0} ms)",
        docs.len(),
        prepared.as_secs_f64() * 1e3
    );
    println!(
        "  α {:.4}, Fleiss' κ {:.4}, character α {:.4}; best of 5: {:.0} ms (target < 1000 ms)",
        report.krippendorff_alpha.unwrap_or(f64::NAN),
        report.fleiss_kappa.unwrap_or(f64::NAN),
        report.character_alpha.unwrap_or(f64::NAN),
        best * 1e3
    );
}
