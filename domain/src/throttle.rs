//! Throttling of repeated failures (login attempts, wrong current passwords): after
//! `max_failures` within `window`, further attempts are refused until `cooldown` has passed.
//! The refusal always ends, so an attacker can slow a real user down but never lock them out
//! for good.
//!
//! An attempt is counted *before* it is evaluated ([`ThrottlePolicy::attempt`]): the count and
//! the verdict are one step, so attempts sent at once cannot all pass the check before any of
//! them is recorded. An attempt that turns out to succeed is taken back
//! ([`ThrottlePolicy::refund`]) or clears the record.

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

/// The attempts counted for one key (an account or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRecord {
    pub failures: u32,
    pub window_start: DateTime<Utc>,
    pub blocked_until: Option<DateTime<Utc>>,
}

/// The two policies of a sign-in: per account and per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginLimits {
    pub per_account: ThrottlePolicy,
    pub per_address: ThrottlePolicy,
}

impl ThrottlePolicy {
    /// `Err(seconds)` while `record` is blocked at `now`.
    pub fn check(&self, record: Option<&FailureRecord>, now: DateTime<Utc>) -> Result<(), u64> {
        match record.and_then(|r| r.blocked_until) {
            // Whole seconds, rounded up: a wait of 119.4 s is 120 s, never 119.
            Some(until) if until > now => Err(((until - now).num_milliseconds() + 999).div_euclid(1000).max(1) as u64),
            _ => Ok(()),
        }
    }

    /// One more attempt at `now`, counted as a failure until it is known to have succeeded:
    /// the record after it, and whether the attempt may be evaluated (`Err(seconds to wait)`
    /// when the key is cooling down). The attempt that reaches `max_failures` is evaluated and
    /// starts the cooldown; every later one waits.
    pub fn attempt(&self, record: Option<FailureRecord>, now: DateTime<Utc>) -> (FailureRecord, Result<(), u64>) {
        if let Some(r) = record
            && let Err(wait) = self.check(Some(&r), now)
        {
            return (r, Err(wait));
        }
        (self.record_failure(record, now), Ok(()))
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

    /// The record after an attempt counted by [`attempt`](Self::attempt) succeeded: it is no
    /// longer a failure, and a cooldown it started is lifted.
    pub fn refund(&self, mut record: FailureRecord) -> FailureRecord {
        record.failures = record.failures.saturating_sub(1);
        if record.failures < self.max_failures {
            record.blocked_until = None;
        }
        record
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

    #[test]
    fn attempts_are_counted_before_they_are_evaluated() {
        let p = ThrottlePolicy::default();
        let t0 = Utc::now();
        let mut rec = None;
        let mut verdicts = Vec::new();
        // Eight attempts at once: each is counted as it is let through, so only five pass.
        for _ in 0..8 {
            let (next, verdict) = p.attempt(rec, t0);
            rec = Some(next);
            verdicts.push(verdict.is_ok());
        }
        assert_eq!(verdicts, [true, true, true, true, true, false, false, false]);
        assert_eq!(rec.unwrap().failures, 5, "refused attempts do not extend the count");
        assert_eq!(p.attempt(rec, t0).1, Err(300));
        assert!(p.attempt(rec, t0 + Duration::minutes(5)).1.is_ok());
    }

    #[test]
    fn a_successful_attempt_is_taken_back() {
        let p = ThrottlePolicy { max_failures: 3, ..Default::default() };
        let t0 = Utc::now();
        let (r1, _) = p.attempt(None, t0);
        let (r2, _) = p.attempt(Some(r1), t0);
        let (r3, ok) = p.attempt(Some(r2), t0);
        assert!(ok.is_ok());
        assert!(r3.blocked_until.is_some(), "the third attempt starts the cooldown");
        // It succeeded: the cooldown it started is lifted, the two failures stay.
        let back = p.refund(r3);
        assert_eq!((back.failures, back.blocked_until), (2, None));
        assert!(p.attempt(Some(back), t0).1.is_ok());
        // A refund never lifts a cooldown that real failures earned.
        let (r4, _) = p.attempt(Some(r3), t0);
        let four = FailureRecord { failures: 4, ..r4 };
        assert!(p.refund(four).blocked_until.is_some());
    }
}
