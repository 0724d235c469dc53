//! DataLoaders: one per relation or count, created per request (some depend on who asks),
//! so a list of N items costs one query per relation instead of N.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use nishan_domain::DomainError;
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::membership::Role;
use nishan_domain::policy::Actor;
use nishan_domain::ports::{ProjectRepository, UserRepository};
use nishan_domain::user::User;
use nishan_infrastructure::Store;

pub struct UserLoader(pub Store);

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, DomainError> {
        Ok(self
            .0
            .users_by_ids(keys)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
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
