//! The audit trail's storage.

use nishan_domain::DomainResult;
use nishan_domain::audit::AuditEntry;
use nishan_domain::ports::AuditRepository;
use sea_orm::{ConnectionTrait, EntityTrait};

use super::{Store, convert, internal};
use crate::entity::audit_log;

/// Inserts an audit row on `conn`: the transaction of the change it records.
pub(crate) async fn insert(conn: &impl ConnectionTrait, entry: AuditEntry) -> DomainResult<()> {
    audit_log::Entity::insert(convert::audit_row(entry)).exec_without_returning(conn).await.map_err(internal)?;
    Ok(())
}

impl AuditRepository for Store {
    async fn record(&self, entry: AuditEntry) -> DomainResult<()> {
        insert(self.connection(), entry).await
    }
}
