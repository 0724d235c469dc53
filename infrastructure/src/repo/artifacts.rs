//! Uploaded originals (artifacts) and their links to documents.
//!
//! Invariants:
//! - one artifact row per SHA-256 (a unique index); a second upload of the same bytes links
//!   the stored row;
//! - an artifact is deleted in the transaction that removes its last link, and never while a
//!   link to it is being made: whoever links or releases an artifact first locks its row
//!   (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's single writer serialises writes), so two
//!   documents sharing an artifact deleted at once leave neither a stray artifact nor a
//!   dangling link.

use std::collections::HashMap;

use chrono::Utc;
use nishan_domain::artifact::{Artifact, NewArtifact};
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::{Document, DocumentVersion};
use nishan_domain::ids::{ArtifactId, DocumentId, ProjectId};
use nishan_domain::ports::ArtifactRepository;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{Store, audit, convert, internal, search_index};
use crate::entity::{artifact, document, document_artifact};

type Head = (Uuid, String, String, i64, String);

fn head_columns<Q: QuerySelect>(q: Q) -> Q {
    q.select_only()
        .column(artifact::Column::Id)
        .column(artifact::Column::Sha256)
        .column(artifact::Column::MimeType)
        .column(artifact::Column::Size)
        .column(artifact::Column::FileName)
}

fn to_artifact((id, sha256, mime_type, size, file_name): Head) -> Artifact {
    Artifact { id: ArtifactId(id), sha256, mime_type, size: size.max(0) as u64, file_name }
}

/// Links `document` to the artifact holding `new`'s bytes, storing it if none has their
/// hash; the artifact row is locked until the transaction ends.
pub(crate) async fn link(
    conn: &impl ConnectionTrait,
    document: DocumentId,
    new: &NewArtifact,
) -> DomainResult<Artifact> {
    for _ in 0..3 {
        let row = artifact::ActiveModel {
            id: Set(ArtifactId::new().0),
            sha256: Set(new.sha256.clone()),
            mime_type: Set(new.mime_type.clone()),
            size: Set(new.bytes.len() as i64),
            file_name: Set(new.file_name.clone()),
            content: Set(new.bytes.clone()),
            created_at: Set(Utc::now()),
        };
        artifact::Entity::insert(row)
            .on_conflict(OnConflict::column(artifact::Column::Sha256).do_nothing().to_owned())
            .exec_without_returning(conn)
            .await
            .map_err(internal)?;
        let stored: Option<Head> = head_columns(artifact::Entity::find())
            .filter(artifact::Column::Sha256.eq(new.sha256.as_str()))
            .lock_exclusive()
            .into_tuple()
            .one(conn)
            .await
            .map_err(internal)?;
        // None: a concurrent release deleted it between the insert and the lock; insert again.
        if let Some(stored) = stored {
            document_artifact::ActiveModel { document_id: Set(document.0), artifact_id: Set(stored.0) }
                .insert(conn)
                .await
                .map_err(internal)?;
            return Ok(to_artifact(stored));
        }
    }
    Err(DomainError::Transient("the artifact was deleted while it was being linked".into()))
}

/// The artifacts documents link, locked (in id order, so two releases never deadlock).
pub(crate) async fn lock_artifacts_of(
    conn: &impl ConnectionTrait,
    documents: impl sea_orm::sea_query::IntoCondition,
) -> DomainResult<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = document_artifact::Entity::find()
        .select_only()
        .column(document_artifact::Column::ArtifactId)
        .filter(documents)
        .into_tuple()
        .all(conn)
        .await
        .map_err(internal)?;
    ids.sort();
    ids.dedup();
    for id in &ids {
        artifact::Entity::find_by_id(*id)
            .select_only()
            .column(artifact::Column::Id)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .one(conn)
            .await
            .map_err(internal)?;
    }
    Ok(ids)
}

/// Deletes those of `artifacts` (locked by [`lock_artifacts_of`]) no document links any more.
pub(crate) async fn release(conn: &impl ConnectionTrait, artifacts: &[Uuid]) -> DomainResult<()> {
    for id in artifacts {
        let links = document_artifact::Entity::find()
            .filter(document_artifact::Column::ArtifactId.eq(*id))
            .count(conn)
            .await
            .map_err(internal)?;
        if links == 0 {
            artifact::Entity::delete_by_id(*id).exec(conn).await.map_err(internal)?;
        }
    }
    Ok(())
}

impl ArtifactRepository for Store {
    async fn create_uploaded_documents(
        &self,
        documents: Vec<(Document, DocumentVersion, NewArtifact)>,
        audits: Vec<AuditEntry>,
    ) -> DomainResult<Vec<Document>> {
        let txn = self.write().await?;
        let mut created = Vec::with_capacity(documents.len());
        for (doc, first, new) in documents {
            super::documents::insert_document(&txn, &doc).await?;
            convert::version_row(&first).insert(&txn).await.map_err(internal)?;
            search_index::index_document(&txn, &doc).await?;
            link(&txn, doc.id, &new).await?;
            created.push(doc);
        }
        for entry in audits {
            audit::insert(&txn, entry).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(created)
    }

    async fn artifact_of_document(&self, document: DocumentId) -> DomainResult<Option<Artifact>> {
        Ok(self.artifacts_of_documents(&[document]).await?.remove(&document))
    }

    async fn artifacts_of_documents(&self, documents: &[DocumentId]) -> DomainResult<HashMap<DocumentId, Artifact>> {
        if documents.is_empty() {
            return Ok(HashMap::new());
        }
        let links: Vec<(Uuid, Uuid)> = document_artifact::Entity::find()
            .select_only()
            .column(document_artifact::Column::DocumentId)
            .column(document_artifact::Column::ArtifactId)
            .filter(document_artifact::Column::DocumentId.is_in(documents.iter().map(|d| d.0)))
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let ids: Vec<Uuid> = links.iter().map(|(_, a)| *a).collect();
        let heads: Vec<Head> = head_columns(artifact::Entity::find())
            .filter(artifact::Column::Id.is_in(ids))
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let by_id: HashMap<Uuid, Artifact> = heads.into_iter().map(|h| (h.0, to_artifact(h))).collect();
        Ok(links.into_iter().filter_map(|(d, a)| Some((DocumentId(d), by_id.get(&a)?.clone()))).collect())
    }

    async fn artifact_projects(&self, id: ArtifactId) -> DomainResult<Vec<ProjectId>> {
        let docs: Vec<Uuid> = document_artifact::Entity::find()
            .select_only()
            .column(document_artifact::Column::DocumentId)
            .filter(document_artifact::Column::ArtifactId.eq(id.0))
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let mut projects: Vec<Uuid> = document::Entity::find()
            .select_only()
            .column(document::Column::ProjectId)
            .filter(document::Column::Id.is_in(docs))
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        projects.sort();
        projects.dedup();
        Ok(projects.into_iter().map(ProjectId).collect())
    }

    async fn artifact_content(&self, id: ArtifactId) -> DomainResult<Option<(Artifact, Vec<u8>)>> {
        let row = artifact::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?;
        Ok(row.map(|m| {
            let head = to_artifact((m.id, m.sha256, m.mime_type, m.size, m.file_name));
            (head, m.content)
        }))
    }
}
