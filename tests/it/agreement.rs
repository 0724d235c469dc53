//! Agreement against the reference implementations: layers of corpus texts (made by a seeded
//! generator: a base annotation and two others that drop, retype, stretch and add spans, one
//! document left to two layers and one to a single layer) measured by
//! `nishan_domain::rounds::agreement` and by `tests/python/agreement_reference.py` (the
//! `krippendorff` package, scikit-learn's `cohen_kappa_score`, statsmodels' `fleiss_kappa`).

use std::collections::{BTreeMap, BTreeSet};

use nishan_domain::ids::{DocumentId, EntityTypeId, UserId};
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::agreement::{DocumentLayers, LeftOutReason, Span, agreement, word_units};
use serde_json::{Value, json};

use crate::common;

/// A small deterministic generator (xorshift64*), so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p` percent.
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn corpus_documents(count: usize, chars: usize) -> Vec<String> {
    let dir = common::marsiya_dir().join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok())
        .map(|t| t.replace("\r\n", "\n").chars().take(chars).collect())
        .take(count)
        .collect()
}

/// A base annotation over the words, and a variant of it.
fn base(rng: &mut Rng, words: &[(u32, u32)], types: &[EntityTypeId]) -> BTreeSet<Span> {
    let mut spans = BTreeSet::new();
    let mut i = 0;
    while i < words.len() {
        if rng.chance(15) {
            let last = if rng.chance(25) && i + 1 < words.len() { i + 1 } else { i };
            spans.insert(Span { start: words[i].0, end: words[last].1, entity_type: types[rng.pick(types.len())] });
            i = last + 1;
        } else {
            i += 1;
        }
    }
    spans
}

fn variant(rng: &mut Rng, of: &BTreeSet<Span>, words: &[(u32, u32)], types: &[EntityTypeId]) -> BTreeSet<Span> {
    let mut out = BTreeSet::new();
    for s in of {
        match rng.next() % 10 {
            0 => {}
            1 => {
                out.insert(Span { entity_type: types[rng.pick(types.len())], ..*s });
            }
            2 => {
                let next = words.iter().find(|w| w.0 >= s.end).map_or(s.end, |w| w.1);
                out.insert(Span { end: next, ..*s });
            }
            _ => {
                out.insert(*s);
            }
        }
    }
    for w in words {
        if rng.chance(3) {
            out.insert(Span { start: w.0, end: w.1, entity_type: types[rng.pick(types.len())] });
        }
    }
    out
}

fn close(ours: Option<f64>, theirs: &Value, what: &str) {
    match (ours, theirs.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{what}: ours {a}, reference {b}"),
        (a, _) => panic!("{what}: ours {a:?}, reference {theirs}"),
    }
}

#[test]
fn agreement_equals_the_reference_packages() {
    let texts = corpus_documents(10, 3000);
    assert_eq!(texts.len(), 10);
    let types: Vec<EntityTypeId> = (1..=4).map(|n| EntityTypeId(uuid::Uuid::from_u128(n))).collect();
    let raters = [
        Layer::Annotator(UserId(uuid::Uuid::from_u128(11))),
        Layer::Annotator(UserId(uuid::Uuid::from_u128(12))),
        Layer::Model(uuid::Uuid::from_u128(13)),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut docs = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let words = word_units(text);
        let a = base(&mut rng, &words, &types);
        let b = variant(&mut rng, &a, &words, &types);
        let c = variant(&mut rng, &a, &words, &types);
        let mut layers = BTreeMap::new();
        layers.insert(raters[0], a.into_iter().collect::<Vec<_>>());
        if n != 1 {
            layers.insert(raters[1], b.into_iter().collect());
        }
        if n > 1 {
            layers.insert(raters[2], c.into_iter().collect());
        }
        docs.push(DocumentLayers {
            document: DocumentId(uuid::Uuid::from_u128(100 + n as u128)),
            length: text.chars().count() as u32,
            words,
            layers,
        });
    }
    let report = agreement(&docs, &raters);

    let name = |l: &Layer| l.key();
    let input = json!({
        "raters": raters.iter().map(name).collect::<Vec<_>>(),
        "documents": docs.iter().map(|d| json!({
            "length": d.length,
            "words": d.words.iter().map(|w| [w.0, w.1]).collect::<Vec<_>>(),
            "layers": d.layers.iter().map(|(l, spans)| (name(l), spans.iter()
                .map(|s| json!([s.start, s.end, s.entity_type.to_string()])).collect::<Value>()))
                .collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
    });
    let out = common::python::run("agreement_reference.py", &[], &input.to_string());
    let reference: Value = serde_json::from_str(&out.stdout).unwrap();

    close(report.krippendorff_alpha, &reference["alpha"], "Krippendorff's alpha");
    close(report.character_alpha, &reference["characterAlpha"], "character-level alpha");
    close(report.fleiss_kappa, &reference["fleissKappa"], "Fleiss' kappa");
    assert_eq!(report.fleiss_units as u64, reference["fleissUnits"].as_u64().unwrap());
    assert!(report.krippendorff_alpha.is_some() && report.fleiss_kappa.is_some());
    for (ours, theirs) in report.pairs.iter().zip(reference["pairs"].as_array().unwrap()) {
        let what = format!("{} / {}", ours.a.key(), ours.b.key());
        assert_eq!(ours.units as u64, theirs["units"].as_u64().unwrap(), "{what}: units");
        close(ours.cohen_kappa, &theirs["cohenKappa"], &format!("{what}: Cohen's kappa"));
        close(ours.f1_exact, &theirs["f1Exact"], &format!("{what}: F1 exact"));
        close(ours.f1_overlap, &theirs["f1Overlap"], &format!("{what}: F1 overlapping"));
    }
    assert_eq!(report.pairs.len(), 3);
    let by_type = reference["byType"].as_array().unwrap();
    assert_eq!(report.by_type.len(), by_type.len());
    for (ours, theirs) in report.by_type.iter().zip(by_type) {
        assert_eq!(ours.entity_type.to_string(), theirs["type"].as_str().unwrap());
        let what = format!("type {}", ours.entity_type);
        close(ours.krippendorff_alpha, &theirs["alpha"], &format!("{what}: alpha"));
        close(ours.f1_exact, &theirs["f1Exact"], &format!("{what}: F1 exact"));
        close(ours.f1_overlap, &theirs["f1Overlap"], &format!("{what}: F1 overlapping"));
    }
    let compared: Vec<_> = report.by_document.iter().filter(|d| d.layers >= 2).collect();
    let by_document = reference["byDocument"].as_array().unwrap();
    assert_eq!(compared.len(), by_document.len());
    for (ours, theirs) in compared.iter().zip(by_document) {
        close(ours.krippendorff_alpha, theirs, &format!("document {}", ours.document));
    }
    // The single-layer document is left out, and said so.
    let single = docs[1].words.len();
    assert!(report.left_out.iter().any(|l| l.reason == LeftOutReason::FewerThanTwoLayers && l.units == single));
    assert_eq!(report.units_compared, docs.iter().map(|d| d.words.len()).sum::<usize>() - single);
}
