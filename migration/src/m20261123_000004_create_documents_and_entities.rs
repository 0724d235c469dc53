//! Documents and their annotations: `documents`, `document_versions`,
//! `entity_types` (seeded with the seven system types), `entities`,
//! `entity_rejections` and `entity_relationships`.
//!
//! `entities.llm_model_id`, `entities.processing_job_id` and
//! `entity_rejections.llm_model_id` have no foreign key yet: the tables they
//! will point at do not exist so far.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoUtc, Json, Uuid};

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Created by the accounts migration; only the columns referenced here.
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Created by the projects migration; only the columns referenced here.
#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    ProjectId,
    Title,
    Content,
    ContentHash,
    FileName,
    FileSize,
    ContentType,
    Encoding,
    Language,
    Direction,
    WordCount,
    CharacterCount,
    LineCount,
    ProcessingStatus,
    ProcessingStartedAt,
    ProcessingCompletedAt,
    ProcessingDurationMs,
    TotalEntities,
    VerifiedEntities,
    UnverifiedEntities,
    VerificationRate,
    ConfidenceScore,
    QualityScore,
    Tags,
    Metadata,
    Notes,
    CurrentVersion,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DocumentVersions {
    Table,
    Id,
    DocumentId,
    VersionNumber,
    Content,
    ContentHash,
    ChangeSummary,
    ChangedBy,
    ChangedAt,
    DiffSummary,
    UnifiedDiff,
}

#[derive(DeriveIden)]
enum EntityTypes {
    Table,
    Id,
    Name,
    DisplayName,
    Description,
    Color,
    Examples,
    IsSystem,
    IsActive,
    SortOrder,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    Id,
    DocumentId,
    ProjectId,
    EntityTypeId,
    Text,
    StartOffset,
    EndOffset,
    Utf16Start,
    Utf16End,
    LineNumber,
    StanzaNumber,
    WordPosition,
    ContextBefore,
    ContextAfter,
    ConfidenceScore,
    Source,
    IsVerified,
    VerifiedBy,
    VerifiedAt,
    Notes,
    Attributes,
    LlmModelId,
    ProcessingJobId,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EntityRejections {
    Table,
    Id,
    ProjectId,
    DocumentId,
    EntityTypeId,
    Text,
    StartOffset,
    EndOffset,
    Source,
    LlmModelId,
    ConfidenceScore,
    RejectedBy,
    RejectedAt,
    Reason,
}

#[derive(DeriveIden)]
enum EntityRelationships {
    Table,
    Id,
    ProjectId,
    SourceEntityId,
    TargetEntityId,
    RelationshipType,
    ConfidenceScore,
    Notes,
    CreatedBy,
    CreatedAt,
}

/// A system entity type seeded by this migration.
struct SystemType {
    id: &'static str,
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    color: &'static str,
    examples: &'static [&'static str],
}

/// The seven system entity types, in display order (`sort_order` is ten times
/// the position, counting from one). Their ids are fixed so that code and data
/// may refer to them.
const SYSTEM_TYPES: [SystemType; 7] = [
    SystemType {
        id: "00000000-0000-7000-8000-000000000001",
        name: "PERSON",
        display_name: "Person",
        description: "People: imams, martyrs, family members, poets.",
        color: "#E6194B",
        examples: &["حسین", "عباس", "زینب", "علی اکبر", "قاسم"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000002",
        name: "LOCATION",
        display_name: "Location",
        description: "Places: cities, rivers, battlefields, shrines.",
        color: "#3CB44B",
        examples: &["کربلا", "کوفہ", "مدینہ", "فرات", "شام"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000003",
        name: "DATE",
        display_name: "Date",
        description: "Dates and named days: Ashura, months of the calendar.",
        color: "#4363D8",
        examples: &["عاشور", "محرم", "دسویں"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000004",
        name: "TIME",
        display_name: "Time",
        description: "Times of day and durations.",
        color: "#F58231",
        examples: &["صبح", "شام", "دوپہر", "رات"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000005",
        name: "ORGANIZATION",
        display_name: "Organization",
        description: "Armies, tribes, groups.",
        color: "#911EB4",
        examples: &["بنی ہاشم", "لشکر یزید", "اہل حرم"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000006",
        name: "DESIGNATION",
        display_name: "Designation",
        description: "Titles and honorifics.",
        color: "#42D4F4",
        examples: &["امام", "شاہ", "سردار", "علمدار"],
    },
    SystemType {
        id: "00000000-0000-7000-8000-000000000007",
        name: "NUMBER",
        display_name: "Number",
        description: "Numbers and counts.",
        color: "#F032E6",
        examples: &["بہتر", "تین", "سو"],
    },
];

/// `INSERT` of the system entity types. Every value is bound (not inlined),
/// so UUIDs, JSON and timestamps are encoded exactly as the SeaORM models
/// encode them, on SQLite and on PostgreSQL alike.
fn seed_system_types() -> Result<InsertStatement, DbErr> {
    let now = ChronoUtc::now();
    let mut insert = Query::insert();
    insert.into_table(EntityTypes::Table).columns([
        EntityTypes::Id,
        EntityTypes::Name,
        EntityTypes::DisplayName,
        EntityTypes::Description,
        EntityTypes::Color,
        EntityTypes::Examples,
        EntityTypes::IsSystem,
        EntityTypes::IsActive,
        EntityTypes::SortOrder,
        EntityTypes::CreatedAt,
        EntityTypes::UpdatedAt,
    ]);
    for (position, t) in (1..).zip(SYSTEM_TYPES.iter()) {
        let id = Uuid::parse_str(t.id).map_err(|e| DbErr::Migration(format!("system entity type {}: {e}", t.name)))?;
        let examples = Json::Array(t.examples.iter().map(|&e| Json::String(e.to_owned())).collect());
        insert
            .values([
                id.into(),
                t.name.into(),
                t.display_name.into(),
                t.description.into(),
                t.color.into(),
                examples.into(),
                true.into(),
                true.into(),
                (position * 10_i32).into(),
                now.into(),
                now.into(),
            ])
            .map_err(|e| DbErr::Migration(format!("seed system entity types: {e}")))?;
    }
    Ok(insert.to_owned())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // documents
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .col(ColumnDef::new(Documents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Documents::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Documents::Title).string().not_null())
                    .col(ColumnDef::new(Documents::Content).text().not_null())
                    .col(ColumnDef::new(Documents::ContentHash).string().not_null())
                    .col(ColumnDef::new(Documents::FileName).string().null())
                    .col(ColumnDef::new(Documents::FileSize).big_integer().null())
                    .col(ColumnDef::new(Documents::ContentType).string().null())
                    .col(ColumnDef::new(Documents::Encoding).string().null())
                    .col(ColumnDef::new(Documents::Language).string().not_null().default("ur"))
                    .col(ColumnDef::new(Documents::Direction).string().not_null())
                    .col(ColumnDef::new(Documents::WordCount).integer().not_null())
                    .col(ColumnDef::new(Documents::CharacterCount).integer().not_null())
                    .col(ColumnDef::new(Documents::LineCount).integer().not_null())
                    .col(ColumnDef::new(Documents::ProcessingStatus).string().not_null().default("pending"))
                    .col(ColumnDef::new(Documents::ProcessingStartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Documents::ProcessingCompletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Documents::ProcessingDurationMs).big_integer().null())
                    .col(ColumnDef::new(Documents::TotalEntities).integer().not_null().default(0))
                    .col(ColumnDef::new(Documents::VerifiedEntities).integer().not_null().default(0))
                    .col(ColumnDef::new(Documents::UnverifiedEntities).integer().not_null().default(0))
                    .col(ColumnDef::new(Documents::VerificationRate).double().not_null().default(0.0))
                    .col(ColumnDef::new(Documents::ConfidenceScore).double().null())
                    .col(ColumnDef::new(Documents::QualityScore).double().null())
                    .col(ColumnDef::new(Documents::Tags).json().not_null())
                    .col(ColumnDef::new(Documents::Metadata).json().not_null())
                    .col(ColumnDef::new(Documents::Notes).text().null())
                    .col(ColumnDef::new(Documents::CurrentVersion).integer().not_null().default(1))
                    .col(ColumnDef::new(Documents::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Documents::UpdatedBy).uuid().null())
                    .col(ColumnDef::new(Documents::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Documents::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_documents_project_id")
                            .from(Documents::Table, Documents::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_documents_created_by")
                            .from(Documents::Table, Documents::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_documents_updated_by")
                            .from(Documents::Table, Documents::UpdatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_documents_project_hash",
                Documents::Table,
                [Documents::ProjectId, Documents::ContentHash],
            ))
            .await?;
        for (name, col) in [
            ("idx_documents_project_id", Documents::ProjectId),
            ("idx_documents_processing_status", Documents::ProcessingStatus),
            ("idx_documents_created_at", Documents::CreatedAt),
        ] {
            manager.create_index(index(name, Documents::Table, [col])).await?;
        }

        // document_versions
        manager
            .create_table(
                Table::create()
                    .table(DocumentVersions::Table)
                    .col(ColumnDef::new(DocumentVersions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(DocumentVersions::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(DocumentVersions::VersionNumber).integer().not_null())
                    .col(ColumnDef::new(DocumentVersions::Content).text().not_null())
                    .col(ColumnDef::new(DocumentVersions::ContentHash).string().not_null())
                    .col(ColumnDef::new(DocumentVersions::ChangeSummary).text().null())
                    .col(ColumnDef::new(DocumentVersions::ChangedBy).uuid().null())
                    .col(ColumnDef::new(DocumentVersions::ChangedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(DocumentVersions::DiffSummary).json().not_null())
                    .col(ColumnDef::new(DocumentVersions::UnifiedDiff).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_document_versions_document_id")
                            .from(DocumentVersions::Table, DocumentVersions::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_document_versions_changed_by")
                            .from(DocumentVersions::Table, DocumentVersions::ChangedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_document_versions_doc_number",
                DocumentVersions::Table,
                [DocumentVersions::DocumentId, DocumentVersions::VersionNumber],
            ))
            .await?;

        // entity_types
        manager
            .create_table(
                Table::create()
                    .table(EntityTypes::Table)
                    .col(ColumnDef::new(EntityTypes::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(EntityTypes::Name).string().not_null())
                    .col(ColumnDef::new(EntityTypes::DisplayName).string().not_null())
                    .col(ColumnDef::new(EntityTypes::Description).text().null())
                    .col(ColumnDef::new(EntityTypes::Color).string().not_null())
                    .col(ColumnDef::new(EntityTypes::Examples).json().not_null())
                    .col(ColumnDef::new(EntityTypes::IsSystem).boolean().not_null().default(false))
                    .col(ColumnDef::new(EntityTypes::IsActive).boolean().not_null().default(true))
                    .col(ColumnDef::new(EntityTypes::SortOrder).integer().not_null().default(0))
                    .col(ColumnDef::new(EntityTypes::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(EntityTypes::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("uq_entity_types_name", EntityTypes::Table, [EntityTypes::Name])).await?;
        for (name, col) in [
            ("idx_entity_types_is_active", EntityTypes::IsActive),
            ("idx_entity_types_sort_order", EntityTypes::SortOrder),
        ] {
            manager.create_index(index(name, EntityTypes::Table, [col])).await?;
        }
        manager.exec_stmt(seed_system_types()?).await?;

        // entities
        manager
            .create_table(
                Table::create()
                    .table(Entities::Table)
                    .col(ColumnDef::new(Entities::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Entities::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(Entities::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Entities::EntityTypeId).uuid().not_null())
                    .col(ColumnDef::new(Entities::Text).text().not_null())
                    .col(ColumnDef::new(Entities::StartOffset).integer().not_null())
                    .col(ColumnDef::new(Entities::EndOffset).integer().not_null())
                    .col(ColumnDef::new(Entities::Utf16Start).integer().not_null())
                    .col(ColumnDef::new(Entities::Utf16End).integer().not_null())
                    .col(ColumnDef::new(Entities::LineNumber).integer().not_null())
                    .col(ColumnDef::new(Entities::StanzaNumber).integer().not_null())
                    .col(ColumnDef::new(Entities::WordPosition).integer().not_null())
                    .col(ColumnDef::new(Entities::ContextBefore).text().not_null())
                    .col(ColumnDef::new(Entities::ContextAfter).text().not_null())
                    .col(ColumnDef::new(Entities::ConfidenceScore).double().null())
                    .col(ColumnDef::new(Entities::Source).string().not_null())
                    .col(ColumnDef::new(Entities::IsVerified).boolean().not_null().default(false))
                    .col(ColumnDef::new(Entities::VerifiedBy).uuid().null())
                    .col(ColumnDef::new(Entities::VerifiedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Entities::Notes).text().null())
                    .col(ColumnDef::new(Entities::Attributes).json().not_null())
                    .col(ColumnDef::new(Entities::LlmModelId).uuid().null())
                    .col(ColumnDef::new(Entities::ProcessingJobId).uuid().null())
                    .col(ColumnDef::new(Entities::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Entities::UpdatedBy).uuid().null())
                    .col(ColumnDef::new(Entities::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Entities::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_document_id")
                            .from(Entities::Table, Entities::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_project_id")
                            .from(Entities::Table, Entities::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_entity_type_id")
                            .from(Entities::Table, Entities::EntityTypeId)
                            .to(EntityTypes::Table, EntityTypes::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_verified_by")
                            .from(Entities::Table, Entities::VerifiedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_created_by")
                            .from(Entities::Table, Entities::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_updated_by")
                            .from(Entities::Table, Entities::UpdatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_entities_span",
                Entities::Table,
                [Entities::DocumentId, Entities::StartOffset, Entities::EndOffset, Entities::EntityTypeId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_entities_document_start",
                Entities::Table,
                [Entities::DocumentId, Entities::StartOffset],
            ))
            .await?;
        for (name, col) in [
            ("idx_entities_entity_type_id", Entities::EntityTypeId),
            ("idx_entities_is_verified", Entities::IsVerified),
            ("idx_entities_source", Entities::Source),
            ("idx_entities_project_id", Entities::ProjectId),
            ("idx_entities_verified_by", Entities::VerifiedBy),
        ] {
            manager.create_index(index(name, Entities::Table, [col])).await?;
        }

        // entity_rejections
        manager
            .create_table(
                Table::create()
                    .table(EntityRejections::Table)
                    .col(ColumnDef::new(EntityRejections::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(EntityRejections::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(EntityRejections::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(EntityRejections::EntityTypeId).uuid().not_null())
                    .col(ColumnDef::new(EntityRejections::Text).text().not_null())
                    .col(ColumnDef::new(EntityRejections::StartOffset).integer().not_null())
                    .col(ColumnDef::new(EntityRejections::EndOffset).integer().not_null())
                    .col(ColumnDef::new(EntityRejections::Source).string().not_null())
                    .col(ColumnDef::new(EntityRejections::LlmModelId).uuid().null())
                    .col(ColumnDef::new(EntityRejections::ConfidenceScore).double().null())
                    .col(ColumnDef::new(EntityRejections::RejectedBy).uuid().null())
                    .col(ColumnDef::new(EntityRejections::RejectedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(EntityRejections::Reason).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_rejections_project_id")
                            .from(EntityRejections::Table, EntityRejections::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_rejections_document_id")
                            .from(EntityRejections::Table, EntityRejections::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_rejections_entity_type_id")
                            .from(EntityRejections::Table, EntityRejections::EntityTypeId)
                            .to(EntityTypes::Table, EntityTypes::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_rejections_rejected_by")
                            .from(EntityRejections::Table, EntityRejections::RejectedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_entity_rejections_document_id", EntityRejections::DocumentId),
            ("idx_entity_rejections_llm_model_id", EntityRejections::LlmModelId),
            ("idx_entity_rejections_project_id", EntityRejections::ProjectId),
        ] {
            manager.create_index(index(name, EntityRejections::Table, [col])).await?;
        }

        // entity_relationships
        manager
            .create_table(
                Table::create()
                    .table(EntityRelationships::Table)
                    .col(ColumnDef::new(EntityRelationships::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(EntityRelationships::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(EntityRelationships::SourceEntityId).uuid().not_null())
                    .col(ColumnDef::new(EntityRelationships::TargetEntityId).uuid().not_null())
                    .col(ColumnDef::new(EntityRelationships::RelationshipType).string().not_null())
                    .col(ColumnDef::new(EntityRelationships::ConfidenceScore).double().null())
                    .col(ColumnDef::new(EntityRelationships::Notes).text().null())
                    .col(ColumnDef::new(EntityRelationships::CreatedBy).uuid().null())
                    .col(ColumnDef::new(EntityRelationships::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_relationships_project_id")
                            .from(EntityRelationships::Table, EntityRelationships::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_relationships_source_entity_id")
                            .from(EntityRelationships::Table, EntityRelationships::SourceEntityId)
                            .to(Entities::Table, Entities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_relationships_target_entity_id")
                            .from(EntityRelationships::Table, EntityRelationships::TargetEntityId)
                            .to(Entities::Table, Entities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entity_relationships_created_by")
                            .from(EntityRelationships::Table, EntityRelationships::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_entity_relationships_triple",
                EntityRelationships::Table,
                [
                    EntityRelationships::SourceEntityId,
                    EntityRelationships::TargetEntityId,
                    EntityRelationships::RelationshipType,
                ],
            ))
            .await?;
        for (name, col) in [
            ("idx_entity_relationships_target", EntityRelationships::TargetEntityId),
            ("idx_entity_relationships_project_id", EntityRelationships::ProjectId),
        ] {
            manager.create_index(index(name, EntityRelationships::Table, [col])).await?;
        }

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dependants first; dropping a table drops its indexes (and the
        // seeded entity types) too.
        for table in [
            EntityRelationships::Table.into_iden(),
            EntityRejections::Table.into_iden(),
            Entities::Table.into_iden(),
            EntityTypes::Table.into_iden(),
            DocumentVersions::Table.into_iden(),
            Documents::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
