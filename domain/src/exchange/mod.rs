//! Import and export of annotations in the formats researchers' tools read: JSONL (doccano,
//! spaCy converters), CoNLL (one token per line, BIO tags), inline tags (`<PERSON>…</PERSON>`,
//! as in `corpus/marsiya/tagged_sample.json`) and CSV (one row per entity).
//!
//! Everything here is pure: an export is written from [`ExportDocument`]s the service has read,
//! and an import is parsed into [`ParsedDocument`]s, then checked against the document it goes
//! into ([`plan`]). Every format that carries offsets carries Unicode code-point offsets and
//! says so ([`OFFSETS`]), and every format states the text direction.
//!
//! Overlaps: JSONL and CSV carry any set of entities. Inline tags nest, so they carry properly
//! nested entities (one inside another, or two types on the same span) but not crossing ones;
//! CoNLL gives each token one tag, so it carries no overlaps at all. What a format cannot carry
//! is left out by one fixed rule ([`nested`], [`flat`]), so exporting, importing the file into a
//! fresh document and exporting again gives the same bytes.

pub mod conll;
pub mod csv;
pub mod inline_tags;
pub mod jsonl;
pub mod linked;
pub mod plan;
pub mod tei;
pub mod web_annotation;

use std::collections::HashMap;

use crate::document::{Direction, Document};
use crate::entity::EntitySource;
use crate::ids::EntityId;
use crate::relationship::RelationshipType;

pub use plan::{ImportPlan, PlannedRelation, plan};

/// What every format that has offsets says about them.
pub const OFFSETS: &str = "unicode_code_points";

/// The file formats of import and export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jsonl,
    /// CoNLL-2003 (`conll::Layout::Conll2003`).
    Conll,
    /// CoNLL with `#` headers and offset columns (`conll::Layout::Commented`).
    ConllCommented,
    InlineTags,
    Csv,
    /// TEI P5 XML (export only).
    Tei,
    /// W3C Web Annotation JSON-LD (export only).
    WebAnnotation,
}

impl Format {
    /// The formats that are both exported and imported.
    pub const ALL: [Self; 5] = [Self::Jsonl, Self::Conll, Self::ConllCommented, Self::InlineTags, Self::Csv];
    /// The formats that carry the knowledge base's links, exported only.
    pub const LINKED: [Self; 2] = [Self::Tei, Self::WebAnnotation];

    /// Whether the format carries the knowledge base's links (TEI, Web Annotation).
    pub fn is_linked(self) -> bool {
        Self::LINKED.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "JSONL",
            Self::Conll => "CONLL",
            Self::ConllCommented => "CONLL_COMMENTED",
            Self::InlineTags => "INLINE_TAGS",
            Self::Csv => "CSV",
            Self::Tei => "TEI",
            Self::WebAnnotation => "WEB_ANNOTATION",
        }
    }
}

/// The direction as exports write it (the HTML `dir` values).
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Rtl => "rtl",
        Direction::Ltr => "ltr",
    }
}

/// Reads a direction as exports write it (case-insensitive).
pub fn parse_direction(s: &str) -> Option<Direction> {
    match s.trim().to_ascii_lowercase().as_str() {
        "rtl" => Some(Direction::Rtl),
        "ltr" => Some(Direction::Ltr),
        _ => None,
    }
}

/// One entity as an export shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEntity {
    pub id: EntityId,
    pub type_name: String,
    pub start: u32,
    pub end: u32,
    pub text: String,
    pub line_number: u32,
    pub confidence: Option<f64>,
    pub source: EntitySource,
    pub verified: bool,
    /// The verifier's username.
    pub verified_by: Option<String>,
    pub context_before: String,
    pub context_after: String,
}

/// A relationship between two entities of an exported document, by their indices in
/// [`ExportDocument::entities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRelation {
    pub source: usize,
    pub target: usize,
    pub kind: RelationshipType,
}

/// A document as an export shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportDocument {
    /// The SHA-256 of the text (`Document.contentHash`): the same text has the same id wherever
    /// it is stored, so an export of a re-imported document is byte for byte the same.
    pub id: String,
    pub title: String,
    pub text: String,
    pub direction: Direction,
    /// In canonical order: by start, the longer first, then by type name.
    pub entities: Vec<ExportEntity>,
    /// Ordered by source, then target, then type.
    pub relations: Vec<ExportRelation>,
}

impl ExportDocument {
    /// The export view of a document: entities put in canonical order, and those of the
    /// relationships whose two ends are both exported.
    pub fn new(
        doc: &Document,
        mut entities: Vec<ExportEntity>,
        relationships: &[(EntityId, EntityId, RelationshipType)],
    ) -> Self {
        entities.sort_by(|a, b| {
            (a.start, std::cmp::Reverse(a.end), &a.type_name).cmp(&(b.start, std::cmp::Reverse(b.end), &b.type_name))
        });
        let index: HashMap<EntityId, usize> = entities.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        let mut relations: Vec<ExportRelation> = relationships
            .iter()
            .filter_map(|(s, t, kind)| {
                Some(ExportRelation { source: *index.get(s)?, target: *index.get(t)?, kind: *kind })
            })
            .collect();
        relations.sort_by_key(|r| (r.source, r.target, r.kind.as_str()));
        Self {
            id: doc.content_hash.clone(),
            title: doc.title.clone(),
            text: doc.content.clone(),
            direction: doc.direction,
            entities,
            relations,
        }
    }
}

/// An export's text, and how many entities its format could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub data: String,
    /// Entities left out because the format cannot carry their overlap with others.
    pub omitted: usize,
}

/// Writes documents in a format (the linked-data formats without any knowledge-base links:
/// see [`export_linked`]).
pub fn export(format: Format, docs: &[ExportDocument]) -> Exported {
    match format {
        Format::Jsonl => Exported { data: jsonl::write(docs), omitted: 0 },
        Format::Csv => Exported { data: csv::write(docs), omitted: 0 },
        Format::InlineTags => inline_tags::write(docs),
        Format::Conll => conll::write(docs, conll::Layout::Conll2003),
        Format::ConllCommented => conll::write(docs, conll::Layout::Commented),
        Format::Tei | Format::WebAnnotation => export_linked(format, docs, &linked::Linked::default()),
    }
}

/// Writes documents in a format, the linked-data formats with the entries their entities are
/// linked to.
pub fn export_linked(format: Format, docs: &[ExportDocument], linked: &linked::Linked) -> Exported {
    match format {
        Format::Tei => tei::write(docs, linked),
        Format::WebAnnotation => web_annotation::write(docs, linked),
        other => export(other, docs),
    }
}

/// The entities inline tags can carry: in canonical order, each one that lies wholly inside
/// the innermost open one (or outside all of them) is kept; one that crosses the end of an
/// open entity is left out. Returns the indices kept.
pub fn nested(entities: &[ExportEntity]) -> Vec<usize> {
    let mut kept = Vec::with_capacity(entities.len());
    let mut open: Vec<u32> = Vec::new(); // ends of the open entities, innermost last
    for (i, e) in entities.iter().enumerate() {
        while open.last().is_some_and(|&end| end <= e.start) {
            open.pop();
        }
        if open.last().is_some_and(|&end| e.end > end) {
            continue;
        }
        open.push(e.end);
        kept.push(i);
    }
    kept
}

/// The entities CoNLL can carry (one tag per token): in canonical order, each one that
/// overlaps none taken before it; so of overlapping entities the one that starts first wins,
/// the longest where several start together. Returns the indices kept.
pub fn flat(entities: &[ExportEntity]) -> Vec<usize> {
    let mut kept = Vec::with_capacity(entities.len());
    let mut taken_to = 0;
    for (i, e) in entities.iter().enumerate() {
        if kept.is_empty() || e.start >= taken_to {
            kept.push(i);
            taken_to = e.end;
        }
    }
    kept
}

/// A problem found in imported data, at a line of the data (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportIssue {
    pub line: u32,
    pub message: String,
}

impl ImportIssue {
    pub fn new(line: u32, message: impl Into<String>) -> Self {
        Self { line, message: message.into() }
    }
}

impl std::fmt::Display for ImportIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A span read from imported data, not yet checked against a document.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSpan {
    /// The data line it was read from.
    pub line: u32,
    /// How messages name it: `label 3`, `<PERSON>`, `B-PERSON`, `row 4`.
    pub name: String,
    pub start: i64,
    pub end: i64,
    pub type_name: String,
    /// The text the data says the span has (CSV); checked against the document.
    pub text: Option<String>,
    /// The document id (content hash) the data says the span belongs to (CSV).
    pub document_id: Option<String>,
    pub verified: bool,
    pub confidence: Option<f64>,
}

impl ParsedSpan {
    pub fn new(line: u32, name: impl Into<String>, start: i64, end: i64, type_name: impl Into<String>) -> Self {
        Self {
            line,
            name: name.into(),
            start,
            end,
            type_name: type_name.into(),
            text: None,
            document_id: None,
            verified: false,
            confidence: None,
        }
    }
}

/// A relationship read from imported data, between two of the document's spans by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRelation {
    pub line: u32,
    pub source: usize,
    pub target: usize,
    pub kind: String,
}

/// One document read from imported data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedDocument {
    /// The data line the document starts on.
    pub line: u32,
    pub title: Option<String>,
    /// The text with the annotations taken out; None for formats without the text (CSV).
    pub text: Option<String>,
    /// The data line holding the text's first line, when each text line is a data line of its
    /// own (inline tags); None when the text sits on the document's line (JSONL).
    pub text_first_line: Option<u32>,
    /// Whether the text may differ from the document's by one final newline (bare inline
    /// text, whose last newline may or may not be the text's).
    pub loose_end: bool,
    pub direction: Option<Direction>,
    pub language: Option<String>,
    pub spans: Vec<ParsedSpan>,
    pub relations: Vec<ParsedRelation>,
}

/// The first line where `data` differs from the document's `text`, as an issue naming it;
/// None when they are the same.
pub fn first_difference(text: &str, data: &str, parsed: &ParsedDocument) -> Option<ImportIssue> {
    if text == data {
        return None;
    }
    let mut ours = text.split('\n');
    let mut theirs = data.split('\n');
    let mut number = 1u32;
    loop {
        match (ours.next(), theirs.next()) {
            (Some(a), Some(b)) if a == b => number += 1,
            (a, b) => {
                let line = parsed.text_first_line.map_or(parsed.line, |first| first + number - 1);
                let show = |s: Option<&str>| match s {
                    Some(s) => format!("«{}»", shorten(s)),
                    None => "no such line".to_owned(),
                };
                return Some(ImportIssue::new(
                    line,
                    format!(
                        "text line {number} differs from the document: the document has {}, the data has {}",
                        show(a),
                        show(b)
                    ),
                ));
            }
        }
    }
}

/// A line cut to at most 80 characters for a message.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 { s.to_owned() } else { format!("{}…", s.chars().take(80).collect::<String>()) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::document::{DocumentInfo, EntityCounts, ProcessingStatus, content_hash};
    use crate::ids::{DocumentId, ProjectId};
    use chrono::Utc;

    /// A two-line Urdu text with a comma (ASCII) and an Urdu comma, used by every format's
    /// tests: "Husain ibn Ali, the Imam, in Karbala / Abbas at the Euphrates".
    pub const TEXT: &str = "امام حسینؑ ابن علیؑ, کربلا میں\nعباسؑ، فرات پر";

    pub fn span_of(needle: &str, nth: usize) -> (u32, u32) {
        let byte = TEXT.match_indices(needle).nth(nth).unwrap().0;
        let start = TEXT[..byte].chars().count() as u32;
        (start, start + needle.chars().count() as u32)
    }

    pub fn document() -> Document {
        let now = Utc::now();
        let info = DocumentInfo {
            id: DocumentId::new(),
            project_id: ProjectId::new(),
            title: "Stanza, one".into(),
            content_hash: content_hash(TEXT),
            file: Default::default(),
            language: "ur".into(),
            direction: Direction::Rtl,
            word_count: 0,
            character_count: 0,
            line_count: 2,
            processing_status: ProcessingStatus::Pending,
            processing_started_at: None,
            processing_completed_at: None,
            processing_duration_ms: None,
            counts: EntityCounts::default(),
            confidence_score: None,
            quality_score: None,
            tags: vec![],
            metadata: serde_json::json!({}),
            notes: None,
            current_version: 1,
            created_by: None,
            updated_by: None,
            created_at: now,
            updated_at: now,
        };
        Document { info, content: TEXT.into() }
    }

    pub fn entity(needle: &str, type_name: &str) -> ExportEntity {
        let (start, end) = span_of(needle, 0);
        let ctx = crate::text::span_context(&crate::text::DocumentText::new(TEXT), start, end).unwrap();
        ExportEntity {
            id: EntityId::new(),
            type_name: type_name.into(),
            start,
            end,
            text: needle.into(),
            line_number: ctx.line_number,
            confidence: None,
            source: EntitySource::Manual,
            verified: false,
            verified_by: None,
            context_before: ctx.context_before,
            context_after: ctx.context_after,
        }
    }

    /// The sample: a PERSON with a DESIGNATION nested in it and a PERSON nested in it, a
    /// LOCATION crossing the PERSON's end, a LOCATION, and a PERSON and a LOCATION on line 2,
    /// related.
    pub fn sample() -> ExportDocument {
        let mut person = entity("امام حسینؑ ابن علیؑ", "PERSON");
        person.verified = true;
        person.verified_by = Some("anis".into());
        person.confidence = Some(0.9);
        person.source = EntitySource::Llm;
        let imam = entity("امام", "DESIGNATION");
        let husain = entity("حسینؑ", "PERSON");
        let crossing = entity("علیؑ, کربلا", "LOCATION");
        let karbala = entity("کربلا", "LOCATION");
        let abbas = entity("عباسؑ", "PERSON");
        let furat = entity("فرات", "LOCATION");
        let ids = (abbas.id, furat.id, person.id, husain.id);
        ExportDocument::new(
            &document(),
            vec![furat, karbala, crossing, husain, abbas, imam, person],
            &[(ids.0, ids.1, RelationshipType::LocatedIn), (ids.2, ids.3, RelationshipType::SameAs)],
        )
    }

    #[test]
    fn canonical_order_and_relations_by_index() {
        let doc = sample();
        let order: Vec<(&str, &str)> = doc.entities.iter().map(|e| (e.text.as_str(), e.type_name.as_str())).collect();
        assert_eq!(
            order,
            [
                ("امام حسینؑ ابن علیؑ", "PERSON"),
                ("امام", "DESIGNATION"),
                ("حسینؑ", "PERSON"),
                ("علیؑ, کربلا", "LOCATION"),
                ("کربلا", "LOCATION"),
                ("عباسؑ", "PERSON"),
                ("فرات", "LOCATION"),
            ]
        );
        assert_eq!(
            doc.relations,
            [
                ExportRelation { source: 0, target: 2, kind: RelationshipType::SameAs },
                ExportRelation { source: 5, target: 6, kind: RelationshipType::LocatedIn },
            ]
        );
    }

    #[test]
    fn nesting_keeps_contained_spans_and_drops_crossing_ones() {
        let doc = sample();
        assert_eq!(nested(&doc.entities), [0, 1, 2, 4, 5, 6]);
        assert_eq!(flat(&doc.entities), [0, 4, 5, 6]);
    }

    #[test]
    fn the_same_span_with_two_types_nests() {
        let a = entity("کربلا", "LOCATION");
        let b = entity("کربلا", "ORGANIZATION");
        let doc = ExportDocument::new(&document(), vec![b, a], &[]);
        assert_eq!(nested(&doc.entities), [0, 1]);
        assert_eq!(flat(&doc.entities), [0]);
        assert_eq!(doc.entities[0].type_name, "LOCATION");
    }

    #[test]
    fn differences_name_the_first_differing_line() {
        let parsed = ParsedDocument { line: 4, text_first_line: Some(5), ..Default::default() };
        let issue = first_difference("a\nb\nc", "a\nB\nc", &parsed).unwrap();
        assert_eq!(
            issue.to_string(),
            "line 6: text line 2 differs from the document: the document has «b», the data has «B»"
        );
        let issue = first_difference("a\nb", "a", &parsed).unwrap();
        assert_eq!(
            issue.message,
            "text line 2 differs from the document: the document has «b», the data has no such line"
        );
        let jsonl = ParsedDocument { line: 3, ..Default::default() };
        assert_eq!(first_difference("a", "x", &jsonl).unwrap().line, 3);
        assert_eq!(first_difference("a\n", "a\n", &jsonl), None);
    }
}
