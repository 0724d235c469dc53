//! Reading the audit trail: global admins read all of it; a project's OWNERs and ADMINs read
//! the rows of their project (they must name it), without the IP addresses and user agents,
//! which only global admins see.

use crate::audit::{AuditEntry, AuditFilter};
use crate::error::{DomainError, DomainResult};
use crate::events::NoEvents;
use crate::ids::AuditId;
use crate::membership::Role;
use crate::policy::Actor;
use crate::ports::{AuditRepository, Page, ProjectRepository};
use crate::service::projects::{ProjectRef, Projects};

pub struct AuditLog<'a, S> {
    pub store: &'a S,
}

impl<S: AuditRepository + ProjectRepository> AuditLog<'_, S> {
    /// A page of the entries the caller may read, newest first.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        after: Option<AuditId>,
        limit: u64,
    ) -> DomainResult<Page<AuditEntry>> {
        if actor.is_admin {
            return self.store.audit_entries(&filter, after, limit).await;
        }
        let project = filter
            .project_id
            .ok_or_else(|| DomainError::invalid("filter.projectId", "is required unless you are a global admin"))?;
        let (_, access) = Projects { store: self.store, events: &NoEvents }
            .find(Some(actor), ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        if !matches!(access.role, Some(Role::Owner | Role::Admin)) {
            return Err(DomainError::forbidden("only the project's owners and admins read its audit log"));
        }
        let page = self.store.audit_entries(&filter, after, limit).await?;
        Ok(Page { items: page.items.into_iter().map(AuditEntry::without_origin).collect(), total: page.total })
    }
}
