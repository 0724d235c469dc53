//! The audit trail: who did what to which resource, from where. Each mutation builds one
//! `AuditEntry` and its repository writes it in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ids::{AuditId, ProjectId, SessionId, UserId};

/// Where a request came from, carried into audit rows and sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<SessionId>,
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub timestamp: DateTime<Utc>,
    pub user_id: Option<UserId>,
    /// `area.verb`, e.g. `project.create`, `auth.login_failed`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub changes: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub project_id: Option<ProjectId>,
    pub session_id: Option<SessionId>,
}

impl AuditEntry {
    pub fn new(meta: &RequestMeta, user_id: Option<UserId>, action: &str, resource_type: &str) -> Self {
        Self {
            id: AuditId::new(),
            timestamp: Utc::now(),
            user_id,
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: None,
            resource_name: None,
            changes: Value::Object(Default::default()),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            project_id: None,
            session_id: meta.session_id,
        }
    }

    pub fn resource(mut self, id: impl ToString, name: impl Into<String>) -> Self {
        self.resource_id = Some(id.to_string());
        self.resource_name = Some(name.into());
        self
    }

    pub fn project(mut self, project_id: ProjectId) -> Self {
        self.project_id = Some(project_id);
        self
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = changes;
        self
    }

    /// The entry without where it came from (IP address, user agent): what a project's owners
    /// see of their members' actions; only global admins see those.
    pub fn without_origin(mut self) -> Self {
        self.ip = None;
        self.user_agent = None;
        self
    }
}

/// What an audit log listing may be narrowed to; every given part must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    /// Any of these actions (`project.create`, ...).
    pub actions: Option<Vec<String>>,
    /// Any of these resource types (`document`, ...).
    pub resource_types: Option<Vec<String>>,
    pub project_id: Option<ProjectId>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}
