//! The clock the time-window rules read (the mutation rate limit's minute windows, the login
//! throttle's cooldowns): the system clock in a server, a manual one in tests, so a test puts
//! itself in a known window or past a cooldown without waiting for real time to pass. A manual
//! clock only moves when told to; every clone of it reads the same time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock standing at `at` until it is moved.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(at) => *at.lock().expect("clock lock"),
        }
    }

    /// Moves a manual clock forward by `by` (a system clock cannot be moved: panics).
    pub fn advance(&self, by: Duration) {
        let at = self.0.as_ref().expect("only a manual clock can be moved");
        *at.lock().expect("clock lock") += by;
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_agree() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T10:00:05Z").unwrap().to_utc();
        let clock = Clock::manual(start);
        let clone = clock.clone();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(60));
        assert_eq!(clone.now(), start + Duration::seconds(60));
        let before = Utc::now();
        assert!(Clock::system().now() >= before);
    }
}
