//! Users as clients see them. Contact details and preferences are shown to the user
//! themself and to global admins only.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::ports::UserRepository;
use nishan_domain::user::{User as DomainUser, UserProfile as DomainProfile};

use crate::error::ApiResult;
use crate::graphql::{request, state};

pub struct User {
    user: DomainUser,
    /// Set where the caller is known to be this user even before their token exists
    /// (`register` and `login` answer with it).
    is_caller: bool,
}

impl User {
    pub fn new(user: DomainUser) -> Self {
        Self { user, is_caller: false }
    }

    /// The user who is making this very request.
    pub fn caller(user: DomainUser) -> Self {
        Self { user, is_caller: true }
    }

    fn visible_to_caller(&self, ctx: &Context<'_>) -> bool {
        self.is_caller || request(ctx).viewer.actor().is_some_and(|a| a.is_admin || a.user_id == self.user.id)
    }
}

#[derive(SimpleObject)]
pub struct UserProfile {
    pub avatar_url: Option<String>,
    pub website: Option<String>,
    pub orcid: Option<String>,
    pub location: Option<String>,
    pub languages: Vec<String>,
    /// How complete the research profile is, 0 to 100.
    pub profile_completion: i32,
}

impl From<DomainProfile> for UserProfile {
    fn from(p: DomainProfile) -> Self {
        Self {
            avatar_url: p.avatar_url,
            website: p.website,
            orcid: p.orcid,
            location: p.location,
            languages: p.languages,
            profile_completion: p.profile_completion,
        }
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.user.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.user.username
    }
    /// Visible to the user and to global admins; null for others.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.visible_to_caller(ctx).then_some(self.user.email.as_str())
    }
    async fn first_name(&self) -> Option<&str> {
        self.user.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.user.last_name.as_deref()
    }
    async fn bio(&self) -> Option<&str> {
        self.user.bio.as_deref()
    }
    async fn research_interests(&self) -> &[String] {
        &self.user.research_interests
    }
    /// Visible to the user and to global admins; null for others.
    async fn preferences(&self, ctx: &Context<'_>) -> Option<async_graphql::Json<serde_json::Value>> {
        self.visible_to_caller(ctx).then(|| async_graphql::Json(self.user.preferences.clone()))
    }
    async fn institution(&self) -> Option<&str> {
        self.user.institution.as_deref()
    }
    async fn academic_title(&self) -> Option<&str> {
        self.user.academic_title.as_deref()
    }
    async fn research_focus(&self) -> Option<&str> {
        self.user.research_focus.as_deref()
    }
    async fn is_researcher(&self) -> bool {
        self.user.is_researcher
    }
    async fn is_admin(&self) -> bool {
        self.user.is_admin
    }
    async fn email_verified(&self) -> bool {
        self.user.email_verified
    }
    async fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.user.last_activity
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }
    async fn profile(&self, ctx: &Context<'_>) -> ApiResult<UserProfile> {
        Ok(state(ctx).store.profile(self.user.id).await?.into())
    }
}

/// What `register` and `login` answer: the session token (shown once) and the user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}
