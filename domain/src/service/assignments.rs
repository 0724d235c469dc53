//! Assignments of an INDEPENDENT project's documents to its annotators (issue 12): managers
//! (OWNER, ADMIN) assign, lock, ignore and reopen; an annotator finishes their own. Every
//! change is one transaction with its audit row (`assignment.finish` raises the
//! `assignment.finished` webhook event). Which layer an edit may touch is checked where the
//! edit is stored (`ports::AssignmentRepository`).

use std::collections::HashSet;

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::EventPublisher;
use crate::ids::{DocumentId, ProjectId, UserId};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{AssignmentRepository, DocumentRepository, Page, PageRequest, ProjectRepository};
use crate::project::Project;
use crate::rounds::AnnotationMode;
use crate::rounds::assignment::{self, Assignment, AssignmentId, AssignmentState};
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
        self.store.change_assignment(id, Box::new(move |stored| stored.finish(Utc::now())), audit).await
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
        self.store.change_assignment(id, Box::new(move |stored| Ok(stored.set_state(state, Utc::now()))), audit).await
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
