//! The learning extractor: a sequence tagger trained on a project's gold entities, and the
//! scores that say how well it (or any model) does against that gold.
//!
//! A text is tagged line by line (a line is a misra); a line is a sequence of Unicode words
//! (UAX #29, the words `text::metrics` counts, [`tokens`]). Each word gets a BILOU label
//! ([`labels`]): Begin, Inside, Last of a multi-word entity, Unit (a one-word entity) or Outside,
//! per entity type; decoding (Viterbi, [`lattice`]) only ever yields valid label sequences, so
//! every decoded span is whole. Word features ([`features`]) suit Urdu poetry: the folded word
//! and its character n-grams, prefixes and suffixes, honorific marks, izafat, the two words on
//! each side, where the word stands in its line, cue words (titles, kinship words, the vocative,
//! postpositions), and hits of name lists ([`names`]): the ones the caller supplies
//! (gazetteers, knowledge-base aliases), the gold the model has learnt, and the built-in names
//! of the Marsiya tradition (by class, whatever the project calls its types).
//! Weights are learnt by an averaged structured perceptron ([`train`]; on little gold, several
//! over shuffled orders of the lines, averaged); a span's confidence is
//! its probability under a softmax over the path scores (forward-backward), at a temperature
//! fitted by cross-validation so that confidence matches measured precision (the reliability
//! table of [`evaluate::Reliability`]); before decoding, each word's `O` score is lowered by
//! the bias that gave the best cross-validated F1 (the perceptron leans to `O`). Decoded spans
//! are then joined as the annotation conventions join them (`model::joined`: a title before a
//! name, a word written with an izafat, two spans of one type side by side); and a gold name of
//! several words found where no span was decoded is a span of its type.
//!
//! Everything here is pure and deterministic: the same gold, names and seed give the same
//! model, byte for byte ([`Tagger::to_bytes`]).

pub mod calibration;
pub mod clusters;
pub mod evaluate;
pub mod features;
pub mod gold;
pub mod labels;
pub mod lattice;
pub mod model;
pub mod names;
pub mod records;
pub mod review;
pub mod tokens;
pub mod train;

pub use evaluate::{Confusion, Metrics, Reliability, ReliabilityBin, Scores, TypeScores};
pub use model::{Tagged, Tagger};
pub use names::{Name, NameSource};
pub use train::{TrainError, Trained, TrainingOptions, cross_validate, train};

/// A span of a text with its type: code points `[start, end)`, the type by its key (whatever
/// the caller names types by: an entity type id, a type name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LabeledSpan {
    pub start: u32,
    pub end: u32,
    pub label: String,
}

/// A text with its gold spans (offsets into `text`), one unit of training data: a line, a
/// stanza or a whole document (tagged line by line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Annotated {
    pub text: String,
    pub spans: Vec<LabeledSpan>,
}

/// The one folding the tagger compares words under: the Urdu normalisation of `text::align`
/// (letters unified, marks, joiners and tatweel dropped, lower case), trimmed. Every feature and
/// name lookup goes through here, so the tagger and the aligner never disagree about a word.
pub fn fold(word: &str) -> String {
    let folded = crate::text::normalize(word);
    let folded = folded.trim();
    if folded.is_empty() { word.to_owned() } else { folded.to_owned() }
}
