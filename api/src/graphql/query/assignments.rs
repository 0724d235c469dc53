//! Assignments (issue 12): the caller's own, and a project's counts by annotator and state.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, EntityTypeId, ProjectId, UserId};
use nishan_domain::service::assignments::AgreementRequest;

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{AgreementReport, Assignment, AssignmentCount, parse_id};
use crate::graphql::{request, state};

/// What `agreement` compares.
#[derive(InputObject)]
pub struct AgreementInput {
    pub project_id: ID,
    /// These documents only (at most 1,000); default: every document with at least two
    /// compared layers.
    pub document_ids: Option<Vec<ID>>,
    /// These entity types only (entities of others count as no entity); default: all.
    pub entity_type_ids: Option<Vec<ID>>,
    /// These annotators' layers only (at most 100); default: every assigned annotator.
    pub annotator_ids: Option<Vec<ID>>,
    /// Compare layers whose assignment is not FINISHED too (IGNORED ones never count);
    /// default false.
    #[graphql(default = false)]
    pub include_unfinished: bool,
    /// Count each model's suggestions in a compared document (its layer) as one more rater,
    /// so the model is compared with each annotator; default true. A document with one
    /// counted annotator and a model's layer is compared.
    #[graphql(default = true)]
    pub include_models: bool,
}

fn ids<T>(list: Option<Vec<ID>>, field: &str, wrap: fn(uuid::Uuid) -> T) -> ApiResult<Option<Vec<T>>> {
    list.map(|l| l.iter().map(|i| parse_id(i, field).map(wrap)).collect()).transpose()
}

#[derive(Default)]
pub struct AssignmentQuery;

#[Object]
impl AssignmentQuery {
    /// The caller's assignments in a project, oldest first (signed in; NOT_FOUND when the
    /// caller may not read the project).
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn my_assignments(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Assignment>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.require()?;
        let found = state(ctx).assignments().mine(&actor, project, page).await?;
        Ok(pagination::connection(found, page, Assignment))
    }

    /// How many assignments each annotator holds in each state (OWNER, ADMIN).
    async fn assignment_counts(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<Vec<AssignmentCount>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.optional()?;
        let counts = state(ctx).assignments().counts(actor.as_ref(), project).await?;
        Ok(counts
            .into_iter()
            .map(|(u, s, n)| AssignmentCount { annotator_id: ID(u.0.to_string()), state: s.into(), count: n })
            .collect())
    }

    /// Agreement between the annotator layers of an INDEPENDENT project (OWNER, ADMIN): over
    /// the documents where at least two of the compared layers are FINISHED (or assigned, with
    /// `includeUnfinished`). Cohen's κ per pair, Fleiss' κ, Krippendorff's α overall, per
    /// document and per type, span F1 per pair and per type.
    async fn agreement(&self, ctx: &Context<'_>, input: AgreementInput) -> ApiResult<AgreementReport> {
        let ask = AgreementRequest {
            project: ProjectId(parse_id(&input.project_id, "projectId")?),
            documents: ids(input.document_ids, "documentIds", DocumentId)?,
            entity_types: ids(input.entity_type_ids, "entityTypeIds", EntityTypeId)?,
            annotators: ids(input.annotator_ids, "annotatorIds", UserId)?,
            include_unfinished: input.include_unfinished,
            include_models: input.include_models,
        };
        let actor = request(ctx).viewer.optional()?;
        let outcome = state(ctx).assignments().agreement(actor.as_ref(), ask).await?;
        Ok(AgreementReport(Arc::new(outcome)))
    }
}
