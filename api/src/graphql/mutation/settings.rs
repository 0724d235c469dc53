use async_graphql::{Context, Json, Object};

use crate::error::ApiResult;
use crate::graphql::{request, state};

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes runtime settings (global admins): an object of the keys `systemSettings`
    /// shows, each a whole number in its bounds, `null` for the environment's default;
    /// `defaultModelId` a model's id. Unknown keys and bad values are BAD_USER_INPUT and change
    /// nothing. Every server takes the change up within `NISHAN_SETTINGS_REFRESH_MS`. Returns
    /// the settings in force.
    async fn update_system_settings(
        &self,
        ctx: &Context<'_>,
        input: Json<serde_json::Value>,
    ) -> ApiResult<Json<serde_json::Value>> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let app = state(ctx);
        let now = app.system_settings().update(&req.meta, &actor, &input.0).await?;
        app.runtime.refresh(&app.store).await?;
        Ok(Json(now))
    }
}
