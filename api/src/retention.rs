//! Retention: a periodic task that deletes sessions that have expired or been revoked, audit
//! rows and model-call records older than their retention periods
//! (`NISHAN_AUDIT_RETENTION_DAYS`, `NISHAN_MODEL_CALL_RETENTION_DAYS`), chat sessions whose
//! last message is older than `NISHAN_CHAT_RETENTION_DAYS`, finished webhook deliveries and
//! their attempts older than `NISHAN_WEBHOOK_RETENTION_DAYS`, IN_PROGRESS assignments untouched
//! for their project's `abandonAfterHours` (back to NEW), rate-limit counters of past
//! windows, and sign-in attempt counters that no longer matter. Each kind of record is one `DELETE`; a failed sweep is logged
//! and tried again at the next interval.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nishan_domain::DomainResult;
use nishan_domain::ports::RetentionRepository;

use crate::state::AppState;

/// How many rows one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub audit_rows: u64,
    pub model_calls: u64,
    pub rate_limits: u64,
    pub login_throttles: u64,
    pub chat_sessions: u64,
    /// Delivered or failed webhook deliveries (their attempts go with them).
    pub webhook_deliveries: u64,
    /// IN_PROGRESS assignments untouched for their project's `abandonAfterHours`, put back to NEW.
    pub abandoned_assignments: u64,
}

/// Removes what has outlived its retention at `now`.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> DomainResult<Swept> {
    let store = &state.store;
    let days = state.runtime.get().audit_retention_days;
    let audit_rows =
        if days == 0 { 0 } else { store.delete_audit_before(now - chrono::Duration::days(days.into())).await? };
    let call_days = state.runtime.get().model_call_retention_days;
    let model_calls = if call_days == 0 {
        0
    } else {
        store.delete_model_calls_before(now - chrono::Duration::days(call_days.into())).await?
    };
    let chat_days = state.settings.surface.chat_retention_days;
    let chat_sessions = if chat_days == 0 {
        0
    } else {
        nishan_domain::ports::ChatRepository::delete_chat_sessions_before(
            store,
            now - chrono::Duration::days(chat_days.into()),
        )
        .await?
    };
    let hook_days = state.settings.outbound.webhook_retention_days;
    let webhook_deliveries = if hook_days == 0 {
        0
    } else {
        store.delete_finished_deliveries_before(now - chrono::Duration::days(hook_days.into())).await?
    };
    let abandoned_assignments = nishan_domain::ports::AssignmentRepository::reopen_abandoned(store, now).await?;
    Ok(Swept {
        chat_sessions,
        webhook_deliveries,
        abandoned_assignments,
        sessions: store.delete_sessions_ended_before(now).await?,
        audit_rows,
        model_calls,
        // Counters of the window before the current one are no longer read.
        rate_limits: store.delete_rate_limits_before(now.timestamp() - 120).await?,
        // A record whose window and cooldown both ended says nothing any more.
        login_throttles: store
            .delete_login_throttles_before(
                now - chrono::Duration::minutes(15)
                    - chrono::Duration::seconds(state.settings.login_cooldown_secs.max(1)),
            )
            .await?,
    })
}

/// Runs [`sweep`] now and then every `NISHAN_RETENTION_INTERVAL_SECS`, for as long as the
/// process lives.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(state.settings.surface.retention_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep(&state, Utc::now()).await {
                Ok(swept) => tracing::info!(
                    sessions = swept.sessions,
                    audit_rows = swept.audit_rows,
                    model_calls = swept.model_calls,
                    rate_limits = swept.rate_limits,
                    login_throttles = swept.login_throttles,
                    chat_sessions = swept.chat_sessions,
                    webhook_deliveries = swept.webhook_deliveries,
                    abandoned_assignments = swept.abandoned_assignments,
                    "retention sweep"
                ),
                // The error is logged with its correlation id where it is converted.
                Err(e) => {
                    let _ = crate::error::to_graphql(e);
                }
            }
        }
    })
}
