//! The pure steps of processing one chunk: turning a model's suggestions (or the built-in
//! gazetteer's finds) into spans of the document. Model offsets are never used: each
//! suggested text is placed by aligning it to the chunk (`text::align`), every place it stands
//! is kept, what cannot be placed is counted, and the confidence threshold applies.

use std::collections::HashMap;

use crate::extract::Gazetteer;
use crate::ids::EntityTypeId;
use crate::llm::output::Suggestion;
use crate::text::align::Aligner;
use crate::text::chunk::Chunk;

/// A span of the whole document with its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub start: u32,
    pub end: u32,
    pub entity_type: EntityTypeId,
    pub confidence: Option<f64>,
}

/// What one chunk yielded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChunkYield {
    pub placed: Vec<Placed>,
    /// Suggestions whose text is nowhere in the chunk.
    pub unplaced: Vec<String>,
    /// Suggestions under the confidence threshold.
    pub below_threshold: u32,
}

/// Places a model's suggestions in `chunk`. `types` maps type names (as allowed in the
/// answer) to ids.
pub fn place_suggestions(
    chunk: &Chunk,
    suggestions: &[Suggestion],
    types: &HashMap<String, EntityTypeId>,
    threshold: f64,
) -> ChunkYield {
    let aligner = Aligner::new(&chunk.text);
    let mut out = ChunkYield::default();
    for s in suggestions {
        let Some(&entity_type) = types.get(&s.entity_type) else { continue };
        if s.confidence.is_some_and(|c| c < threshold) {
            out.below_threshold += 1;
            continue;
        }
        let found = aligner.find(&s.text);
        if found.is_empty() {
            out.unplaced.push(s.text.clone());
        }
        for m in found {
            out.placed.push(Placed {
                start: chunk.start + m.start,
                end: chunk.start + m.end,
                entity_type,
                confidence: s.confidence,
            });
        }
    }
    out
}

/// The built-in extractor's finds in `chunk`.
pub fn gazetteer_finds(chunk: &Chunk, gazetteer: &Gazetteer, threshold: f64) -> ChunkYield {
    let mut out = ChunkYield::default();
    for f in gazetteer.find(&chunk.text) {
        if f.confidence < threshold {
            out.below_threshold += 1;
            continue;
        }
        out.placed.push(Placed {
            start: chunk.start + f.start,
            end: chunk.start + f.end,
            entity_type: f.entity_type,
            confidence: Some(f.confidence),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::chunk::chunks;

    #[test]
    fn suggestions_are_placed_by_their_text_not_trusted_offsets() {
        let text = "پہلا مصرع\nحسینؑ ابن علیؑ کربلا میں\nکربلا کی زمیں";
        let chunk = chunks(text, 5000, 0).remove(0);
        let person = EntityTypeId::new();
        let place = EntityTypeId::new();
        let types = HashMap::from([("PERSON".to_owned(), person), ("LOCATION".to_owned(), place)]);
        let suggestions = [
            Suggestion { text: "كربلا".into(), entity_type: "LOCATION".into(), confidence: Some(0.9) }, // Arabic kaf
            Suggestion { text: "حسینؑ".into(), entity_type: "PERSON".into(), confidence: None },
            Suggestion { text: "دمشق".into(), entity_type: "LOCATION".into(), confidence: Some(0.8) },
            Suggestion { text: "علیؑ".into(), entity_type: "PERSON".into(), confidence: Some(0.2) },
        ];
        let y = place_suggestions(&chunk, &suggestions, &types, 0.5);
        let texts: Vec<String> = y
            .placed
            .iter()
            .map(|p| text.chars().skip(p.start as usize).take((p.end - p.start) as usize).collect())
            .collect();
        assert_eq!(texts, ["کربلا", "کربلا", "حسینؑ"], "both places of کربلا, found under kaf normalisation");
        assert_eq!(y.unplaced, ["دمشق"]);
        assert_eq!(y.below_threshold, 1);
    }
}
