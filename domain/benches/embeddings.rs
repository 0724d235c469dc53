//! Embeddings benchmark (issue 14): ranking 1k, 10k and 100k stored vectors by cosine in
//! process, as hybrid search does for each query (`search::semantic`): the vectors as the
//! database returns them (little-endian f32 blobs) decoded, ranked against the query, and the
//! best 100 kept. Dimensions 256 (the built-in embedding) and 1536 (OpenAI's
//! text-embedding-3-small). Per query: p50/p99 of decoding and ranking, of ranking alone (the
//! vectors already in memory, as a cache would hold them), and the peak memory of one query.
//! Also the built-in embedding's speed over the corpus's lines. Figures go to stdout; the
//! README records them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nishan_domain::llm::embed::{builtin_embedding, normalise};
use nishan_domain::search::PassageId;
use nishan_domain::search::semantic::{SEMANTIC_CANDIDATES, decode_vector, encode_vector, top_k};

/// Counts the bytes allocated now and the peak since the last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// xorshift64*: the same vectors on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A unit vector of `dims` values.
    fn vector(&mut self, dims: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).collect();
        normalise(&mut v);
        v
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn corpus_lines() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/marsiya/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the Marsiya corpus is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| String::from_utf8(std::fs::read(p).unwrap()).ok())
        .flat_map(|t| t.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn main() {
    let lines = corpus_lines();
    let started = Instant::now();
    let embedded: Vec<Vec<f32>> = lines.iter().map(|l| builtin_embedding(l)).collect();
    let took = started.elapsed();
    println!(
        "built-in embedding: {} corpus lines in {:.2} s ({:.0} lines/s)",
        embedded.len(),
        took.as_secs_f64(),
        embedded.len() as f64 / took.as_secs_f64()
    );
    drop(embedded);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for dims in [256usize, 1536] {
        for n in [1_000usize, 10_000, 100_000] {
            let blobs: Vec<(PassageId, Vec<u8>)> =
                (0..n).map(|i| (PassageId(i as i64), encode_vector(&rng.vector(dims)))).collect();
            let decoded: Vec<(PassageId, Vec<f32>)> =
                blobs.iter().map(|(id, b)| (*id, decode_vector(b, dims).unwrap())).collect();
            let queries = if n >= 100_000 { 20 } else { 100 };
            let (mut full, mut rank_only) = (Vec::new(), Vec::new());
            let mut peak = 0usize;
            for _ in 0..queries {
                let q = rng.vector(dims);
                let base = NOW.load(Ordering::Relaxed);
                PEAK.store(base, Ordering::Relaxed);
                let started = Instant::now();
                let vectors: Vec<(PassageId, Vec<f32>)> =
                    blobs.iter().map(|(id, b)| (*id, decode_vector(b, dims).unwrap())).collect();
                let top = top_k(&q, vectors.iter().map(|(id, v)| (*id, v.as_slice())), SEMANTIC_CANDIDATES);
                drop(vectors);
                full.push(started.elapsed());
                peak = peak.max(PEAK.load(Ordering::Relaxed) - base);
                assert_eq!(top.len(), SEMANTIC_CANDIDATES.min(n));
                let started = Instant::now();
                let top = top_k(&q, decoded.iter().map(|(id, v)| (*id, v.as_slice())), SEMANTIC_CANDIDATES);
                rank_only.push(started.elapsed());
                assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
            }
            full.sort();
            rank_only.sort();
            println!(
                "{dims:>5} dims {n:>7} vectors ({:>6.1} MB stored): decode + rank p50 {:>7.2} ms p99 {:>7.2} ms, \
                 peak {:>6.1} MB a query; rank alone p50 {:>7.2} ms p99 {:>7.2} ms",
                (n * dims * 4) as f64 / 1e6,
                ms(percentile(&full, 0.5)),
                ms(percentile(&full, 0.99)),
                peak as f64 / 1e6,
                ms(percentile(&rank_only, 0.5)),
                ms(percentile(&rank_only, 0.99)),
            );
        }
    }
}
