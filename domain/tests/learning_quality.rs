//! The learning extractor against the annotated Marsiya lines (`corpus/annotated/lines.jsonl`):
//! trained on the committed training lines (184) and scored on the held-out ones (322), and on
//! two random splits of whole stanzas. The floors are what the tagger reaches today, a little
//! under: the test fails if the tagger regresses, and it must beat the gazetteer it replaces.
//! (`cargo run --release -p nishan-domain --example learning_report` prints the full report.)
//!
//! Issue 16's goals: 40 % of the names unseen in training found is reached and asserted (62 of
//! 109 on the committed split, 57 %; 52 % on average over ten random splits); F1 >= 0.8 on
//! held-out lines is NOT: on the committed split the tagger measures precision 0.79, recall
//! 0.72, F1 0.75 (the gazetteer of the same gold 0.55), on ten random splits F1 0.74 on average;
//! the floors below hold it there. On the fresh lines (`corpus/annotated/fresh.jsonl`, annotated
//! after the built-in name list was written) it measures less: F1 0.58 from the 184 training
//! lines, 0.69 from all 506, 41 % of the unseen names found (`the_tagger_on_fresh_lines`).

mod annotated;

use nishan_domain::learn::TrainingOptions;

#[test]
fn the_tagger_beats_the_gazetteer_on_held_out_lines() {
    let lines = annotated::load();
    assert!(lines.len() >= 500, "{} annotated lines", lines.len());
    let options = TrainingOptions::default();
    let (train, heldout) = annotated::committed_split(&lines);
    assert_eq!((train.len(), heldout.len()), (184, 322));
    let m = annotated::measure(&train, &heldout, &options);
    eprintln!("committed split: {m:?}");
    assert!(m.f1 >= 0.72, "F1 {:.3}", m.f1);
    assert!(m.precision >= 0.75, "precision {:.3}", m.precision);
    assert!(m.recall >= 0.68, "recall {:.3}", m.recall);
    assert!(m.f1 > m.gazetteer_f1 + 0.02, "tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
    // What the built-in extractor stores (confidence 0.5 or more) still beats the gazetteer.
    assert!(m.f1_at_threshold > m.gazetteer_f1, "{:.3} at 0.5", m.f1_at_threshold);
    // The goal: at least 40 % of the names never seen in the training gold are found.
    assert!(m.unseen_share() >= 0.40, "{} of {} unseen names found", m.unseen_found, m.unseen);
    assert!(m.unseen_found > 5 * m.gazetteer_unseen_found);
    let mut f1 = 0.0;
    let mut unseen = 0.0;
    for seed in [1, 2] {
        let (train, heldout) = annotated::random_split(&lines, seed, 180);
        let m = annotated::measure(&train, &heldout, &options);
        eprintln!("split {seed}: {m:?}");
        assert!(m.f1 > m.gazetteer_f1, "split {seed}: tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
        f1 += m.f1 / 2.0;
        unseen += m.unseen_share() / 2.0;
    }
    assert!(f1 >= 0.73, "mean F1 {f1:.3}");
    assert!(unseen >= 0.45, "mean share of unseen names found {unseen:.3}");
}

#[test]
fn confidence_follows_measured_precision() {
    // The cross-validated reliability table of a model trained on every annotated line: the
    // confident predictions are right more often than the unsure ones, and the calibration error
    // stays bounded.
    let lines = annotated::load();
    let data: Vec<_> = lines.iter().map(|l| l.gold.clone()).collect();
    let trained = nishan_domain::learn::train(&data, &annotated::type_examples(), &TrainingOptions::default()).unwrap();
    let r = &trained.metrics.reliability;
    eprintln!("{r:#?}");
    let (low, high): (Vec<_>, Vec<_>) = r.bins.iter().filter(|b| b.count > 0).partition(|b| b.upper <= 0.5);
    let precision = |bins: &[&nishan_domain::learn::ReliabilityBin]| {
        let n: u32 = bins.iter().map(|b| b.count).sum();
        bins.iter().map(|b| b.precision * b.count as f64).sum::<f64>() / n.max(1) as f64
    };
    assert!(!high.is_empty() && !low.is_empty());
    assert!(precision(&high) > precision(&low) + 0.2, "{} vs {}", precision(&high), precision(&low));
    assert!(r.expected_calibration_error < 0.12, "ECE {}", r.expected_calibration_error);
}

#[test]
fn annotated_lines_are_lines_of_the_corpus() {
    // Each annotated line is the named line of a corpus text (trimmed), so the data can be
    // traced and re-read; the committed split keeps whole stanzas on one side.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/corpus");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/annotated/lines.jsonl");
    let mut splits: std::collections::HashMap<String, String> = Default::default();
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let file = std::fs::read(format!("{dir}/{}", v["source"].as_str().unwrap())).unwrap();
        let text = nishan_domain::text::normalize_newlines(&String::from_utf8_lossy(&file));
        let n = v["line"].as_u64().unwrap() as usize;
        assert_eq!(text.split('\n').nth(n - 1).map(str::trim), v["text"].as_str(), "{l}");
        let block = v["block"].as_str().unwrap().to_owned();
        let split = v["split"].as_str().unwrap().to_owned();
        assert!(split == "train" || split == "heldout");
        assert_eq!(splits.entry(block).or_insert(split.clone()), &split, "a stanza split across sides");
    }
}

#[test]
fn the_tagger_on_fresh_lines() {
    // The fresh lines (`corpus/annotated/fresh.jsonl`): texts no other annotated line comes
    // from, annotated before any model ran on them and after the built-in name list was written,
    // so no name of them was chosen knowing them. Trained on the committed training lines and on
    // all 506 annotated lines.
    let lines = annotated::load();
    let fresh = annotated::load_fresh();
    assert_eq!(fresh.len(), 96);
    let fresh: Vec<_> = fresh.iter().collect();
    let options = TrainingOptions::default();
    let (train, _) = annotated::committed_split(&lines);
    let every: Vec<_> = lines.iter().collect();
    // Measured: from the 184 lines precision 0.61, recall 0.56, F1 0.58 (the gazetteer 0.48),
    // 15 of 37 unseen names found (41 %); from all 506, F1 0.69 (the gazetteer 0.65), 9 of 21.
    // Lower than on the committed split (0.75): that split's numbers are optimistic.
    let m = annotated::measure(&train, &fresh, &options);
    eprintln!("fresh from 184: {m:?}");
    assert!(m.f1 >= 0.55, "F1 {:.3}", m.f1);
    assert!(m.f1 > m.gazetteer_f1 + 0.05, "tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
    assert!(m.unseen_share() >= 0.37, "{} of {} unseen names found", m.unseen_found, m.unseen);
    let m = annotated::measure(&every, &fresh, &options);
    eprintln!("fresh from all: {m:?}");
    assert!(m.f1 >= 0.66, "F1 {:.3}", m.f1);
    assert!(m.f1 > m.gazetteer_f1, "tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
}
