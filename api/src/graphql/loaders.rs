//! DataLoaders: one per relation or count, created per request (some depend on who asks),
//! so a list of N items costs one query per relation instead of N.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::Loader;
use nishan_domain::DomainError;
use nishan_domain::document::DocumentInfo;
use nishan_domain::entity::{Entity, EntityCursor, EntityFilter, EntitySlice};
use nishan_domain::entity_type::EntityType;
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, ProjectId, UserId};
use nishan_domain::knowledge::KnowledgeItem;
use nishan_domain::membership::Role;
use nishan_domain::policy::{Actor, ProjectAccess};
use nishan_domain::ports::{
    DocumentRepository, EntityRepository, EntityTypeRepository, KnowledgeRepository, ProjectRepository,
    RelationshipRepository, UserRepository,
};
use nishan_domain::project::Project;
use nishan_domain::relationship::Relationship;
use nishan_domain::user::User;
use nishan_infrastructure::Store;

use crate::error::ApiResult;
use crate::graphql::types::EntityFilterInput;

pub struct UserLoader(pub Store);

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, DomainError> {
        Ok(self.0.users_by_ids(keys).await?.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Active member counts per project.
pub struct MemberCountLoader(pub Store);

impl Loader<ProjectId> for MemberCountLoader {
    type Value = u64;
    type Error = DomainError;

    async fn load(&self, keys: &[ProjectId]) -> Result<HashMap<ProjectId, u64>, DomainError> {
        self.0.member_counts(keys).await
    }
}

/// The calling user's role per project (empty for anonymous callers).
pub struct MyRoleLoader {
    pub store: Store,
    pub actor: Option<Actor>,
}

impl Loader<ProjectId> for MyRoleLoader {
    type Value = Role;
    type Error = DomainError;

    async fn load(&self, keys: &[ProjectId]) -> Result<HashMap<ProjectId, Role>, DomainError> {
        match self.actor {
            Some(a) => self.store.roles_of(a.user_id, keys).await,
            None => Ok(HashMap::new()),
        }
    }
}

pub struct ProjectLoader(pub Store);

impl Loader<ProjectId> for ProjectLoader {
    type Value = Project;
    type Error = DomainError;

    async fn load(&self, keys: &[ProjectId]) -> Result<HashMap<ProjectId, Project>, DomainError> {
        Ok(self.0.projects_by_ids(keys).await?.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Documents and entities per project: `(documents, entities)`.
pub struct ProjectTotalsLoader(pub Store);

impl Loader<ProjectId> for ProjectTotalsLoader {
    type Value = (u64, u64);
    type Error = DomainError;

    async fn load(&self, keys: &[ProjectId]) -> Result<HashMap<ProjectId, (u64, u64)>, DomainError> {
        self.0.project_totals(keys).await
    }
}

pub struct DocumentLoader(pub Store);

impl Loader<DocumentId> for DocumentLoader {
    /// Without the text (a field that asks for it reads it through the store's text cache);
    /// shared: the cache hands each field that names a document the same one.
    type Value = std::sync::Arc<DocumentInfo>;
    type Error = DomainError;

    async fn load(&self, keys: &[DocumentId]) -> Result<HashMap<DocumentId, Self::Value>, DomainError> {
        Ok(self.0.document_infos_by_ids(keys).await?.into_iter().map(|d| (d.id, std::sync::Arc::new(d))).collect())
    }
}

/// A document's text as of a content hash, in batches (the batch behind [`ContentLoader`]).
/// A key missing from the answer names content that changed or a document gone.
pub struct DocumentContentLoader(pub Store);

/// The key of a text: the document and the content hash it was read for.
pub type ContentKey = (DocumentId, String);

/// Documents' texts for one request: each (document, content hash) is read once per request
/// however many fields (aliases) ask for it, and whenever they ask. A DataLoader alone does
/// not promise that: a key asked for while its batch is in flight (an alias whose access check
/// ended later) starts a batch of its own, reading and copying the same 10 MB again. Here the
/// first asker's load is the only one: later askers await it (single flight), then the answer
/// kept, and every asker gets the same `Arc<str>`, never a copy. Different documents still go
/// together in one batch.
pub struct ContentLoader {
    batches: Loaded<DocumentContentLoader>,
    flights: Mutex<HashMap<ContentKey, Arc<Flight>>>,
}

/// One text's read: set once, by the first asker's load; `None` for content gone.
type Flight = tokio::sync::OnceCell<Option<Arc<str>>>;

impl ContentLoader {
    pub fn new(batches: Loaded<DocumentContentLoader>) -> Self {
        Self { batches, flights: Mutex::default() }
    }

    /// The text of `key`; None when the document's content has another hash now, or the
    /// document is gone. A failed load is not kept: the next asker tries again.
    pub async fn load_one(&self, key: ContentKey) -> Result<Option<Arc<str>>, DomainError> {
        let flight = Arc::clone(self.flights.lock().expect("content flights lock").entry(key.clone()).or_default());
        flight.get_or_try_init(|| self.batches.load_one(key)).await.cloned()
    }
}

impl Loader<(DocumentId, String)> for DocumentContentLoader {
    type Value = std::sync::Arc<str>;
    type Error = DomainError;

    async fn load(
        &self,
        keys: &[(DocumentId, String)],
    ) -> Result<HashMap<(DocumentId, String), Self::Value>, DomainError> {
        self.0.document_contents(keys).await
    }
}

/// What the caller may do in each project, decided once per request: fifty aliases of one
/// document (or of fifty documents of one project) check its project's access once, not
/// fifty times. The caller is the request's; the answer (an error too) is kept for the request.
#[derive(Default)]
pub struct AccessOnce {
    flights: Mutex<HashMap<ProjectId, Arc<AccessFlight>>>,
}

/// One project's access check: set once, by the first asker's check.
type AccessFlight = tokio::sync::OnceCell<Result<ProjectAccess, DomainError>>;

impl AccessOnce {
    /// The caller's access to `project`: `check`'s answer, checked by the first asker only
    /// (later askers await it).
    pub async fn of<F>(&self, project: ProjectId, check: impl FnOnce() -> F) -> Result<ProjectAccess, DomainError>
    where
        F: std::future::Future<Output = Result<ProjectAccess, DomainError>>,
    {
        let flight = Arc::clone(self.flights.lock().expect("access flights lock").entry(project).or_default());
        flight.get_or_init(check).await.clone()
    }
}

/// The original each document was uploaded as (documents without one have no entry).
pub struct ArtifactLoader(pub Store);

impl Loader<DocumentId> for ArtifactLoader {
    type Value = nishan_domain::artifact::Artifact;
    type Error = DomainError;

    async fn load(&self, keys: &[DocumentId]) -> Result<HashMap<DocumentId, Self::Value>, DomainError> {
        nishan_domain::ports::ArtifactRepository::artifacts_of_documents(&self.0, keys).await
    }
}

pub struct EntityLoader(pub Store);

impl Loader<EntityId> for EntityLoader {
    type Value = Entity;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityId]) -> Result<HashMap<EntityId, Entity>, DomainError> {
        Ok(self.0.entities_by_ids(keys).await?.into_iter().map(|e| (e.id, e)).collect())
    }
}

pub struct EntityTypeLoader(pub Store);

impl Loader<EntityTypeId> for EntityTypeLoader {
    type Value = EntityType;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityTypeId]) -> Result<HashMap<EntityTypeId, EntityType>, DomainError> {
        Ok(self.0.entity_types_by_ids(keys).await?.into_iter().map(|t| (t.id, t)).collect())
    }
}

/// Relationships from each entity.
pub struct OutgoingLoader(pub Store);

impl Loader<EntityId> for OutgoingLoader {
    type Value = Vec<Relationship>;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityId]) -> Result<HashMap<EntityId, Vec<Relationship>>, DomainError> {
        let mut map: HashMap<EntityId, Vec<Relationship>> = HashMap::new();
        for r in self.0.relationships_of(keys, true).await? {
            map.entry(r.source).or_default().push(r);
        }
        Ok(map)
    }
}

/// Relationships to each entity.
pub struct IncomingLoader(pub Store);

impl Loader<EntityId> for IncomingLoader {
    type Value = Vec<Relationship>;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityId]) -> Result<HashMap<EntityId, Vec<Relationship>>, DomainError> {
        let mut map: HashMap<EntityId, Vec<Relationship>> = HashMap::new();
        for r in self.0.relationships_of(keys, false).await? {
            map.entry(r.target).or_default().push(r);
        }
        Ok(map)
    }
}

/// A document's entities under a filter, compared and hashed by the filter's canonical form
/// (the filter holds floats).
#[derive(Clone)]
pub struct FilterKey {
    pub filter: Arc<EntityFilter>,
    canonical: Arc<str>,
}

impl FilterKey {
    pub fn new(input: &EntityFilterInput, layer: nishan_domain::rounds::Layer) -> ApiResult<Self> {
        let filter = input.to_domain(layer)?;
        let canonical: Arc<str> = format!("{filter:?}").into();
        Ok(Self { filter: Arc::new(filter), canonical })
    }
}

impl PartialEq for FilterKey {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for FilterKey {}

impl std::hash::Hash for FilterKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

/// One page of one document's entities under one filter. Keys that share filter, cursor and
/// size are loaded together, in one statement for all their documents.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EntityPageKey {
    pub document: DocumentId,
    pub filter: FilterKey,
    pub after: Option<EntityCursor>,
    pub limit: u64,
}

pub struct EntityPageLoader(pub Store);

impl Loader<EntityPageKey> for EntityPageLoader {
    type Value = EntitySlice;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityPageKey]) -> Result<HashMap<EntityPageKey, EntitySlice>, DomainError> {
        let mut groups: HashMap<(&FilterKey, Option<EntityCursor>, u64), Vec<&EntityPageKey>> = HashMap::new();
        for k in keys {
            groups.entry((&k.filter, k.after, k.limit)).or_default().push(k);
        }
        let mut out = HashMap::new();
        for ((filter, after, limit), group) in groups {
            let docs: Vec<DocumentId> = group.iter().map(|k| k.document).collect();
            let mut slices = self.0.entities_after(&docs, &filter.filter, after, limit).await?;
            for k in group {
                if let Some(s) = slices.remove(&k.document) {
                    out.insert(k.clone(), s);
                }
            }
        }
        Ok(out)
    }
}

/// How many entities of a document match a filter the stored counts cannot answer.
pub struct EntityCountLoader(pub Store);

impl Loader<(DocumentId, FilterKey)> for EntityCountLoader {
    type Value = u64;
    type Error = DomainError;

    async fn load(
        &self,
        keys: &[(DocumentId, FilterKey)],
    ) -> Result<HashMap<(DocumentId, FilterKey), u64>, DomainError> {
        let mut groups: HashMap<&FilterKey, Vec<DocumentId>> = HashMap::new();
        for (doc, filter) in keys {
            groups.entry(filter).or_default().push(*doc);
        }
        let mut out = HashMap::new();
        for (filter, docs) in groups {
            let counts = self.0.count_matching(&docs, &filter.filter).await?;
            for doc in docs {
                out.insert((doc, filter.clone()), counts.get(&doc).copied().unwrap_or(0));
            }
        }
        Ok(out)
    }
}

/// Knowledge-base entries by id (live or not: a link may name a merged entry).
pub struct KnowledgeItemLoader(pub Store);

impl Loader<KnowledgeItemId> for KnowledgeItemLoader {
    type Value = KnowledgeItem;
    type Error = DomainError;

    async fn load(&self, keys: &[KnowledgeItemId]) -> Result<HashMap<KnowledgeItemId, KnowledgeItem>, DomainError> {
        Ok(self.0.items_by_ids(keys).await?.into_iter().map(|i| (i.id, i)).collect())
    }
}

/// Mentions linked to each entry.
pub struct MentionCountLoader(pub Store);

impl Loader<KnowledgeItemId> for MentionCountLoader {
    type Value = u64;
    type Error = DomainError;

    async fn load(&self, keys: &[KnowledgeItemId]) -> Result<HashMap<KnowledgeItemId, u64>, DomainError> {
        self.0.mention_counts(keys).await
    }
}

/// The entry each entity is linked to.
pub struct EntityKnowledgeLoader(pub Store);

impl Loader<EntityId> for EntityKnowledgeLoader {
    type Value = KnowledgeItemId;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityId]) -> Result<HashMap<EntityId, KnowledgeItemId>, DomainError> {
        self.0.entity_items(keys).await
    }
}

/// A per-request DataLoader with a cache, as registered in `request_data`.
pub type Loaded<T> = async_graphql::dataloader::DataLoader<T, async_graphql::dataloader::HashMapCache>;
