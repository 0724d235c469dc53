//! The audit trail as clients see it.

use async_graphql::connection::{Connection, ConnectionNameType, EdgeNameType, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, OutputType};
use chrono::{DateTime, Utc};
use nishan_domain::audit::{AuditEntry, AuditFilter};
use nishan_domain::ids::{ProjectId, UserId};

use super::{Project, User, parse_id};
use crate::error::ApiResult;
use crate::graphql::loaders::{Loaded, ProjectLoader, UserLoader};
use crate::graphql::pagination::ConnectionFields;

/// One row of the audit trail: who did what to which resource, when and from where.
pub struct AuditLogEntry(pub AuditEntry);

#[Object]
impl AuditLogEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn timestamp(&self) -> DateTime<Utc> {
        self.0.timestamp
    }
    /// `area.verb`: `project.create`, `entity.verify`, `document.export`, `auth.login_failed`…
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn resource_type(&self) -> &str {
        &self.0.resource_type
    }
    async fn resource_id(&self) -> Option<&str> {
        self.0.resource_id.as_deref()
    }
    async fn resource_name(&self) -> Option<&str> {
        self.0.resource_name.as_deref()
    }
    /// What changed (field names, and values where they are not private).
    async fn changes(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.changes.clone())
    }
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.map(|u| ID(u.to_string()))
    }
    /// Null for anonymous actions and deleted users.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.user_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn project_id(&self) -> Option<ID> {
        self.0.project_id.map(|p| ID(p.to_string()))
    }
    /// Null when the row names no project, or the project is deleted.
    async fn project(&self, ctx: &Context<'_>) -> ApiResult<Option<Project>> {
        let Some(id) = self.0.project_id else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<ProjectLoader>>().load_one(id).await?.map(Project))
    }
    /// Global admins only (null for others).
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    /// Global admins only (null for others).
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
}

/// Which rows of the audit log to list; every given part must hold.
#[derive(InputObject, Default)]
#[graphql(name = "AuditLogFilter")]
pub struct AuditLogFilterInput {
    pub user_id: Option<ID>,
    /// Any of these actions, e.g. `["entity.verify", "entity.reject"]`.
    pub actions: Option<Vec<String>>,
    /// Any of these resource types, e.g. `["document"]`.
    pub resource_types: Option<Vec<String>>,
    /// Required unless the caller is a global admin.
    pub project_id: Option<ID>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditLogFilterInput {
    pub fn to_domain(&self) -> ApiResult<AuditFilter> {
        Ok(AuditFilter {
            user_id: self.user_id.as_ref().map(|u| parse_id(u, "filter.userId").map(UserId)).transpose()?,
            actions: self.actions.clone(),
            resource_types: self.resource_types.clone(),
            project_id: self.project_id.as_ref().map(|p| parse_id(p, "filter.projectId").map(ProjectId)).transpose()?,
            from: self.from,
            to: self.to,
        })
    }
}

pub struct AuditLogConnectionName;

impl ConnectionNameType for AuditLogConnectionName {
    fn type_name<T: OutputType>() -> String {
        "AuditLogConnection".into()
    }
}

pub struct AuditLogEdgeName;

impl EdgeNameType for AuditLogEdgeName {
    fn type_name<T: OutputType>() -> String {
        "AuditLogEdge".into()
    }
}

/// The audit log, newest first; cursors name rows, so new rows never shift a later page.
pub type AuditLogConnection =
    Connection<String, AuditLogEntry, ConnectionFields, EmptyFields, AuditLogConnectionName, AuditLogEdgeName>;
