//! Document text: decoding uploads, counting, lines and stanzas, offsets, spans, finding words,
//! carrying entity spans through an edit, cutting a text into chunks for a model and placing
//! the model's entities in them.
//!
//! The offset contract of the whole system lives here: an entity's `start`/`end` are Unicode
//! code-point offsets into the document content, half-open `[start, end)`, so
//! `content.chars().skip(start).take(end - start)` is the entity text. UTF-16 code-unit offsets
//! are derived for JavaScript clients. Content is stored with line endings normalised to `\n`
//! ([`normalize_newlines`]). Offsets are `u32`: upload limits keep documents far below 4 Gi
//! code points.

pub mod align;
pub mod chunk;
pub mod decode;
pub mod document_text;
pub mod fold;
pub mod lines;
pub mod metrics;
pub mod occurrences;
pub mod offsets;
pub mod remap;
pub mod span;

pub use align::{Aligner, Match, align, normalize};
pub use chunk::{Chunk, chunks, chunks_with};
pub use decode::{Decoded, decode_upload, normalize_newlines};
pub use document_text::DocumentText;
pub use fold::{Folder, fold, fold_key};
pub use lines::{Line, LineIndex, lines};
pub use metrics::{TextMetrics, metrics};
pub use occurrences::whole_word_occurrences;
pub use offsets::OffsetMap;
pub use remap::{DiffSummary, Remap, unified_diff};
pub use span::{SpanContext, span_context, validate_span};

/// A length or offset as `u32`, the width of every offset in the API.
pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("document offsets fit in u32 (uploads are far below 4 GiB)")
}
