//! The annotated Marsiya lines of `corpus/annotated/lines.jsonl`, and the measurements the
//! learning test and the learning report make on them: train on some lines, tag the others,
//! score exactly, count the names never seen in training that were found, and the same for the
//! gazetteer baseline (the built-in extractor before the tagger: the seeded type examples and
//! the training gold as names).

#![allow(dead_code)]

use std::collections::HashSet;

use nishan_domain::extract::{Gazetteer, GazetteerEntry};
use nishan_domain::ids::EntityTypeId;
use nishan_domain::learn::evaluate::Tally;
use nishan_domain::learn::{Annotated, LabeledSpan, Name, TrainingOptions, fold, train};

/// One annotated line.
#[derive(Debug, Clone)]
pub struct Line {
    pub block: String,
    pub split: String,
    pub gold: Annotated,
}

pub fn load() -> Vec<Line> {
    load_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/annotated/lines.jsonl"))
}

/// The fresh held-out lines (`corpus/annotated/fresh.jsonl`: texts no line of `lines.jsonl`
/// comes from, annotated before any model ran on them and after the name list was written).
pub fn load_fresh() -> Vec<Line> {
    load_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/annotated/fresh.jsonl"))
}

fn load_file(path: &str) -> Vec<Line> {
    let data = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    data.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let tagged = v["tagged"].as_str().expect("tagged");
            let (docs, issues) = nishan_domain::exchange::inline_tags::parse(tagged);
            assert!(issues.is_empty(), "{tagged}: {issues:?}");
            let doc = &docs[0];
            let text = doc.text.clone().expect("inline tags carry their text");
            assert_eq!(text, v["text"].as_str().unwrap(), "the tags wrap the text exactly");
            let spans = doc
                .spans
                .iter()
                .map(|s| LabeledSpan { start: s.start as u32, end: s.end as u32, label: s.type_name.clone() })
                .collect();
            Line {
                block: v["block"].as_str().unwrap().to_owned(),
                split: v["split"].as_str().unwrap().to_owned(),
                gold: Annotated { text, spans },
            }
        })
        .collect()
}

/// The seeded examples of the system entity types (as the server passes them, as reference
/// names).
pub fn type_examples() -> Vec<Name> {
    let seeded: [(&str, &[&str]); 7] = [
        ("PERSON", &["حسین", "عباس", "زینب", "علی اکبر", "قاسم"]),
        ("LOCATION", &["کربلا", "کوفہ", "مدینہ", "فرات", "شام"]),
        ("DATE", &["عاشور", "محرم", "دسویں"]),
        ("TIME", &["صبح", "شام", "دوپہر", "رات"]),
        ("ORGANIZATION", &["بنی ہاشم", "لشکر یزید", "اہل حرم"]),
        ("DESIGNATION", &["امام", "شاہ", "سردار", "علمدار"]),
        ("NUMBER", &["بہتر", "تین", "سو"]),
    ];
    seeded.iter().flat_map(|(t, names)| names.iter().map(|n| Name::reference(*n, *t))).collect()
}

/// What one train/held-out split measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub train_lines: usize,
    pub heldout_lines: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub overlap_f1: f64,
    /// Held-out gold spans whose folded text is in no training gold span, and how many of them
    /// were found exactly.
    pub unseen: usize,
    pub unseen_found: usize,
    pub gazetteer_f1: f64,
    pub gazetteer_unseen_found: usize,
    /// The cross-validated F1 of the training lines, as the stored model reports it.
    pub cv_f1: f64,
    pub cv_ece: f64,
    /// F1 of the spans of confidence 0.5 or more (what the built-in extractor stores under the
    /// default configuration's threshold).
    pub f1_at_threshold: f64,
}

impl Measured {
    pub fn unseen_share(&self) -> f64 {
        if self.unseen == 0 { 0.0 } else { self.unseen_found as f64 / self.unseen as f64 }
    }
}

fn span_text(text: &str, s: &LabeledSpan) -> String {
    text.chars().skip(s.start as usize).take((s.end - s.start) as usize).collect()
}

fn folded_name(text: &str) -> String {
    text.split_whitespace().map(fold).collect::<Vec<_>>().join(" ")
}

/// Trains on `train`, tags `heldout`, and scores both the tagger and the gazetteer baseline.
pub fn measure(train_lines: &[&Line], heldout: &[&Line], options: &TrainingOptions) -> Measured {
    measure_with(train_lines, &[], heldout, options)
}

/// Self-training: a model trained on `train_lines` tags the corpus lines that are not annotated;
/// the lines (up to `limit`, in corpus order) whose every span it is at least `confidence` sure
/// of, with at least one span, come back as silver training data.
pub fn silver(
    train_lines: &[&Line],
    all: &[Line],
    options: &TrainingOptions,
    confidence: f64,
    limit: usize,
) -> Vec<Annotated> {
    let data: Vec<Annotated> = train_lines.iter().map(|l| l.gold.clone()).collect();
    let examples = type_examples();
    let trained = train(&data, &examples, options).expect("gold");
    let names = trained.tagger.names(&examples);
    let annotated: HashSet<&str> = all.iter().map(|l| l.gold.text.as_str()).collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = nishan_domain::text::normalize_newlines(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
        for line in text.split('\n').map(str::trim) {
            if line.is_empty() || annotated.contains(line) || line.chars().count() < 12 {
                continue;
            }
            let tagged = trained.tagger.tag(line, &names);
            if !tagged.is_empty() && tagged.iter().all(|t| t.confidence >= confidence) {
                out.push(Annotated {
                    text: line.to_owned(),
                    spans: tagged
                        .into_iter()
                        .map(|t| LabeledSpan { start: t.start, end: t.end, label: t.label })
                        .collect(),
                });
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

/// [`measure`], with `extra` (silver) lines trained on besides the gold of `train_lines`.
pub fn measure_with(
    train_lines: &[&Line],
    extra: &[Annotated],
    heldout: &[&Line],
    options: &TrainingOptions,
) -> Measured {
    let mut data: Vec<Annotated> = train_lines.iter().map(|l| l.gold.clone()).collect();
    data.extend_from_slice(extra);
    let examples = type_examples();
    let trained = train(&data, &examples, options).expect("the training lines hold gold");
    let names = trained.tagger.names(&examples);
    let seen: HashSet<String> = train_lines
        .iter()
        .flat_map(|l| l.gold.spans.iter().map(|s| folded_name(&span_text(&l.gold.text, s))))
        .collect();
    // The gazetteer baseline: seeded examples (0.6) and the training gold (0.9), as the built-in
    // extractor uses them.
    let type_ids: Vec<(String, EntityTypeId)> =
        ["PERSON", "LOCATION", "DATE", "TIME", "ORGANIZATION", "DESIGNATION", "NUMBER"]
            .iter()
            .map(|t| (t.to_string(), EntityTypeId::new()))
            .collect();
    let id_of = |t: &str| type_ids.iter().find(|(n, _)| n == t).map(|(_, id)| *id).expect("a seeded type");
    let name_of = |id: EntityTypeId| type_ids.iter().find(|(_, i)| *i == id).map(|(n, _)| n.clone()).unwrap();
    let mut entries: Vec<GazetteerEntry> = examples
        .iter()
        .map(|n| GazetteerEntry { text: n.text.clone(), entity_type: id_of(&n.label), confidence: 0.6 })
        .collect();
    for l in train_lines {
        for s in &l.gold.spans {
            entries.push(GazetteerEntry {
                text: span_text(&l.gold.text, s),
                entity_type: id_of(&s.label),
                confidence: 0.9,
            });
        }
    }
    let gazetteer = Gazetteer::new(entries);
    let mut tally = Tally::new();
    let mut thresholded = Tally::new();
    let mut gazetteer_tally = Tally::new();
    let mut m = Measured { train_lines: train_lines.len(), heldout_lines: heldout.len(), ..Measured::default() };
    let all_tagged = tag_lines(&trained.tagger, &names, heldout);
    for (l, tagged) in heldout.iter().zip(all_tagged) {
        let confident: Vec<LabeledSpan> = tagged
            .iter()
            .filter(|t| t.confidence >= 0.5)
            .map(|t| LabeledSpan { start: t.start, end: t.end, label: t.label.clone() })
            .collect();
        thresholded.add(&l.gold.spans, &confident);
        let predicted: Vec<LabeledSpan> =
            tagged.into_iter().map(|t| LabeledSpan { start: t.start, end: t.end, label: t.label }).collect();
        let from_gazetteer: Vec<LabeledSpan> = gazetteer
            .find(&l.gold.text)
            .into_iter()
            .map(|f| LabeledSpan { start: f.start, end: f.end, label: name_of(f.entity_type) })
            .collect();
        for g in &l.gold.spans {
            if !seen.contains(&folded_name(&span_text(&l.gold.text, g))) {
                m.unseen += 1;
                m.unseen_found += predicted.contains(g) as usize;
                m.gazetteer_unseen_found += from_gazetteer.contains(g) as usize;
            }
        }
        tally.add(&l.gold.spans, &predicted);
        gazetteer_tally.add(&l.gold.spans, &from_gazetteer);
    }
    if std::env::var("NISHAN_LEARN_TYPES").is_ok() {
        for t in tally.exact().by_type {
            println!(
                "    {:13} P {:.2} R {:.2} F1 {:.2} (tp {} fp {} fn {})",
                t.label, t.precision, t.recall, t.f1, t.true_positives, t.false_positives, t.false_negatives
            );
        }
    }
    let exact = tally.exact().overall;
    m.precision = exact.precision;
    m.recall = exact.recall;
    m.f1 = exact.f1;
    m.overlap_f1 = tally.overlapping().overall.f1;
    m.gazetteer_f1 = gazetteer_tally.exact().overall.f1;
    m.cv_f1 = trained.metrics.exact.overall.f1;
    m.f1_at_threshold = thresholded.exact().overall.f1;
    m.cv_ece = trained.metrics.reliability.expected_calibration_error;
    m
}

/// Tags each line: as its own text, or (`NISHAN_LEARN_DOC=1`) with the other lines of its
/// text that are being tagged, as one document, each span given back to its line.
pub fn tag_lines(
    tagger: &nishan_domain::learn::Tagger,
    names: &nishan_domain::learn::model::TagNames,
    lines: &[&Line],
) -> Vec<Vec<nishan_domain::learn::Tagged>> {
    if std::env::var("NISHAN_LEARN_DOC").is_err() {
        return lines.iter().map(|l| tagger.tag(&l.gold.text, names)).collect();
    }
    let mut out: Vec<Vec<nishan_domain::learn::Tagged>> = vec![Vec::new(); lines.len()];
    let text_of = |l: &Line| l.block.split('/').next().unwrap_or_default().to_owned();
    let mut texts: Vec<String> = lines.iter().map(|l| text_of(l)).collect();
    texts.sort();
    texts.dedup();
    for t in texts {
        let members: Vec<usize> = (0..lines.len()).filter(|&i| text_of(lines[i]) == t).collect();
        let mut doc = String::new();
        let mut starts = Vec::new();
        for &i in &members {
            starts.push(doc.chars().count() as u32);
            doc.push_str(&lines[i].gold.text);
            doc.push('\n');
        }
        for mut span in tagger.tag(&doc, names) {
            let k = starts.partition_point(|&s| s <= span.start) - 1;
            span.start -= starts[k];
            span.end -= starts[k];
            out[members[k]].push(span);
        }
    }
    out
}

/// The committed split: lines marked `train` against lines marked `heldout`.
pub fn committed_split(lines: &[Line]) -> (Vec<&Line>, Vec<&Line>) {
    (lines.iter().filter(|l| l.split == "train").collect(), lines.iter().filter(|l| l.split == "heldout").collect())
}

/// Another split: whole blocks (stanzas) drawn at random, by `seed`, until about `train_lines`
/// lines are in training.
pub fn random_split(lines: &[Line], seed: u64, train_lines: usize) -> (Vec<&Line>, Vec<&Line>) {
    let mut blocks: Vec<&str> = Vec::new();
    for l in lines {
        if blocks.last() != Some(&l.block.as_str()) {
            blocks.push(&l.block);
        }
    }
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in (1..blocks.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blocks.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut chosen = HashSet::new();
    let mut n = 0;
    for b in blocks {
        if n >= train_lines {
            break;
        }
        n += lines.iter().filter(|l| l.block == b).count();
        chosen.insert(b);
    }
    (
        lines.iter().filter(|l| chosen.contains(l.block.as_str())).collect(),
        lines.iter().filter(|l| !chosen.contains(l.block.as_str())).collect(),
    )
}

/// The text a line comes from (blocks are named `text/first line of the passage/stanza`).
pub fn text_of(l: &Line) -> &str {
    l.block.split('/').next().unwrap_or_default()
}

/// A split by text: texts drawn at random (by `seed`) go to training whole until about
/// `train_lines` lines are in it; the text that would overshoot gives only as many of its
/// stanzas (drawn at random) as fill the budget, and its other lines are left out of both
/// sides. Every other text is tested. So training and test never share a text: a name is
/// "seen" only if the gold of another text holds it, as when a project meets a new text.
pub fn text_split(lines: &[Line], seed: u64, train_lines: usize) -> (Vec<&Line>, Vec<&Line>) {
    let mut texts: Vec<&str> = Vec::new();
    for l in lines {
        if !texts.contains(&text_of(l)) {
            texts.push(text_of(l));
        }
    }
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for i in (1..texts.len()).rev() {
        texts.swap(i, next(i + 1));
    }
    let mut train: Vec<&Line> = Vec::new();
    let mut in_train: HashSet<&str> = HashSet::new();
    for t in texts {
        if train.len() >= train_lines {
            break;
        }
        let of_text: Vec<&Line> = lines.iter().filter(|l| text_of(l) == t).collect();
        in_train.insert(t);
        if train.len() + of_text.len() <= train_lines + train_lines / 10 {
            train.extend(of_text);
            continue;
        }
        let mut blocks: Vec<&str> = Vec::new();
        for l in &of_text {
            if !blocks.contains(&l.block.as_str()) {
                blocks.push(&l.block);
            }
        }
        for i in (1..blocks.len()).rev() {
            blocks.swap(i, next(i + 1));
        }
        for b in blocks {
            if train.len() < train_lines {
                train.extend(of_text.iter().filter(|l| l.block == b));
            }
        }
    }
    let test = lines.iter().filter(|l| !in_train.contains(text_of(l))).collect();
    (train, test)
}

/// Prints the held-out lines where the tagger and the gold differ.
pub fn print_errors(train_lines: &[&Line], heldout: &[&Line], options: &TrainingOptions) {
    let data: Vec<Annotated> = train_lines.iter().map(|l| l.gold.clone()).collect();
    let examples = type_examples();
    let trained = train(&data, &examples, options).expect("gold");
    let names = trained.tagger.names(&examples);
    for l in heldout {
        let predicted = trained.tagger.tag(&l.gold.text, &names);
        let p: Vec<LabeledSpan> =
            predicted.iter().map(|t| LabeledSpan { start: t.start, end: t.end, label: t.label.clone() }).collect();
        let missed: Vec<String> = l
            .gold
            .spans
            .iter()
            .filter(|g| !p.contains(g))
            .map(|g| format!("{}:{}", span_text(&l.gold.text, g), g.label))
            .collect();
        let wrong: Vec<String> = predicted
            .iter()
            .filter(|t| !l.gold.spans.contains(&LabeledSpan { start: t.start, end: t.end, label: t.label.clone() }))
            .map(|t| {
                format!(
                    "{}:{}:{:.2}",
                    span_text(&l.gold.text, &LabeledSpan { start: t.start, end: t.end, label: t.label.clone() }),
                    t.label,
                    t.confidence
                )
            })
            .collect();
        if !missed.is_empty() || !wrong.is_empty() {
            println!("{} | missed {:?} | spurious {:?}", l.gold.text, missed, wrong);
        }
    }
}
