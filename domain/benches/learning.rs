//! Learning benchmark (`cargo bench -p nishan-domain --bench learning`): the tagger of the
//! built-in extractor, in the domain crate (it builds without the server). Goals (issue 16):
//! training on 10,000 gold entities under 30 s, tagging the corpus under 5 s.
//! - tagging: a model trained on the annotated lines tags every text of the corpus (240 texts);
//! - training: models trained (with their 5-fold cross-validation, as a TRAINING job does) on
//!   1,000, 10,000 and 30,000 gold entities: the corpus lines as that model tagged them
//!   ("silver" gold, with the corpus's own vocabulary).
//!   Reports time, throughput, features and the stored model's size.

use std::time::Instant;

use nishan_domain::learn::{Annotated, LabeledSpan, Name, TrainingOptions, train};

/// This process's CPU time (user and system), in seconds, from `/proc/self/stat`: on a machine
/// shared with other work, the CPU a step takes says more than the wall clock.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// Every file of the Marsiya corpus (at the repository's top), in name order.
fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the Marsiya corpus is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn annotated() -> Vec<Annotated> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/annotated/lines.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let (docs, _) = nishan_domain::exchange::inline_tags::parse(v["tagged"].as_str().unwrap());
            let d = &docs[0];
            Annotated {
                text: d.text.clone().unwrap(),
                spans: d
                    .spans
                    .iter()
                    .map(|s| LabeledSpan { start: s.start as u32, end: s.end as u32, label: s.type_name.clone() })
                    .collect(),
            }
        })
        .collect()
}

fn main() {
    let options = TrainingOptions::default();
    let examples: Vec<Name> = [("PERSON", "حسین"), ("LOCATION", "کربلا"), ("DESIGNATION", "امام")]
        .iter()
        .map(|(t, n)| Name::reference(*n, *t))
        .collect();
    let started = Instant::now();
    let trained = train(&annotated(), &examples, &options).unwrap();
    println!(
        "trained on the annotated lines (506 lines, 265 entities) in {:.2} s; {} features, model {} KiB",
        started.elapsed().as_secs_f64(),
        trained.tagger.features(),
        trained.tagger.to_bytes().len() / 1024
    );
    let texts: Vec<String> = corpus()
        .into_iter()
        .map(|bytes| nishan_domain::text::normalize_newlines(&String::from_utf8_lossy(&bytes)))
        .collect();
    let words: usize = texts.iter().map(|t| nishan_domain::text::metrics(t).words as usize).sum();
    let names = trained.tagger.names(&examples);
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let tagged: Vec<Vec<nishan_domain::learn::Tagged>> = texts.iter().map(|t| trained.tagger.tag(t, &names)).collect();
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let spans: usize = tagged.iter().map(Vec::len).sum();
    println!(
        "tagged the corpus ({} texts, {} words) in {:.2} s ({:.2} s of CPU): {:.0} words/s, {} spans",
        texts.len(),
        words,
        secs,
        cpu,
        words as f64 / secs,
        spans
    );
    // Silver gold: each corpus line with the spans tagged in it.
    let mut silver: Vec<Annotated> = Vec::new();
    for (text, found) in texts.iter().zip(&tagged) {
        let mut offset = 0u32;
        for line in text.split('\n') {
            let len = line.chars().count() as u32;
            let spans: Vec<LabeledSpan> = found
                .iter()
                .filter(|s| s.start >= offset && s.end <= offset + len)
                .map(|s| LabeledSpan { start: s.start - offset, end: s.end - offset, label: s.label.clone() })
                .collect();
            if !line.trim().is_empty() {
                silver.push(Annotated { text: line.to_owned(), spans });
            }
            offset += len + 1;
        }
    }
    for target in [1_000usize, 10_000, 30_000] {
        let mut n = 0;
        let data: Vec<Annotated> = silver
            .iter()
            .take_while(|a| {
                let go = n < target;
                n += a.spans.len();
                go
            })
            .cloned()
            .collect();
        let entities: usize = data.iter().map(|a| a.spans.len()).sum();
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let model = train(&data, &examples, &options).unwrap();
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        println!(
            "trained on {entities} entities ({} lines) with 5-fold cross-validation in {secs:.2} s ({cpu:.2} s of CPU, on {} threads); {} features, model {} KiB, CV F1 {:.3}",
            data.len(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            model.tagger.features(),
            model.tagger.to_bytes().len() / 1024,
            model.metrics.exact.overall.f1
        );
    }
}
