//! Stored embeddings (`EmbeddingStore` for the EMBEDDING job, `EmbeddingRepository` for search
//! and the settings): `embedding_settings` (a project's model), `embedding_vectors` (one vector
//! per project, model and chunk content hash, little-endian f32 in a blob), and the passages'
//! `content_hash` (written by the search index with each passage).
//!
//! Invariants: a chunk is missing under a model when a passage of the project holds its hash
//! and no vector of the model does; `store_vectors` writes with the job's fenced progress in
//! one transaction and skips a hash stored already (`ON CONFLICT DO NOTHING`), so a batch
//! stored twice (a retry, a run taken up again) stores nothing twice; vectors whose hash no
//! passage holds any more are only deleted by `prune_vectors` (the job's last step).

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::job::Job;
use nishan_domain::llm::model::ModelId;
use nishan_domain::ports::{
    ChunkToEmbed, EmbeddingRepository, EmbeddingStatus, EmbeddingStore, Fence, ModelRepository,
};
use nishan_domain::search::semantic::{decode_vector, encode_vector};
use nishan_domain::search::{Candidate, PassageId};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::jobs::save_progress_in;
use super::search_index::{CANDIDATE_COLUMNS, ID_CHUNK, Params, candidate_of};
use super::{Store, audit, internal};

/// The condition "no vector of the model holds `p.content_hash`", with its parameter.
fn missing(params: &mut Params, model: ModelId) -> String {
    format!(
        "p.content_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM embedding_vectors v WHERE \
         v.project_id = p.project_id AND v.llm_model_id = {} AND v.content_hash = p.content_hash)",
        params.push(model)
    )
}

impl Store {
    async fn count(&self, params: Params, sql: String) -> DomainResult<u64> {
        let row = self.connection().query_one_raw(params.statement(sql)).await.map_err(internal)?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n").map_err(internal)?,
            None => 0,
        };
        Ok(n.max(0) as u64)
    }

    fn params(&self) -> Params {
        Params::new(self.connection().get_database_backend())
    }
}

impl EmbeddingStore for Store {
    async fn embedding_model(&self, project: ProjectId) -> DomainResult<Option<ModelId>> {
        EmbeddingRepository::project_embedding_model(self, project).await
    }

    async fn chunks_to_embed(
        &self,
        project: ProjectId,
        model: ModelId,
        limit: usize,
    ) -> DomainResult<Vec<ChunkToEmbed>> {
        let mut params = self.params();
        let sql = format!(
            "SELECT p.content_hash AS hash, MIN(p.text) AS text FROM search_passages p WHERE p.project_id = {} AND {} \
             GROUP BY p.content_hash ORDER BY p.content_hash LIMIT {}",
            params.push(project.0),
            missing(&mut params, model),
            params.push(limit.min(i64::MAX as usize) as i64),
        );
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        rows.iter()
            .map(|row| {
                Ok(ChunkToEmbed {
                    hash: row.try_get("", "hash").map_err(internal)?,
                    text: row.try_get("", "text").map_err(internal)?,
                })
            })
            .collect()
    }

    async fn chunks_missing(&self, project: ProjectId, model: ModelId) -> DomainResult<u64> {
        let mut params = self.params();
        let sql = format!(
            "SELECT COUNT(DISTINCT p.content_hash) AS n FROM search_passages p WHERE p.project_id = {} AND {}",
            params.push(project.0),
            missing(&mut params, model),
        );
        self.count(params, sql).await
    }

    async fn store_vectors(
        &self,
        fence: &Fence,
        project: ProjectId,
        model: ModelId,
        vectors: Vec<(String, Vec<f32>)>,
    ) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let Some(job) = save_progress_in(&txn, fence, 0, 0).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        for rows in vectors.chunks(100) {
            let mut params = Params::new(txn.get_database_backend());
            let tuples: Vec<String> = rows
                .iter()
                .map(|(hash, v)| {
                    format!(
                        "({}, {}, {}, {}, {}, {})",
                        params.push(project.0),
                        params.push(model),
                        params.push(hash.clone()),
                        params.push(v.len() as i32),
                        params.push(encode_vector(v)),
                        params.push(now),
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO embedding_vectors (project_id, llm_model_id, content_hash, dimensions, vector, created_at) \
                 VALUES {} ON CONFLICT (project_id, llm_model_id, content_hash) DO NOTHING",
                tuples.join(", ")
            );
            txn.execute_raw(params.statement(sql)).await.map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(Some(job))
    }

    async fn prune_vectors(&self, project: ProjectId, model: ModelId) -> DomainResult<u64> {
        let txn = self.write().await?;
        let mut params = Params::new(txn.get_database_backend());
        let sql = format!(
            "DELETE FROM embedding_vectors WHERE project_id = {} AND llm_model_id = {} AND NOT EXISTS \
             (SELECT 1 FROM search_passages p WHERE p.project_id = embedding_vectors.project_id \
             AND p.content_hash = embedding_vectors.content_hash)",
            params.push(project.0),
            params.push(model),
        );
        let done = txn.execute_raw(params.statement(sql)).await.map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(done.rows_affected())
    }
}

impl EmbeddingRepository for Store {
    async fn embedding_status(&self, project: ProjectId) -> DomainResult<EmbeddingStatus> {
        let model_id = self.project_embedding_model(project).await?;
        let model = match model_id {
            Some(id) => ModelRepository::model_by_id(self, id).await?,
            None => None,
        };
        let mut params = self.params();
        let sql = format!(
            "SELECT COUNT(DISTINCT p.content_hash) AS n FROM search_passages p WHERE p.project_id = {}",
            params.push(project.0)
        );
        let chunks = self.count(params, sql).await?;
        let missing = match model_id {
            Some(m) => EmbeddingStore::chunks_missing(self, project, m).await?,
            None => chunks,
        };
        Ok(EmbeddingStatus { model, chunks, embedded: chunks.saturating_sub(missing) })
    }

    async fn set_embedding_model(&self, project: ProjectId, model: ModelId, entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let mut params = Params::new(txn.get_database_backend());
        let sql = format!(
            "INSERT INTO embedding_settings (project_id, llm_model_id, updated_at) VALUES ({}, {}, {}) \
             ON CONFLICT (project_id) DO UPDATE SET llm_model_id = excluded.llm_model_id, \
             updated_at = excluded.updated_at",
            params.push(project.0),
            params.push(model),
            params.push(Utc::now()),
        );
        txn.execute_raw(params.statement(sql)).await.map_err(internal)?;
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn project_embedding_model(&self, project: ProjectId) -> DomainResult<Option<ModelId>> {
        let mut params = self.params();
        let sql = format!("SELECT llm_model_id FROM embedding_settings WHERE project_id = {}", params.push(project.0));
        match self.connection().query_one_raw(params.statement(sql)).await.map_err(internal)? {
            Some(row) => Ok(Some(row.try_get::<Uuid>("", "llm_model_id").map_err(internal)?)),
            None => Ok(None),
        }
    }

    async fn passage_vectors(
        &self,
        project: ProjectId,
        model: ModelId,
        documents: &[DocumentId],
    ) -> DomainResult<Vec<(PassageId, Vec<f32>)>> {
        let mut params = self.params();
        let mut sql = format!(
            "SELECT p.id, v.dimensions, v.vector FROM search_passages p JOIN embedding_vectors v \
             ON v.project_id = p.project_id AND v.content_hash = p.content_hash AND v.llm_model_id = {} \
             WHERE p.project_id = {}",
            params.push(model),
            params.push(project.0),
        );
        if !documents.is_empty() {
            let list = params.list(documents.iter().map(|d| d.0));
            sql.push_str(&format!(" AND p.document_id IN ({list})"));
        }
        let rows = self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("", "id").map_err(internal)?;
            let dims: i32 = row.try_get("", "dimensions").map_err(internal)?;
            let bytes: Vec<u8> = row.try_get("", "vector").map_err(internal)?;
            let v = decode_vector(&bytes, dims.max(0) as usize)
                .ok_or_else(|| DomainError::internal(format!("a stored vector of passage {id} does not decode")))?;
            out.push((PassageId(id), v));
        }
        Ok(out)
    }

    async fn passage_candidates(&self, passages: &[PassageId]) -> DomainResult<Vec<Candidate>> {
        let mut out = Vec::with_capacity(passages.len());
        for chunk in passages.chunks(ID_CHUNK) {
            let mut params = self.params();
            let list = params.list(chunk.iter().map(|p| p.0));
            let sql = format!(
                "SELECT {CANDIDATE_COLUMNS} FROM search_passages p JOIN documents d ON d.id = p.document_id \
                 WHERE p.id IN ({list})"
            );
            for row in self.connection().query_all_raw(params.statement(sql)).await.map_err(internal)? {
                out.push(candidate_of(&row)?);
            }
        }
        Ok(out)
    }
}
