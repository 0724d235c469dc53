//! The in-memory candidate index of each project's knowledge base, kept fresh across replicas.
//!
//! Each server holds, per project, a `CandidateIndex` and the knowledge revision it reflects.
//! Before every use it reads the project's revision (one primary-key lookup); when the database
//! is ahead, it reads only the entries changed since (`knowledge_items.revision > held`, an
//! indexed range) and applies them in place: live ones are upserted, merged and deleted ones
//! removed. Revisions commit in order (each write holds the revision row's lock until it
//! commits), so an entry seen at revision r means every change up to r is seen too. One
//! refresh per project runs at a time; readers of a fresh index never wait for the database
//! beyond the revision lookup. At most [`MAX_PROJECTS`] projects are held; the least recently
//! used goes first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use nishan_domain::DomainResult;
use nishan_domain::ids::ProjectId;
use nishan_domain::knowledge::index::{CandidateIndex, IndexedItem};

use super::Store;

/// Projects whose index one server keeps in memory.
pub const MAX_PROJECTS: usize = 64;

#[derive(Default)]
pub(crate) struct KnowledgeCache {
    projects: Mutex<HashMap<ProjectId, Arc<ProjectIndex>>>,
    clock: AtomicU64,
}

pub(crate) struct ProjectIndex {
    /// The revision the index reflects (-1: not loaded yet) and the index.
    state: RwLock<(i64, CandidateIndex)>,
    /// Held by the one refresh in progress.
    refresh: tokio::sync::Mutex<()>,
    used: AtomicU64,
}

impl ProjectIndex {
    fn revision(&self) -> i64 {
        self.state.read().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Runs `f` on the index (under a read lock: no await inside).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&CandidateIndex) -> R) -> R {
        f(&self.state.read().unwrap_or_else(|e| e.into_inner()).1)
    }
}

impl KnowledgeCache {
    fn entry(&self, project: ProjectId) -> Arc<ProjectIndex> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut projects = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        if !projects.contains_key(&project) && projects.len() >= MAX_PROJECTS {
            let oldest = projects.iter().min_by_key(|(_, p)| p.used.load(Ordering::Relaxed)).map(|(id, _)| *id);
            if let Some(id) = oldest {
                projects.remove(&id);
            }
        }
        let entry = projects.entry(project).or_insert_with(|| {
            Arc::new(ProjectIndex {
                state: RwLock::new((-1, CandidateIndex::new())),
                refresh: tokio::sync::Mutex::new(()),
                used: AtomicU64::new(tick),
            })
        });
        entry.used.store(tick, Ordering::Relaxed);
        entry.clone()
    }
}

impl Store {
    /// The project's index, brought up to the revision committed now.
    pub(crate) async fn fresh_knowledge_index(&self, project: ProjectId) -> DomainResult<Arc<ProjectIndex>> {
        let committed = self.knowledge_revision(project).await?;
        let index = self.knowledge.entry(project);
        if index.revision() >= committed {
            return Ok(index);
        }
        self.refresh_knowledge_index(project, &index, committed).await?;
        Ok(index)
    }

    /// Applies the entries changed since the index's revision (one refresh at a time).
    async fn refresh_knowledge_index(
        &self,
        project: ProjectId,
        index: &ProjectIndex,
        committed: i64,
    ) -> DomainResult<()> {
        let _refreshing = index.refresh.lock().await;
        let held = index.revision();
        if held >= committed {
            return Ok(()); // Another request refreshed it meanwhile.
        }
        let (changed, latest) = self.knowledge_changes(project, held).await?;
        let mut state = index.state.write().unwrap_or_else(|e| e.into_inner());
        for item in changed {
            if item.is_live() {
                let names = item.content.names().map(str::to_owned).collect();
                state.1.upsert(IndexedItem {
                    id: item.id,
                    entity_type_id: item.content.entity_type_id,
                    approved: item.approved,
                    names,
                });
            } else {
                state.1.remove(item.id);
            }
        }
        state.0 = latest.max(committed);
        Ok(())
    }
}
