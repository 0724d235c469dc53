use async_graphql::{Context, Json, Object};

use crate::error::ApiResult;
use crate::graphql::{request, state};

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The runtime settings in force (global admins): `mutationsPerMinute`,
    /// `mutationsPerMinutePerIp`, `auditRetentionDays`, `modelCallRetentionDays`,
    /// `webhookRetryBaseMs`, `defaultModelId`.
    async fn system_settings(&self, ctx: &Context<'_>) -> ApiResult<Json<serde_json::Value>> {
        let actor = request(ctx).viewer.require()?;
        Ok(Json(state(ctx).system_settings().get(&actor).await?))
    }
}
