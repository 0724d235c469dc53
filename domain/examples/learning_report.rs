//! `cargo run --release -p nishan-domain --example learning_report`: trains the tagger on the
//! annotated Marsiya lines (`corpus/annotated/lines.jsonl`), on the committed split and on
//! random splits of whole stanzas, and prints what it measures against the gazetteer baseline;
//! and on the fresh lines (`corpus/annotated/fresh.jsonl`), trained on the committed training
//! lines and on all the others. An argument sets how many random splits (10).
//! `NISHAN_LEARN_SOURCE=5`: only the lines of text 5; `NISHAN_LEARN_TYPES=1`: scores per type;
//! `NISHAN_LEARN_ERRORS=1`: the committed split's errors (`=fresh`: the fresh lines' errors,
//! trained on all the others); `NISHAN_LEARN_TRAIN=1`: scored on its own training lines;
//! `NISHAN_EPOCHS=n`; `NISHAN_LEARN_DOC=1`: the held-out lines of a text tagged as one document;
//! `NISHAN_LEARN_SELF=n`: self-training on up to n confidently tagged corpus lines.

#[path = "../tests/annotated/mod.rs"]
mod annotated;

use nishan_domain::learn::TrainingOptions;

fn main() {
    let mut lines = annotated::load();
    if let Ok(prefix) = std::env::var("NISHAN_LEARN_SOURCE") {
        // Only the lines of one text (blocks are named `text/first line/stanza`).
        lines.retain(|l| l.block.starts_with(&format!("{prefix}/")));
    }
    let mut options = TrainingOptions::default();
    if let Some(e) = std::env::var("NISHAN_EPOCHS").ok().and_then(|v| v.parse().ok()) {
        options.epochs = e;
    }
    let splits: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    println!("{} annotated lines, {} gold spans", lines.len(), lines.iter().map(|l| l.gold.spans.len()).sum::<usize>());
    let row = |name: &str, m: &annotated::Measured| {
        println!(
            "{name:>10}: train {:3} held-out {:3} | P {:.3} R {:.3} F1 {:.3} (overlap {:.3}, at 0.5 {:.3}) | unseen {:2}/{:2} ({:.0} %) | gazetteer F1 {:.3} unseen {} | CV F1 {:.3} ECE {:.3}",
            m.train_lines,
            m.heldout_lines,
            m.precision,
            m.recall,
            m.f1,
            m.overlap_f1,
            m.f1_at_threshold,
            m.unseen_found,
            m.unseen,
            100.0 * m.unseen_share(),
            m.gazetteer_f1,
            m.gazetteer_unseen_found,
            m.cv_f1,
            m.cv_ece
        );
    };
    // `NISHAN_LEARN_SELF=n`: self-training, up to n silver lines of confidence 0.9 or more.
    let self_training: usize = std::env::var("NISHAN_LEARN_SELF").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let measure = |train: &[&annotated::Line], heldout: &[&annotated::Line]| {
        if self_training == 0 {
            return annotated::measure(train, heldout, &options);
        }
        let silver = annotated::silver(train, &lines, &options, 0.9, self_training);
        annotated::measure_with(train, &silver, heldout, &options)
    };
    let (train, heldout) = annotated::committed_split(&lines);
    row("committed", &measure(&train, &heldout));
    // The fresh lines (texts no other annotated line comes from, annotated after the name list
    // was written): from the committed training lines, and from all 506 annotated lines.
    let fresh = annotated::load_fresh();
    let fresh: Vec<&annotated::Line> = fresh.iter().collect();
    let every: Vec<&annotated::Line> = lines.iter().collect();
    row("fresh/184", &measure(&train, &fresh));
    row("fresh/all", &measure(&every, &fresh));
    if std::env::var("NISHAN_LEARN_ERRORS").as_deref() == Ok("fresh") {
        annotated::print_errors(&every, &fresh, &options);
        return;
    }
    if std::env::var("NISHAN_LEARN_TRAIN").is_ok() {
        row("on train", &annotated::measure(&train, &train, &options));
        return;
    }
    if std::env::var("NISHAN_LEARN_ERRORS").is_ok() {
        annotated::print_errors(&train, &heldout, &options);
        return;
    }
    let mut all = Vec::new();
    for seed in 1..=splits {
        let (train, heldout) = annotated::random_split(&lines, seed, 180);
        let m = measure(&train, &heldout);
        row(&format!("seed {seed}"), &m);
        all.push(m);
    }
    let mean = |f: &dyn Fn(&annotated::Measured) -> f64| all.iter().map(f).sum::<f64>() / all.len() as f64;
    println!(
        "      mean: P {:.3} R {:.3} F1 {:.3} (at 0.5 {:.3}) | unseen found {:.0} % | gazetteer F1 {:.3} | CV F1 {:.3} ECE {:.3}",
        mean(&|m| m.precision),
        mean(&|m| m.recall),
        mean(&|m| m.f1),
        mean(&|m| m.f1_at_threshold),
        100.0 * mean(&|m| m.unseen_share()),
        mean(&|m| m.gazetteer_f1),
        mean(&|m| m.cv_f1),
        mean(&|m| m.cv_ece)
    );
}
