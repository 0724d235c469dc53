//! Chat sessions and their messages (`askProject`).
//!
//! - `chat_sessions`: one user's conversation with one project's texts; deleted with the
//!   project or the user; `updated_at` (its last message) is what retention reads.
//! - `chat_messages`: a session's questions and answers, numbered from 0 (unique per
//!   session), each answer with its verified citations (a JSON list), the number of citations
//!   dropped, its tokens, cost, model and latency; deleted with the session.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChatSessions {
    Table,
    Id,
    ProjectId,
    UserId,
    Title,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChatMessages {
    Table,
    Id,
    SessionId,
    Position,
    Role,
    Content,
    Citations,
    DroppedCitations,
    PromptTokens,
    CompletionTokens,
    Cost,
    LlmModelId,
    ModelName,
    LatencyMs,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChatSessions::Table)
                    .col(ColumnDef::new(ChatSessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ChatSessions::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(ChatSessions::UserId).uuid().not_null())
                    .col(ColumnDef::new(ChatSessions::Title).string().not_null())
                    .col(ColumnDef::new(ChatSessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ChatSessions::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chat_sessions_project")
                            .from(ChatSessions::Table, ChatSessions::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chat_sessions_user")
                            .from(ChatSessions::Table, ChatSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_chat_sessions_user_project_updated",
                ChatSessions::Table,
                [ChatSessions::UserId, ChatSessions::ProjectId, ChatSessions::UpdatedAt],
            ))
            .await?;
        manager
            .create_index(index("idx_chat_sessions_updated", ChatSessions::Table, [ChatSessions::UpdatedAt]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChatMessages::Table)
                    .col(ColumnDef::new(ChatMessages::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ChatMessages::SessionId).uuid().not_null())
                    .col(ColumnDef::new(ChatMessages::Position).integer().not_null())
                    .col(ColumnDef::new(ChatMessages::Role).string().not_null())
                    .col(ColumnDef::new(ChatMessages::Content).text().not_null())
                    .col(ColumnDef::new(ChatMessages::Citations).json().not_null())
                    .col(ColumnDef::new(ChatMessages::DroppedCitations).integer().not_null())
                    .col(ColumnDef::new(ChatMessages::PromptTokens).integer().not_null())
                    .col(ColumnDef::new(ChatMessages::CompletionTokens).integer().not_null())
                    .col(ColumnDef::new(ChatMessages::Cost).double().not_null())
                    .col(ColumnDef::new(ChatMessages::LlmModelId).uuid().null())
                    .col(ColumnDef::new(ChatMessages::ModelName).string().null())
                    .col(ColumnDef::new(ChatMessages::LatencyMs).integer().not_null())
                    .col(ColumnDef::new(ChatMessages::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chat_messages_session")
                            .from(ChatMessages::Table, ChatMessages::SessionId)
                            .to(ChatSessions::Table, ChatSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_chat_messages_session_position",
                ChatMessages::Table,
                [ChatMessages::SessionId, ChatMessages::Position],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [ChatMessages::Table.into_iden(), ChatSessions::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
