//! GraphQL errors. Every domain error becomes an error with `extensions.code`; internal faults
//! are logged with a correlation id and reach the client as that id alone.

use async_graphql::ErrorExtensions;
use nishan_domain::DomainError;

/// The error type of every resolver. It has no `Display` on purpose: async-graphql converts
/// anything displayable into an error without a code, and this type cannot be mistaken for
/// one of those.
#[derive(Debug, Clone)]
pub struct ApiError(pub async_graphql::Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.0
    }
}

impl From<async_graphql::Error> for ApiError {
    fn from(e: async_graphql::Error) -> Self {
        Self(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(to_graphql(e))
    }
}

/// Error codes, as clients match on them.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL: &str = "INTERNAL";
    /// `extensions.reason` of an INTERNAL error whose cause is a language model that gave no
    /// usable answer (`askProject`), after retries and a repair: the message says why.
    pub const MODEL_FAILED: &str = "MODEL_FAILED";
    // Refusals of a whole request, before it runs (the names Apollo's servers use where
    // there is one).
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The answer would exceed `NISHAN_MAX_RESPONSE_BYTES`.
    pub const RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
}

pub fn to_graphql(e: DomainError) -> async_graphql::Error {
    match e {
        DomainError::Unauthenticated => with_code("authentication required", code::UNAUTHENTICATED),
        DomainError::InvalidCredentials => with_code("invalid credentials", code::UNAUTHENTICATED),
        DomainError::Forbidden(m) => with_code(m, code::FORBIDDEN),
        DomainError::NotFound { resource } => with_code(format!("{resource} not found"), code::NOT_FOUND),
        DomainError::Invalid { field, message } => async_graphql::Error::new(format!("{field}: {message}"))
            .extend_with(|_, ext| {
                ext.set("code", code::BAD_USER_INPUT);
                ext.set("field", field.as_str());
            }),
        DomainError::Conflict(m) => with_code(m, code::CONFLICT),
        DomainError::RateLimited { retry_after_secs } => async_graphql::Error::new(format!(
            "too many attempts, retry in {retry_after_secs} s"
        ))
        .extend_with(|_, ext| {
            ext.set("code", code::RATE_LIMITED);
            ext.set("retryAfter", retry_after_secs);
        }),
        // Not the caller's fault and not a fault of ours to hide: INTERNAL, with the reason.
        DomainError::ModelFailed(m) => async_graphql::Error::new(m).extend_with(|_, ext| {
            ext.set("code", code::INTERNAL);
            ext.set("reason", code::MODEL_FAILED);
        }),
        DomainError::Internal(cause) | DomainError::Transient(cause) => internal(&cause),
    }
}

/// An internal error: the cause goes to the log under a fresh correlation id, and the client
/// gets only that id.
pub fn internal(cause: &str) -> async_graphql::Error {
    let id = uuid::Uuid::new_v4().to_string();
    tracing::error!(correlation_id = %id, cause, "internal error");
    async_graphql::Error::new("internal error").extend_with(|_, ext| {
        ext.set("code", code::INTERNAL);
        ext.set("correlationId", id.as_str());
    })
}

fn with_code(message: impl Into<String>, code: &str) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, ext| ext.set("code", code))
}

/// A BAD_USER_INPUT error for an input field the API itself checks (ids, cursors).
pub fn bad_input(field: &str, message: &str) -> ApiError {
    DomainError::invalid(field, message).into()
}
