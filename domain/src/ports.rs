//! The ports: what the domain needs from storage and from the outside world. Infrastructure
//! implements them; every mutating method writes its `AuditEntry` in the same transaction as
//! its change, so a change and its audit row exist together or not at all.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
use crate::error::DomainResult;
use crate::ids::{ProjectId, SessionId, UserId};
use crate::membership::{Membership, MembershipChange, Role};
use crate::policy::Actor;
use crate::project::{Project, ProjectFields};
use crate::session::Session;
use crate::user::{NewUser, User, UserPatch, UserProfile};

/// A page of results with the total count of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Offset and size of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
}

pub trait UserRepository {
    /// Creates the user and its empty profile. The first user ever registered becomes a global
    /// admin (decided inside the transaction). Errors: `Conflict` naming the taken field.
    async fn create_user(&self, new: NewUser, audit: AuditEntry) -> DomainResult<User>;
    async fn user_by_id(&self, id: UserId) -> DomainResult<Option<User>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>>;
    /// The user and password hash for a username or (case-insensitive) email.
    async fn credentials(&self, username_or_email: &str) -> DomainResult<Option<(User, String)>>;
    async fn password_hash(&self, id: UserId) -> DomainResult<String>;
    async fn profile(&self, id: UserId) -> DomainResult<UserProfile>;
    /// Applies the patch and recomputes the profile completion. Errors: `NotFound`.
    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        audit: AuditEntry,
    ) -> DomainResult<(User, UserProfile)>;
    /// Stores the new hash and revokes every session of the user but `keep`; returns how many
    /// sessions were revoked.
    async fn change_password(
        &self,
        id: UserId,
        new_hash: String,
        keep: SessionId,
        audit: AuditEntry,
    ) -> DomainResult<u64>;
}

pub trait SessionRepository {
    /// Stores a new session (by token hash) and stamps the user's last login.
    async fn create_session(
        &self,
        session: &Session,
        token_hash: &str,
        audit: AuditEntry,
    ) -> DomainResult<()>;
    /// The session and its user, if the token hash names a session valid at `now` whose user
    /// is active. Marks the session used.
    async fn authenticate(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<(Session, User)>>;
    async fn revoke_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> DomainResult<()>;
}

pub trait ProjectRepository {
    /// Inserts the project with a slug made unique from `slug_base`, and the creator's OWNER
    /// membership.
    async fn create_project(
        &self,
        project: Project,
        owner: Membership,
        audit: AuditEntry,
    ) -> DomainResult<Project>;
    async fn project_by_id(&self, id: ProjectId) -> DomainResult<Option<Project>>;
    async fn project_by_slug(&self, slug: &str) -> DomainResult<Option<Project>>;
    async fn projects_by_ids(&self, ids: &[ProjectId]) -> DomainResult<Vec<Project>>;
    /// Projects the actor is an active member of, plus public ones (all for global admins;
    /// public-with-public-view for anonymous callers), newest first.
    async fn visible_projects(
        &self,
        actor: Option<Actor>,
        page: PageRequest,
    ) -> DomainResult<Page<Project>>;
    async fn update_project(
        &self,
        id: ProjectId,
        fields: ProjectFields,
        by: UserId,
        audit: AuditEntry,
    ) -> DomainResult<Project>;
    async fn delete_project(&self, id: ProjectId, audit: AuditEntry) -> DomainResult<()>;
    /// The user's active roles in the given projects.
    async fn roles_of(
        &self,
        user: UserId,
        projects: &[ProjectId],
    ) -> DomainResult<HashMap<ProjectId, Role>>;
    async fn members(
        &self,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<Membership>>;
    async fn member_counts(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, u64>>;
    /// Applies a membership change after `membership::authorize_membership_change` approves
    /// it against the roles and owner count read in the same transaction. Returns the
    /// membership after the change (`None` after a removal). Errors: `NotFound` for an
    /// unknown target user, and whatever the rule answers.
    async fn change_membership(
        &self,
        project: ProjectId,
        actor: Actor,
        target: UserId,
        change: MembershipChange,
        audit: AuditEntry,
    ) -> DomainResult<Option<Membership>>;
}

pub trait AuditRepository {
    /// Records an entry that goes with no other change (a failed login, say).
    async fn record(&self, entry: AuditEntry) -> DomainResult<()>;
}

pub trait PasswordHasher {
    /// A PHC-format hash of the password.
    async fn hash(&self, password: &str) -> DomainResult<String>;
    /// Whether the password matches the hash (false for a malformed hash). With no hash (no
    /// such account) it spends the same time and answers false, so timing does not tell
    /// which usernames exist.
    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool>;
}

/// Issues session tokens: a random secret for the client, and the digest that is stored.
pub trait TokenIssuer {
    /// A new `(token, digest)` pair.
    fn issue(&self) -> (String, String);
    /// The stored digest of a token a client presents.
    fn digest(&self, token: &str) -> String;
}
