//! Language models, processing configurations, processing jobs (the durable queue) and the
//! record of every model call. Seeds the built-in extractor as the default model and a
//! default Marsiya NER configuration, with fixed ids.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoUtc, Uuid};

use crate::{index, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000005_create_models_and_jobs"
    }
}

/// The seeded built-in model's id.
pub const BUILTIN_MODEL_ID: &str = "00000000-0000-7000-8000-000000000101";
/// The seeded default processing configuration's id.
pub const DEFAULT_CONFIG_ID: &str = "00000000-0000-7000-8000-000000000201";

#[derive(DeriveIden)]
enum LlmModels {
    Table,
    Id,
    Name,
    Provider,
    ModelName,
    ApiBaseUrl,
    ApiKeyEncrypted,
    ApiKeyHint,
    ApiVersion,
    IsActive,
    IsDefault,
    Priority,
    MaxTokens,
    Temperature,
    TimeoutSecs,
    RateLimitPerMinute,
    RateLimitPerHour,
    CostPer1kPromptTokens,
    CostPer1kCompletionTokens,
    TotalRequests,
    SuccessfulRequests,
    FailedRequests,
    AverageResponseMs,
    ValidationStatus,
    ValidationError,
    ValidatedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LlmProcessingConfigs {
    Table,
    Id,
    Name,
    Description,
    ChunkSize,
    ChunkOverlap,
    MaxTokens,
    ConfidenceThreshold,
    EntityTypeIds,
    SystemPrompt,
    UserPromptTemplate,
    Examples,
    PostProcessing,
    IsDefault,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

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
}

#[derive(DeriveIden)]
enum ModelCalls {
    Table,
    Id,
    JobId,
    LlmModelId,
    ProjectId,
    UserId,
    ChunkIndex,
    Attempt,
    PromptTokens,
    CompletionTokens,
    Cost,
    LatencyMs,
    Status,
    Error,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
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

const SYSTEM_PROMPT: &str = "You are an expert annotator of Urdu Marsiya poetry (elegies on the martyrs of Karbala). \
Find the named entities in the text you are given. Copy each entity's text exactly as it is written in the text, \
letter for letter, with its diacritics; do not translate, transliterate or normalise it. \
Answer with JSON only, of the form {\"entities\": [{\"text\": \"...\", \"type\": \"...\", \"confidence\": 0.0}]}.";

const USER_PROMPT: &str = "Entity types: {entity_types}\n\nExamples:\n{examples}\n\nText:\n{text}";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let fk = |name: &str, from: (DynIden, DynIden), to: (DynIden, DynIden), on_delete: ForeignKeyAction| {
            ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(on_delete).to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(LlmModels::Table)
                    .col(ColumnDef::new(LlmModels::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(LlmModels::Name).string().not_null())
                    .col(ColumnDef::new(LlmModels::Provider).string().not_null())
                    .col(ColumnDef::new(LlmModels::ModelName).string().not_null())
                    .col(ColumnDef::new(LlmModels::ApiBaseUrl).string().null())
                    .col(ColumnDef::new(LlmModels::ApiKeyEncrypted).text().null())
                    .col(ColumnDef::new(LlmModels::ApiKeyHint).string().null())
                    .col(ColumnDef::new(LlmModels::ApiVersion).string().null())
                    .col(ColumnDef::new(LlmModels::IsActive).boolean().not_null().default(true))
                    .col(ColumnDef::new(LlmModels::IsDefault).boolean().not_null().default(false))
                    .col(ColumnDef::new(LlmModels::Priority).integer().not_null().default(0))
                    .col(ColumnDef::new(LlmModels::MaxTokens).integer().not_null().default(2048))
                    .col(ColumnDef::new(LlmModels::Temperature).double().not_null().default(0.0))
                    .col(ColumnDef::new(LlmModels::TimeoutSecs).integer().not_null().default(60))
                    .col(ColumnDef::new(LlmModels::RateLimitPerMinute).integer().null())
                    .col(ColumnDef::new(LlmModels::RateLimitPerHour).integer().null())
                    .col(ColumnDef::new(LlmModels::CostPer1kPromptTokens).double().not_null().default(0.0))
                    .col(ColumnDef::new(LlmModels::CostPer1kCompletionTokens).double().not_null().default(0.0))
                    .col(ColumnDef::new(LlmModels::TotalRequests).big_integer().not_null().default(0))
                    .col(ColumnDef::new(LlmModels::SuccessfulRequests).big_integer().not_null().default(0))
                    .col(ColumnDef::new(LlmModels::FailedRequests).big_integer().not_null().default(0))
                    .col(ColumnDef::new(LlmModels::AverageResponseMs).double().not_null().default(0.0))
                    .col(ColumnDef::new(LlmModels::ValidationStatus).string().not_null().default("PENDING"))
                    .col(ColumnDef::new(LlmModels::ValidationError).text().null())
                    .col(ColumnDef::new(LlmModels::ValidatedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(LlmModels::CreatedBy).uuid().null())
                    .col(ColumnDef::new(LlmModels::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(LlmModels::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_llm_models_created_by",
                        (LlmModels::Table.into_iden(), LlmModels::CreatedBy.into_iden()),
                        (Users::Table.into_iden(), Users::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("uq_llm_models_name", LlmModels::Table, [LlmModels::Name])).await?;
        manager.create_index(index("idx_llm_models_provider", LlmModels::Table, [LlmModels::Provider])).await?;
        manager.create_index(index("idx_llm_models_is_default", LlmModels::Table, [LlmModels::IsDefault])).await?;

        manager
            .create_table(
                Table::create()
                    .table(LlmProcessingConfigs::Table)
                    .col(ColumnDef::new(LlmProcessingConfigs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(LlmProcessingConfigs::Name).string().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::Description).text().null())
                    .col(ColumnDef::new(LlmProcessingConfigs::ChunkSize).integer().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::ChunkOverlap).integer().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::MaxTokens).integer().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::ConfidenceThreshold).double().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::EntityTypeIds).json().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::SystemPrompt).text().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::UserPromptTemplate).text().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::Examples).json().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::PostProcessing).json().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::IsDefault).boolean().not_null().default(false))
                    .col(ColumnDef::new(LlmProcessingConfigs::CreatedBy).uuid().null())
                    .col(ColumnDef::new(LlmProcessingConfigs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(LlmProcessingConfigs::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_llm_processing_configs_created_by",
                        (LlmProcessingConfigs::Table.into_iden(), LlmProcessingConfigs::CreatedBy.into_iden()),
                        (Users::Table.into_iden(), Users::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_llm_processing_configs_name",
                LlmProcessingConfigs::Table,
                [LlmProcessingConfigs::Name],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProcessingJobs::Table)
                    .col(ColumnDef::new(ProcessingJobs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ProcessingJobs::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(ProcessingJobs::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(ProcessingJobs::LlmModelId).uuid().null())
                    .col(ColumnDef::new(ProcessingJobs::ProcessingConfigId).uuid().null())
                    .col(ColumnDef::new(ProcessingJobs::Status).string().not_null())
                    .col(ColumnDef::new(ProcessingJobs::Priority).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::Progress).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::TotalSteps).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::CompletedSteps).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::CurrentStep).text().null())
                    .col(ColumnDef::new(ProcessingJobs::EntitiesFound).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::EntitiesDropped).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ProcessingJobs::CompletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ProcessingJobs::EstimatedCompletionAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ProcessingJobs::ErrorMessage).text().null())
                    .col(ColumnDef::new(ProcessingJobs::ErrorDetails).json().not_null())
                    .col(ColumnDef::new(ProcessingJobs::TokensUsed).big_integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::Cost).double().not_null().default(0.0))
                    .col(ColumnDef::new(ProcessingJobs::RetryCount).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::MaxRetries).integer().not_null().default(3))
                    .col(ColumnDef::new(ProcessingJobs::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(ProcessingJobs::LeaseOwner).string().null())
                    .col(ColumnDef::new(ProcessingJobs::LeaseExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ProcessingJobs::CancelRequested).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProcessingJobs::PauseRequested).boolean().not_null().default(false))
                    .col(ColumnDef::new(ProcessingJobs::CreatedBy).uuid().null())
                    .col(ColumnDef::new(ProcessingJobs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ProcessingJobs::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_processing_jobs_document_id",
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::DocumentId.into_iden()),
                        (Documents::Table.into_iden(), Documents::Id.into_iden()),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_processing_jobs_project_id",
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::ProjectId.into_iden()),
                        (Projects::Table.into_iden(), Projects::Id.into_iden()),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_processing_jobs_llm_model_id",
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::LlmModelId.into_iden()),
                        (LlmModels::Table.into_iden(), LlmModels::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_processing_jobs_processing_config_id",
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::ProcessingConfigId.into_iden()),
                        (LlmProcessingConfigs::Table.into_iden(), LlmProcessingConfigs::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_processing_jobs_created_by",
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::CreatedBy.into_iden()),
                        (Users::Table.into_iden(), Users::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_processing_jobs_status_priority",
                ProcessingJobs::Table,
                [ProcessingJobs::Status, ProcessingJobs::Priority],
            ))
            .await?;
        manager
            .create_index(index("idx_processing_jobs_document_id", ProcessingJobs::Table, [ProcessingJobs::DocumentId]))
            .await?;
        manager
            .create_index(index("idx_processing_jobs_project_id", ProcessingJobs::Table, [ProcessingJobs::ProjectId]))
            .await?;
        manager
            .create_index(index(
                "idx_processing_jobs_lease_expires_at",
                ProcessingJobs::Table,
                [ProcessingJobs::LeaseExpiresAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ModelCalls::Table)
                    .col(ColumnDef::new(ModelCalls::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ModelCalls::JobId).uuid().null())
                    .col(ColumnDef::new(ModelCalls::LlmModelId).uuid().null())
                    .col(ColumnDef::new(ModelCalls::ProjectId).uuid().null())
                    .col(ColumnDef::new(ModelCalls::UserId).uuid().null())
                    .col(ColumnDef::new(ModelCalls::ChunkIndex).integer().null())
                    .col(ColumnDef::new(ModelCalls::Attempt).integer().not_null())
                    .col(ColumnDef::new(ModelCalls::PromptTokens).integer().not_null())
                    .col(ColumnDef::new(ModelCalls::CompletionTokens).integer().not_null())
                    .col(ColumnDef::new(ModelCalls::Cost).double().not_null())
                    .col(ColumnDef::new(ModelCalls::LatencyMs).integer().not_null())
                    .col(ColumnDef::new(ModelCalls::Status).string().not_null())
                    .col(ColumnDef::new(ModelCalls::Error).text().null())
                    .col(ColumnDef::new(ModelCalls::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_model_calls_job_id",
                        (ModelCalls::Table.into_iden(), ModelCalls::JobId.into_iden()),
                        (ProcessingJobs::Table.into_iden(), ProcessingJobs::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_model_calls_llm_model_id",
                        (ModelCalls::Table.into_iden(), ModelCalls::LlmModelId.into_iden()),
                        (LlmModels::Table.into_iden(), LlmModels::Id.into_iden()),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_model_calls_job_id", ModelCalls::Table, [ModelCalls::JobId])).await?;
        manager
            .create_index(index(
                "idx_model_calls_model_created",
                ModelCalls::Table,
                [ModelCalls::LlmModelId, ModelCalls::CreatedAt],
            ))
            .await?;
        manager.create_index(index("idx_model_calls_created_at", ModelCalls::Table, [ModelCalls::CreatedAt])).await?;
        manager.create_index(index("idx_model_calls_user_id", ModelCalls::Table, [ModelCalls::UserId])).await?;

        let now = ChronoUtc::now();
        let builtin = Uuid::parse_str(BUILTIN_MODEL_ID).expect("a valid uuid");
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(LlmModels::Table)
                    .columns([
                        LlmModels::Id,
                        LlmModels::Name,
                        LlmModels::Provider,
                        LlmModels::ModelName,
                        LlmModels::IsActive,
                        LlmModels::IsDefault,
                        LlmModels::Priority,
                        LlmModels::ValidationStatus,
                        LlmModels::CreatedAt,
                        LlmModels::UpdatedAt,
                    ])
                    .values_panic([
                        builtin.into(),
                        "Nishan built-in extractor".into(),
                        "BUILTIN".into(),
                        "gazetteer".into(),
                        true.into(),
                        true.into(),
                        0.into(),
                        "CONNECTED".into(),
                        now.into(),
                        now.into(),
                    ])
                    .to_owned(),
            )
            .await?;
        let config = Uuid::parse_str(DEFAULT_CONFIG_ID).expect("a valid uuid");
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(LlmProcessingConfigs::Table)
                    .columns([
                        LlmProcessingConfigs::Id,
                        LlmProcessingConfigs::Name,
                        LlmProcessingConfigs::Description,
                        LlmProcessingConfigs::ChunkSize,
                        LlmProcessingConfigs::ChunkOverlap,
                        LlmProcessingConfigs::MaxTokens,
                        LlmProcessingConfigs::ConfidenceThreshold,
                        LlmProcessingConfigs::EntityTypeIds,
                        LlmProcessingConfigs::SystemPrompt,
                        LlmProcessingConfigs::UserPromptTemplate,
                        LlmProcessingConfigs::Examples,
                        LlmProcessingConfigs::PostProcessing,
                        LlmProcessingConfigs::IsDefault,
                        LlmProcessingConfigs::CreatedAt,
                        LlmProcessingConfigs::UpdatedAt,
                    ])
                    .values_panic([
                        config.into(),
                        "Marsiya NER".into(),
                        "Named entities of Urdu Marsiya poetry, stanza by stanza.".into(),
                        2000.into(),
                        200.into(),
                        2048.into(),
                        0.5.into(),
                        serde_json::json!([]).into(),
                        SYSTEM_PROMPT.into(),
                        USER_PROMPT.into(),
                        serde_json::json!([
                            {"text": "حسینؑ", "type": "PERSON"},
                            {"text": "کربلا", "type": "LOCATION"},
                            {"text": "عاشور", "type": "DATE"},
                            {"text": "امام", "type": "DESIGNATION"}
                        ])
                        .into(),
                        serde_json::json!({"mergeOverlapping": true, "dropUnplaced": true}).into(),
                        true.into(),
                        now.into(),
                        now.into(),
                    ])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ModelCalls::Table.into_iden(),
            ProcessingJobs::Table.into_iden(),
            LlmProcessingConfigs::Table.into_iden(),
            LlmModels::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
