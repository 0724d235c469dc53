//! `cargo run --release -p nishan-domain --example word_clusters`: learns the word clusters of
//! the Marsiya corpus (`corpus/marsiya/corpus`) and writes the table the tagger ships with
//! (`domain/src/learn/marsiya_clusters.tsv`). Deterministic: run twice, the same file.

use nishan_domain::learn::clusters::{ClusterOptions, WordClusters};

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let dir = format!("{root}/corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("the corpus").map(|e| e.unwrap().path()).collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|f| nishan_domain::text::normalize_newlines(&String::from_utf8_lossy(&std::fs::read(f).unwrap())))
        .collect();
    let started = std::time::Instant::now();
    let clusters = WordClusters::learn(texts.iter().map(String::as_str), &ClusterOptions::default());
    let out = format!("{root}/domain/src/learn/marsiya_clusters.tsv");
    std::fs::write(&out, clusters.to_text()).unwrap();
    println!("{} words clustered in {:.1} s into {out}", clusters.len(), started.elapsed().as_secs_f64());
}
