//! DataLoaders: one per relation or count, created per request (some depend on who asks),
//! so a list of N items costs one query per relation instead of N.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use nishan_domain::DomainError;
use nishan_domain::document::Document;
use nishan_domain::entity::{Entity, EntityFilter};
use nishan_domain::entity_type::EntityType;
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};
use nishan_domain::membership::Role;
use nishan_domain::policy::Actor;
use nishan_domain::ports::{
    DocumentRepository, EntityRepository, EntityTypeRepository, Page, PageRequest, ProjectRepository,
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
    /// Shared: the cache hands each field that names a document the same one, not a copy of
    /// its text.
    type Value = std::sync::Arc<Document>;
    type Error = DomainError;

    async fn load(&self, keys: &[DocumentId]) -> Result<HashMap<DocumentId, Self::Value>, DomainError> {
        Ok(self.0.documents_by_ids(keys).await?.into_iter().map(|d| (d.id, std::sync::Arc::new(d))).collect())
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

/// One page of one document's entities under one filter. Keys that share filter and page are
/// loaded together, in one query for all their documents.
#[derive(Clone)]
pub struct EntityPageKey {
    pub document: DocumentId,
    pub filter: Arc<EntityFilter>,
    /// The filter's canonical form, for equality and hashing (the filter holds floats).
    pub filter_key: Arc<str>,
    pub page: PageRequest,
}

impl EntityPageKey {
    pub fn new(document: DocumentId, input: &EntityFilterInput, page: PageRequest) -> ApiResult<Self> {
        let filter = input.to_domain()?;
        let filter_key: Arc<str> = format!("{filter:?}").into();
        Ok(Self { document, filter: Arc::new(filter), filter_key, page })
    }
}

impl PartialEq for EntityPageKey {
    fn eq(&self, other: &Self) -> bool {
        self.document == other.document && self.filter_key == other.filter_key && self.page == other.page
    }
}

impl Eq for EntityPageKey {}

impl std::hash::Hash for EntityPageKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.document.hash(state);
        self.filter_key.hash(state);
        self.page.offset.hash(state);
        self.page.limit.hash(state);
    }
}

pub struct EntityPageLoader(pub Store);

impl Loader<EntityPageKey> for EntityPageLoader {
    type Value = Page<Entity>;
    type Error = DomainError;

    async fn load(&self, keys: &[EntityPageKey]) -> Result<HashMap<EntityPageKey, Page<Entity>>, DomainError> {
        let mut groups: HashMap<(Arc<str>, u64, u64), Vec<&EntityPageKey>> = HashMap::new();
        for k in keys {
            groups.entry((k.filter_key.clone(), k.page.offset, k.page.limit)).or_default().push(k);
        }
        let mut out = HashMap::new();
        for group in groups.into_values() {
            let docs: Vec<DocumentId> = group.iter().map(|k| k.document).collect();
            let first = group[0];
            let mut pages = self.0.entities_of_documents(&docs, &first.filter, first.page).await?;
            for k in group {
                if let Some(p) = pages.remove(&k.document) {
                    out.insert(k.clone(), p);
                }
            }
        }
        Ok(out)
    }
}

/// A per-request DataLoader with a cache, as registered in `request_data`.
pub type Loaded<T> = async_graphql::dataloader::DataLoader<T, async_graphql::dataloader::HashMapCache>;
