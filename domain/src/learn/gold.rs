//! What a project's gold teaches: the lines of its documents that researchers have looked at.
//!
//! A line is gold when it holds a verified entity (or, once curation lands, a curated one) or
//! a rejected suggestion: a researcher read it, and what they left unmarked there is no entity.
//! Lines nobody has looked at are left out, since an unmarked entity there would teach the
//! tagger that it is none. On a gold line every verified entity is a gold span; an entity that
//! crosses a line break cannot be a span of a line and is left out (and counted).

use std::collections::BTreeMap;

use crate::ids::{DocumentId, EntityTypeId};

use super::tokens::lines_with_offsets;
use super::{Annotated, LabeledSpan};

/// One document's gold, as the repository reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldDocument {
    pub document_id: DocumentId,
    pub content: String,
    /// Verified entities: code points `[start, end)` and type.
    pub verified: Vec<(u32, u32, EntityTypeId)>,
    /// Rejected suggestions: code points `[start, end)`.
    pub rejected: Vec<(u32, u32)>,
}

/// The gold lines of some documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoldLines {
    /// Each a line with its spans (offsets into the line); types by their id.
    pub lines: Vec<Annotated>,
    /// Gold spans in them.
    pub entities: u32,
    /// Verified entities left out for crossing a line break.
    pub crossing: u32,
}

/// The gold lines of `documents`, in document then line order.
pub fn gold_lines(documents: &[GoldDocument]) -> GoldLines {
    let mut out = GoldLines::default();
    for doc in documents {
        let lines: Vec<(u32, &str)> = lines_with_offsets(&doc.content).collect();
        let line_of = |offset: u32| lines.partition_point(|(start, _)| *start <= offset).saturating_sub(1);
        let mut spans: BTreeMap<usize, Vec<LabeledSpan>> = BTreeMap::new();
        for &(start, end, entity_type) in &doc.verified {
            if end <= start {
                continue;
            }
            let i = line_of(start);
            let (line_start, text) = lines[i];
            if end > line_start + text.chars().count() as u32 {
                out.crossing += 1;
                continue;
            }
            spans.entry(i).or_default().push(LabeledSpan {
                start: start - line_start,
                end: end - line_start,
                label: entity_type.to_string(),
            });
        }
        for &(start, _) in &doc.rejected {
            spans.entry(line_of(start)).or_default();
        }
        for (i, mut s) in spans {
            s.sort();
            out.entities += s.len() as u32;
            out.lines.push(Annotated { text: lines[i].1.to_owned(), spans: s });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_verified_entities_or_rejections_are_gold() {
        let person = EntityTypeId::new();
        let text = "رو کے کہا زینب نے\nکوئی نام نہیں\nعباس آئے\nحسین اور\nعلی";
        let doc = GoldDocument {
            document_id: DocumentId::new(),
            content: text.into(),
            // زینب on line 1; عباس on line 3; "حسین اور\nعلی" crosses a line break.
            verified: vec![(10, 14, person), (32, 36, person), (41, 53, person)],
            // A rejected suggestion on line 2: a line read, with nothing on it.
            rejected: vec![(18, 22)],
        };
        let gold = gold_lines(&[doc]);
        let texts: Vec<&str> = gold.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["رو کے کہا زینب نے", "کوئی نام نہیں", "عباس آئے"]);
        assert_eq!(gold.lines[0].spans, [LabeledSpan { start: 10, end: 14, label: person.to_string() }]);
        assert!(gold.lines[1].spans.is_empty());
        assert_eq!(gold.lines[2].spans[0].start, 0);
        assert_eq!((gold.entities, gold.crossing), (2, 1));
    }
}
