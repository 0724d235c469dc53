//! The audit trail: `audit_logs`.
//!
//! `project_id` and `session_id` deliberately have no foreign key: audit rows
//! must outlive the project or session they mention. `user_id` is kept as a
//! foreign key but is set to NULL when the user is deleted.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Created by the accounts migration; only the columns referenced here.
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    Timestamp,
    UserId,
    Action,
    ResourceType,
    ResourceId,
    ResourceName,
    Changes,
    IpAddress,
    UserAgent,
    ProjectId,
    SessionId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLogs::Table)
                    .col(ColumnDef::new(AuditLogs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AuditLogs::Timestamp).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuditLogs::UserId).uuid().null())
                    .col(ColumnDef::new(AuditLogs::Action).string().not_null())
                    .col(ColumnDef::new(AuditLogs::ResourceType).string().not_null())
                    .col(ColumnDef::new(AuditLogs::ResourceId).string().null())
                    .col(ColumnDef::new(AuditLogs::ResourceName).string().null())
                    .col(ColumnDef::new(AuditLogs::Changes).json().not_null())
                    .col(ColumnDef::new(AuditLogs::IpAddress).string().null())
                    .col(ColumnDef::new(AuditLogs::UserAgent).text().null())
                    .col(ColumnDef::new(AuditLogs::ProjectId).uuid().null())
                    .col(ColumnDef::new(AuditLogs::SessionId).uuid().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_logs_user_id")
                            .from(AuditLogs::Table, AuditLogs::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_audit_logs_timestamp", AuditLogs::Timestamp),
            ("idx_audit_logs_user_id", AuditLogs::UserId),
            ("idx_audit_logs_action", AuditLogs::Action),
            ("idx_audit_logs_resource_type", AuditLogs::ResourceType),
            ("idx_audit_logs_project_id", AuditLogs::ProjectId),
        ] {
            manager.create_index(index(name, AuditLogs::Table, [col])).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditLogs::Table).if_exists().to_owned()).await
    }
}
