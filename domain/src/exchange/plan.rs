//! Checking parsed annotations against the document they go into, and turning them into
//! entities: the text must be the document's, each span must be valid as a manual entity's
//! would be, of a known and active type, and say the text the document has there.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ImportIssue, ParsedDocument, first_difference};
use crate::document::Document;
use crate::entity::{Confidence, Entity, EntitySource};
use crate::entity_type::EntityType;
use crate::error::DomainError;
use crate::ids::{EntityTypeId, UserId};
use crate::relationship::RelationshipType;
use crate::service::entities::new_entity;
use crate::text::{DocumentText, validate_span};

/// A relationship to create between two planned entities, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlannedRelation {
    pub source: usize,
    pub target: usize,
    pub kind: RelationshipType,
}

/// What an import would store in one document.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// The entities, each span and type once, with source IMPORT.
    pub entities: Vec<Entity>,
    pub relations: Vec<PlannedRelation>,
    /// Spans the data gives more than once (kept once).
    pub repeated: u32,
    /// Spans refused (each has its issue).
    pub rejected: u32,
}

/// Plans the import of `parsed` into `doc`, by `by` at `at`. Problems are added to `issues`;
/// a text that differs from the document's rejects every span.
pub fn plan(
    doc: &Document,
    text: &DocumentText,
    parsed: &ParsedDocument,
    types: &[EntityType],
    by: UserId,
    at: DateTime<Utc>,
    issues: &mut Vec<ImportIssue>,
) -> ImportPlan {
    let mut plan = ImportPlan::default();
    if let Some(data) = &parsed.text {
        let same_but_last_newline = |a: &str, b: &str| a.strip_suffix('\n') == Some(b);
        let same = *data == doc.content
            || (parsed.loose_end
                && (same_but_last_newline(data, &doc.content) || same_but_last_newline(&doc.content, data)));
        if !same && let Some(issue) = first_difference(&doc.content, data, parsed) {
            issues.push(issue);
            plan.rejected = parsed.spans.len() as u32;
            return plan;
        }
    }
    let by_name: HashMap<&str, &EntityType> = types.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut index: HashMap<(u32, u32, EntityTypeId), usize> = HashMap::new();
    let mut placed: Vec<Option<usize>> = Vec::with_capacity(parsed.spans.len());
    for span in &parsed.spans {
        let mut reject = |message: String| {
            issues.push(ImportIssue::new(span.line, format!("{}: {message}", span.name)));
            None
        };
        let at_span = format!("[{}, {}]", span.start, span.end);
        let entity = (|| {
            let Some(entity_type) = by_name.get(span.type_name.as_str()) else {
                return reject(format!("unknown entity type «{}»", span.type_name));
            };
            if !entity_type.is_active {
                return reject(format!("the entity type {} is inactive", entity_type.name));
            }
            let bounds = match validate_span(text, span.start, span.end) {
                Ok(bounds) => bounds,
                Err(DomainError::Invalid { field, message }) => return reject(format!("{at_span}: {field} {message}")),
                Err(e) => return reject(e.to_string()),
            };
            if let Some(id) = &span.document_id
                && *id != doc.content_hash
            {
                return reject(format!(
                    "document_id {id} is not this document's ({}, the SHA-256 of its text)",
                    doc.content_hash
                ));
            }
            let mut entity = match new_entity(doc, text, entity_type.id, bounds, EntitySource::Import, by) {
                Ok(e) => e,
                Err(e) => return reject(e.to_string()),
            };
            if let Some(given) = &span.text
                && *given != entity.text
            {
                return reject(format!(
                    "the text «{given}» is not the document's text at {at_span}, which is «{}»",
                    entity.text
                ));
            }
            if let Some(c) = span.confidence {
                match Confidence::new(c, "confidence") {
                    Ok(c) => entity.confidence = Some(c.value()),
                    Err(_) => return reject(format!("confidence {c} is not between 0 and 1")),
                }
            }
            if span.verified {
                entity.verify(by, at);
            }
            entity.created_at = at;
            entity.updated_at = at;
            Some(entity)
        })();
        let Some(entity) = entity else {
            plan.rejected += 1;
            placed.push(None);
            continue;
        };
        let key = (entity.start, entity.end, entity.entity_type_id);
        match index.get(&key) {
            Some(&i) => {
                plan.repeated += 1;
                placed.push(Some(i));
            }
            None => {
                index.insert(key, plan.entities.len());
                placed.push(Some(plan.entities.len()));
                plan.entities.push(entity);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in &parsed.relations {
        let Some(kind) = RelationshipType::ALL.into_iter().find(|k| k.as_str() == r.kind) else {
            issues.push(ImportIssue::new(r.line, format!("unknown relationship type «{}»", r.kind)));
            continue;
        };
        // A relation to a rejected span goes with it (the span has its issue).
        let (Some(Some(source)), Some(Some(target))) = (placed.get(r.source), placed.get(r.target)) else {
            continue;
        };
        if source == target {
            issues.push(ImportIssue::new(r.line, "a relationship must join two different entities"));
            continue;
        }
        let planned = PlannedRelation { source: *source, target: *target, kind };
        if seen.insert(planned) {
            plan.relations.push(planned);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::tests::{TEXT, document, span_of};
    use crate::exchange::{ParsedRelation, ParsedSpan};

    fn types() -> Vec<EntityType> {
        let now = Utc::now();
        ["PERSON", "LOCATION", "OLD"]
            .iter()
            .enumerate()
            .map(|(i, name)| EntityType {
                id: EntityTypeId::new(),
                name: (*name).into(),
                display_name: (*name).into(),
                description: None,
                color: crate::entity_type::HexColor { r: 0, g: 0, b: 0 },
                examples: vec![],
                is_system: true,
                is_active: i < 2,
                sort_order: i as i32,
                created_at: now,
                updated_at: now,
            })
            .collect()
    }

    fn parsed(spans: Vec<ParsedSpan>) -> ParsedDocument {
        ParsedDocument { line: 1, text: Some(TEXT.into()), spans, ..Default::default() }
    }

    fn run(p: &ParsedDocument) -> (ImportPlan, Vec<String>) {
        let mut issues = vec![];
        let doc = document();
        let plan = plan(&doc, &DocumentText::new(TEXT), p, &types(), UserId::new(), Utc::now(), &mut issues);
        (plan, issues.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn builds_import_entities_and_keeps_repeated_spans_once() {
        let (a, b) = span_of("کربلا", 0);
        let mut verified = ParsedSpan::new(1, "label 1", a.into(), b.into(), "LOCATION");
        verified.verified = true;
        let again = ParsedSpan::new(1, "label 2", a.into(), b.into(), "LOCATION");
        let other = ParsedSpan::new(1, "label 3", a.into(), b.into(), "PERSON");
        let mut p = parsed(vec![verified, again, other]);
        p.relations = vec![
            ParsedRelation { line: 1, source: 1, target: 2, kind: "SAME_AS".into() },
            ParsedRelation { line: 1, source: 0, target: 2, kind: "SAME_AS".into() },
            ParsedRelation { line: 1, source: 0, target: 1, kind: "SAME_AS".into() },
        ];
        let (plan, issues) = run(&p);
        assert_eq!(plan.entities.len(), 2);
        assert_eq!((plan.repeated, plan.rejected), (1, 0));
        let e = &plan.entities[0];
        assert_eq!((e.text.as_str(), e.source, e.is_verified), ("کربلا", EntitySource::Import, true));
        assert!(e.verified_by.is_some());
        assert!(!plan.entities[1].is_verified);
        assert_eq!(plan.relations, [PlannedRelation { source: 0, target: 1, kind: RelationshipType::SameAs }]);
        assert_eq!(issues, ["line 1: a relationship must join two different entities"]);
    }

    #[test]
    fn refuses_bad_spans_naming_them() {
        let len = TEXT.chars().count() as i64;
        let mut wrong_text = ParsedSpan::new(4, "row 4", 0, 4, "PERSON");
        wrong_text.text = Some("امم".into());
        let mut other_doc = ParsedSpan::new(5, "row 5", 0, 4, "PERSON");
        other_doc.document_id = Some("abc".into());
        let mut unsure = ParsedSpan::new(6, "row 6", 0, 4, "PERSON");
        unsure.confidence = Some(1.5);
        let p = parsed(vec![
            ParsedSpan::new(1, "label 1", 0, len + 5, "PERSON"),
            ParsedSpan::new(1, "label 2", 0, 4, "WEAPON"),
            ParsedSpan::new(2, "<OLD>", 0, 4, "OLD"),
            ParsedSpan::new(3, "B-PERSON", 5, 9, "PERSON"),
            wrong_text,
            other_doc,
            unsure,
            ParsedSpan::new(7, "label 1", 4, 4, "PERSON"),
        ]);
        let (plan, issues) = run(&p);
        assert_eq!((plan.entities.len(), plan.rejected), (0, 8));
        let hash = document().info.content_hash;
        assert_eq!(
            issues,
            [
                format!(
                    "line 1: label 1: [0, {}]: end must be at most the document length ({len} characters)",
                    len + 5
                ),
                "line 1: label 2: unknown entity type «WEAPON»".into(),
                "line 2: <OLD>: the entity type OLD is inactive".into(),
                "line 3: B-PERSON: [5, 9]: end offset 9 falls inside a character (a letter and its marks)".into(),
                "line 4: row 4: the text «امم» is not the document's text at [0, 4], which is «امام»".into(),
                format!("line 5: row 5: document_id abc is not this document's ({hash}, the SHA-256 of its text)"),
                "line 6: row 6: confidence 1.5 is not between 0 and 1".into(),
                "line 7: label 1: [4, 4]: end must be greater than start".into(),
            ]
        );
    }

    #[test]
    fn a_different_text_rejects_everything_and_names_the_line() {
        let mut p = parsed(vec![ParsedSpan::new(1, "label 1", 0, 4, "PERSON")]);
        p.text = Some(TEXT.replace("فرات", "دجلہ"));
        let (plan, issues) = run(&p);
        assert_eq!((plan.entities.len(), plan.rejected), (0, 1));
        assert_eq!(
            issues,
            [
                "line 1: text line 2 differs from the document: the document has «عباسؑ، فرات پر», the data has «عباسؑ، دجلہ پر»"
            ]
        );
        // Bare inline text may add or drop one final newline.
        p.text = Some(format!("{TEXT}\n"));
        assert_eq!(run(&p).1.len(), 1);
        p.loose_end = true;
        assert_eq!(run(&p).1, Vec::<String>::new());
    }
}
