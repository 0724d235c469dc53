//! The store as a running extraction job sees it (`ExtractionStore`): reads delegated to the
//! repositories, and `store_suggestions`, which stores a chunk's entities with the job's
//! progress in one transaction that commits only while the worker holds the lease. Inside it
//! the document's row is read (locked on PostgreSQL, as a content edit locks it), so that the
//! entities land in the version the document has at commit: when it changed since the chunk
//! was read, they are carried through the edit first (`rebase_suggestions`).

use chrono::{DateTime, Utc};
use nishan_domain::DomainResult;
use nishan_domain::document::Document;
use nishan_domain::entity_type::EntityType;
use nishan_domain::ids::{DocumentId, EntityTypeId, ProjectId};
use nishan_domain::llm::model::{CallWindow, LlmModel, ModelId, ProcessingConfig, Reservation};
use nishan_domain::ports::{
    ConfigRepository, DocumentRepository, EntityRepository, EntityTypeRepository, ExtractionStore, Fence,
    KnowledgeRepository, ModelCall, ModelRepository, StoredSuggestions, SuggestionBatch,
};
use nishan_domain::service::processing::rebase_suggestions;
use sea_orm::sea_query::LockType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::jobs::save_progress_in;
use super::{Store, audit, documents, entities, internal};
use crate::entity::{document, document_version};

impl ExtractionStore for Store {
    async fn document(&self, id: DocumentId) -> DomainResult<Option<Document>> {
        self.document_by_id(id).await
    }

    async fn document_text_at(&self, id: DocumentId, version: u32) -> DomainResult<Option<String>> {
        document_version::Entity::find()
            .select_only()
            .column(document_version::Column::Content)
            .filter(document_version::Column::DocumentId.eq(id.0))
            .filter(document_version::Column::VersionNumber.eq(version as i32))
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(internal)
    }

    async fn model(&self, id: ModelId) -> DomainResult<Option<LlmModel>> {
        self.model_by_id(id).await
    }

    async fn config(&self, id: Option<Uuid>) -> DomainResult<Option<ProcessingConfig>> {
        match id {
            Some(id) => self.config_by_id(id).await,
            None => self.default_config().await,
        }
    }

    async fn entity_types(&self) -> DomainResult<Vec<EntityType>> {
        EntityTypeRepository::entity_types(self).await
    }

    async fn verified_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        EntityRepository::verified_names(self, project).await
    }

    async fn approved_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        KnowledgeRepository::approved_names(self, project).await
    }

    async fn annotation_mode(&self, project: ProjectId) -> DomainResult<nishan_domain::rounds::AnnotationMode> {
        let mode: Option<String> = crate::entity::project::Entity::find_by_id(project.0)
            .select_only()
            .column(crate::entity::project::Column::AnnotationMode)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(internal)?;
        // A deleted project's jobs are deleted with it: SHARED is as good as any answer.
        mode.map_or(Ok(nishan_domain::rounds::AnnotationMode::Shared), |m| {
            nishan_domain::rounds::AnnotationMode::parse(&m)
        })
    }

    async fn model_key(&self, model: ModelId) -> DomainResult<Option<String>> {
        self.encrypted_key(model).await
    }

    async fn reserve_call(
        &self,
        model: ModelId,
        windows: &[CallWindow],
        now: DateTime<Utc>,
    ) -> DomainResult<Reservation> {
        ModelRepository::reserve_call(self, model, windows, now).await
    }

    async fn record_call(&self, call: ModelCall) -> DomainResult<()> {
        ModelRepository::record_call(self, call).await
    }

    async fn store_suggestions(
        &self,
        fence: &Fence,
        batch: SuggestionBatch,
    ) -> DomainResult<Option<StoredSuggestions>> {
        let txn = self.write().await?;
        // The version only (not the content): an edit since the batch is rare.
        // Locks in the order a content edit takes them: the document's row (a key-share lock,
        // the one the entities' foreign key takes anyway), then its stats row.
        documents::lock_row_key_share(&txn, batch.document).await?;
        let stored = documents::stored_version(&txn, batch.document, Some(LockType::Update)).await?;
        let Some(current_version) = stored else {
            // The document was deleted, and its jobs with it.
            txn.rollback().await.map_err(internal)?;
            return Ok(None);
        };
        let (entities, dropped) = if batch.version == current_version {
            (batch.entities, 0)
        } else {
            let current = documents::load_documents(&txn, document::Entity::find_by_id(batch.document.0))
                .await?
                .pop()
                .ok_or(nishan_domain::DomainError::NotFound { resource: "document" })?;
            rebase_suggestions(batch.entities, &batch.text, &current)
        };
        let inserted = entities::insert_rows_skipping_duplicates(&txn, &entities).await?;
        let Some(job) = save_progress_in(&txn, fence, inserted.len() as u32, dropped).await? else {
            // The lease was lost: nothing of the batch is kept.
            txn.rollback().await.map_err(internal)?;
            return Ok(None);
        };
        if !inserted.is_empty() {
            // Every inserted suggestion is unverified: the counts move by what was inserted.
            let layer = entities.first().map_or(nishan_domain::rounds::Layer::Curated, |e| e.layer);
            entities::adjust_counts(&txn, batch.document, layer, inserted.len() as i64, 0).await?;
        }
        let mut entry = batch.audit;
        entry.changes["created"] = serde_json::json!(inserted.len());
        entry.changes["storedInVersion"] = serde_json::json!(current_version);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(StoredSuggestions { job, inserted, current_version, dropped }))
    }
}
