use async_graphql::{Context, ID, Object};
use nishan_domain::ids::ProjectId;
use nishan_domain::source::SourceId;

use crate::error::ApiResult;
use crate::graphql::types::{Source, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct SourceQuery;

#[Object]
impl SourceQuery {
    /// A project's sources, oldest first (for those who may read the project).
    async fn sources(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<Vec<Source>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let viewer = request(ctx).viewer.actor();
        Ok(state(ctx).sources().list(viewer.as_ref(), project).await?.into_iter().map(Source).collect())
    }

    async fn source(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Source> {
        let id = SourceId(parse_id(&id, "id")?);
        let viewer = request(ctx).viewer.actor();
        Ok(Source(state(ctx).sources().get(viewer.as_ref(), id).await?))
    }
}
