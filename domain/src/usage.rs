//! Usage accounting: the recorded model calls summed per user, per model and per day (UTC)
//! over a range. Pure: the store reads the calls, this adds them up.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::ids::{ProjectId, UserId};

/// One recorded call, as accounting sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub user: Option<UserId>,
    pub model: Option<uuid::Uuid>,
    pub project: Option<ProjectId>,
    pub at: DateTime<Utc>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: f64,
    pub failed: bool,
}

/// Sums of a group of calls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub calls: u64,
    pub failed_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: f64,
}

impl Totals {
    /// Counts one more call.
    pub fn add(&mut self, c: &CallRecord) {
        self.calls += 1;
        self.failed_calls += u64::from(c.failed);
        self.prompt_tokens += c.prompt_tokens;
        self.completion_tokens += c.completion_tokens;
        self.cost += c.cost;
    }

    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Usage over a range, three ways.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageReport {
    pub total: Totals,
    /// `None`: calls made by no user (model tests of a deleted account, say).
    pub by_user: BTreeMap<Option<UserId>, Totals>,
    pub by_model: BTreeMap<Option<uuid::Uuid>, Totals>,
    /// Every day of the range, zero days included, in order.
    pub by_day: BTreeMap<NaiveDate, Totals>,
}

/// Adds up the calls of `[from, to)`; calls outside the range are ignored.
pub fn aggregate(calls: &[CallRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> UsageReport {
    let mut report = UsageReport::default();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        report.by_day.insert(day, Totals::default());
        day = day.succ_opt().expect("a day after the range");
    }
    for c in calls.iter().filter(|c| c.at >= from && c.at < to) {
        report.total.add(c);
        report.by_user.entry(c.user).or_default().add(c);
        report.by_model.entry(c.model).or_default().add(c);
        report.by_day.entry(c.at.date_naive()).or_default().add(c);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn sums_per_user_model_and_day() {
        let t0 = "2026-11-20T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let (u1, u2) = (UserId::new(), UserId::new());
        let m = uuid::Uuid::now_v7();
        let call = |user, at: DateTime<Utc>, p: u64, c: u64, cost: f64, failed: bool| CallRecord {
            user: Some(user),
            model: Some(m),
            project: None,
            at,
            prompt_tokens: p,
            completion_tokens: c,
            cost,
            failed,
        };
        let calls = [
            call(u1, t0, 100, 10, 0.5, false),
            call(u1, t0 + Duration::hours(1), 50, 5, 0.25, true),
            call(u2, t0 + Duration::hours(2), 10, 1, 0.1, false),
            call(u2, t0 - Duration::days(10), 999, 999, 9.0, false),
        ];
        let r = aggregate(&calls, t0 - Duration::hours(1), t0 + Duration::days(2));
        assert_eq!(r.total.calls, 3, "the call outside the range is left out");
        assert_eq!(r.total.tokens(), 176);
        assert_eq!(r.by_user[&Some(u1)].calls, 2);
        assert_eq!(r.by_user[&Some(u1)].failed_calls, 1);
        assert!((r.by_user[&Some(u2)].cost - 0.1).abs() < 1e-12);
        assert_eq!(r.by_model[&Some(m)].calls, 3);
        let days: Vec<(String, u64)> = r.by_day.iter().map(|(d, t)| (d.to_string(), t.calls)).collect();
        assert_eq!(days, [("2026-11-20".into(), 1), ("2026-11-21".into(), 2), ("2026-11-22".into(), 0)]);
    }
}
