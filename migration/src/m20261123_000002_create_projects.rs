//! Projects: `projects` and `project_memberships`.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Created by the accounts migration; only the columns referenced here.
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    Name,
    Slug,
    Description,
    ResearchArea,
    Methodology,
    Objectives,
    Timeline,
    Status,
    IsPublic,
    AllowPublicView,
    Tags,
    /// Literally `references`, an SQL keyword: the query builder quotes it.
    References,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProjectMemberships {
    Table,
    Id,
    ProjectId,
    UserId,
    Role,
    CanEditProject,
    CanManageUsers,
    CanUploadDocuments,
    CanEditEntities,
    CanExportData,
    JoinedAt,
    IsActive,
    Notes,
    InvitedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // projects
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(ColumnDef::new(Projects::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Projects::Name).string().not_null())
                    .col(ColumnDef::new(Projects::Slug).string().not_null())
                    .col(ColumnDef::new(Projects::Description).text().null())
                    .col(ColumnDef::new(Projects::ResearchArea).string().null())
                    .col(ColumnDef::new(Projects::Methodology).text().null())
                    .col(ColumnDef::new(Projects::Objectives).text().null())
                    .col(ColumnDef::new(Projects::Timeline).text().null())
                    .col(ColumnDef::new(Projects::Status).string().not_null().default("planning"))
                    .col(ColumnDef::new(Projects::IsPublic).boolean().not_null().default(false))
                    .col(ColumnDef::new(Projects::AllowPublicView).boolean().not_null().default(false))
                    .col(ColumnDef::new(Projects::Tags).json().not_null())
                    .col(ColumnDef::new(Projects::References).json().not_null())
                    .col(ColumnDef::new(Projects::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Projects::UpdatedBy).uuid().null())
                    .col(ColumnDef::new(Projects::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Projects::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_projects_created_by")
                            .from(Projects::Table, Projects::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_projects_updated_by")
                            .from(Projects::Table, Projects::UpdatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("uq_projects_slug", Projects::Table, [Projects::Slug])).await?;
        for (name, col) in [
            ("idx_projects_status", Projects::Status),
            ("idx_projects_is_public", Projects::IsPublic),
            ("idx_projects_created_at", Projects::CreatedAt),
            ("idx_projects_created_by", Projects::CreatedBy),
        ] {
            manager.create_index(index(name, Projects::Table, [col])).await?;
        }

        // project_memberships
        manager
            .create_table(
                Table::create()
                    .table(ProjectMemberships::Table)
                    .col(ColumnDef::new(ProjectMemberships::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ProjectMemberships::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(ProjectMemberships::UserId).uuid().not_null())
                    .col(ColumnDef::new(ProjectMemberships::Role).string().not_null())
                    .col(ColumnDef::new(ProjectMemberships::CanEditProject).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProjectMemberships::CanManageUsers).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProjectMemberships::CanUploadDocuments).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProjectMemberships::CanEditEntities).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProjectMemberships::CanExportData).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProjectMemberships::JoinedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ProjectMemberships::IsActive).boolean().not_null().default(true))
                    .col(ColumnDef::new(ProjectMemberships::Notes).text().null())
                    .col(ColumnDef::new(ProjectMemberships::InvitedBy).uuid().null())
                    .col(ColumnDef::new(ProjectMemberships::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_memberships_project_id")
                            .from(ProjectMemberships::Table, ProjectMemberships::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_memberships_user_id")
                            .from(ProjectMemberships::Table, ProjectMemberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_memberships_invited_by")
                            .from(ProjectMemberships::Table, ProjectMemberships::InvitedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_project_memberships_project_user",
                ProjectMemberships::Table,
                [ProjectMemberships::ProjectId, ProjectMemberships::UserId],
            ))
            .await?;
        for (name, col) in [
            ("idx_project_memberships_user_id", ProjectMemberships::UserId),
            ("idx_project_memberships_role", ProjectMemberships::Role),
            ("idx_project_memberships_is_active", ProjectMemberships::IsActive),
            ("idx_project_memberships_joined_at", ProjectMemberships::JoinedAt),
        ] {
            manager.create_index(index(name, ProjectMemberships::Table, [col])).await?;
        }

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dependants first; dropping a table drops its indexes too.
        for table in [ProjectMemberships::Table.into_iden(), Projects::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
