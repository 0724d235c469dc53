//! The learning extractor against the annotated Marsiya lines (`corpus/annotated/lines.jsonl`
//! and `fresh.jsonl`): trained on about 180 lines and scored on the others, split by text (a
//! tested text shares no line with the training: the honest measure), on the committed split
//! (184 against 322, test lines from the texts trained on), on two random splits of whole
//! stanzas, and on the fresh lines. The floors are what the tagger reaches today, a little
//! under: the test fails if the tagger regresses, and it must beat the gazetteer it replaces.
//! (`cargo run --release -p nishan-domain --example learning_report` prints the full report;
//! `NISHAN_LEARN_GROUPED=24` the splits by text.)
//!
//! Issue 16's goals: 40 % of the names unseen in training found is reached and asserted
//! everywhere (64 % on average over 24 splits by text; 72 of 109 on the committed split; 20 of
//! 37 on the fresh lines). F1 >= 0.8 is reached by text: over 24 splits by text F1 0.811 ± 0.035
//! (precision 0.85, recall 0.78; the gazetteer 0.56; better than 0.8 on 18 of the 24), and on
//! the committed split (precision 0.87, recall 0.78, F1 0.82; the gazetteer of the same gold
//! 0.55); not on the fresh lines: 0.72 from the 184 training lines, 0.78 from all 506.

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
    // Measured: precision 0.873, recall 0.780, F1 0.824.
    assert!(m.f1 >= 0.80, "F1 {:.3}", m.f1);
    assert!(m.precision >= 0.85, "precision {:.3}", m.precision);
    assert!(m.recall >= 0.76, "recall {:.3}", m.recall);
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
    // Measured: mean F1 0.802 (0.829 and 0.774), unseen names found 51 %.
    assert!(f1 >= 0.78, "mean F1 {f1:.3}");
    assert!(unseen >= 0.48, "mean share of unseen names found {unseen:.3}");
}

#[test]
fn confidence_follows_measured_precision() {
    // The cross-validated reliability table of a model trained on every annotated line: the
    // confident predictions are right more often than the unsure ones, and the calibration error
    // stays bounded. Measured: ECE 0.045; 184 spans above 0.8, precision 0.93, and 67 at 0.8 or
    // under, 0.70. (The split was at 0.5 until the averaged perceptrons and the joins of spans
    // side by side made the model sure of most spans: 6 of 251 fall at 0.5 or under, too few to
    // measure a precision on, 5 of them right.)
    let lines = annotated::load();
    let data: Vec<_> = lines.iter().map(|l| l.gold.clone()).collect();
    let trained = nishan_domain::learn::train(&data, &annotated::type_examples(), &TrainingOptions::default()).unwrap();
    let r = &trained.metrics.reliability;
    eprintln!("{r:#?}");
    let (low, high): (Vec<_>, Vec<_>) = r.bins.iter().filter(|b| b.count > 0).partition(|b| b.upper <= 0.8 + 1e-9);
    let precision = |bins: &[&nishan_domain::learn::ReliabilityBin]| {
        let n: u32 = bins.iter().map(|b| b.count).sum();
        bins.iter().map(|b| b.precision * b.count as f64).sum::<f64>() / n.max(1) as f64
    };
    assert!(!high.is_empty() && !low.is_empty());
    assert!(precision(&high) > precision(&low) + 0.2, "{} vs {}", precision(&high), precision(&low));
    assert!(r.expected_calibration_error < 0.07, "ECE {}", r.expected_calibration_error);
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
    // Measured: from the 184 lines precision 0.76, recall 0.69, F1 0.72 (the gazetteer 0.48),
    // 20 of 37 unseen names found (54 %); from all 506, F1 0.78 (the gazetteer 0.65), 12 of 21.
    // Lower than on the committed split (0.82): that split's numbers are optimistic.
    let m = annotated::measure(&train, &fresh, &options);
    eprintln!("fresh from 184: {m:?}");
    assert!(m.f1 >= 0.71, "F1 {:.3}", m.f1);
    assert!(m.f1 > m.gazetteer_f1 + 0.05, "tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
    assert!(m.unseen_share() >= 0.50, "{} of {} unseen names found", m.unseen_found, m.unseen);
    let m = annotated::measure(&every, &fresh, &options);
    eprintln!("fresh from all: {m:?}");
    assert!(m.f1 >= 0.76, "F1 {:.3}", m.f1);
    assert!(m.unseen_share() >= 0.50, "{} of {} unseen names found", m.unseen_found, m.unseen);
    assert!(m.f1 > m.gazetteer_f1, "tagger {:.3} against gazetteer {:.3}", m.f1, m.gazetteer_f1);
}

#[test]
fn the_tagger_on_texts_it_has_not_seen() {
    // Splits by text of every annotated line (both files): about 180 lines of some texts trained
    // on, every other text tested, so a name is seen only if another text's gold holds it. Four
    // of the splits the report averages (24 of them: F1 0.811 ± 0.035, 64 % of unseen names).
    let mut lines = annotated::load();
    lines.extend(annotated::load_fresh());
    let options = TrainingOptions::default();
    let (mut f1, mut unseen) = (0.0, 0.0);
    for seed in 1..=4 {
        let (train, test) = annotated::text_split(&lines, seed, 180);
        let texts = |side: &[&annotated::Line]| {
            side.iter().map(|l| annotated::text_of(l).to_owned()).collect::<std::collections::HashSet<_>>()
        };
        assert!(texts(&train).is_disjoint(&texts(&test)), "split {seed} shares a text");
        assert!((180..=200).contains(&train.len()), "split {seed}: {} training lines", train.len());
        let m = annotated::measure(&train, &test, &options);
        eprintln!("by text {seed}: {m:?}");
        assert!(
            m.f1 > m.gazetteer_f1 + 0.1,
            "split {seed}: tagger {:.3} against gazetteer {:.3}",
            m.f1,
            m.gazetteer_f1
        );
        assert!(m.unseen_share() >= 0.40, "split {seed}: {} of {} unseen names found", m.unseen_found, m.unseen);
        f1 += m.f1 / 4.0;
        unseen += m.unseen_share() / 4.0;
    }
    // Measured on these four: F1 0.823 (0.811, 0.807, 0.863, 0.812), unseen names found 66 %.
    assert!(f1 >= 0.80, "mean F1 by text {f1:.3}");
    assert!(unseen >= 0.62, "mean share of unseen names found by text {unseen:.3}");
}
