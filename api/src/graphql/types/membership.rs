//! Memberships and the permission set derived from a role.

use crate::graphql::loaders::Loaded;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::membership::{Membership, Permissions};
use nishan_domain::ports::ProjectRepository;

use super::{GqlRole, Project, User};
use crate::error::ApiResult;
use crate::graphql::loaders::UserLoader;
use crate::graphql::state;

#[derive(SimpleObject, Clone, Copy)]
#[graphql(name = "Permissions")]
pub struct GqlPermissions {
    pub can_edit_project: bool,
    pub can_manage_users: bool,
    pub can_upload_documents: bool,
    pub can_edit_entities: bool,
    pub can_export_data: bool,
}

impl From<Permissions> for GqlPermissions {
    fn from(p: Permissions) -> Self {
        Self {
            can_edit_project: p.can_edit_project,
            can_manage_users: p.can_manage_users,
            can_upload_documents: p.can_upload_documents,
            can_edit_entities: p.can_edit_entities,
            can_export_data: p.can_export_data,
        }
    }
}

pub struct ProjectMembership(pub Membership);

#[Object]
impl ProjectMembership {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn role(&self) -> GqlRole {
        self.0.role.into()
    }
    /// The permissions of the member's role.
    async fn permissions(&self) -> GqlPermissions {
        self.0.permissions().into()
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(self.0.user_id).await?.map(User::new))
    }
    async fn invited_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.invited_by else {
            return Ok(None);
        };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn project(&self, ctx: &Context<'_>) -> ApiResult<Option<Project>> {
        Ok(state(ctx).store.project_by_id(self.0.project_id).await?.map(Project))
    }
}
