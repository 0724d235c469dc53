//! The mutation rate limit: every mutation (each root field of a mutation operation, aliases
//! and batches included) counts against its user and against its address, per minute, in the database (so the counts hold across restarts and across server
//! processes sharing a PostgreSQL). Over the limit, a mutation is refused with RATE_LIMITED
//! and `retryAfter`, and runs not at all.

use nishan_domain::ports::RateLimitRepository;
use nishan_domain::rate_limit::FixedWindow;
use nishan_domain::{DomainError, DomainResult};

use crate::auth::Viewer;
use crate::state::AppState;

/// Counts the `mutations` of one operation by `viewer` from `ip`, in one statement;
/// RATE_LIMITED (and none of them runs) when either count is then over its limit.
pub async fn check_mutations(state: &AppState, viewer: &Viewer, ip: Option<&str>, mutations: u32) -> DomainResult<()> {
    let settings = state.runtime.get();
    let per_user = FixedWindow::per_minute(settings.mutations_per_minute);
    let per_ip = FixedWindow::per_minute(settings.mutations_per_minute_per_ip);
    let mut buckets = Vec::with_capacity(2);
    if let (Some(actor), false) = (viewer.actor(), per_user.is_unlimited()) {
        buckets.push(("user", per_user, format!("user:{}", actor.user_id.0)));
    }
    if let (Some(ip), false) = (ip, per_ip.is_unlimited()) {
        buckets.push(("address", per_ip, format!("ip:{ip}")));
    }
    if buckets.is_empty() {
        return Ok(());
    }
    let now = state.clock.now().timestamp();
    // Both limits are per minute, so one window start serves both buckets.
    let window_start = per_user.window_start(now);
    let keys: Vec<String> = buckets.iter().map(|(_, _, key)| key.clone()).collect();
    let hits = state.store.hit(&keys, window_start, mutations.max(1)).await?;
    let mut wait = None;
    for ((scope, limit, _), hits) in buckets.iter().zip(hits) {
        if let Err(secs) = limit.check(hits, now) {
            crate::metrics::record_rate_limited(scope);
            wait = wait.max(Some(secs));
        }
    }
    match wait {
        Some(retry_after_secs) => Err(DomainError::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}
