//! Documents and their versions.
//!
//! A document is two rows: `documents` (its fields and its text) and `document_stats` (its
//! counts and the version of its content, what every entity write updates). Both are always
//! read in one statement (a join), so a document read while its content is edited is either
//! wholly before or wholly after the edit. Lists, loaders and pages of entities read
//! [`DocumentInfo`]s, without the text; the text is read through the store's text cache when a
//! field asks for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::{Document, DocumentFields, DocumentFilter, DocumentHead, DocumentInfo, DocumentVersion};
use nishan_domain::ids::{DocumentId, EntityId, ProjectId, UserId};
use nishan_domain::ports::{CarriedEntities, ContentEdit, DocumentRepository, Page, PageRequest, StoredSpan};
use nishan_domain::service::documents::version_conflict;
use nishan_domain::text::DocumentText;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::Iterable;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, Select,
};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, entities, internal, search_index};
use crate::entity::{document, document_stats, document_version};

/// The CONFLICT for content the project already holds, naming the document that has it.
pub(crate) async fn ensure_new_content(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    hash: &str,
    except: Option<DocumentId>,
) -> DomainResult<()> {
    match holder_of_content(conn, project, hash, except).await? {
        Some((id, title)) => Err(DomainError::conflict(format!(
            "this project already holds the same content as document \"{title}\" ({id})"
        ))),
        None => Ok(()),
    }
}

/// The id and title of a document of `project` (other than `except`) whose content has
/// `hash`, if there is one (the text itself is not read).
pub(crate) async fn holder_of_content(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    hash: &str,
    except: Option<DocumentId>,
) -> DomainResult<Option<(Uuid, String)>> {
    let mut q = document::Entity::find()
        .select_only()
        .column(document::Column::Id)
        .column(document::Column::Title)
        .filter(document::Column::ProjectId.eq(project.0))
        .filter(document::Column::ContentHash.eq(hash));
    if let Some(id) = except {
        q = q.filter(document::Column::Id.ne(id.0));
    }
    q.into_tuple().one(conn).await.map_err(internal)
}

/// A `documents` row (its `content` empty when not read) with its `document_stats` row.
struct Joined {
    doc: document::Model,
    stats: document_stats::Model,
}

/// Prefix of the stats columns in a joined read.
const STATS: &str = "s_";

impl FromQueryResult for Joined {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            doc: document::Model::from_query_result(res, pre)?,
            stats: document_stats::Model::from_query_result(res, STATS)?,
        })
    }
}

/// `q` joined with the stats, reading the content only if `with_content`.
fn joined(q: Select<document::Entity>, with_content: bool) -> sea_orm::Selector<sea_orm::SelectModel<Joined>> {
    let mut columns: Vec<document::Column> = document::Column::iter().collect();
    if !with_content {
        columns.retain(|c| !matches!(c, document::Column::Content));
    }
    let mut q = q.select_only().columns(columns);
    if !with_content {
        q = q.column_as(Expr::value(""), "content");
    }
    for c in document_stats::Column::iter() {
        q = q.column_as(c, format!("{STATS}{}", sea_orm::IdenStatic::as_str(&c)));
    }
    q.inner_join(document_stats::Entity)
        .filter(document_stats::Column::Layer.eq(entities::CURATED))
        .into_model::<Joined>()
}

/// The documents `q` selects, with their content and counts.
pub(crate) async fn load_documents(
    conn: &impl ConnectionTrait,
    q: Select<document::Entity>,
) -> DomainResult<Vec<Document>> {
    let rows = joined(q, true).all(conn).await.map_err(internal)?;
    rows.into_iter().map(|r| convert::document(r.doc, &r.stats)).collect()
}

/// The documents `q` selects, with their counts, without reading their content.
pub(crate) async fn load_infos(
    conn: &impl ConnectionTrait,
    q: Select<document::Entity>,
) -> DomainResult<Vec<DocumentInfo>> {
    let rows = joined(q, false).all(conn).await.map_err(internal)?;
    rows.into_iter().map(|r| convert::document_info(r.doc, &r.stats)).collect()
}

/// Inserts a new document's row and its stats row. Errors: `Conflict` when the project
/// already holds the same content.
pub(crate) async fn insert_document(conn: &impl ConnectionTrait, doc: &Document) -> DomainResult<()> {
    ensure_new_content(conn, doc.project_id, &doc.content_hash, None).await?;
    insert_rows(conn, doc).await
}

/// A new document's two rows (`documents` and its `document_stats`), its content checked
/// new by the caller; the unique index still refuses a duplicate that raced the check.
pub(crate) async fn insert_rows(conn: &impl ConnectionTrait, doc: &Document) -> DomainResult<()> {
    convert::document_row(doc)
        .insert(conn)
        .await
        .map_err(|e| super::conflict_or_internal(e, "this project already holds the same content"))?;
    convert::document_stats_row(&doc.info).insert(conn).await.map_err(internal)?;
    Ok(())
}

/// The content `head` names, read from its row. Errors: `Conflict` when the content changed
/// since `head` was read; `NotFound` when the document is gone.
async fn read_content(conn: &impl ConnectionTrait, head: &DocumentHead) -> DomainResult<String> {
    let row: Option<(String, String)> = document::Entity::find_by_id(head.id.0)
        .select_only()
        .column(document::Column::Content)
        .column(document::Column::ContentHash)
        .into_tuple()
        .one(conn)
        .await
        .map_err(internal)?;
    let (content, hash) = row.ok_or(DomainError::NotFound { resource: "document" })?;
    if hash != head.content_hash {
        return Err(DomainError::conflict("the document's content changed during the request; try again"));
    }
    Ok(content)
}

/// Takes a key-share lock on a document's row on PostgreSQL (what inserting its entities takes
/// anyway, through their foreign key), so that a write that then locks the stats row takes the
/// two in the order a content edit does. Nothing on SQLite (one writer).
pub(crate) async fn lock_row_key_share(conn: &impl ConnectionTrait, doc: DocumentId) -> DomainResult<()> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        let _: Option<Uuid> = document::Entity::find_by_id(doc.0)
            .select_only()
            .column(document::Column::Id)
            .lock(sea_orm::sea_query::LockType::KeyShare)
            .into_tuple()
            .one(conn)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// The version of a document's content (None if it does not exist), locking its stats row
/// with `lock` on PostgreSQL (SQLite's one writer needs none).
pub(crate) async fn stored_version(
    conn: &impl ConnectionTrait,
    doc: DocumentId,
    lock: Option<sea_orm::sea_query::LockType>,
) -> DomainResult<Option<u32>> {
    let mut q = document_stats::Entity::find()
        .select_only()
        .column(document_stats::Column::Version)
        .filter(document_stats::Column::DocumentId.eq(doc.0))
        .filter(document_stats::Column::Layer.eq(entities::CURATED));
    if let Some(lock) = lock
        && conn.get_database_backend() == sea_orm::DbBackend::Postgres
    {
        q = q.lock(lock);
    }
    let v: Option<i32> = q.into_tuple().one(conn).await.map_err(internal)?;
    Ok(v.map(|v| v as u32))
}

impl DocumentRepository for Store {
    async fn create_document(
        &self,
        doc: Document,
        first: DocumentVersion,
        audit_entry: AuditEntry,
    ) -> DomainResult<Document> {
        let txn = self.write().await?;
        insert_document(&txn, &doc).await?;
        convert::version_row(&first).insert(&txn).await.map_err(internal)?;
        search_index::index_document(&txn, &doc).await?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(doc)
    }

    async fn document_by_id(&self, id: DocumentId) -> DomainResult<Option<Document>> {
        Ok(load_documents(self.connection(), document::Entity::find_by_id(id.0)).await?.pop())
    }

    async fn document_head(&self, id: DocumentId) -> DomainResult<Option<DocumentHead>> {
        let row: Option<(Uuid, Uuid, String, String, i32)> = document::Entity::find_by_id(id.0)
            .select_only()
            .column(document::Column::Id)
            .column(document::Column::ProjectId)
            .column(document::Column::Title)
            .column(document::Column::ContentHash)
            .column(document_stats::Column::Version)
            .inner_join(document_stats::Entity)
            .filter(document_stats::Column::Layer.eq(entities::CURATED))
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
        let content = read_content(self.connection(), head).await?;
        let hash = head.content_hash.clone();
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

    async fn document_contents(
        &self,
        wanted: &[(DocumentId, String)],
    ) -> DomainResult<HashMap<(DocumentId, String), Arc<str>>> {
        let mut found = HashMap::with_capacity(wanted.len());
        let mut read = Vec::new();
        for (id, hash) in wanted {
            match self.texts.get(*id, hash) {
                Some(text) => {
                    // The cached allocation itself: a hit copies nothing.
                    found.insert((*id, hash.clone()), text.shared_text());
                }
                None => read.push(id.0),
            }
        }
        if !read.is_empty() {
            let rows: Vec<(Uuid, String, String)> = document::Entity::find()
                .select_only()
                .column(document::Column::Id)
                .column(document::Column::ContentHash)
                .column(document::Column::Content)
                .filter(document::Column::Id.is_in(read))
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?;
            let wanted: HashSet<(DocumentId, &str)> = wanted.iter().map(|(d, h)| (*d, h.as_str())).collect();
            for (id, hash, content) in rows {
                if wanted.contains(&(DocumentId(id), hash.as_str())) {
                    found.insert((DocumentId(id), hash), Arc::from(content));
                }
            }
        }
        Ok(found)
    }

    async fn documents_by_ids(&self, ids: &[DocumentId]) -> DomainResult<Vec<Document>> {
        let ids: Vec<Uuid> = ids.iter().map(|d| d.0).collect();
        load_documents(self.connection(), document::Entity::find().filter(document::Column::Id.is_in(ids))).await
    }

    async fn document_infos_by_ids(&self, ids: &[DocumentId]) -> DomainResult<Vec<DocumentInfo>> {
        let ids: Vec<Uuid> = ids.iter().map(|d| d.0).collect();
        load_infos(self.connection(), document::Entity::find().filter(document::Column::Id.is_in(ids))).await
    }

    async fn documents_of_project(
        &self,
        project: ProjectId,
        filter: &DocumentFilter,
        page: PageRequest,
    ) -> DomainResult<Page<DocumentInfo>> {
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
        let q = q
            .order_by_asc(document::Column::CreatedAt)
            .order_by_asc(document::Column::Id)
            .offset(page.offset)
            .limit(page.limit);
        Ok(Page { items: load_infos(self.connection(), q).await?, total })
    }

    async fn project_totals(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, (u64, u64)>> {
        let ids: Vec<Uuid> = projects.iter().map(|p| p.0).collect();
        let rows: Vec<(Uuid, i64, Option<i64>)> = document::Entity::find()
            .select_only()
            .column(document::Column::ProjectId)
            .column_as(document::Column::Id.count(), "documents")
            .column_as(document_stats::Column::TotalEntities.sum(), "entities")
            .inner_join(document_stats::Entity)
            .filter(document_stats::Column::Layer.eq(entities::CURATED))
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
    ) -> DomainResult<DocumentInfo> {
        let txn = self.write().await?;
        // The columns set, and nothing is read back but the fields (never the text).
        let mut d = document::ActiveModel { ..Default::default() };
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
        let updated = document::Entity::update_many()
            .set(d)
            .filter(document::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if updated.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "document" });
        }
        let info = load_infos(&txn, document::Entity::find_by_id(id.0))
            .await?
            .pop()
            .ok_or(DomainError::NotFound { resource: "document" })?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(info)
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
        // The text first: the row lock this takes (a key update on PostgreSQL, `content_hash`
        // being in a unique index) waits for entity writes that hold a key-share lock on the
        // row (their foreign key) to end, before this edit holds the stats row they update.
        // The other order deadlocks.
        document::Entity::update_many()
            .col_expr(document::Column::Content, Expr::value(content))
            .col_expr(document::Column::ContentHash, Expr::value(edit.content_hash.clone()))
            .col_expr(document::Column::WordCount, Expr::value(edit.metrics.words as i32))
            .col_expr(document::Column::CharacterCount, Expr::value(edit.metrics.characters as i32))
            .col_expr(document::Column::LineCount, Expr::value(edit.metrics.lines as i32))
            .col_expr(document::Column::UpdatedBy, Expr::value(edit.by.0))
            .col_expr(document::Column::UpdatedAt, Expr::value(edit.at))
            .filter(document::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        // Then the version, compared and swapped in one statement: only one edit of a version
        // can ever match it (on PostgreSQL a second one waits for the first, then no longer
        // matches; its transaction, the text above included, is rolled back), and the stats
        // row stays locked until the commit, so an entity write checking its version waits.
        let swapped = document_stats::Entity::update_many()
            .col_expr(document_stats::Column::Version, Expr::value(edit.expected_version as i32 + 1))
            .filter(document_stats::Column::DocumentId.eq(id.0))
            .filter(document_stats::Column::Layer.eq(entities::CURATED))
            .filter(document_stats::Column::Version.eq(edit.expected_version as i32))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if swapped.rows_affected == 0 {
            return Err(match stored_version(&txn, id, None).await? {
                None => DomainError::NotFound { resource: "document" },
                Some(v) => version_conflict(edit.expected_version, v),
            });
        }
        let stored = entities::spans_of(&txn, id).await?;
        let kept: HashMap<EntityId, (nishan_domain::rounds::Layer, bool)> =
            stored.iter().map(|s| (s.id, (s.layer, s.is_verified))).collect();
        let spans: HashMap<EntityId, (u32, u32)> = stored.iter().map(|s| (s.id, (s.start, s.end))).collect();
        let carried = carry(stored)?;
        entities::delete_ids(&txn, &carried.dropped).await?;
        // The runs first: no entity lands on a span held now (the plan made sure), so the
        // placements written next see the same collisions as without them.
        entities::shift_placements(&txn, id, &carried.shifts).await?;
        entities::rewrite_placements(&txn, &carried.rewrite, &spans).await?;
        // Each layer loses what it had among the dropped.
        let mut lost: HashMap<nishan_domain::rounds::Layer, (i64, i64)> = HashMap::new();
        for d in &carried.dropped {
            if let Some((layer, verified)) = kept.get(d) {
                let l = lost.entry(*layer).or_default();
                l.0 += 1;
                l.1 += i64::from(*verified);
            }
        }
        for (layer, (total, verified)) in lost {
            entities::adjust_counts(&txn, id, layer, -total, -verified).await?;
        }
        convert::version_row(&carried.version).insert(&txn).await.map_err(internal)?;
        let mut audit_entry = audit_entry;
        audit_entry.changes["toVersion"] = json!(carried.version.version_number);
        audit_entry.changes["diff"] = carried.version.diff_summary.clone();
        audit::insert(&txn, audit_entry).await?;
        // The document as it is now, without reading back the content just written.
        let info = load_infos(&txn, document::Entity::find_by_id(id.0))
            .await?
            .pop()
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let document = Document { info, content: content.to_owned() };
        search_index::reindex_changed_lines(&txn, edit.previous.text(), edit.expected_version, &document).await?;
        txn.commit().await.map_err(internal)?;
        self.texts.put(id, &edit.content_hash, edit.text);
        Ok(document)
    }

    async fn delete_document(&self, id: DocumentId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let artifacts =
            super::artifacts::lock_artifacts_of(&txn, crate::entity::document_artifact::Column::DocumentId.eq(id.0))
                .await?;
        search_index::unindex_document(&txn, id).await?;
        // Its stats row, versions and entities go with it (ON DELETE CASCADE).
        let deleted = document::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        if deleted.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "document" });
        }
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
