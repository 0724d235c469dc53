//! Who is calling: the bearer token of a request (or of a WebSocket `connection_init`)
//! resolved to a session and user, and the request's origin for the audit trail.

use axum::http::HeaderMap;
use nishan_domain::audit::RequestMeta;
use nishan_domain::ids::SessionId;
use nishan_domain::policy::Actor;
use nishan_domain::user::User;
use nishan_domain::{DomainError, DomainResult};

use crate::state::AppState;

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// No credentials were presented.
    Anonymous,
    /// A token was presented but is unknown, expired or revoked.
    InvalidToken,
    SignedIn {
        user: Box<User>,
        session: SessionId,
        /// When the session expires.
        expires_at: chrono::DateTime<chrono::Utc>,
    },
}

impl Viewer {
    /// The caller presenting `token`: anonymous without one; a token that is empty (an
    /// `Authorization: Bearer ` with nothing after it, or a header that cannot be read) is as
    /// invalid as an unknown one.
    pub async fn from_token(state: &AppState, token: Option<&str>) -> DomainResult<Self> {
        let Some(token) = token.map(str::trim) else {
            return Ok(Self::Anonymous);
        };
        if token.is_empty() {
            return Ok(Self::InvalidToken);
        }
        Ok(match state.accounts().authenticate(token).await? {
            Some((session, user)) => {
                Self::SignedIn { user: Box::new(user), session: session.id, expires_at: session.expires_at }
            }
            None => Self::InvalidToken,
        })
    }

    /// The signed-in actor, or UNAUTHENTICATED.
    pub fn require(&self) -> DomainResult<Actor> {
        self.actor().ok_or(DomainError::Unauthenticated)
    }

    /// The actor when signed in; `None` for anonymous callers. A bad token is an error, so a
    /// client with an expired session learns it must sign in again.
    pub fn optional(&self) -> DomainResult<Option<Actor>> {
        match self {
            Self::InvalidToken => Err(DomainError::Unauthenticated),
            _ => Ok(self.actor()),
        }
    }

    pub fn actor(&self) -> Option<Actor> {
        match self {
            Self::SignedIn { user, .. } => Some(Actor { user_id: user.id, is_admin: user.is_admin }),
            _ => None,
        }
    }

    pub fn session(&self) -> Option<SessionId> {
        match self {
            Self::SignedIn { session, .. } => Some(*session),
            _ => None,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header: `None` without one (or with
/// another scheme, which a proxy in front may use); `Some("")` for a header that names no
/// usable token (`Bearer ` alone, or bytes that are not visible ASCII), which is refused.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else { return Some("") };
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token),
        None if value.eq_ignore_ascii_case("bearer") => Some(""),
        _ => None,
    }
}

/// The token of a `connection_init` payload: `{"Authorization": "Bearer <token>"}` or
/// `{"token": "<token>"}`.
pub fn token_from_init(payload: &serde_json::Value) -> Option<String> {
    let auth = payload.get("Authorization").or_else(|| payload.get("authorization")).and_then(|v| v.as_str());
    if let Some((scheme, token)) = auth.and_then(|a| a.split_once(' '))
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(token.to_owned());
    }
    payload.get("token").and_then(|v| v.as_str()).map(str::to_owned)
}

/// Where a request comes from: the client's address (the TCP peer's, or behind trusted
/// proxies the one they forward), the user agent (at most 500 characters) and the session.
pub fn request_meta(
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    viewer: &Viewer,
    proxies: crate::proxy::TrustedProxies<'_>,
) -> RequestMeta {
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().filter(|c| !c.is_control()).take(500).collect());
    let ip = peer.map(|p| proxies.client(p.ip(), headers).to_string());
    RequestMeta { ip, user_agent, session_id: viewer.session() }
}
