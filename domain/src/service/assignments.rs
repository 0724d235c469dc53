//! Assignments of an INDEPENDENT project's documents to its annotators (issue 12): managers
//! (OWNER, ADMIN) assign, lock, ignore and reopen; an annotator finishes their own. Every
//! change is one transaction with its audit row (`assignment.finish` raises the
//! `assignment.finished` webhook event). Which layer an edit may touch is checked where the
//! edit is stored (`ports::AssignmentRepository`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::entity::{EntityFilter, EntitySlice};
use crate::entity_type::EntityType;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::ids::{DocumentId, EntityTypeId, ProjectId, UserId};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    AssignmentRepository, DocumentRepository, EntityRepository, EntityTypeRepository, Page, PageRequest,
    ProjectRepository,
};
use crate::project::Project;
use crate::rounds::agreement::{self, AgreementReport, DocumentLayers, Span};
use crate::rounds::assignment::{self, Assignment, AssignmentId, AssignmentState};
use crate::rounds::{AnnotationMode, Layer};
use crate::service::projects::{ProjectRef, Projects};

/// At most this many documents and annotators in one `assignDocuments`.
pub const MAX_DOCUMENTS: usize = 1000;
pub const MAX_ANNOTATORS: usize = 100;

/// What `assignDocuments` asks: with `per_document`, every document to that many of the
/// annotators (a spread); without, every document to every annotator.
#[derive(Debug, Clone)]
pub struct AssignRequest {
    pub project: ProjectId,
    pub documents: Vec<DocumentId>,
    pub annotators: Vec<UserId>,
    pub per_document: Option<i64>,
}

pub struct Assignments<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

fn dedup<T: Copy + Eq + std::hash::Hash>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|x| seen.insert(*x)).collect()
}

impl<S, E> Assignments<'_, S, E>
where
    S: ProjectRepository + DocumentRepository + AssignmentRepository,
    E: EventPublisher,
{
    fn projects(&self) -> Projects<'_, S, E> {
        Projects { store: self.store, events: self.events }
    }

    async fn project(&self, actor: Option<&Actor>, id: ProjectId) -> DomainResult<(Project, ProjectAccess)> {
        self.projects().find(actor, ProjectRef::Id(id)).await?.ok_or(DomainError::NotFound { resource: "project" })
    }

    pub async fn assign(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: AssignRequest,
    ) -> DomainResult<Vec<Assignment>> {
        let (project, access) = self.project(Some(actor), input.project).await?;
        access.require(Permission::EditProject)?;
        if project.annotation_mode != AnnotationMode::Independent {
            return Err(DomainError::invalid(
                "projectId",
                "assignments need an INDEPENDENT project (updateProject annotationMode)",
            ));
        }
        let documents = dedup(input.documents);
        let annotators = dedup(input.annotators);
        if documents.is_empty() || documents.len() > MAX_DOCUMENTS {
            return Err(DomainError::invalid("documentIds", format!("name 1 to {MAX_DOCUMENTS} documents")));
        }
        if annotators.is_empty() || annotators.len() > MAX_ANNOTATORS {
            return Err(DomainError::invalid("annotatorIds", format!("name 1 to {MAX_ANNOTATORS} annotators")));
        }
        let found = self.store.document_infos_by_ids(&documents).await?;
        if found.len() != documents.len() || found.iter().any(|d| d.project_id != project.id) {
            return Err(DomainError::invalid("documentIds", "every document must be one of the project's"));
        }
        for a in &annotators {
            let role = self.store.roles_of(*a, &[project.id]).await?.remove(&project.id);
            if !role.is_some_and(|r| r.permissions().allows(Permission::EditEntities)) {
                return Err(DomainError::invalid(
                    "annotatorIds",
                    format!("{} is not a member of the project who may annotate", a.0),
                ));
            }
        }
        let per_document = input.per_document;
        if let Some(n) = per_document {
            // Checked before the transaction too, so a bad number costs nothing.
            assignment::spread(&[], &annotators, n, &Default::default(), &Default::default())?;
        }
        let planned = (documents.clone(), annotators.clone());
        let plan = Box::new(move |load: &_, existing: &_| match per_document {
            Some(n) => assignment::spread(&planned.0, &planned.1, n, load, existing),
            None => Ok(assignment::explicit(&planned.0, &planned.1, existing)),
        });
        let audit = AuditEntry::new(meta, Some(actor.user_id), "assignment.assign", "project")
            .resource(project.id, &project.name)
            .project(project.id)
            .changes(
                json!({"documents": documents.len(), "annotators": annotators, "annotatorsPerDocument": per_document}),
            );
        self.store.assign(project.id, &documents, &annotators, plan, audit).await
    }

    /// An assignment and the caller's access to its project; NOT_FOUND for one the caller may
    /// not see (another annotator's, to an annotator).
    async fn visible(&self, actor: &Actor, id: AssignmentId) -> DomainResult<(Assignment, Project, ProjectAccess)> {
        let not_found = DomainError::NotFound { resource: "assignment" };
        let a = self.store.assignment_by_id(id).await?.ok_or(not_found.clone())?;
        let (project, access) = self.project(Some(actor), a.project_id).await.map_err(|_| not_found.clone())?;
        if a.annotator != actor.user_id && !access.permissions.allows(Permission::EditProject) {
            return Err(not_found);
        }
        Ok((a, project, access))
    }

    /// The annotator (or a manager) finishes an assignment: its layer takes no more edits.
    pub async fn finish(&self, meta: &RequestMeta, actor: &Actor, id: AssignmentId) -> DomainResult<Assignment> {
        let (a, project, _) = self.visible(actor, id).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "assignment.finish", "assignment")
            .resource(a.id.0, &project.name)
            .project(project.id)
            .changes(json!({"documentId": a.document_id, "annotatorId": a.annotator}));
        // The time is taken under the assignment's lock, after any edit that holds it.
        let changed =
            self.store.change_assignment(id, Box::new(move |stored| stored.finish(Utc::now())), audit).await?;
        self.announce_fill(&project, &a, &changed, actor);
        Ok(changed)
    }

    /// An assignment started for the first time in a project that pre-annotates filled its
    /// layer with the models' suggestions: `ENTITIES_IMPORTED` in that layer.
    fn announce_fill(&self, project: &Project, before: &Assignment, after: &Assignment, actor: &Actor) {
        if project.pre_annotate
            && project.annotation_mode == AnnotationMode::Independent
            && before.never_started()
            && matches!(after.state, AssignmentState::InProgress | AssignmentState::Finished)
        {
            let event = ActivityEvent::new(after.document_id, ActivityKind::EntitiesImported, &[], Some(actor.user_id))
                .in_layer(Layer::Annotator(after.annotator));
            self.events.publish(DomainEvent::DocumentActivity(event));
        }
    }

    /// A manager sets an assignment's state (locks, ignores, or reopens it).
    pub async fn set_state(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: AssignmentId,
        state: AssignmentState,
    ) -> DomainResult<Assignment> {
        let (a, project, access) = self.visible(actor, id).await?;
        access.require(Permission::EditProject)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "assignment.set_state", "assignment")
            .resource(a.id.0, &project.name)
            .project(project.id)
            .changes(json!({"documentId": a.document_id, "annotatorId": a.annotator, "from": a.state.as_str()}));
        let changed = self
            .store
            .change_assignment(id, Box::new(move |stored| Ok(stored.set_state(state, Utc::now()))), audit)
            .await?;
        self.announce_fill(&project, &a, &changed, actor);
        Ok(changed)
    }

    /// The caller's own assignments in a project.
    pub async fn mine(&self, actor: &Actor, project: ProjectId, page: PageRequest) -> DomainResult<Page<Assignment>> {
        self.project(Some(actor), project).await?;
        self.store.assignments_of(project, actor.user_id, page).await
    }

    /// How many assignments each annotator holds in each state (managers).
    pub async fn counts(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
    ) -> DomainResult<Vec<(UserId, AssignmentState, u64)>> {
        let (_, access) = self.project(actor, project).await?;
        access.require(Permission::EditProject)?;
        self.store.assignment_counts(project).await
    }
}

/// Whether a write to `layer` of a document will be the first start of its annotator's
/// assignment in a project that pre-annotates, so that the layer also fills with the models'
/// suggestions: the write then announces `ENTITIES_IMPORTED` in that layer (to the annotator
/// and the managers), so their clients read the layer again. Reads nothing for other layers
/// or projects that do not pre-annotate.
pub(crate) async fn fills_from_models<S: AssignmentRepository>(
    store: &S,
    project: ProjectId,
    pre_annotates: bool,
    document: DocumentId,
    layer: Layer,
) -> DomainResult<bool> {
    let Some(annotator) = layer.annotator().filter(|_| pre_annotates) else { return Ok(false) };
    Ok(store
        .project_assignments(project, Some(&[document]))
        .await?
        .iter()
        .any(|a| a.annotator == annotator && a.never_started()))
}

/// What `agreement` asks: the documents (default: every document with an assignment), the
/// entity types (default: all; entities of other types count as no entity), the annotators
/// (default: every assigned one), and whether layers not yet FINISHED count too.
#[derive(Debug, Clone)]
pub struct AgreementRequest {
    pub project: ProjectId,
    pub documents: Option<Vec<DocumentId>>,
    pub entity_types: Option<Vec<EntityTypeId>>,
    pub annotators: Option<Vec<UserId>>,
    pub include_unfinished: bool,
    /// Count each model's layer of a compared document as one more rater (its suggestions).
    pub include_models: bool,
}

/// An agreement report and the entity types it names.
#[derive(Debug, Clone)]
pub struct AgreementOutcome {
    pub report: AgreementReport,
    pub types: HashMap<EntityTypeId, EntityType>,
}

/// At most this many entities of one layer of one document are read for agreement.
const LAYER_PAGE: u64 = 10_000;

impl<S, E> Assignments<'_, S, E>
where
    S: ProjectRepository + DocumentRepository + AssignmentRepository + EntityRepository + EntityTypeRepository,
    E: EventPublisher,
{
    /// Inter-annotator agreement over a project's annotator layers (managers): a document
    /// counts when at least two of the compared layers are FINISHED there (or assigned at all
    /// with `include_unfinished`); the measures are those of [`agreement::agreement`].
    pub async fn agreement(&self, actor: Option<&Actor>, input: AgreementRequest) -> DomainResult<AgreementOutcome> {
        let (project, access) = self.project(actor, input.project).await?;
        access.require(Permission::EditProject)?;
        let documents = input.documents.map(dedup);
        if let Some(d) = &documents
            && (d.is_empty() || d.len() > MAX_DOCUMENTS)
        {
            return Err(DomainError::invalid("documentIds", format!("name 1 to {MAX_DOCUMENTS} documents")));
        }
        let annotators: Option<HashSet<UserId>> = input.annotators.map(|a| a.into_iter().collect());
        if annotators.as_ref().is_some_and(|a| a.is_empty() || a.len() > MAX_ANNOTATORS) {
            return Err(DomainError::invalid("annotatorIds", format!("name 1 to {MAX_ANNOTATORS} annotators")));
        }
        let wanted_types: Option<HashSet<EntityTypeId>> = input.entity_types.map(|t| t.into_iter().collect());
        let assignments = self.store.project_assignments(project.id, documents.as_deref()).await?;
        let mut by_document: BTreeMap<DocumentId, Vec<UserId>> = BTreeMap::new();
        for a in assignments {
            let counted = if input.include_unfinished {
                a.state != AssignmentState::Ignored
            } else {
                a.state == AssignmentState::Finished
            };
            if counted && annotators.as_ref().is_none_or(|s| s.contains(&a.annotator)) {
                by_document.entry(a.document_id).or_default().push(a.annotator);
            }
        }
        // The layers compared per document: the counted annotators', then (when asked) each
        // model's suggestions, as one more rater. A document needs two layers, one of them an
        // annotator's.
        let mut by_document: BTreeMap<DocumentId, Vec<Layer>> =
            by_document.into_iter().map(|(d, users)| (d, users.into_iter().map(Layer::Annotator).collect())).collect();
        if input.include_models && !by_document.is_empty() {
            let candidates: Vec<DocumentId> = by_document.keys().copied().collect();
            if candidates.len() > MAX_DOCUMENTS {
                return Err(DomainError::invalid(
                    "documentIds",
                    format!("more than {MAX_DOCUMENTS} documents to compare: name some"),
                ));
            }
            for (document, model) in self.store.model_layers(project.id, &candidates).await? {
                if let Some(layers) = by_document.get_mut(&document) {
                    layers.push(Layer::Model(model));
                }
            }
        }
        by_document.retain(|_, a| a.len() >= 2);
        if by_document.len() > MAX_DOCUMENTS {
            return Err(DomainError::invalid(
                "documentIds",
                format!("more than {MAX_DOCUMENTS} documents to compare: name some"),
            ));
        }
        let mut raters: Vec<Layer> = by_document.values().flatten().copied().collect();
        raters.sort_unstable();
        raters.dedup();
        let mut docs = Vec::with_capacity(by_document.len());
        for (document, compared) in by_document {
            let Some(head) = self.store.document_head(document).await? else { continue };
            let text = self.store.document_text(&head).await?;
            let mut layers = BTreeMap::new();
            for layer in compared {
                let mut filter = EntityFilter::layer(layer);
                filter.entity_type_ids = wanted_types.as_ref().map(|t| t.iter().copied().collect());
                let slice = self.store.entities_after(&[document], &filter, None, LAYER_PAGE).await?.remove(&document);
                let slice = slice.unwrap_or(EntitySlice { items: Vec::new(), has_more: false });
                if slice.has_more {
                    return Err(DomainError::invalid(
                        "documentIds",
                        format!("a layer of document {} holds more than {LAYER_PAGE} entities", document.0),
                    ));
                }
                let spans: Vec<Span> = slice
                    .items
                    .into_iter()
                    .map(|e| Span { start: e.start, end: e.end, entity_type: e.entity_type_id })
                    .collect();
                layers.insert(layer, spans);
            }
            let content = text.text();
            docs.push(DocumentLayers {
                document,
                length: content.chars().count() as u32,
                words: agreement::word_units(content),
                layers,
            });
        }
        let report = agreement::agreement(&docs, &raters);
        let ids: Vec<EntityTypeId> = report.by_type.iter().map(|t| t.entity_type).collect();
        let types = self.store.entity_types_by_ids(&ids).await?.into_iter().map(|t| (t.id, t)).collect();
        Ok(AgreementOutcome { report, types })
    }
}
