//! A trained tagger: feature weights per label, label-pair scores, the temperature its
//! probabilities are computed at and the map that makes them confidences, and the gold names
//! it learnt (a feature source at tagging time).
//! Tagging is deterministic and reads nothing but its input. A model is stored as bytes
//! ([`Tagger::to_bytes`], a small versioned binary format); [`Tagger::from_bytes`] reads it back
//! exactly, so a stored model tags as the trained one did.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::calibration::Calibration;
use super::features::{LineInput, line_features};
use super::fold;
use super::labels::{LabelSet, WordSpan, decode};
use super::lattice::{Probabilities, Transitions};
use super::names::{Name, NameIndex, NameSource};
use super::tokens::{Token, lines_with_offsets, tokenize};

/// Feature keys are already well-mixed 64-bit hashes: hashing them again is wasted work.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// A span the tagger found, with its confidence (the probability that exactly this span, of this
/// type, is an entity).
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    pub start: u32,
    pub end: u32,
    pub label: String,
    pub confidence: f64,
}

/// What the features need of a folded word besides the word itself, looked up once.
#[derive(Debug, Clone, Copy)]
struct WordInfo<'w> {
    folded: &'w str,
    clusters: Option<&'static [u16]>,
    rate: Option<super::clusters::HonorificRate>,
    gold_word: Option<(usize, bool)>,
}

impl<'w> WordInfo<'w> {
    fn new(folded: &'w str, names: &TagNames) -> Self {
        let clusters = super::clusters::WordClusters::builtin();
        Self {
            folded,
            clusters: clusters.of(folded),
            rate: clusters.honorific(folded),
            gold_word: names.gold.word_type(folded),
        }
    }
}

/// The names a tagging run looks for: the caller's reference names and the model's gold with the
/// caller's gold names added. Built once per run ([`Tagger::names`]), used for every text.
#[derive(Debug, Clone)]
pub struct TagNames {
    pub(crate) reference: NameIndex,
    pub(crate) gold: NameIndex,
    /// Words that open a span of a type and are joined to it ([`Tagger::join`]), by type.
    pub(crate) joiners: HashMap<String, Vec<usize>>,
}

#[derive(Debug, Clone)]
pub struct Tagger {
    pub(crate) labels: Vec<String>,
    pub(crate) set: LabelSet,
    pub(crate) rows: KeyMap<u32>,
    /// `rows × labels`, row-major.
    pub(crate) weights: Vec<f32>,
    pub(crate) transitions: Transitions,
    pub(crate) temperature: f64,
    /// The transitions exponentiated at `temperature`, made once.
    pub(crate) tables: Probabilities,
    /// Probabilities to confidences.
    pub(crate) calibration: Calibration,
    /// Taken off every word's `O` score before decoding: the perceptron, trained on lines
    /// where most words are outside any entity, leans to `O`; the bias that gave the best
    /// cross-validated F1 sets the balance of recall against precision.
    pub(crate) outside_bias: f32,
    /// The type each class of the built-in names stands for in the gold trained on (see
    /// [`names::builtin`](super::names::builtin)), if one: those names are reference names of
    /// that type.
    pub(crate) builtin_types: Vec<Option<usize>>,
    pub(crate) gold: NameIndex,
    /// The gold names as trained on (folded words, type), kept to store the model.
    pub(crate) gold_names: Vec<(Vec<String>, usize)>,
}

/// The built-in class of persons (see [`names::BUILTIN_CLASSES`](super::names::BUILTIN_CLASSES)).
const BUILTIN_PERSON: Option<usize> = Some(0);

/// Titles and kinship words that the conventions of `corpus/annotated/README.md` join to the
/// name they precede (حضرت زینب, جناب شبیر, دختر فاطمہ زہرا, خلفِ بوتراب: one PERSON span).
const JOINED_TO_NAMES: [&str; 14] =
    ["حضرت", "جناب", "سید", "سیدہ", "ابن", "بن", "بنت", "دختر", "پسر", "فرزند", "خلف", "ہمشکل", "بیبی", "شہزادہ"];

/// The decoded spans of a line (each with what it carries: a confidence, the decoded spans it
/// comes from) with the words that the conventions join to them: [`join_openers`], then
/// [`izafat_joins`], then [`adjacent_joins`] (which makes one span of two, carrying
/// `merge` of what they carried). Tagging and cross-validation both decode through here.
pub(crate) fn joined<C: Copy>(
    spans: Vec<(WordSpan, C)>,
    tokens: &[Token<'_>],
    folded: &[&str],
    joiners: &HashMap<String, Vec<usize>>,
    merge: impl Fn(C, C) -> C,
) -> Vec<(WordSpan, C)> {
    adjacent_joins(izafat_joins(join_openers(spans, folded, joiners), tokens), tokens, merge)
}

/// Two spans of one type with nothing between them, no word and no punctuation, are one span:
/// the conventions write a name with its patronymic or epithet (حسین ابن علی, علی اکبر) and a
/// place with its name (زندان شام) as one span, and the gold of the annotated lines holds two
/// such spans side by side once in 320. The joined span carries `merge` of what the two
/// carried (when tagging, the lower confidence: the span is no surer than its least sure part).
fn adjacent_joins<C: Copy>(
    spans: Vec<(WordSpan, C)>,
    tokens: &[Token<'_>],
    merge: impl Fn(C, C) -> C,
) -> Vec<(WordSpan, C)> {
    let mut out: Vec<(WordSpan, C)> = Vec::with_capacity(spans.len());
    for (s, c) in spans {
        if let Some((p, pc)) = out.last_mut()
            && p.entity_type == s.entity_type
            && p.last + 1 == s.first
            && !tokens[p.last].punct_after
        {
            p.last = s.last;
            *pc = merge(*pc, c);
            continue;
        }
        out.push((s, c));
    }
    out
}

/// Joins a word that opens spans of a type (the first word of a multi-word gold name of it, or
/// a title or kinship word of persons) to a span of that type right after it, when the word is
/// in no span or a one-word span of its own (حضرت|زینب -> حضرت زینب).
fn join_openers<C: Copy>(
    spans: Vec<(WordSpan, C)>,
    folded: &[&str],
    joiners: &HashMap<String, Vec<usize>>,
) -> Vec<(WordSpan, C)> {
    let mut out: Vec<(WordSpan, C)> = Vec::with_capacity(spans.len());
    for (s, c) in spans {
        if s.first > 0 && joiners.get(folded[s.first - 1]).is_some_and(|ts| ts.contains(&s.entity_type)) {
            match out.last() {
                Some((p, _)) if p.last + 1 == s.first && p.first + 1 < s.first => {}
                Some((p, _)) if p.last + 1 == s.first => {
                    out.pop();
                    out.push((WordSpan { first: s.first - 1, ..s }, c));
                    continue;
                }
                _ => {
                    out.push((WordSpan { first: s.first - 1, ..s }, c));
                    continue;
                }
            }
        }
        out.push((s, c));
    }
    out
}

/// A span cannot end on a word written with an izafat (a zer, ۂ, ۓ: the word is joined to
/// the next, رسولِ دوسرا): it takes the next word, or the span of the same type after it.
fn izafat_joins<C: Copy>(spans: Vec<(WordSpan, C)>, tokens: &[Token<'_>]) -> Vec<(WordSpan, C)> {
    let mut out: Vec<(WordSpan, C)> = Vec::with_capacity(spans.len());
    let mut i = 0;
    while i < spans.len() {
        let (mut s, c) = spans[i];
        i += 1;
        while s.last + 1 < tokens.len() && super::features::has_izafat(tokens[s.last].text) {
            match spans.get(i) {
                Some((next, _)) if next.first == s.last + 1 => {
                    if next.entity_type != s.entity_type {
                        break;
                    }
                    s.last = next.last;
                    i += 1;
                }
                _ => s.last += 1,
            }
        }
        out.push((s, c));
    }
    out
}

/// Why stored bytes are not a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stored tagger model: {0}")]
pub struct ModelFormatError(pub String);

const MAGIC: &[u8; 4] = b"NSHT";

const FORMAT_VERSION: u32 = 3;
/// Models stored before the outside bias (read with none).
const FORMAT_WITHOUT_BIAS: u32 = 2;

impl Tagger {
    /// The type keys the model tags, in label order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// How many features carry a weight.
    pub fn features(&self) -> usize {
        self.rows.len()
    }

    /// The temperature confidences are computed at.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// The names of a run: `names` of a type the model does not tag are ignored.
    pub fn names(&self, names: &[Name]) -> TagNames {
        let mut reference = NameIndex::new(self.labels.len());
        super::train::add_builtin(&mut reference, &self.builtin_types);
        let mut gold = self.gold.clone();
        for n in names {
            let Some(t) = self.labels.iter().position(|l| *l == n.label) else { continue };
            match n.source {
                NameSource::Reference => reference.add(&n.text, t),
                NameSource::Gold => gold.add(&n.text, t),
            }
        }
        let mut joiners: HashMap<String, Vec<usize>> = HashMap::new();
        let mut join = |w: &str, t: usize| {
            let v = joiners.entry(w.to_owned()).or_default();
            if !v.contains(&t) {
                v.push(t);
            }
        };
        for (words, t) in &self.gold_names {
            if words.len() >= 2 {
                join(&words[0], *t);
            }
        }
        let person = BUILTIN_PERSON.and_then(|c| self.builtin_types.get(c).copied().flatten());
        if let Some(t) = person {
            for w in JOINED_TO_NAMES {
                join(&fold(w), t);
            }
        }
        TagNames { reference, gold, joiners }
    }

    /// Tags a text line by line; spans are code points into `text`, in order. Each distinct
    /// word is folded once for the whole text.
    pub fn tag(&self, text: &str, names: &TagNames) -> Vec<Tagged> {
        let lines: Vec<(u32, Vec<Token<'_>>)> =
            lines_with_offsets(text).map(|(offset, line)| (offset, tokenize(line))).collect();
        let mut folds: HashMap<&str, String> = HashMap::new();
        for (_, tokens) in &lines {
            for t in tokens {
                folds.entry(t.text).or_insert_with(|| fold(t.text));
            }
        }
        let infos: HashMap<&str, WordInfo<'_>> =
            folds.iter().map(|(&raw, folded)| (raw, WordInfo::new(folded, names))).collect();
        let mut out = Vec::new();
        let mut per_line: Vec<Vec<(usize, usize, usize, f64)>> = Vec::with_capacity(lines.len());
        for (_, tokens) in &lines {
            let words: Vec<WordInfo<'_>> = tokens.iter().map(|t| infos[t.text]).collect();
            per_line.push(if tokens.is_empty() { Vec::new() } else { self.tag_words(tokens, &words, names) });
        }
        for ((offset, tokens), spans) in lines.iter().zip(per_line) {
            for (first, last, t, confidence) in spans {
                out.push(Tagged {
                    start: offset + tokens[first].start,
                    end: offset + tokens[last].end,
                    label: self.labels[t].clone(),
                    confidence,
                });
            }
        }
        out
    }

    /// The spans of one line's words (first word, last word, type, confidence).
    fn tag_words(
        &self,
        tokens: &[Token<'_>],
        words: &[WordInfo<'_>],
        names: &TagNames,
    ) -> Vec<(usize, usize, usize, f64)> {
        let emissions = self.emissions_of(tokens, words, names);
        let labels = self.transitions.viterbi(&emissions, tokens.len());
        let spans = decode(self.set, &labels);
        let confidence = self.transitions.span_probabilities_at(&self.tables, &emissions, tokens.len(), &spans);
        let folded: Vec<&str> = words.iter().map(|w| w.folded).collect();
        let mut spans = joined(spans.into_iter().zip(confidence).collect(), tokens, &folded, &names.joiners, f64::min);
        // A gold name of several words found where no span was decoded is a span of its type:
        // on the annotated lines such a name stands as a gold span of its type 103 times of
        // the 108 it is written (the others are inside a longer span), where a one-word name
        // is often a common word (شام, حرم, سو).
        let gold = names.gold.hits(&folded);
        let mut i = 0;
        while i < gold.len() {
            let Some(hit) = gold[i].filter(|h| h.part == super::labels::Part::Begin && !h.ambiguous) else {
                i += 1;
                continue;
            };
            let last = (i + 1..gold.len()).find(|&j| gold[j].is_some_and(|h| h.part == super::labels::Part::Last));
            let Some(last) = last else { break };
            if !spans.iter().any(|(s, _)| s.first <= last && i <= s.last) {
                let span = WordSpan { first: i, last, entity_type: hit.entity_type };
                let p = self.transitions.span_probabilities_at(&self.tables, &emissions, tokens.len(), &[span])[0];
                let at = spans.partition_point(|(s, _)| s.first < i);
                spans.insert(at, (span, p));
            }
            i = last + 1;
        }
        spans.into_iter().map(|(s, p)| (s.first, s.last, s.entity_type, self.calibration.apply(p))).collect()
    }

    /// The label scores of each word of a line.
    pub(crate) fn emissions(&self, tokens: &[Token<'_>], folded: &[&str], names: &TagNames) -> Vec<f32> {
        let words: Vec<WordInfo<'_>> = folded.iter().map(|w| WordInfo::new(w, names)).collect();
        self.emissions_of(tokens, &words, names)
    }

    /// [`emissions`](Self::emissions) with each word's lookups made already.
    fn emissions_of(&self, tokens: &[Token<'_>], words: &[WordInfo<'_>], names: &TagNames) -> Vec<f32> {
        let folded: Vec<&str> = words.iter().map(|w| w.folded).collect();
        let reference = names.reference.hits(&folded);
        let gold = names.gold.hits(&folded);
        let builtin = super::names::builtin().hits(&folded);
        let gold_words: Vec<Option<(usize, bool)>> = words.iter().map(|w| w.gold_word).collect();
        let word_clusters: Vec<Option<&[u16]>> = words.iter().map(|w| w.clusters).collect();
        let rates: Vec<_> = words.iter().map(|w| w.rate).collect();
        let input = LineInput {
            tokens,
            folded: &folded,
            reference: &reference,
            gold: &gold,
            builtin: &builtin,
            gold_words: &gold_words,
            clusters: &word_clusters,
            honorific_rates: &rates,
        };
        let l = self.set.len();
        let mut emissions = vec![0.0f32; tokens.len() * l];
        for (t, keys) in line_features(&input).iter().enumerate() {
            let out = &mut emissions[t * l..(t + 1) * l];
            for k in keys {
                if let Some(&row) = self.rows.get(k) {
                    let w = &self.weights[row as usize * l..(row as usize + 1) * l];
                    let v = super::features::value(*k);
                    for (o, w) in out.iter_mut().zip(w) {
                        *o += v * w;
                    }
                }
            }
            out[0] -= self.outside_bias;
        }
        emissions
    }

    /// The model as bytes: labels, temperature, transitions, the non-zero weights of each
    /// feature (in key order), the gold names. The same model gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let l = self.set.len();
        let mut out = Vec::with_capacity(64 + self.rows.len() * 24);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u32(&mut out, self.labels.len() as u32);
        for label in &self.labels {
            put_str(&mut out, label);
        }
        out.extend_from_slice(&self.temperature.to_le_bytes());
        out.extend_from_slice(&self.outside_bias.to_le_bytes());
        put_u32(&mut out, self.calibration.xs.len() as u32);
        for (x, y) in self.calibration.xs.iter().zip(&self.calibration.ys) {
            out.extend_from_slice(&x.to_le_bytes());
            out.extend_from_slice(&y.to_le_bytes());
        }
        for v in self.transitions.pair.iter().chain(&self.transitions.start).chain(&self.transitions.end) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut keys: Vec<(u64, u32)> = self.rows.iter().map(|(&k, &r)| (k, r)).collect();
        keys.sort_unstable();
        put_u32(&mut out, keys.len() as u32);
        for (key, row) in keys {
            out.extend_from_slice(&key.to_le_bytes());
            let w = &self.weights[row as usize * l..(row as usize + 1) * l];
            let nonzero: Vec<(usize, f32)> = w.iter().copied().enumerate().filter(|&(_, v)| v != 0.0).collect();
            put_u32(&mut out, nonzero.len() as u32);
            for (label, v) in nonzero {
                put_u32(&mut out, label as u32);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        put_u32(&mut out, self.gold_names.len() as u32);
        for (words, t) in &self.gold_names {
            put_u32(&mut out, *t as u32);
            put_u32(&mut out, words.len() as u32);
            for w in words {
                put_str(&mut out, w);
            }
        }
        put_u32(&mut out, self.builtin_types.len() as u32);
        for t in &self.builtin_types {
            put_u32(&mut out, t.map_or(u32::MAX, |t| t as u32));
        }
        out
    }

    /// Reads a model written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelFormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(ModelFormatError("bad magic".into()));
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION && version != FORMAT_WITHOUT_BIAS {
            return Err(ModelFormatError(format!("format version {version}, expected {FORMAT_VERSION}")));
        }
        let types = r.count(1 << 12)?;
        let labels = (0..types).map(|_| r.string()).collect::<Result<Vec<_>, _>>()?;
        let set = LabelSet::new(types);
        let l = set.len();
        let temperature = r.f64()?;
        let outside_bias = if version == FORMAT_WITHOUT_BIAS { 0.0 } else { r.f32()? };
        if !outside_bias.is_finite() {
            return Err(ModelFormatError("the outside bias is not a number".into()));
        }
        let points = r.count(1 << 20)?;
        let mut calibration = Calibration::default();
        for _ in 0..points {
            calibration.xs.push(r.f64()?);
            calibration.ys.push(r.f64()?);
        }
        let mut floats = |n: usize| (0..n).map(|_| r.f32()).collect::<Result<Vec<f32>, _>>();
        let pair = floats(l * l)?;
        let start = floats(l)?;
        let end = floats(l)?;
        let transitions = Transitions::new(set, pair, start, end);
        let n_rows = r.count(1 << 26)?;
        let mut rows = KeyMap::default();
        rows.reserve(n_rows);
        let mut weights = vec![0.0f32; n_rows * l];
        for row in 0..n_rows {
            let key = r.u64()?;
            let nonzero = r.count(l)?;
            for _ in 0..nonzero {
                let label = r.count(l - 1)?;
                weights[row * l + label] = r.f32()?;
            }
            rows.insert(key, row as u32);
        }
        let n_names = r.count(1 << 24)?;
        let mut gold = NameIndex::new(types);
        let mut gold_names = Vec::with_capacity(n_names);
        for _ in 0..n_names {
            let t = r.count(types.saturating_sub(1))?;
            let n_words = r.count(1 << 10)?;
            let words = (0..n_words).map(|_| r.string()).collect::<Result<Vec<_>, _>>()?;
            gold.add_words(&words, t);
            gold_names.push((words, t));
        }
        let mut builtin_types = Vec::new();
        if version != FORMAT_WITHOUT_BIAS {
            let classes = r.count(super::names::BUILTIN_CLASSES.len())?;
            for _ in 0..classes {
                let t = r.u32()?;
                builtin_types.push(if t == u32::MAX { None } else { Some(r.check(t as usize, types)?) });
            }
        }
        if r.at != bytes.len() {
            return Err(ModelFormatError("trailing bytes".into()));
        }
        let tables = transitions.probabilities(temperature);
        Ok(Self {
            labels,
            set,
            rows,
            weights,
            transitions,
            temperature,
            tables,
            calibration,
            outside_bias,
            builtin_types,
            gold,
            gold_names,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], ModelFormatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| ModelFormatError("truncated".into()))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ModelFormatError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, ModelFormatError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn f64(&mut self) -> Result<f64, ModelFormatError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn f32(&mut self) -> Result<f32, ModelFormatError> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    /// A count no larger than `max`.
    fn count(&mut self, max: usize) -> Result<usize, ModelFormatError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(ModelFormatError(format!("count {n} over {max}")));
        }
        Ok(n)
    }
    /// A type index read as `t`, checked against `types`.
    fn check(&self, t: usize, types: usize) -> Result<usize, ModelFormatError> {
        if t >= types {
            return Err(ModelFormatError(format!("type {t} of {types}")));
        }
        Ok(t)
    }
    fn string(&mut self) -> Result<String, ModelFormatError> {
        let n = self.count(1 << 16)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| ModelFormatError("a string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(first: usize, last: usize, entity_type: usize) -> (WordSpan, u8) {
        (WordSpan { first, last, entity_type }, first as u8)
    }

    fn joined_in(line: &str, spans: Vec<(WordSpan, u8)>) -> Vec<(usize, usize, usize, u8)> {
        let tokens = tokenize(line);
        let folded: Vec<String> = tokens.iter().map(|t| fold(t.text)).collect();
        let folded: Vec<&str> = folded.iter().map(String::as_str).collect();
        let mut joiners: HashMap<String, Vec<usize>> = HashMap::new();
        joiners.insert(fold("حضرت"), vec![0]);
        joined(spans, &tokens, &folded, &joiners, u8::min)
            .into_iter()
            .map(|(s, c)| (s.first, s.last, s.entity_type, c))
            .collect()
    }

    #[test]
    fn a_title_before_a_name_of_its_type_joins_it() {
        // حضرت (a one-word span of type 1, or none) before a span of type 0: one span of 0,
        // carrying what the name's span carried.
        assert_eq!(joined_in("کہا حضرت زینب نے", vec![span(1, 1, 1), span(2, 2, 0)]), [(1, 2, 0, 2)]);
        assert_eq!(joined_in("کہا حضرت زینب نے", vec![span(2, 2, 0)]), [(1, 2, 0, 2)]);
        // Not before a span of another type, nor taking a word from a longer span.
        assert_eq!(joined_in("کہا حضرت زینب نے", vec![span(2, 2, 1)]), [(2, 2, 1, 2)]);
        assert_eq!(joined_in("شاہ حضرت زینب نے", vec![span(0, 1, 1), span(2, 2, 0)]), [(0, 1, 1, 0), (2, 2, 0, 2)]);
    }

    #[test]
    fn spans_of_one_type_side_by_side_are_one() {
        // حسین | ابن علی (both of type 0): one span, carrying the lower of what they carried; not
        // across a comma, nor spans of two types, nor with a word between.
        assert_eq!(joined_in("کہاں حسین ابن علی ہیں", vec![span(1, 1, 0), span(2, 3, 0)]), [(1, 3, 0, 1)]);
        assert_eq!(
            joined_in("کہاں حسین، ابن علی ہیں", vec![span(1, 1, 0), span(2, 3, 0)]),
            [(1, 1, 0, 1), (2, 3, 0, 2)]
        );
        assert_eq!(
            joined_in("کہاں حسین ابن علی ہیں", vec![span(1, 1, 0), span(2, 3, 1)]),
            [(1, 1, 0, 1), (2, 3, 1, 2)]
        );
        assert_eq!(joined_in("حسین اور علی", vec![span(0, 0, 0), span(2, 2, 0)]), [(0, 0, 0, 0), (2, 2, 0, 2)]);
    }

    #[test]
    fn a_span_does_not_end_on_an_izafat() {
        // رسولِ (a final zer) takes the next word, or the span of its type after it.
        assert_eq!(joined_in("زیب آغوشِ رسولِ دوسرا ہے", vec![span(2, 2, 1)]), [(2, 3, 1, 2)]);
        assert_eq!(joined_in("زیب آغوشِ رسولِ دوسرا ہے", vec![span(2, 2, 1), span(3, 3, 1)]), [(2, 3, 1, 2)]);
        assert_eq!(
            joined_in("زیب آغوشِ رسولِ دوسرا ہے", vec![span(2, 2, 1), span(3, 3, 0)]),
            [(2, 2, 1, 2), (3, 3, 0, 3)]
        );
        // Nor past the line's end.
        assert_eq!(joined_in("آغوشِ رسولِ", vec![span(1, 1, 1)]), [(1, 1, 1, 1)]);
    }
}
