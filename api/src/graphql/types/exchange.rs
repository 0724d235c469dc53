//! Import and export formats and import results as clients see them.

use async_graphql::{Enum, SimpleObject};
use nishan_domain::exchange::Format;
use nishan_domain::service::exchange::ImportReport;

use super::Document;

/// The file formats of `exportDocument`, `exportProject`, `importEntities` and
/// `importDocuments`. Offsets in them are Unicode code points.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ExchangeFormat", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlFormat {
    /// One JSON object per document: `{id, title, text, direction, offsets, label: [[start,
    /// end, "TYPE"]], verified, relations}` (doccano, spaCy).
    Jsonl,
    /// CoNLL-2003, as spaCy, seqeval and Hugging Face read it: `-DOCSTART- -X- O O` and a
    /// blank line before each document, then `token _ _ TAG` per token (BIO tags), a blank
    /// line after each text line.
    Conll,
    /// CoNLL with `#` lines (id, title, direction, offsets) before each document and
    /// `token TAB start TAB end TAB TAG` per token; a blank line after each text line.
    ConllCommented,
    /// The text with entities wrapped as `<TYPE>…</TYPE>`, in a `<document>` element.
    InlineTags,
    /// One row per entity, with a header row.
    Csv,
    /// TEI P5 XML (export only): stanzas as `<lg>`, lines as `<l>`, entities as `<persName>`,
    /// `<placeName>` or `<name type="…">` pointing at their knowledge-base entries, listed in
    /// the header.
    Tei,
    /// W3C Web Annotation JSON-LD (export only): an annotation per entity, with quote and
    /// position selectors in code points and the linked entry as body.
    WebAnnotation,
}

impl From<GqlFormat> for Format {
    fn from(f: GqlFormat) -> Self {
        match f {
            GqlFormat::Jsonl => Self::Jsonl,
            GqlFormat::Conll => Self::Conll,
            GqlFormat::ConllCommented => Self::ConllCommented,
            GqlFormat::InlineTags => Self::InlineTags,
            GqlFormat::Csv => Self::Csv,
            GqlFormat::Tei => Self::Tei,
            GqlFormat::WebAnnotation => Self::WebAnnotation,
        }
    }
}

/// A problem in imported data.
#[derive(SimpleObject)]
pub struct ImportError {
    /// The line of the data, 1-based.
    pub line: u32,
    pub message: String,
}

/// What an import stored (or, for a dry run, would store).
#[derive(SimpleObject)]
pub struct ImportResult {
    pub dry_run: bool,
    /// Entities created.
    pub created: u32,
    /// Entities the document already had, or the data gave twice: not created again.
    pub skipped: u32,
    /// Spans refused. An import with any problem stores nothing (BAD_USER_INPUT), so this is
    /// non-zero only in a dry run.
    pub rejected: u32,
    pub relationships_created: u32,
    /// Every problem found (a dry run; a refused import names the first in its error).
    pub errors: Vec<ImportError>,
    /// The documents `importDocuments` created.
    pub documents: Vec<Document>,
}

impl From<ImportReport> for ImportResult {
    fn from(r: ImportReport) -> Self {
        Self {
            dry_run: r.dry_run,
            created: r.created,
            skipped: r.skipped,
            rejected: r.rejected,
            relationships_created: r.relationships_created,
            errors: r.issues.into_iter().map(|i| ImportError { line: i.line, message: i.message }).collect(),
            documents: r.documents.into_iter().map(Document::new).collect(),
        }
    }
}
