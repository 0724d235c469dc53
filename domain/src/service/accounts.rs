//! Registration, login, logout, the caller's own profile and password. Ending sessions (logout,
//! a password change) publishes `SessionsEnded` once committed, so open subscriptions of those
//! sessions end too.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventPublisher};
use crate::ids::{SessionId, UserId};
use crate::policy::Actor;
use crate::ports::{
    AuditRepository, LoginThrottleRepository, PasswordHasher, SessionRepository, TokenIssuer, UserRepository,
};
use crate::session::Session;
use crate::throttle::LoginLimits;
use crate::user::{Email, NewUser, Password, User, UserPatch, UserProfile, Username};

/// What a client sends to register.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A signed-in session as handed to the client: the token is shown once, here.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub user: User,
    pub session: Session,
}

/// The account ports a use case needs, borrowed together.
pub struct Accounts<'a, S, H, T, E> {
    pub store: &'a S,
    pub hasher: &'a H,
    pub tokens: &'a T,
    pub events: &'a E,
    pub session_ttl: Duration,
    /// How many wrong passwords an account, and an address, may send before a cooldown.
    pub login_limits: LoginLimits,
    /// The time the throttle reads as now (the server's clock; a test's manual one).
    pub now: DateTime<Utc>,
}

/// The longest login text a throttle bucket keeps (an unknown login is throttled by its text).
const BUCKET_LOGIN_CHARS: usize = 200;

impl<S, H, T, E> Accounts<'_, S, H, T, E>
where
    S: UserRepository + SessionRepository + AuditRepository + LoginThrottleRepository,
    H: PasswordHasher,
    T: TokenIssuer,
    E: EventPublisher,
{
    pub async fn register(&self, meta: &RequestMeta, input: Registration) -> DomainResult<SignedIn> {
        let username = Username::new(&input.username)?;
        let email = Email::new(&input.email)?;
        let password = Password::new(&input.password, "password")?;
        let name = |v: Option<String>, field: &str| -> DomainResult<Option<String>> {
            let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
            if v.as_ref().is_some_and(|s| s.chars().count() > 100) {
                return Err(DomainError::invalid(field, "must be at most 100 characters"));
            }
            Ok(v)
        };
        let first_name = name(input.first_name, "firstName")?;
        let last_name = name(input.last_name, "lastName")?;
        let password_hash = self.hasher.hash(password.expose()).await?;
        let now = Utc::now();
        let new = NewUser { id: UserId::new(), username, email, password_hash, first_name, last_name, now };
        let audit = AuditEntry::new(meta, Some(new.id), "user.register", "user")
            .resource(new.id, new.username.as_str())
            .changes(json!({"username": new.username.as_str(), "email": new.email.as_str()}));
        let user = self.store.create_user(new, audit).await?;
        self.start_session(meta, user, "auth.login").await
    }

    /// Signs in with a username or email. Every failure is the same `InvalidCredentials`.
    /// Each attempt is counted against the account and the address before the password is
    /// checked (`RateLimited` while either cools down), so attempts sent at once cannot
    /// outrun the limit; a successful one is taken back (the failures stay).
    pub async fn login(&self, meta: &RequestMeta, username_or_email: &str, password: &str) -> DomainResult<SignedIn> {
        let password = Password::offered(password)?;
        let login = username_or_email.trim();
        let found = self.store.credentials(login).await?;
        let account = match &found {
            Some((user, _)) => account_bucket(user.id),
            // An unknown login is throttled like a real one, so the throttle tells nothing.
            None => format!("login:{}", login.to_lowercase().chars().take(BUCKET_LOGIN_CHARS).collect::<String>()),
        };
        self.count_attempt(meta, &account).await?;
        let ok = self.hasher.verify(password.expose(), found.as_ref().map(|(_, h)| h.as_str())).await?;
        match found {
            Some((user, _)) if ok && user.is_active => {
                self.attempt_succeeded(meta, &account).await?;
                self.start_session(meta, user, "auth.login").await
            }
            found => {
                let user_id = found.map(|(u, _)| u.id);
                let audit =
                    AuditEntry::new(meta, user_id, "auth.login_failed", "session").changes(json!({"login": login}));
                self.store.record(audit).await?;
                Err(DomainError::InvalidCredentials)
            }
        }
    }

    /// Counts an attempt to prove who one is against the account's bucket and the caller's
    /// address; `RateLimited` while either cools down.
    async fn count_attempt(&self, meta: &RequestMeta, account: &str) -> DomainResult<()> {
        let mut buckets = vec![(account.to_owned(), self.login_limits.per_account)];
        if let Some(ip) = &meta.ip {
            buckets.push((address_bucket(ip), self.login_limits.per_address));
        }
        let verdicts = self.store.attempt(&buckets, self.now).await?;
        match verdicts.into_iter().filter_map(Result::err).max() {
            Some(retry_after_secs) => Err(DomainError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// A counted attempt succeeded: it is taken back from the account and the address. The
    /// failures before it stay until their window ends, so a success sent among guesses never
    /// buys the guesses more tries.
    async fn attempt_succeeded(&self, meta: &RequestMeta, account: &str) -> DomainResult<()> {
        let mut buckets = vec![(account.to_owned(), self.login_limits.per_account)];
        if let Some(ip) = &meta.ip {
            buckets.push((address_bucket(ip), self.login_limits.per_address));
        }
        self.store.succeeded(&buckets).await
    }

    async fn start_session(&self, meta: &RequestMeta, user: User, action: &str) -> DomainResult<SignedIn> {
        let (token, digest) = self.tokens.issue();
        let session = Session::start(user.id, Utc::now(), self.session_ttl, meta.ip.clone(), meta.user_agent.clone());
        let session_meta = RequestMeta { session_id: Some(session.id), ..meta.clone() };
        let audit =
            AuditEntry::new(&session_meta, Some(user.id), action, "session").resource(session.id, &user.username);
        self.store.create_session(&session, &digest, audit).await?;
        Ok(SignedIn { token, user, session })
    }

    /// The session and user a bearer token stands for, if it is valid now.
    pub async fn authenticate(&self, token: &str) -> DomainResult<Option<(Session, User)>> {
        self.store.authenticate(&self.tokens.digest(token), Utc::now()).await
    }

    pub async fn logout(&self, meta: &RequestMeta, actor: &Actor, session: SessionId) -> DomainResult<()> {
        let audit = AuditEntry::new(meta, Some(actor.user_id), "auth.logout", "session").resource(session, "session");
        self.store.revoke_session(session, Utc::now(), audit).await?;
        self.events.publish(DomainEvent::SessionsEnded { user_id: actor.user_id });
        Ok(())
    }

    pub async fn update_me(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        patch: UserPatch,
    ) -> DomainResult<(User, UserProfile)> {
        let patch = patch.validated()?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "user.update", "user")
            .resource(actor.user_id, "me")
            .changes(patch_summary(&patch));
        self.store.update_user(actor.user_id, patch, audit).await
    }

    /// Changes the password after checking the current one, and signs out every other session.
    pub async fn change_password(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        session: SessionId,
        current: &str,
        new: &str,
    ) -> DomainResult<u64> {
        let new = Password::new(new, "newPassword")?;
        let hash = self.store.password_hash(actor.user_id).await?;
        // A wrong current password is a failed sign-in: it counts against the account and
        // the address like a wrong login, or the form would be a password oracle.
        let account = account_bucket(actor.user_id);
        self.count_attempt(meta, &account).await?;
        let offered = Password::offered(current).map_err(|_| wrong_current_password())?;
        if !self.hasher.verify(offered.expose(), Some(&hash)).await? {
            let audit = AuditEntry::new(meta, Some(actor.user_id), "auth.password_check_failed", "user")
                .resource(actor.user_id, "password");
            self.store.record(audit).await?;
            return Err(wrong_current_password());
        }
        self.attempt_succeeded(meta, &account).await?;
        let new_hash = self.hasher.hash(new.expose()).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "user.change_password", "user")
            .resource(actor.user_id, "password");
        let revoked = self.store.change_password(actor.user_id, new_hash, session, audit).await?;
        if revoked > 0 {
            self.events.publish(DomainEvent::SessionsEnded { user_id: actor.user_id });
        }
        Ok(revoked)
    }
}

fn wrong_current_password() -> DomainError {
    DomainError::invalid("currentPassword", "is not your current password")
}

/// The throttle bucket of an account (whichever login named it).
fn account_bucket(user: UserId) -> String {
    format!("account:{}", user.0)
}

fn address_bucket(ip: &str) -> String {
    format!("ip:{ip}")
}

/// The names of the fields a patch changes (never their values: a bio may be private).
fn patch_summary(p: &UserPatch) -> serde_json::Value {
    let fields: Vec<&str> = [
        ("firstName", p.first_name.is_some()),
        ("lastName", p.last_name.is_some()),
        ("bio", p.bio.is_some()),
        ("researchInterests", p.research_interests.is_some()),
        ("preferences", p.preferences.is_some()),
        ("institution", p.institution.is_some()),
        ("academicTitle", p.academic_title.is_some()),
        ("researchFocus", p.research_focus.is_some()),
        ("isResearcher", p.is_researcher.is_some()),
        ("avatarUrl", p.avatar_url.is_some()),
        ("website", p.website.is_some()),
        ("orcid", p.orcid.is_some()),
        ("location", p.location.is_some()),
        ("languages", p.languages.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    json!({ "fields": fields })
}
