//! Throttling of repeated failures (login attempts): after `max_failures` within `window`,
//! further attempts are refused until `cooldown` has passed. The refusal always ends, so an
//! attacker can slow a real user down but never lock them out for good.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { max_failures: 5, window: Duration::minutes(15), cooldown: Duration::minutes(5) }
    }
}

/// The failures seen for one key (an account or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRecord {
    pub failures: u32,
    pub window_start: DateTime<Utc>,
    pub blocked_until: Option<DateTime<Utc>>,
}

impl ThrottlePolicy {
    /// `Err(seconds)` while `record` is blocked at `now`.
    pub fn check(&self, record: Option<&FailureRecord>, now: DateTime<Utc>) -> Result<(), u64> {
        match record.and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err((until - now).num_seconds().max(1) as u64),
            _ => Ok(()),
        }
    }

    /// The record after one more failure at `now`.
    pub fn record_failure(&self, record: Option<FailureRecord>, now: DateTime<Utc>) -> FailureRecord {
        let mut r = match record {
            Some(r) if now - r.window_start < self.window && r.blocked_until.is_none_or(|u| u > now) => r,
            _ => FailureRecord { failures: 0, window_start: now, blocked_until: None },
        };
        r.failures += 1;
        if r.failures >= self.max_failures {
            r.blocked_until = Some(now + self.cooldown);
        }
        r
    }

    /// Whether a record can be forgotten (nothing it says still matters at `now`).
    pub fn is_stale(&self, record: &FailureRecord, now: DateTime<Utc>) -> bool {
        now - record.window_start >= self.window && record.blocked_until.is_none_or(|u| u <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_then_lets_go() {
        let p = ThrottlePolicy::default();
        let t0 = Utc::now();
        let mut rec = None;
        for i in 0..5 {
            assert!(p.check(rec.as_ref(), t0).is_ok(), "attempt {i}");
            rec = Some(p.record_failure(rec, t0));
        }
        let retry = p.check(rec.as_ref(), t0).unwrap_err();
        assert_eq!(retry, 300);
        assert!(p.check(rec.as_ref(), t0 + Duration::minutes(5)).is_ok());
        // After the cooldown a new failure starts a fresh count rather than re-blocking at once.
        let after = p.record_failure(rec, t0 + Duration::minutes(6));
        assert_eq!(after.failures, 1);
        assert!(after.blocked_until.is_none());
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let p = ThrottlePolicy::default();
        let t0 = Utc::now();
        let mut rec = None;
        for i in 0..10 {
            rec = Some(p.record_failure(rec, t0 + Duration::minutes(16 * i)));
        }
        assert_eq!(rec.unwrap().failures, 1);
        assert!(p.is_stale(&rec.unwrap(), t0 + Duration::minutes(16 * 9 + 15)));
    }
}
