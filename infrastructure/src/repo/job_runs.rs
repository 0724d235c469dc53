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
    ConfigRepository, DocumentRepository, EntityRepository, EntityTypeRepository, ExtractionStore, Fence, ModelCall,
    ModelRepository, StoredSuggestions, SuggestionBatch,
};
use nishan_domain::service::processing::rebase_suggestions;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::jobs::save_progress_in;
use super::{Store, audit, convert, entities, internal};
use crate::entity::{document, document_version, processing_job};

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
        let mut q = document::Entity::find_by_id(batch.document.0);
        if self.is_postgres() {
            q = q.lock_exclusive();
        }
        let Some(row) = q.one(&txn).await.map_err(internal)? else {
            // The document was deleted, and its jobs with it.
            return Ok(None);
        };
        if !save_progress_in(&txn, fence).await? {
            return Ok(None);
        }
        let current = convert::document(row)?;
        let (entities, dropped) = if batch.version == current.current_version {
            (batch.entities, 0)
        } else {
            rebase_suggestions(batch.entities, &batch.text, &current)
        };
        let inserted = entities::insert_rows_skipping_duplicates(&txn, &entities).await?;
        if !inserted.is_empty() {
            entities::recount(&txn, batch.document).await?;
        }
        processing_job::Entity::update_many()
            .col_expr(
                processing_job::Column::EntitiesFound,
                Expr::col(processing_job::Column::EntitiesFound).add(inserted.len() as i32),
            )
            .col_expr(
                processing_job::Column::EntitiesDropped,
                Expr::col(processing_job::Column::EntitiesDropped).add(dropped as i32),
            )
            .filter(processing_job::Column::Id.eq(fence.job.id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        let mut entry = batch.audit;
        entry.changes["created"] = serde_json::json!(inserted.len());
        entry.changes["storedInVersion"] = serde_json::json!(current.current_version);
        audit::insert(&txn, entry).await?;
        let job = processing_job::Entity::find_by_id(fence.job.id)
            .one(&txn)
            .await
            .map_err(internal)?
            .map(super::jobs::job)
            .transpose()?;
        txn.commit().await.map_err(internal)?;
        Ok(job.map(|job| StoredSuggestions { job, inserted, current_version: current.current_version, dropped }))
    }
}
