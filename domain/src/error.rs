//! The one error type of the domain. Every variant maps to exactly one GraphQL error code at
//! the API edge, so the code a client sees is decided here, by the kind of failure.

use thiserror::Error;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// No valid session: the caller must sign in.
    #[error("authentication required")]
    Unauthenticated,
    /// Login failed. Deliberately says nothing about which part was wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist, or the caller may not know that it exists.
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    /// Input that breaks a rule; `field` names the input field (camelCase, as clients send it).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The change clashes with the current state (duplicate, last owner, stale version).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the caller may try again after the given number of seconds.
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A language model did not give a usable answer (after retries and a repair request);
    /// the message says why, and is for the client.
    #[error("{0}")]
    ModelFailed(String),
    /// A fault of ours (database, hashing); the message is for the log, never for the client.
    #[error("internal error: {0}")]
    Internal(String),
    /// A fault that may pass (the database connection was lost, a serialization failure, the
    /// database busy): trying again may succeed. For the log, like `Internal`.
    #[error("transient error: {0}")]
    Transient(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }

    pub fn transient(message: impl std::fmt::Display) -> Self {
        Self::Transient(message.to_string())
    }

    /// Whether trying the same thing again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// A fault of ours (internal or transient): its message is for the log only.
    pub fn is_fault(&self) -> bool {
        matches!(self, Self::Internal(_) | Self::Transient(_))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
