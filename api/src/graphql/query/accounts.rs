use async_graphql::{Context, Object};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::request;
use crate::graphql::types::User;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user; null without a token (an invalid token is UNAUTHENTICATED).
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let viewer = &request(ctx).viewer;
        viewer.optional()?;
        Ok(match viewer {
            Viewer::SignedIn { user, .. } => Some(User::caller((**user).clone())),
            _ => None,
        })
    }
}
