//! Accounts: `users`, `user_profiles` and `user_sessions`.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    FirstName,
    LastName,
    Bio,
    ResearchInterests,
    Preferences,
    Institution,
    AcademicTitle,
    ResearchFocus,
    IsResearcher,
    IsAdmin,
    IsActive,
    EmailVerified,
    LastActivity,
    LastLogin,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserProfiles {
    Table,
    Id,
    UserId,
    AvatarUrl,
    Website,
    Orcid,
    Location,
    Languages,
    ProfileCompletion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserSessions {
    Table,
    Id,
    UserId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
    IpAddress,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // users
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Users::Username).string().not_null())
                    .col(ColumnDef::new(Users::Email).string().not_null())
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::FirstName).string().null())
                    .col(ColumnDef::new(Users::LastName).string().null())
                    .col(ColumnDef::new(Users::Bio).text().null())
                    .col(ColumnDef::new(Users::ResearchInterests).json().not_null())
                    .col(ColumnDef::new(Users::Preferences).json().not_null())
                    .col(ColumnDef::new(Users::Institution).string().null())
                    .col(ColumnDef::new(Users::AcademicTitle).string().null())
                    .col(ColumnDef::new(Users::ResearchFocus).text().null())
                    .col(ColumnDef::new(Users::IsResearcher).boolean().not_null().default(true))
                    .col(ColumnDef::new(Users::IsAdmin).boolean().not_null().default(false))
                    .col(ColumnDef::new(Users::IsActive).boolean().not_null().default(true))
                    .col(ColumnDef::new(Users::EmailVerified).boolean().not_null().default(false))
                    .col(ColumnDef::new(Users::LastActivity).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Users::LastLogin).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Users::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Users::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("uq_users_username", Users::Table, [Users::Username])).await?;
        manager.create_index(unique_index("uq_users_email", Users::Table, [Users::Email])).await?;
        manager.create_index(index("idx_users_created_at", Users::Table, [Users::CreatedAt])).await?;
        manager.create_index(index("idx_users_is_active", Users::Table, [Users::IsActive])).await?;

        // user_profiles
        manager
            .create_table(
                Table::create()
                    .table(UserProfiles::Table)
                    .col(ColumnDef::new(UserProfiles::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(UserProfiles::UserId).uuid().not_null())
                    .col(ColumnDef::new(UserProfiles::AvatarUrl).string().null())
                    .col(ColumnDef::new(UserProfiles::Website).string().null())
                    .col(ColumnDef::new(UserProfiles::Orcid).string().null())
                    .col(ColumnDef::new(UserProfiles::Location).string().null())
                    .col(ColumnDef::new(UserProfiles::Languages).json().not_null())
                    .col(ColumnDef::new(UserProfiles::ProfileCompletion).integer().not_null().default(0))
                    .col(ColumnDef::new(UserProfiles::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserProfiles::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_profiles_user_id")
                            .from(UserProfiles::Table, UserProfiles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("uq_user_profiles_user_id", UserProfiles::Table, [UserProfiles::UserId]))
            .await?;

        // user_sessions
        manager
            .create_table(
                Table::create()
                    .table(UserSessions::Table)
                    .col(ColumnDef::new(UserSessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(UserSessions::UserId).uuid().not_null())
                    .col(ColumnDef::new(UserSessions::TokenHash).string().not_null())
                    .col(ColumnDef::new(UserSessions::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserSessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserSessions::LastUsedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(UserSessions::RevokedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(UserSessions::IpAddress).string().null())
                    .col(ColumnDef::new(UserSessions::UserAgent).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_sessions_user_id")
                            .from(UserSessions::Table, UserSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("uq_user_sessions_token_hash", UserSessions::Table, [UserSessions::TokenHash]))
            .await?;
        manager.create_index(index("idx_user_sessions_user_id", UserSessions::Table, [UserSessions::UserId])).await?;
        manager
            .create_index(index("idx_user_sessions_expires_at", UserSessions::Table, [UserSessions::ExpiresAt]))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dependants first; dropping a table drops its indexes too.
        for table in [UserSessions::Table.into_iden(), UserProfiles::Table.into_iden(), Users::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
