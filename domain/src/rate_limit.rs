//! Fixed-window rate limits: at most `limit` actions per key (a user, an address) in each
//! window of `window_secs`, counted from the Unix epoch so every server agrees on where a
//! window starts. A refusal says how long until the next window opens.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    /// Actions allowed per window; 0 means no limit.
    pub limit: u32,
    pub window_secs: i64,
}

impl FixedWindow {
    pub fn per_minute(limit: u32) -> Self {
        Self { limit, window_secs: 60 }
    }

    pub fn is_unlimited(&self) -> bool {
        self.limit == 0
    }

    /// The start (Unix seconds) of the window `now` falls in.
    pub fn window_start(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_secs)
    }

    /// `Err(seconds to wait)` when `hits` (this one included) exceed the limit at `now`.
    pub fn check(&self, hits: u32, now: i64) -> Result<(), u64> {
        if self.is_unlimited() || hits <= self.limit {
            return Ok(());
        }
        let next_window = self.window_start(now) + self.window_secs;
        Err((next_window - now).max(1) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_the_minute_and_refusals_end_with_the_window() {
        let w = FixedWindow::per_minute(3);
        assert_eq!(w.window_start(125), 120);
        assert_eq!(w.window_start(120), 120);
        assert_eq!(w.check(3, 125), Ok(()));
        assert_eq!(w.check(4, 125), Err(55));
        assert_eq!(w.check(4, 179), Err(1));
        assert_eq!(FixedWindow::per_minute(0).check(1_000_000, 125), Ok(()));
    }
}
