use async_graphql::{Context, InputObject, Object};
use nishan_domain::DomainError;
use nishan_domain::service::accounts::{Registration, SignedIn};
use nishan_domain::user::UserPatch;

use crate::error::ApiResult;
use crate::graphql::types::{AuthPayload, User};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct RegisterInput {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub username_or_email: String,
    pub password: String,
}

/// Fields of the caller's own user and profile; omitted fields stay as they are, and null
/// clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateMeInput {
    pub first_name: async_graphql::MaybeUndefined<String>,
    pub last_name: async_graphql::MaybeUndefined<String>,
    pub bio: async_graphql::MaybeUndefined<String>,
    pub research_interests: Option<Vec<String>>,
    pub preferences: Option<async_graphql::Json<serde_json::Value>>,
    pub institution: async_graphql::MaybeUndefined<String>,
    pub academic_title: async_graphql::MaybeUndefined<String>,
    pub research_focus: async_graphql::MaybeUndefined<String>,
    pub is_researcher: Option<bool>,
    pub avatar_url: async_graphql::MaybeUndefined<String>,
    pub website: async_graphql::MaybeUndefined<String>,
    pub orcid: async_graphql::MaybeUndefined<String>,
    pub location: async_graphql::MaybeUndefined<String>,
    pub languages: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

/// `MaybeUndefined` as the domain's "leave / set / clear".
pub(crate) fn patch<T>(v: async_graphql::MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        async_graphql::MaybeUndefined::Undefined => None,
        async_graphql::MaybeUndefined::Null => Some(None),
        async_graphql::MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn payload(s: SignedIn) -> AuthPayload {
    AuthPayload { token: s.token, expires_at: s.session.expires_at, user: User::caller(s.user) }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. The first account ever registered is a global admin.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let meta = &request(ctx).meta;
        let registration = Registration {
            username: input.username,
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
        };
        Ok(payload(state(ctx).accounts().register(meta, registration).await?))
    }

    /// Signs in with a username or email. Repeated failures are throttled (RATE_LIMITED).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        let meta = &request(ctx).meta;
        Ok(payload(state(ctx).accounts().login(meta, &input.username_or_email, &input.password).await?))
    }

    /// Ends the current session: its token stops working at once.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let session = req.viewer.session().ok_or(DomainError::Unauthenticated)?;
        state(ctx).accounts().logout(&req.meta, &actor, session).await?;
        Ok(true)
    }

    async fn update_me(&self, ctx: &Context<'_>, input: UpdateMeInput) -> ApiResult<User> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let p = UserPatch {
            first_name: patch(input.first_name),
            last_name: patch(input.last_name),
            bio: patch(input.bio),
            research_interests: input.research_interests,
            preferences: input.preferences.map(|j| j.0),
            institution: patch(input.institution),
            academic_title: patch(input.academic_title),
            research_focus: patch(input.research_focus),
            is_researcher: input.is_researcher,
            avatar_url: patch(input.avatar_url),
            website: patch(input.website),
            orcid: patch(input.orcid),
            location: patch(input.location),
            languages: input.languages,
        };
        let (user, _) = state(ctx).accounts().update_me(&req.meta, &actor, p).await?;
        Ok(User::caller(user))
    }

    /// Changes the password and signs out every other session of the account.
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> ApiResult<bool> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let session = req.viewer.session().ok_or(DomainError::Unauthenticated)?;
        state(ctx)
            .accounts()
            .change_password(&req.meta, &actor, session, &input.current_password, &input.new_password)
            .await?;
        Ok(true)
    }
}
