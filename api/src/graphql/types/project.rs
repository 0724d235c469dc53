//! Projects as clients see them, with the caller's role and permissions in each.

use crate::graphql::loaders::Loaded;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use nishan_domain::membership::Role;
use nishan_domain::policy::ProjectAccess;
use nishan_domain::ports::{DocumentRepository, ProjectRepository};
use nishan_domain::project::Project as DomainProject;

use super::{Document, GqlPermissions, GqlProjectStatus, GqlRole, LearnedModel, ProjectMembership, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{MemberCountLoader, MyRoleLoader, ProjectTotalsLoader, UserLoader};
use crate::graphql::pagination::{self, Conn};
use crate::graphql::{request, state};

pub struct Project(pub DomainProject);

impl Project {
    async fn my_role_value(&self, ctx: &Context<'_>) -> ApiResult<Option<Role>> {
        Ok(ctx.data_unchecked::<Loaded<MyRoleLoader>>().load_one(self.0.id).await?)
    }

    async fn access(&self, ctx: &Context<'_>) -> ApiResult<ProjectAccess> {
        let role = self.my_role_value(ctx).await?;
        Ok(ProjectAccess::evaluate(&self.0, request(ctx).viewer.actor().as_ref(), role))
    }
}

/// Which documents a list keeps.
#[derive(async_graphql::InputObject)]
pub struct DocumentFilterInput {
    /// Documents carrying every one of these tags (at most 20).
    pub tags: Option<Vec<String>>,
    /// Documents whose metadata holds each of these top-level keys with the same JSON value
    /// (at most 20 keys).
    pub metadata: Option<async_graphql::Json<serde_json::Value>>,
}

#[Object]
impl Project {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn research_area(&self) -> Option<&str> {
        self.0.research_area.as_deref()
    }
    async fn methodology(&self) -> Option<&str> {
        self.0.methodology.as_deref()
    }
    async fn objectives(&self) -> Option<&str> {
        self.0.objectives.as_deref()
    }
    async fn timeline(&self) -> Option<&str> {
        self.0.timeline.as_deref()
    }
    async fn status(&self) -> GqlProjectStatus {
        self.0.status.into()
    }
    /// SHARED (one layer everyone edits) or INDEPENDENT (a layer per annotator and a curated
    /// gold layer).
    async fn annotation_mode(&self) -> crate::graphql::types::GqlAnnotationMode {
        self.0.annotation_mode.into()
    }
    /// Hours after which an untouched IN_PROGRESS assignment goes back to NEW (null: never).
    async fn abandon_after_hours(&self) -> Option<u32> {
        self.0.abandon_after_hours
    }

    /// Whether an annotator's layer of a document starts as a copy of the document's models'
    /// layers (their unverified suggestions) when the annotator's assignment starts (NEW to
    /// IN_PROGRESS, on their first change of the layer), or empty (the default).
    async fn pre_annotate(&self) -> bool {
        self.0.pre_annotate
    }
    async fn is_public(&self) -> bool {
        self.0.is_public
    }
    async fn allow_public_view(&self) -> bool {
        self.0.allow_public_view
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn references(&self) -> &[String] {
        &self.0.references
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn created_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.created_by else {
            return Ok(None);
        };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    /// The caller's role in the project; null when not a member.
    async fn my_role(&self, ctx: &Context<'_>) -> ApiResult<Option<GqlRole>> {
        Ok(self.my_role_value(ctx).await?.map(Into::into))
    }
    /// What the caller may do in the project.
    async fn permissions(&self, ctx: &Context<'_>) -> ApiResult<GqlPermissions> {
        Ok(self.access(ctx).await?.permissions.into())
    }
    async fn document_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(ctx.data_unchecked::<Loaded<ProjectTotalsLoader>>().load_one(self.0.id).await?.map_or(0, |t| t.0))
    }
    async fn entity_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(ctx.data_unchecked::<Loaded<ProjectTotalsLoader>>().load_one(self.0.id).await?.map_or(0, |t| t.1))
    }
    /// The project's documents, oldest first; `filter` keeps those carrying every tag named
    /// and whose metadata holds every key given with the same value.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DocumentFilterInput>,
    ) -> ApiResult<Conn<Document>> {
        let page = pagination::page_request(first, after.as_deref())?;
        let filter = match filter {
            Some(f) => {
                nishan_domain::document::DocumentFilter::new(f.tags.unwrap_or_default(), f.metadata.map(|m| m.0))?
            }
            None => Default::default(),
        };
        let docs = state(ctx).store.documents_of_project(self.0.id, &filter, page).await?;
        Ok(pagination::connection(docs, page, Document::info))
    }
    /// The newest version of the project's learned model (null until one is trained): what the
    /// built-in extractor tags with.
    async fn learned_model(&self, ctx: &Context<'_>) -> ApiResult<Option<LearnedModel>> {
        Ok(state(ctx).learning().learned_model(self.0.id).await?.map(LearnedModel))
    }
    /// Every version of the project's learned model, newest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn learned_models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<LearnedModel>> {
        let page = pagination::page_request(first, after.as_deref())?;
        let versions = state(ctx).learning().learned_model_versions(self.0.id, page).await?;
        Ok(pagination::connection(versions, page, LearnedModel))
    }
    async fn member_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(ctx.data_unchecked::<Loaded<MemberCountLoader>>().load_one(self.0.id).await?.unwrap_or(0))
    }
    /// Active members, oldest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<ProjectMembership>> {
        let page = pagination::page_request(first, after.as_deref())?;
        let members = state(ctx).store.members(self.0.id, page).await?;
        Ok(pagination::connection(members, page, ProjectMembership))
    }
}
