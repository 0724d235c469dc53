//! What `jobProgress` and `documentActivity` share: refusals at subscribe time, and the end of
//! a subscription whose caller lost access.

use std::sync::Arc;

use async_graphql::Context;
use nishan_domain::DomainError;
use nishan_domain::policy::Actor;

use super::access::{ConnectionAccess, Lost};
use crate::error::ApiError;
use crate::graphql::gate::RequestTrace;
use crate::graphql::{request, state};

/// The refusal of a subscription to something the caller cannot read: UNAUTHENTICATED for an
/// anonymous caller (who may be able to once signed in), else NOT_FOUND, as a query says
/// (whether it exists or the caller may not read it is not told apart).
pub(super) fn refused(actor: Option<&Actor>, resource: &'static str, e: DomainError) -> async_graphql::Error {
    let e = match e {
        DomainError::NotFound { .. } if actor.is_none() => DomainError::Unauthenticated,
        DomainError::NotFound { .. } => DomainError::NotFound { resource },
        other => other,
    };
    ApiError::from(e).0
}

pub(super) fn api(e: impl Into<ApiError>) -> async_graphql::Error {
    e.into().0
}

/// The connection's access (one per WebSocket connection, shared by its operations), seeded
/// with the caller this operation runs as.
pub(super) fn access(ctx: &Context<'_>) -> Arc<ConnectionAccess> {
    let access = ctx
        .data_opt::<Arc<ConnectionAccess>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(ConnectionAccess::new(state(ctx).clone(), None)));
    access.seed(&request(ctx).viewer);
    access
}

/// How a subscription ends when access is gone: its last message is an `error`.
#[derive(Clone)]
pub(super) struct Ending {
    trace: Option<Arc<RequestTrace>>,
    /// What the subscription follows, as the error names it ("document", "job").
    what: &'static str,
}

impl Ending {
    pub(super) fn of(ctx: &Context<'_>, what: &'static str) -> Self {
        Self { trace: ctx.data_opt::<Arc<RequestTrace>>().cloned(), what }
    }

    /// The subscription's last item: the error, sent as an `error` message.
    pub(super) fn error(&self, lost: Lost) -> async_graphql::Error {
        if let Some(trace) = &self.trace {
            trace.end_with_error();
        }
        ApiError::from(lost.error(self.what)).0
    }
}
