//! Running jobs: the use case a worker carries out once it has claimed a job, generic over the
//! ports so that tests drive it with fakes, and the use cases that end a run whose worker is
//! gone; infrastructure only runs the loops around them (claiming, the lease's heartbeat, the
//! reaper, supervision).
//!
//! - [`Runner`] runs one claimed job: it finds the handler of the job's kind, lets it run,
//!   and ends the run as the handler's outcome says (COMPLETED, PAUSED or CANCELLED after a
//!   researcher asked, FAILED with a message for researchers; a fault of ours is logged with
//!   a reference, and only the reference and what failed reach `errorMessage`).
//! - [`JobRun`] is what a handler works with: the job, [`JobRun::commit`] to store a step
//!   with the job's progress in one transaction that only commits while this worker holds
//!   the lease (a worker whose lease was lost stores nothing), retries of transient database
//!   faults, progress events after each commit, and [`JobRun::go_on`], which says whether a
//!   researcher asked to cancel or pause.
//! - [`extraction`] is the EXTRACTION handler: chunk by chunk, the model's (or the built-in
//!   gazetteer's, or the project's learned model's) entities, placed by aligning their text,
//!   stored as suggestions.
//! - [`training`] is the TRAINING handler (a project's learned model), [`experiment`] the
//!   EXPERIMENT handler (one model of an experiment, run into a scratch layer and scored).
//! - [`ingestion`] is the INGESTION handler: a source's pages fetched into documents.
//! - [`reap_expired`] and [`release_crashed_run`] end the runs whose worker is gone (its
//!   server stopped, its run panicked): back to the queue, or FAILED at the attempts cap, with
//!   the job's progress event.
//!
//! # Adding a job kind
//! Implement [`JobHandler`] for the kind: `kind()`, `check()` (refuse, at
//! `startProcessingJob`, a target or `params` the kind cannot work on: a document for a
//! document kind, the project for the others) and `run()`, which goes through the job's steps
//! from `run.job().checkpoint` (a JSON object the handler owns: `{}` on a fresh run) and, for
//! each step, updates the job's progress (`completed_steps`, `total_steps`, `progress`,
//! `current_step`, `checkpoint`) and stores it with `run.commit(..)` (its own writes and
//! `save_progress`'s in one fenced transaction; `run.save_progress()` when the step writes
//! nothing else), then calls `run.go_on()?` before the next step. Then register it where the
//! server builds its handlers (`nishan_api::job_handlers`): `handlers.register(MyHandler)`.
//! Kinds without a handler are refused at `startProcessingJob`; progress, cancel, pause,
//! resume, retry and `jobProgress` work the same for every kind.
//!
//! The pure steps of processing one chunk are here too: turning a model's suggestions (or the
//! built-in gazetteer's finds) into spans of the document. Model offsets are never used: each
//! suggested text is placed by aligning it to the chunk (`text::align`), every place it stands
//! is kept, what cannot be placed is counted, and the confidence threshold applies.

mod dead_runs;
pub mod embedding;
pub mod experiment;
pub mod extraction;
mod handler;
pub mod ingestion;
pub mod linking;
mod model_calls;
mod run;
#[cfg(test)]
mod tests;
pub mod training;

use std::collections::HashMap;

pub use dead_runs::{crash_failure, expired_failure, reap_expired, release_crashed_run};
pub use handler::{BoxFuture, Handlers, JobEnv, JobHandler, JobKinds, RunNote};
pub use run::{Backoff, Done, JobRun, Runner, Steer, Stop, StopContext};

use crate::document::Document;
use crate::entity::Entity;
use crate::extract::Gazetteer;
use crate::ids::EntityTypeId;
use crate::llm::output::Suggestion;
use crate::text::align::Aligner;
use crate::text::chunk::Chunk;
use crate::text::{DocumentText, Remap, span_context};

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

/// Of placed spans of one type that overlap, keeps the longest (the leftmost among equals);
/// spans of different types are left alone. The result is in text order.
pub fn merge_overlapping(mut placed: Vec<Placed>) -> Vec<Placed> {
    placed.sort_by(|a, b| (b.end - b.start).cmp(&(a.end - a.start)).then(a.start.cmp(&b.start)));
    let mut kept: Vec<Placed> = Vec::with_capacity(placed.len());
    for p in placed {
        let overlaps = kept.iter().any(|k| k.entity_type == p.entity_type && k.start < p.end && p.start < k.end);
        if !overlaps {
            kept.push(p);
        }
    }
    kept.sort_by_key(|p| (p.start, p.end));
    kept
}

/// Carries entities placed in an older text of a document (`old`) to its current content,
/// through the diff between the two (`text::Remap`, as a content edit carries the stored
/// entities): an entity whose text is unchanged moves with it, and is placed again (line,
/// context, UTF-16 offsets) in the current text; one whose text the edit changed is dropped.
/// Returns the entities kept and how many were dropped. So an entity is never stored at
/// offsets of a text the document no longer has: `content[start..end] == text` holds.
pub fn rebase_suggestions(entities: Vec<Entity>, old: &str, current: &Document) -> (Vec<Entity>, u32) {
    if old == current.content {
        return (entities, 0);
    }
    let remap = Remap::new(old, &current.content);
    let text = DocumentText::new(current.content.as_str());
    let spans: Vec<(u32, u32)> = entities.iter().map(|e| (e.start, e.end)).collect();
    let mut kept = Vec::with_capacity(entities.len());
    let mut dropped = 0;
    for (mut e, mapped) in entities.into_iter().zip(remap.map_spans(&spans)) {
        match mapped.and_then(|(start, end)| Some(((start, end), span_context(&text, start, end).ok()?))) {
            Some((span, ctx)) => {
                e.place(span, ctx);
                kept.push(e);
            }
            None => dropped += 1,
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::text::chunk::chunks;

    #[test]
    fn overlapping_spans_of_one_type_keep_the_longest() {
        let (person, place) = (EntityTypeId::new(), EntityTypeId::new());
        let p = |start, end, entity_type| Placed { start, end, entity_type, confidence: None };
        let merged = merge_overlapping(vec![
            p(0, 4, person),
            p(0, 12, person),
            p(5, 8, person),
            p(5, 8, place),
            p(20, 24, person),
            p(22, 26, person),
        ]);
        assert_eq!(merged, vec![p(0, 12, person), p(5, 8, place), p(20, 24, person)]);
    }

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
