//! Documents and their versions.

use std::collections::HashMap;

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::{Document, DocumentFields, DocumentVersion};
use nishan_domain::entity::Entity;
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::ports::{ContentChange, DocumentRepository, Page, PageRequest};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, entities, internal};
use crate::entity::{annotation, document, document_version};

/// The CONFLICT for content the project already holds, naming the document that has it.
pub(crate) async fn ensure_new_content(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    hash: &str,
    except: Option<DocumentId>,
) -> DomainResult<()> {
    let mut q = document::Entity::find()
        .filter(document::Column::ProjectId.eq(project.0))
        .filter(document::Column::ContentHash.eq(hash));
    if let Some(id) = except {
        q = q.filter(document::Column::Id.ne(id.0));
    }
    match q.one(conn).await.map_err(internal)? {
        Some(existing) => Err(DomainError::conflict(format!(
            "this project already holds the same content as document \"{}\" ({})",
            existing.title, existing.id
        ))),
        None => Ok(()),
    }
}

impl DocumentRepository for Store {
    async fn create_document(
        &self,
        doc: Document,
        first: DocumentVersion,
        audit_entry: AuditEntry,
    ) -> DomainResult<Document> {
        let txn = self.write().await?;
        ensure_new_content(&txn, doc.project_id, &doc.content_hash, None).await?;
        let model = convert::document_row(&doc)
            .insert(&txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, "this project already holds the same content"))?;
        convert::version_row(&first).insert(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::document(model)
    }

    async fn document_by_id(&self, id: DocumentId) -> DomainResult<Option<Document>> {
        document::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(convert::document)
            .transpose()
    }

    async fn documents_by_ids(&self, ids: &[DocumentId]) -> DomainResult<Vec<Document>> {
        let ids: Vec<Uuid> = ids.iter().map(|d| d.0).collect();
        document::Entity::find()
            .filter(document::Column::Id.is_in(ids))
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::document)
            .collect()
    }

    async fn documents_of_project(&self, project: ProjectId, page: PageRequest) -> DomainResult<Page<Document>> {
        let q = document::Entity::find().filter(document::Column::ProjectId.eq(project.0));
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let rows = q
            .order_by_asc(document::Column::CreatedAt)
            .order_by_asc(document::Column::Id)
            .offset(page.offset)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(Page { items: rows.into_iter().map(convert::document).collect::<DomainResult<_>>()?, total })
    }

    async fn project_totals(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, (u64, u64)>> {
        let ids: Vec<Uuid> = projects.iter().map(|p| p.0).collect();
        let rows: Vec<(Uuid, i64, Option<i64>)> = document::Entity::find()
            .select_only()
            .column(document::Column::ProjectId)
            .column_as(document::Column::Id.count(), "documents")
            .column_as(document::Column::TotalEntities.sum(), "entities")
            .filter(document::Column::ProjectId.is_in(ids))
            .group_by(document::Column::ProjectId)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|(p, d, e)| (ProjectId(p), (d as u64, e.unwrap_or(0) as u64))).collect())
    }

    async fn update_document(
        &self,
        id: DocumentId,
        f: DocumentFields,
        by: UserId,
        audit_entry: AuditEntry,
    ) -> DomainResult<Document> {
        let txn = self.write().await?;
        let row = document::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let mut d = row.into_active_model();
        if let Some(v) = f.title {
            d.title = Set(v);
        }
        if let Some(v) = f.language {
            d.language = Set(v);
        }
        if let Some(v) = f.direction {
            d.direction = Set(v.as_str().to_owned());
        }
        if let Some(v) = f.tags {
            d.tags = Set(json!(v));
        }
        if let Some(v) = f.metadata {
            d.metadata = Set(v);
        }
        if let Some(v) = f.notes {
            d.notes = Set(v);
        }
        d.updated_by = Set(Some(by.0));
        d.updated_at = Set(Utc::now());
        let model = d.update(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::document(model)
    }

    async fn update_content(
        &self,
        id: DocumentId,
        expected_version: u32,
        plan: impl FnOnce(Document, Vec<Entity>) -> DomainResult<ContentChange> + Send,
        audit_entry: AuditEntry,
    ) -> DomainResult<Document> {
        let txn = self.write().await?;
        let mut q = document::Entity::find_by_id(id.0);
        if self.is_postgres() {
            // Locked, as a job storing suggestions locks it: neither slips between the
            // other's read of the version and its write.
            q = q.lock_exclusive();
        }
        let row = q.one(&txn).await.map_err(internal)?.ok_or(DomainError::NotFound { resource: "document" })?;
        let current = convert::document(row)?;
        if current.current_version != expected_version {
            return Err(DomainError::conflict(format!(
                "the document changed since version {expected_version}: it is at version {} now; reload it and edit again",
                current.current_version
            )));
        }
        let all = annotation::Entity::find()
            .filter(annotation::Column::DocumentId.eq(id.0))
            .all(&txn)
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::annotation)
            .collect::<DomainResult<Vec<_>>>()?;
        let change = plan(current, all)?;
        ensure_new_content(&txn, change.document.project_id, &change.document.content_hash, Some(id)).await?;
        if !change.dropped.is_empty() {
            let ids: Vec<Uuid> = change.dropped.iter().map(|e| e.0).collect();
            for chunk in ids.chunks(500) {
                annotation::Entity::delete_many()
                    .filter(annotation::Column::Id.is_in(chunk.to_vec()))
                    .exec(&txn)
                    .await
                    .map_err(internal)?;
            }
        }
        for e in &change.moved {
            convert::annotation_row(e).reset_all().update(&txn).await.map_err(internal)?;
        }
        convert::version_row(&change.version).insert(&txn).await.map_err(internal)?;
        convert::document_row(&change.document).reset_all().update(&txn).await.map_err(internal)?;
        entities::recount(&txn, id).await?;
        let mut audit_entry = audit_entry;
        audit_entry.changes["toVersion"] = json!(change.version.version_number);
        audit_entry.changes["diff"] = change.version.diff_summary.clone();
        audit::insert(&txn, audit_entry).await?;
        let model = document::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        txn.commit().await.map_err(internal)?;
        convert::document(model)
    }

    async fn delete_document(&self, id: DocumentId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let row = document::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        row.delete(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn versions(&self, doc: DocumentId) -> DomainResult<Vec<DocumentVersion>> {
        Ok(document_version::Entity::find()
            .filter(document_version::Column::DocumentId.eq(doc.0))
            .order_by_desc(document_version::Column::VersionNumber)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::version)
            .collect())
    }
}
