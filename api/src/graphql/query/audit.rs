use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object};
use nishan_domain::ids::AuditId;

use crate::error::ApiResult;
use crate::graphql::pagination::{self, ConnectionFields};
use crate::graphql::types::{AuditLogConnection, AuditLogEntry, AuditLogFilterInput};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, newest first. Global admins read every row; a project's OWNERs and
    /// ADMINs read their project's rows (with `filter.projectId`, required for them), without
    /// IP addresses and user agents.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<AuditLogConnection> {
        let limit = pagination::page_size(first)?;
        let after = after.as_deref().map(pagination::decode_id_cursor).transpose()?.map(AuditId);
        let filter = filter.unwrap_or_default().to_domain()?;
        let actor = request(ctx).viewer.require()?;
        // One more than asked tells whether a next page exists.
        let page = state(ctx).audit_log().list(&actor, filter, after, limit + 1).await?;
        let has_next = page.items.len() as u64 > limit;
        let mut conn =
            Connection::with_additional_fields(after.is_some(), has_next, ConnectionFields { total_count: page.total });
        conn.edges.extend(
            page.items
                .into_iter()
                .take(limit as usize)
                .map(|e| Edge::new(pagination::id_cursor(e.id.0), AuditLogEntry(e))),
        );
        Ok(conn)
    }
}
