//! The audit trail's storage.

use nishan_domain::DomainResult;
use nishan_domain::audit::{AuditEntry, AuditFilter};
use nishan_domain::ids::AuditId;
use nishan_domain::ports::{AuditRepository, Page};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Store, convert, internal};
use crate::entity::audit_log;

/// Inserts an audit row on `conn`: the transaction of the change it records; and the
/// webhook deliveries the change raises (the outbox, `webhooks::queue_for_audit`), in the
/// same transaction.
pub(crate) async fn insert(conn: &impl ConnectionTrait, entry: AuditEntry) -> DomainResult<()> {
    super::webhooks::queue_for_audit(conn, &entry).await?;
    audit_log::Entity::insert(convert::audit_row(entry)).exec_without_returning(conn).await.map_err(internal)?;
    Ok(())
}

fn condition(f: &AuditFilter) -> Condition {
    let mut c = Condition::all();
    if let Some(u) = f.user_id {
        c = c.add(audit_log::Column::UserId.eq(u.0));
    }
    if let Some(actions) = &f.actions {
        c = c.add(audit_log::Column::Action.is_in(actions.clone()));
    }
    if let Some(types) = &f.resource_types {
        c = c.add(audit_log::Column::ResourceType.is_in(types.clone()));
    }
    if let Some(p) = f.project_id {
        c = c.add(audit_log::Column::ProjectId.eq(p.0));
    }
    if let Some(from) = f.from {
        c = c.add(audit_log::Column::Timestamp.gte(from));
    }
    if let Some(to) = f.to {
        c = c.add(audit_log::Column::Timestamp.lt(to));
    }
    c
}

impl AuditRepository for Store {
    async fn record(&self, entry: AuditEntry) -> DomainResult<()> {
        insert(self.connection(), entry).await
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        after: Option<AuditId>,
        limit: u64,
    ) -> DomainResult<Page<AuditEntry>> {
        let q = audit_log::Entity::find().filter(condition(filter));
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let q = match after {
            Some(id) => q.filter(audit_log::Column::Id.lt(id.0)),
            None => q,
        };
        let rows =
            q.order_by_desc(audit_log::Column::Id).limit(limit).all(self.connection()).await.map_err(internal)?;
        Ok(Page { items: rows.into_iter().map(convert::audit).collect(), total })
    }
}
