//! Retry timing for model calls, after the official OpenAI client: retry what may succeed
//! (429, 408, 409, 5xx, timeouts, network failures), wait 0.5 s × 2ⁿ capped at 8 s, less up to
//! a quarter of random jitter, or what the provider asked for when it said so (up to 60 s).
//! Pure: the caller supplies the random number and does the sleeping, so tests are exact.

use std::time::Duration;

use super::LlmError;

/// When to try a failed model call again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (3: the first call and two retries).
    pub max_attempts: u32,
    /// The wait before the first retry, doubled before each further one.
    pub base: Duration,
    /// The longest computed wait.
    pub cap: Duration,
    /// The longest provider-requested wait honoured; a longer one falls back to the computed
    /// wait (as the OpenAI client does), so a job never sleeps for minutes on one call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before the next attempt, after attempt number `attempt` (1-based)
    /// failed with `error`; None when it should not be retried: the error is not retryable,
    /// or `attempt` was the last one allowed. `jitter` is a random number in `[0, 1)` from the
    /// caller (clamped): it shortens the computed wait by up to 25 %, so that jobs rate-limited
    /// together do not retry together. A provider's own wait is taken as it is.
    pub fn delay(&self, attempt: u32, error: &LlmError, jitter: f64) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        if let Some(asked) = error.retry_after().filter(|d| *d <= self.max_retry_after) {
            return Some(asked);
        }
        // 2^(attempt - 1), saturating: a large attempt number ends at the cap anyway.
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        let backoff = self.base.saturating_mul(factor).min(self.cap);
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        Some(backoff.mul_f64(1.0 - 0.25 * jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn server() -> LlmError {
        LlmError::Server { status: 503, message: "overloaded".into() }
    }

    fn unlimited() -> RetryPolicy {
        RetryPolicy { max_attempts: 100, ..RetryPolicy::default() }
    }

    #[test]
    fn the_defaults_are_the_openai_clients() {
        let p = RetryPolicy::default();
        assert_eq!((p.max_attempts, p.base, p.cap, p.max_retry_after), (3, ms(500), ms(8000), ms(60_000)));
    }

    #[test]
    fn backs_off_exponentially_up_to_the_cap() {
        let p = unlimited();
        let waits: Vec<_> = (1..=7).map(|a| p.delay(a, &server(), 0.0).unwrap()).collect();
        assert_eq!(waits, [ms(500), ms(1000), ms(2000), ms(4000), ms(8000), ms(8000), ms(8000)]);
        // Huge attempt numbers do not overflow.
        assert_eq!(p.delay(99, &server(), 0.0), Some(ms(8000)));
        let p = RetryPolicy { max_attempts: u32::MAX, ..p };
        assert_eq!(p.delay(u32::MAX - 1, &server(), 0.0), Some(ms(8000)));
    }

    #[test]
    fn jitter_shortens_the_wait_by_up_to_a_quarter() {
        let p = unlimited();
        assert_eq!(p.delay(2, &server(), 0.5), Some(ms(875)));
        assert_eq!(p.delay(2, &server(), 1.0), Some(ms(750)));
        // Out-of-range jitter is clamped, NaN ignored.
        assert_eq!(p.delay(2, &server(), 7.0), Some(ms(750)));
        assert_eq!(p.delay(2, &server(), -1.0), Some(ms(1000)));
        assert_eq!(p.delay(2, &server(), f64::NAN), Some(ms(1000)));
    }

    #[test]
    fn stops_after_the_last_attempt() {
        let p = RetryPolicy::default();
        assert!(p.delay(1, &server(), 0.0).is_some());
        assert!(p.delay(2, &server(), 0.0).is_some());
        assert_eq!(p.delay(3, &server(), 0.0), None);
        assert_eq!(p.delay(4, &server(), 0.0), None);
        assert_eq!(RetryPolicy { max_attempts: 1, ..p }.delay(1, &server(), 0.0), None);
    }

    #[test]
    fn retries_only_what_may_succeed() {
        let p = RetryPolicy::default();
        for error in [
            LlmError::RateLimited { retry_after: None },
            LlmError::Server { status: 408, message: String::new() },
            LlmError::Timeout,
            LlmError::Network("connection refused".into()),
        ] {
            assert_eq!(p.delay(1, &error, 0.0), Some(ms(500)), "{error:?}");
        }
        for error in [LlmError::Client { status: 401, message: "bad key".into() }, LlmError::Protocol("html".into())] {
            assert_eq!(p.delay(1, &error, 0.0), None, "{error:?}");
        }
    }

    #[test]
    fn honours_the_providers_wait_up_to_the_limit() {
        let p = RetryPolicy::default();
        let limited = |secs| LlmError::RateLimited { retry_after: Some(Duration::from_secs(secs)) };
        // Taken as it is, without jitter, even when longer than the cap.
        assert_eq!(p.delay(1, &limited(20), 0.9), Some(Duration::from_secs(20)));
        assert_eq!(p.delay(2, &limited(0), 0.9), Some(Duration::ZERO));
        assert_eq!(p.delay(1, &limited(60), 0.0), Some(Duration::from_secs(60)));
        // Too long: the computed wait instead.
        assert_eq!(p.delay(2, &limited(61), 0.0), Some(ms(1000)));
        // Not when attempts are exhausted.
        assert_eq!(p.delay(3, &limited(1), 0.0), None);
    }
}
