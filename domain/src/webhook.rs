//! Webhooks: a project's subscriptions to its events, delivered to an outside URL by the
//! durable outbox. Holds the event names (`WebhookEvent`), which audited action raises which
//! event (`WebhookEvent::of_action`, the one place of that rule), the URL rule, the retry
//! schedule (the first retry after the base delay, each later one twice as long, capped) and
//! when a delivery is given up and a webhook disabled.
//!
//! Invariants: a webhook's events are a non-empty set of known names; its URL is an absolute
//! http(s) URL without credentials; a delivery keeps its message id (`webhook-id`) through
//! every attempt (at least once: a receiver deduplicates by that id).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::ids::{ProjectId, UserId};

/// A webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookId(pub Uuid);

impl WebhookId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for WebhookId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for WebhookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Attempts of one delivery before it is given up: with the default 5 s base the last retry
/// waits 5 s × 2¹⁰ ≈ 85 min, about 2 h 50 min after the first attempt.
pub const MAX_ATTEMPTS: u32 = 12;

/// Longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::hours(6);

/// Consecutive failed attempts (over all its deliveries) after which a webhook is disabled;
/// a successful attempt resets the count.
pub const DISABLE_AFTER_FAILURES: u32 = 30;

/// Longest webhook URL.
pub const MAX_URL_CHARS: usize = 1000;

/// How long a rotated-out secret still signs deliveries, beside the new one.
pub const OLD_SECRET_VALID: Duration = Duration::days(1);

/// What a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookEvent {
    DocumentCreated,
    DocumentUpdated,
    DocumentDeleted,
    EntityVerified,
    JobCompleted,
    JobFailed,
    /// An annotator finished an assignment (raised by assignment rounds, issue 12).
    AssignmentFinished,
    /// A curator finished curating a document (raised by curation, issue 12).
    CurationFinished,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::DocumentCreated,
        WebhookEvent::DocumentUpdated,
        WebhookEvent::DocumentDeleted,
        WebhookEvent::EntityVerified,
        WebhookEvent::JobCompleted,
        WebhookEvent::JobFailed,
        WebhookEvent::AssignmentFinished,
        WebhookEvent::CurationFinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::DocumentCreated => "document.created",
            WebhookEvent::DocumentUpdated => "document.updated",
            WebhookEvent::DocumentDeleted => "document.deleted",
            WebhookEvent::EntityVerified => "entity.verified",
            WebhookEvent::JobCompleted => "job.completed",
            WebhookEvent::JobFailed => "job.failed",
            WebhookEvent::AssignmentFinished => "assignment.finished",
            WebhookEvent::CurationFinished => "curation.finished",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|e| e.as_str()).collect();
            DomainError::invalid("events", format!("unknown event {s:?} (known: {})", known.join(", ")))
        })
    }

    /// The event an audited action raises, if any: the one place that says which changes
    /// webhooks hear of. The outbox row is written with the audit row, in its transaction.
    pub fn of_action(action: &str) -> Option<Self> {
        Some(match action {
            "document.create" => WebhookEvent::DocumentCreated,
            "document.update" | "document.update_content" => WebhookEvent::DocumentUpdated,
            "document.delete" => WebhookEvent::DocumentDeleted,
            "entity.verify" => WebhookEvent::EntityVerified,
            "job.completed" => WebhookEvent::JobCompleted,
            "job.failed" => WebhookEvent::JobFailed,
            "assignment.finish" => WebhookEvent::AssignmentFinished,
            "curation.finish" => WebhookEvent::CurationFinished,
            _ => return None,
        })
    }
}

/// The event of a test delivery (`testWebhook`), sent whatever the webhook subscribes to.
pub const TEST_EVENT: &str = "webhook.test";

/// Parses and checks the events a webhook subscribes to: at least one, no duplicates kept.
pub fn parse_events(raw: &[String]) -> DomainResult<Vec<WebhookEvent>> {
    if raw.is_empty() {
        return Err(DomainError::invalid("events", "name at least one event"));
    }
    let mut events = raw.iter().map(|s| WebhookEvent::parse(s)).collect::<DomainResult<Vec<_>>>()?;
    events.sort();
    events.dedup();
    Ok(events)
}

/// Checks a webhook URL: absolute http or https, a host, no user name or password in it.
/// (Where it may point is the address guard's rule, applied when it is called.)
pub fn check_url(url: &str) -> DomainResult<String> {
    let bad = |m: &str| DomainError::invalid("url", m.to_owned());
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad("is longer than 1000 characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must be an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not hold a user name or password"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    Ok(url.to_owned())
}

/// How long to wait before attempt `next_attempt` (2 for the first retry): `base` before the
/// first retry, twice as long before each later one, at most `MAX_RETRY_DELAY`.
pub fn retry_delay(base: Duration, next_attempt: u32) -> Duration {
    let doublings = next_attempt.saturating_sub(2).min(30);
    let ms = base.num_milliseconds().max(1).saturating_mul(1i64 << doublings);
    Duration::milliseconds(ms).min(MAX_RETRY_DELAY)
}

/// A webhook as its project's owners see it (never its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub project_id: ProjectId,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    pub is_active: bool,
    pub consecutive_failures: u32,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields one `updateWebhook` changes, and only those: a concurrent change of another
/// field is kept (each change writes its own columns, never the whole row it read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
    /// The count of failures in a row goes back to 0 (a webhook enabled again).
    pub reset_failures: bool,
}

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Given up: its attempts ran out, or its webhook was disabled.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "PENDING" => Ok(Self::Pending),
            "DELIVERED" => Ok(Self::Delivered),
            "FAILED" => Ok(Self::Failed),
            _ => Err(DomainError::internal(format!("unknown delivery status {s:?} in storage"))),
        }
    }
}

/// One event for one webhook: the outbox row, with its latest attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The message id sent as `webhook-id` on every attempt (`msg_` + a UUID).
    pub id: String,
    pub webhook_id: WebhookId,
    pub event: String,
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// One attempt of a delivery, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    /// When the next attempt is due, if there is one.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempted_at: DateTime<Utc>,
}

/// What an attempt came to, and so what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; tried again at the given time.
    Retry(DateTime<Utc>),
    /// Failed, and no attempt is left.
    GaveUp,
}

/// What follows a failed attempt number `attempt` made at `now`.
pub fn after_failure(attempt: u32, now: DateTime<Utc>, base: Duration) -> AttemptOutcome {
    if attempt >= MAX_ATTEMPTS {
        AttemptOutcome::GaveUp
    } else {
        AttemptOutcome::Retry(now + retry_delay(base, attempt + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_the_base_then_twice_as_long_each_time() {
        let base = Duration::milliseconds(5000);
        let waits: Vec<i64> = (2..=6).map(|n| retry_delay(base, n).num_milliseconds()).collect();
        assert_eq!(waits, [5_000, 10_000, 20_000, 40_000, 80_000]);
        assert_eq!(retry_delay(base, 40), MAX_RETRY_DELAY);
        let total: i64 = (2..=MAX_ATTEMPTS).map(|n| retry_delay(base, n).num_seconds()).sum();
        assert!(total > 2 * 3600, "the retries span hours: {total} s");
    }

    #[test]
    fn the_last_attempt_gives_up() {
        let now = Utc::now();
        let base = Duration::seconds(5);
        assert_eq!(after_failure(1, now, base), AttemptOutcome::Retry(now + Duration::seconds(5)));
        assert_eq!(after_failure(MAX_ATTEMPTS, now, base), AttemptOutcome::GaveUp);
    }

    #[test]
    fn events_parse_and_actions_map() {
        assert_eq!(
            parse_events(&["job.failed".into(), "document.created".into(), "job.failed".into()]).unwrap(),
            [WebhookEvent::DocumentCreated, WebhookEvent::JobFailed]
        );
        assert!(parse_events(&[]).is_err());
        assert!(parse_events(&["document.exploded".into()]).is_err());
        for e in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(e.as_str()).unwrap(), e);
        }
        assert_eq!(WebhookEvent::of_action("entity.verify"), Some(WebhookEvent::EntityVerified));
        assert_eq!(WebhookEvent::of_action("entity.unverify"), None);
    }

    #[test]
    fn urls_are_http_without_credentials() {
        assert!(check_url("https://example.org/hook").is_ok());
        assert!(check_url("http://127.0.0.1:9/x").is_ok());
        for bad in ["ftp://x/", "https://", "https://u:p@example.org/", "javascript:alert(1)", "http://a b/"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
