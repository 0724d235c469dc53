//! A user's chat sessions with a project's texts.

use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{ChatSessionId, ProjectId};

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{ChatSession, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The caller's sessions of a project, the most recently used first (signed in; NOT_FOUND
    /// when the caller may not read the project).
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn chat_sessions(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<ChatSession>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.require()?;
        let found = state(ctx).chat().sessions(&actor, project, page).await?;
        Ok(pagination::connection(found, page, ChatSession))
    }

    /// One of the caller's sessions; NOT_FOUND for anyone else's.
    async fn chat_session(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ChatSession> {
        let id = ChatSessionId(parse_id(&id, "id")?);
        let actor = request(ctx).viewer.require()?;
        Ok(ChatSession(state(ctx).chat().session(&actor, id).await?))
    }
}
