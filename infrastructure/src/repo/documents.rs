//! Documents and their versions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::{Document, DocumentFields, DocumentFilter, DocumentHead, DocumentVersion};
use nishan_domain::ids::{DocumentId, EntityId, ProjectId, UserId};
use nishan_domain::ports::{CarriedEntities, ContentEdit, DocumentRepository, Page, PageRequest, StoredSpan};
use nishan_domain::service::documents::version_conflict;
use nishan_domain::text::DocumentText;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::Iterable;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, entities, internal, search_index};
use crate::entity::{document, document_version};

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
        search_index::index_document(&txn, &doc).await?;
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

    async fn document_head(&self, id: DocumentId) -> DomainResult<Option<DocumentHead>> {
        let row: Option<(Uuid, Uuid, String, String, i32)> = document::Entity::find_by_id(id.0)
            .select_only()
            .column(document::Column::Id)
            .column(document::Column::ProjectId)
            .column(document::Column::Title)
            .column(document::Column::ContentHash)
            .column(document::Column::CurrentVersion)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(internal)?;
        Ok(row.map(|(id, project, title, content_hash, version)| DocumentHead {
            id: DocumentId(id),
            project_id: ProjectId(project),
            title,
            content_hash,
            current_version: version as u32,
        }))
    }

    async fn document_text(&self, head: &DocumentHead) -> DomainResult<Arc<DocumentText>> {
        if let Some(text) = self.texts.get(head.id, &head.content_hash) {
            return Ok(text);
        }
        let row: Option<(String, String)> = document::Entity::find_by_id(head.id.0)
            .select_only()
            .column(document::Column::Content)
            .column(document::Column::ContentHash)
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(internal)?;
        let (content, hash) = row.ok_or(DomainError::NotFound { resource: "document" })?;
        if hash != head.content_hash {
            return Err(DomainError::conflict("the document's content changed during the request; try again"));
        }
        // Indexing a long text takes a while: off the request threads.
        let text = tokio::task::spawn_blocking(move || {
            let text = DocumentText::new(content);
            text.index_words();
            Arc::new(text)
        })
        .await
        .map_err(|e| DomainError::internal(format!("indexing a document's text: {e}")))?;
        self.texts.put(head.id, &hash, Arc::clone(&text));
        Ok(text)
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

    async fn documents_of_project(
        &self,
        project: ProjectId,
        filter: &DocumentFilter,
        page: PageRequest,
    ) -> DomainResult<Page<Document>> {
        let mut q = document::Entity::find().filter(document::Column::ProjectId.eq(project.0));
        let postgres = self.is_postgres();
        for tag in &filter.tags {
            let tag_json = serde_json::Value::Array(vec![serde_json::Value::String(tag.clone())]).to_string();
            q = q.filter(if postgres {
                Expr::cust_with_values("documents.tags::jsonb @> $1::jsonb", [tag_json])
            } else {
                Expr::cust_with_values(
                    "EXISTS (SELECT 1 FROM json_each(documents.tags) WHERE value = ?)",
                    [tag.clone()],
                )
            });
        }
        for (key, value) in &filter.metadata {
            let pair = serde_json::json!({ key: value }).to_string();
            let path = format!("$.\"{key}\"");
            q = q.filter(if postgres {
                Expr::cust_with_values("documents.metadata::jsonb @> $1::jsonb", [pair])
            } else {
                // The same JSON type, and the same value (objects and arrays as minified text).
                Expr::cust_with_values(
                    "json_type(documents.metadata, ?) = json_type(?) AND json_extract(documents.metadata, ?) = json_extract(?, '$')",
                    [path.clone(), value.to_string(), path.clone(), value.to_string()],
                )
            });
        }
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

    async fn entity_spans(&self, doc: DocumentId) -> DomainResult<Vec<StoredSpan>> {
        entities::spans_of(self.connection(), doc).await
    }

    async fn update_content(
        &self,
        edit: ContentEdit,
        carry: impl FnOnce(Vec<StoredSpan>) -> DomainResult<CarriedEntities> + Send,
        audit_entry: AuditEntry,
    ) -> DomainResult<Document> {
        let id = edit.document;
        let content = edit.text.text();
        let txn = self.write().await?;
        ensure_new_content(&txn, edit.project, &edit.content_hash, Some(id)).await?;
        // The version check and the new content in one statement: only one edit of a version
        // can ever match it (on PostgreSQL a second one waits for the first, then no longer
        // matches).
        let swapped = document::Entity::update_many()
            .col_expr(document::Column::Content, Expr::value(content))
            .col_expr(document::Column::ContentHash, Expr::value(edit.content_hash.clone()))
            .col_expr(document::Column::WordCount, Expr::value(edit.metrics.words as i32))
            .col_expr(document::Column::CharacterCount, Expr::value(edit.metrics.characters as i32))
            .col_expr(document::Column::LineCount, Expr::value(edit.metrics.lines as i32))
            .col_expr(document::Column::CurrentVersion, Expr::value(edit.expected_version as i32 + 1))
            .col_expr(document::Column::UpdatedBy, Expr::value(edit.by.0))
            .col_expr(document::Column::UpdatedAt, Expr::value(edit.at))
            .filter(document::Column::Id.eq(id.0))
            .filter(document::Column::CurrentVersion.eq(edit.expected_version as i32))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if swapped.rows_affected == 0 {
            let current: Option<i32> = document::Entity::find_by_id(id.0)
                .select_only()
                .column(document::Column::CurrentVersion)
                .into_tuple()
                .one(&txn)
                .await
                .map_err(internal)?;
            return Err(match current {
                None => DomainError::NotFound { resource: "document" },
                Some(v) => version_conflict(edit.expected_version, v as u32),
            });
        }
        let stored = entities::spans_of(&txn, id).await?;
        let verified: HashSet<EntityId> = stored.iter().filter(|s| s.is_verified).map(|s| s.id).collect();
        let spans: HashMap<EntityId, (u32, u32)> = stored.iter().map(|s| (s.id, (s.start, s.end))).collect();
        let carried = carry(stored)?;
        entities::delete_ids(&txn, &carried.dropped).await?;
        entities::rewrite_placements(&txn, &carried.rewrite, &spans).await?;
        let dropped_verified = carried.dropped.iter().filter(|d| verified.contains(d)).count();
        entities::adjust_counts(&txn, id, -(carried.dropped.len() as i64), -(dropped_verified as i64)).await?;
        convert::version_row(&carried.version).insert(&txn).await.map_err(internal)?;
        let mut audit_entry = audit_entry;
        audit_entry.changes["toVersion"] = json!(carried.version.version_number);
        audit_entry.changes["diff"] = carried.version.diff_summary.clone();
        audit::insert(&txn, audit_entry).await?;
        // The document as it is now, without reading back the content just written.
        let mut columns: Vec<document::Column> = document::Column::iter().collect();
        columns.retain(|c| !matches!(c, document::Column::Content));
        let row = document::Entity::find_by_id(id.0)
            .select_only()
            .columns(columns)
            .column_as(Expr::value(""), "content")
            .into_model::<document::Model>()
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let mut document = convert::document(row)?;
        document.content = content.to_owned();
        search_index::reindex_document(&txn, &document).await?;
        txn.commit().await.map_err(internal)?;
        self.texts.put(id, &edit.content_hash, edit.text);
        Ok(document)
    }

    async fn delete_document(&self, id: DocumentId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let row = document::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let artifacts =
            super::artifacts::lock_artifacts_of(&txn, crate::entity::document_artifact::Column::DocumentId.eq(id.0))
                .await?;
        search_index::unindex_document(&txn, id).await?;
        row.delete(&txn).await.map_err(internal)?;
        super::artifacts::release(&txn, &artifacts).await?;
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
