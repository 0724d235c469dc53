//! Jobs of several kinds on one queue, and atomic rate-limit slots for model calls.
//!
//! - `processing_jobs` gains `kind` (EXTRACTION by default, as every job so far), `params`
//!   (the kind's parameters, a JSON object), `document_version` (the document version a job's
//!   steps were cut from) and `checkpoint` (its handler's record of where it stands), and
//!   `document_id` becomes nullable (a job may work on a whole project). PostgreSQL alters
//!   the table; SQLite cannot change a column's nullability, so the table is rebuilt in the
//!   migration's transaction: the rows are copied into the new table, and since dropping the
//!   old one sets `model_calls.job_id` to NULL (its foreign key's action), those links are
//!   saved first and restored after. The migration refuses to run when another table
//!   references `processing_jobs` (its rows would not survive the rebuild).
//! - `model_call_slots`: one row per reserved model call, so that workers of every replica
//!   share a model's rate limits by reserving under a lock instead of counting, then calling.
//! - The seeded "Marsiya NER" configuration's `post_processing` loses `dropUnplaced`, which
//!   never changed anything (unplaced suggestions are always dropped and counted).
//!
//! `down` deletes the jobs that have no document (the old schema cannot hold them) and puts
//! everything back.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProcessingJobs {
    Table,
    Id,
    DocumentId,
    ProjectId,
    LlmModelId,
    ProcessingConfigId,
    Status,
    Priority,
    Progress,
    TotalSteps,
    CompletedSteps,
    CurrentStep,
    EntitiesFound,
    EntitiesDropped,
    StartedAt,
    CompletedAt,
    EstimatedCompletionAt,
    ErrorMessage,
    ErrorDetails,
    TokensUsed,
    Cost,
    RetryCount,
    MaxRetries,
    Attempts,
    LeaseOwner,
    LeaseExpiresAt,
    CancelRequested,
    PauseRequested,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Kind,
    Params,
    DocumentVersion,
    Checkpoint,
}

#[derive(DeriveIden)]
enum ModelCallSlots {
    Table,
    Id,
    LlmModelId,
    ReservedAt,
}

#[derive(DeriveIden)]
enum LlmModels {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LlmProcessingConfigs {
    Table,
    Id,
    PostProcessing,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// The seeded default configuration (`m20261123_000005`).
const DEFAULT_CONFIG_ID: &str = crate::DEFAULT_CONFIG_ID;

/// The columns of `processing_jobs` before this migration, in order.
const OLD_COLUMNS: &str = "id, document_id, project_id, llm_model_id, processing_config_id, status, priority, \
    progress, total_steps, completed_steps, current_step, entities_found, entities_dropped, started_at, \
    completed_at, estimated_completion_at, error_message, error_details, tokens_used, cost, retry_count, \
    max_retries, attempts, lease_owner, lease_expires_at, cancel_requested, pause_requested, created_by, \
    created_at, updated_at";

fn fk(
    name: &str,
    column: ProcessingJobs,
    table: impl IntoIden,
    to: impl IntoIden,
    action: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(ProcessingJobs::Table, column).to(table, to).on_delete(action).to_owned()
}

/// `processing_jobs` as `m20261123_000005` made it (`kinds: false`) or as this migration makes
/// it, under the name `table`.
fn jobs_table(table: &str, kinds: bool) -> TableCreateStatement {
    use ProcessingJobs as J;
    let mut document = ColumnDef::new(J::DocumentId);
    document.uuid();
    if kinds {
        document.null();
    } else {
        document.not_null();
    }
    let mut t = Table::create();
    t.table(Alias::new(table))
        .col(ColumnDef::new(J::Id).uuid().not_null().primary_key())
        .col(document)
        .col(ColumnDef::new(J::ProjectId).uuid().not_null())
        .col(ColumnDef::new(J::LlmModelId).uuid().null())
        .col(ColumnDef::new(J::ProcessingConfigId).uuid().null())
        .col(ColumnDef::new(J::Status).string().not_null())
        .col(ColumnDef::new(J::Priority).integer().not_null().default(0))
        .col(ColumnDef::new(J::Progress).integer().not_null().default(0))
        .col(ColumnDef::new(J::TotalSteps).integer().not_null().default(0))
        .col(ColumnDef::new(J::CompletedSteps).integer().not_null().default(0))
        .col(ColumnDef::new(J::CurrentStep).text().null())
        .col(ColumnDef::new(J::EntitiesFound).integer().not_null().default(0))
        .col(ColumnDef::new(J::EntitiesDropped).integer().not_null().default(0))
        .col(ColumnDef::new(J::StartedAt).timestamp_with_time_zone().null())
        .col(ColumnDef::new(J::CompletedAt).timestamp_with_time_zone().null())
        .col(ColumnDef::new(J::EstimatedCompletionAt).timestamp_with_time_zone().null())
        .col(ColumnDef::new(J::ErrorMessage).text().null())
        .col(ColumnDef::new(J::ErrorDetails).json().not_null())
        .col(ColumnDef::new(J::TokensUsed).big_integer().not_null().default(0))
        .col(ColumnDef::new(J::Cost).double().not_null().default(0.0))
        .col(ColumnDef::new(J::RetryCount).integer().not_null().default(0))
        .col(ColumnDef::new(J::MaxRetries).integer().not_null().default(3))
        .col(ColumnDef::new(J::Attempts).integer().not_null().default(0))
        .col(ColumnDef::new(J::LeaseOwner).string().null())
        .col(ColumnDef::new(J::LeaseExpiresAt).timestamp_with_time_zone().null())
        .col(ColumnDef::new(J::CancelRequested).boolean().not_null().default(false))
        .col(ColumnDef::new(J::PauseRequested).boolean().not_null().default(false))
        .col(ColumnDef::new(J::CreatedBy).uuid().null())
        .col(ColumnDef::new(J::CreatedAt).timestamp_with_time_zone().not_null())
        .col(ColumnDef::new(J::UpdatedAt).timestamp_with_time_zone().not_null());
    if kinds {
        t.col(ColumnDef::new(J::Kind).string().not_null().default("EXTRACTION"))
            .col(ColumnDef::new(J::Params).json().not_null().default("{}"))
            .col(ColumnDef::new(J::DocumentVersion).integer().null())
            .col(ColumnDef::new(J::Checkpoint).json().not_null().default("{}"));
    }
    t.foreign_key(&mut fk(
        "fk_processing_jobs_document_id",
        J::DocumentId,
        Documents::Table,
        Documents::Id,
        ForeignKeyAction::Cascade,
    ))
    .foreign_key(&mut fk(
        "fk_processing_jobs_project_id",
        J::ProjectId,
        Projects::Table,
        Projects::Id,
        ForeignKeyAction::Cascade,
    ))
    .foreign_key(&mut fk(
        "fk_processing_jobs_llm_model_id",
        J::LlmModelId,
        LlmModels::Table,
        LlmModels::Id,
        ForeignKeyAction::SetNull,
    ))
    .foreign_key(&mut fk(
        "fk_processing_jobs_processing_config_id",
        J::ProcessingConfigId,
        LlmProcessingConfigs::Table,
        LlmProcessingConfigs::Id,
        ForeignKeyAction::SetNull,
    ))
    .foreign_key(&mut fk(
        "fk_processing_jobs_created_by",
        J::CreatedBy,
        Users::Table,
        Users::Id,
        ForeignKeyAction::SetNull,
    ));
    t.to_owned()
}

/// The indexes of `processing_jobs` (`m20261123_000005`'s, and the kind's when `kinds`).
async fn create_job_indexes(manager: &SchemaManager<'_>, kinds: bool) -> Result<(), DbErr> {
    use ProcessingJobs as J;
    manager.create_index(index("idx_processing_jobs_status_priority", J::Table, [J::Status, J::Priority])).await?;
    manager.create_index(index("idx_processing_jobs_document_id", J::Table, [J::DocumentId])).await?;
    manager.create_index(index("idx_processing_jobs_project_id", J::Table, [J::ProjectId])).await?;
    manager.create_index(index("idx_processing_jobs_lease_expires_at", J::Table, [J::LeaseExpiresAt])).await?;
    if kinds {
        manager.create_index(index("idx_processing_jobs_kind", J::Table, [J::Kind])).await?;
    }
    Ok(())
}

async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned())).await?;
    Ok(())
}

/// Rebuilds `processing_jobs` on SQLite into the shape `kinds` says, keeping `rows_where`.
async fn rebuild_on_sqlite(manager: &SchemaManager<'_>, kinds: bool, rows_where: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let referencing = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT DISTINCT m.name AS name FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.\"table\" = 'processing_jobs'",
        ))
        .await?;
    for row in referencing {
        let name: String = row.try_get("", "name")?;
        if name != "model_calls" {
            return Err(DbErr::Migration(format!(
                "{name} references processing_jobs: rebuilding processing_jobs would lose its links; \
                 this migration must save and restore them too"
            )));
        }
    }
    manager.create_table(jobs_table("processing_jobs_rebuilt", kinds)).await?;
    exec(
        manager,
        &format!(
            "INSERT INTO processing_jobs_rebuilt ({OLD_COLUMNS}) SELECT {OLD_COLUMNS} FROM processing_jobs {rows_where}"
        ),
    )
    .await?;
    exec(
        manager,
        "CREATE TEMP TABLE job_links_kept AS SELECT id, job_id FROM model_calls \
         WHERE job_id IN (SELECT id FROM processing_jobs_rebuilt)",
    )
    .await?;
    // Dropping the table sets model_calls.job_id to NULL (its foreign key's action).
    exec(manager, "DROP TABLE processing_jobs").await?;
    exec(manager, "ALTER TABLE processing_jobs_rebuilt RENAME TO processing_jobs").await?;
    exec(
        manager,
        "UPDATE model_calls SET job_id = (SELECT k.job_id FROM job_links_kept k WHERE k.id = model_calls.id) \
         WHERE id IN (SELECT id FROM job_links_kept)",
    )
    .await?;
    exec(manager, "DROP TABLE job_links_kept").await?;
    create_job_indexes(manager, kinds).await
}

async fn set_seeded_post_processing(manager: &SchemaManager<'_>, value: serde_json::Value) -> Result<(), DbErr> {
    let id = sea_orm_migration::sea_orm::prelude::Uuid::parse_str(DEFAULT_CONFIG_ID).expect("a valid uuid");
    manager
        .exec_stmt(
            Query::update()
                .table(LlmProcessingConfigs::Table)
                .value(LlmProcessingConfigs::PostProcessing, value)
                .and_where(Expr::col(LlmProcessingConfigs::Id).eq(id))
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases: the SQLite rebuild is all or nothing.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ProcessingJobs as J;
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_on_sqlite(manager, true, "").await?;
        } else {
            manager
                .alter_table(
                    Table::alter()
                        .table(J::Table)
                        .modify_column(ColumnDef::new(J::DocumentId).uuid().null())
                        .add_column(ColumnDef::new(J::Kind).string().not_null().default("EXTRACTION"))
                        .add_column(ColumnDef::new(J::Params).json().not_null().default("{}"))
                        .add_column(ColumnDef::new(J::DocumentVersion).integer().null())
                        .add_column(ColumnDef::new(J::Checkpoint).json().not_null().default("{}"))
                        .to_owned(),
                )
                .await?;
            manager.create_index(index("idx_processing_jobs_kind", J::Table, [J::Kind])).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ModelCallSlots::Table)
                    .col(ColumnDef::new(ModelCallSlots::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ModelCallSlots::LlmModelId).uuid().not_null())
                    .col(ColumnDef::new(ModelCallSlots::ReservedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_model_call_slots_llm_model_id")
                            .from(ModelCallSlots::Table, ModelCallSlots::LlmModelId)
                            .to(LlmModels::Table, LlmModels::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_model_call_slots_model_reserved",
                ModelCallSlots::Table,
                [ModelCallSlots::LlmModelId, ModelCallSlots::ReservedAt],
            ))
            .await?;
        set_seeded_post_processing(manager, serde_json::json!({"mergeOverlapping": true})).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ProcessingJobs as J;
        set_seeded_post_processing(manager, serde_json::json!({"mergeOverlapping": true, "dropUnplaced": true}))
            .await?;
        manager.drop_table(Table::drop().table(ModelCallSlots::Table).if_exists().to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_on_sqlite(manager, false, "WHERE document_id IS NOT NULL").await
        } else {
            exec(manager, "DELETE FROM processing_jobs WHERE document_id IS NULL").await?;
            manager.drop_index(Index::drop().name("idx_processing_jobs_kind").table(J::Table).to_owned()).await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(J::Table)
                        .drop_column(J::Kind)
                        .drop_column(J::Params)
                        .drop_column(J::DocumentVersion)
                        .drop_column(J::Checkpoint)
                        .modify_column(ColumnDef::new(J::DocumentId).uuid().not_null())
                        .to_owned(),
                )
                .await
        }
    }
}
