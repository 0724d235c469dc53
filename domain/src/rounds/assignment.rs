//! Assignments: which annotator annotates which document of an INDEPENDENT project, and how
//! far they are. States: NEW (assigned), IN_PROGRESS (on the annotator's first change in
//! their layer), FINISHED (`finishAssignment`), LOCKED and IGNORED (set by managers). A
//! FINISHED or LOCKED layer refuses edits; a manager may reopen one (back to IN_PROGRESS or
//! NEW). An IN_PROGRESS assignment untouched for the project's `abandonAfterHours` goes back to
//! NEW.
//!
//! A spread (`annotatorsPerDocument`) is planned here, deterministically: each document, in the
//! order given, goes to the annotators with the least load (assignments they hold in the
//! project), ties broken by the order the annotators were given.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, ProjectId, UserId};

/// An assignment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssignmentId(pub uuid::Uuid);

impl AssignmentId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for AssignmentId {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssignmentState {
    New,
    InProgress,
    Finished,
    Locked,
    Ignored,
}

impl AssignmentState {
    pub const ALL: [Self; 5] = [Self::New, Self::InProgress, Self::Finished, Self::Locked, Self::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::InProgress => "IN_PROGRESS",
            Self::Finished => "FINISHED",
            Self::Locked => "LOCKED",
            Self::Ignored => "IGNORED",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown assignment state {s:?} in storage")))
    }

    /// Whether the layer of an assignment in this state takes edits.
    pub fn takes_edits(self) -> bool {
        !matches!(self, Self::Finished | Self::Locked)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: AssignmentId,
    pub project_id: ProjectId,
    pub document_id: DocumentId,
    pub annotator: UserId,
    pub state: AssignmentState,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The last change of the assignment or of its layer (what "untouched" is measured from).
    pub touched_at: DateTime<Utc>,
}

impl Assignment {
    /// NEW and never started: its first start copies the models' suggestions into the layer
    /// when the project pre-annotates. One abandoned back to NEW keeps its `started_at`, so
    /// it is started again without a second copy; a manager setting NEW clears it.
    pub fn never_started(&self) -> bool {
        self.state == AssignmentState::New && self.started_at.is_none()
    }

    pub fn new(project: ProjectId, document: DocumentId, annotator: UserId, now: DateTime<Utc>) -> Self {
        Self {
            id: AssignmentId::new(),
            project_id: project,
            document_id: document,
            annotator,
            state: AssignmentState::New,
            started_at: None,
            finished_at: None,
            created_at: now,
            touched_at: now,
        }
    }

    /// The annotator (or a manager) finishes it: from NEW or IN_PROGRESS; CONFLICT otherwise.
    pub fn finish(mut self, now: DateTime<Utc>) -> DomainResult<Self> {
        match self.state {
            AssignmentState::New | AssignmentState::InProgress => {
                self.state = AssignmentState::Finished;
                self.started_at.get_or_insert(now);
                self.finished_at = Some(now);
                self.touched_at = now;
                Ok(self)
            }
            other => Err(DomainError::conflict(format!(
                "the assignment is {}; only NEW or IN_PROGRESS ones finish",
                other.as_str()
            ))),
        }
    }

    /// A manager sets any state (reopening a FINISHED or LOCKED one included).
    pub fn set_state(mut self, state: AssignmentState, now: DateTime<Utc>) -> Self {
        match state {
            AssignmentState::New => {
                self.started_at = None;
                self.finished_at = None;
            }
            AssignmentState::InProgress => {
                self.started_at.get_or_insert(now);
                self.finished_at = None;
            }
            AssignmentState::Finished => {
                self.started_at.get_or_insert(now);
                self.finished_at = Some(now);
            }
            AssignmentState::Locked | AssignmentState::Ignored => {}
        }
        self.state = state;
        self.touched_at = now;
        self
    }
}

/// At most this many annotators per document in a spread.
pub const MAX_PER_DOCUMENT: i64 = 100;

/// The (document, annotator) pairs to add so that every document has `per_document` of the
/// given annotators: each document in order goes to the least-loaded annotators not yet on it
/// (ties by the annotators' order), and their load grows. `load` is each annotator's count of
/// assignments in the project, `existing` the pairs already assigned.
pub fn spread(
    documents: &[DocumentId],
    annotators: &[UserId],
    per_document: i64,
    load: &HashMap<UserId, u64>,
    existing: &HashSet<(DocumentId, UserId)>,
) -> DomainResult<Vec<(DocumentId, UserId)>> {
    if !(1..=MAX_PER_DOCUMENT).contains(&per_document) {
        return Err(DomainError::invalid("annotatorsPerDocument", format!("must be 1 to {MAX_PER_DOCUMENT}")));
    }
    let per_document = per_document as usize;
    if per_document > annotators.len() {
        return Err(DomainError::invalid(
            "annotatorsPerDocument",
            format!("is {per_document}, but {} annotators are given", annotators.len()),
        ));
    }
    let mut load: Vec<(UserId, u64)> = annotators.iter().map(|a| (*a, load.get(a).copied().unwrap_or(0))).collect();
    let mut out = Vec::new();
    for doc in documents {
        let mut have = annotators.iter().filter(|a| existing.contains(&(*doc, **a))).count();
        // Least load first; the sort is stable, so ties keep the annotators' order.
        let mut order: Vec<usize> = (0..load.len()).collect();
        order.sort_by_key(|&i| load[i].1);
        for i in order {
            if have >= per_document {
                break;
            }
            let annotator = load[i].0;
            if existing.contains(&(*doc, annotator)) {
                continue;
            }
            out.push((*doc, annotator));
            load[i].1 += 1;
            have += 1;
        }
    }
    Ok(out)
}

/// Every (document, annotator) pair not assigned yet (an explicit assignment).
pub fn explicit(
    documents: &[DocumentId],
    annotators: &[UserId],
    existing: &HashSet<(DocumentId, UserId)>,
) -> Vec<(DocumentId, UserId)> {
    documents
        .iter()
        .flat_map(|d| annotators.iter().map(move |a| (*d, *a)))
        .filter(|pair| !existing.contains(pair))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_balances_the_load_deterministically() {
        let docs: Vec<DocumentId> = (0..4).map(|_| DocumentId::new()).collect();
        let people: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
        let plan = spread(&docs, &people, 2, &HashMap::new(), &HashSet::new()).unwrap();
        assert_eq!(plan.len(), 8);
        let mut per_person: HashMap<UserId, usize> = HashMap::new();
        for (_, p) in &plan {
            *per_person.entry(*p).or_default() += 1;
        }
        let mut loads: Vec<usize> = per_person.values().copied().collect();
        loads.sort();
        assert_eq!(loads, [2, 3, 3]);
        assert_eq!(plan, spread(&docs, &people, 2, &HashMap::new(), &HashSet::new()).unwrap());
        // The first document goes to the first two, the second to the third and the first.
        assert_eq!(
            &plan[..4],
            &[(docs[0], people[0]), (docs[0], people[1]), (docs[1], people[2]), (docs[1], people[0])]
        );
        // Existing load and existing pairs count.
        let load = HashMap::from([(people[0], 5)]);
        let existing = HashSet::from([(docs[0], people[2])]);
        let plan = spread(&docs[..1], &people, 2, &load, &existing).unwrap();
        assert_eq!(plan, [(docs[0], people[1])]);
        assert!(spread(&docs, &people, 4, &HashMap::new(), &HashSet::new()).is_err());
        assert!(spread(&docs, &people, 0, &HashMap::new(), &HashSet::new()).is_err());
    }

    #[test]
    fn states_move_as_the_rules_say() {
        let now = Utc::now();
        let a = Assignment::new(ProjectId::new(), DocumentId::new(), UserId::new(), now);
        let done = a.clone().finish(now).unwrap();
        assert_eq!(done.state, AssignmentState::Finished);
        assert!(done.finished_at.is_some() && !done.state.takes_edits());
        assert!(matches!(done.clone().finish(now).unwrap_err(), DomainError::Conflict { .. }));
        let reopened = done.set_state(AssignmentState::InProgress, now);
        assert!(reopened.state.takes_edits() && reopened.finished_at.is_none());
        let locked = reopened.set_state(AssignmentState::Locked, now);
        assert!(!locked.state.takes_edits());
        assert!(locked.finish(now).is_err());
        assert!(AssignmentState::Ignored.takes_edits() && AssignmentState::New.takes_edits());
    }
}
