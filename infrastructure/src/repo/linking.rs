//! The store as a running LINKING job sees it (`LinkingStore`): the project's documents and
//! unlinked mentions, the candidate index, the live entries a model's answer names, and
//! `store_proposals`, which stores a step's proposals with the job's progress in one
//! transaction that commits only while the worker holds the lease. A proposal the project has
//! already (the same dedup key) is skipped (`ON CONFLICT DO NOTHING`), so a step run twice, after
//! a crash or a retry, stores nothing twice.

use nishan_domain::DomainResult;
use nishan_domain::entity::Entity;
use nishan_domain::ids::{DocumentId, KnowledgeItemId, ProjectId};
use nishan_domain::job::Job;
use nishan_domain::knowledge::KnowledgeItem;
use nishan_domain::knowledge::index::CandidateIndex;
use nishan_domain::knowledge::proposal::Proposal;
use nishan_domain::ports::{Fence, KnowledgeRepository, LinkingStore};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::jobs::save_progress_in;
use super::knowledge::proposal_row;
use super::{Store, internal};
use crate::entity::{document, knowledge_proposal};

impl LinkingStore for Store {
    async fn linking_documents(
        &self,
        project: ProjectId,
        only: Option<Vec<DocumentId>>,
    ) -> DomainResult<Vec<DocumentId>> {
        let mut q = document::Entity::find()
            .select_only()
            .column(document::Column::Id)
            .filter(document::Column::ProjectId.eq(project.0));
        if let Some(ids) = only {
            q = q.filter(document::Column::Id.is_in(ids.into_iter().map(|d| d.0)));
        }
        let ids: Vec<Uuid> = q
            .order_by_asc(document::Column::CreatedAt)
            .order_by_asc(document::Column::Id)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(ids.into_iter().map(DocumentId).collect())
    }

    async fn unlinked_mentions(&self, project: ProjectId, document: DocumentId) -> DomainResult<Vec<Entity>> {
        KnowledgeRepository::unlinked_entities(self, project, Some(&[document])).await
    }

    async fn with_knowledge_index<R: Send + 'static, F: FnOnce(&CandidateIndex) -> R + Send + 'static>(
        &self,
        project: ProjectId,
        f: F,
    ) -> DomainResult<R> {
        let index = self.fresh_knowledge_index(project).await?;
        Ok(index.read(f))
    }

    async fn live_items(&self, project: ProjectId, ids: Vec<KnowledgeItemId>) -> DomainResult<Vec<KnowledgeItem>> {
        Ok(KnowledgeRepository::items_by_ids(self, &ids)
            .await?
            .into_iter()
            .filter(|i| i.is_live() && i.project_id == project)
            .collect())
    }

    async fn store_proposals(&self, fence: &Fence, proposals: Vec<Proposal>) -> DomainResult<Option<(Job, u32)>> {
        let txn = self.write().await?;
        let Some(job) = save_progress_in(&txn, fence, 0, 0).await? else {
            return Ok(None);
        };
        let mut inserted = 0u32;
        for p in &proposals {
            let done = knowledge_proposal::Entity::insert(proposal_row(p))
                .on_conflict(
                    OnConflict::columns([knowledge_proposal::Column::ProjectId, knowledge_proposal::Column::DedupKey])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(internal)?;
            inserted += done as u32;
        }
        txn.commit().await.map_err(internal)?;
        Ok(Some((job, inserted)))
    }
}
