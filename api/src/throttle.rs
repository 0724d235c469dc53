//! The login throttle's state: failure records per account and per address, in memory.
//! The rule itself is `nishan_domain::throttle`.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Duration;
use nishan_domain::throttle::{FailureRecord, ThrottlePolicy};
use nishan_domain::{DomainError, DomainResult};

use crate::clock::Clock;

pub struct LoginThrottle {
    per_account: ThrottlePolicy,
    per_address: ThrottlePolicy,
    records: Mutex<HashMap<String, FailureRecord>>,
    clock: Clock,
}

impl LoginThrottle {
    pub fn new(max_per_account: u32, max_per_address: u32, cooldown_secs: i64, clock: Clock) -> Self {
        let policy = |max| ThrottlePolicy {
            max_failures: max,
            window: Duration::minutes(15),
            cooldown: Duration::seconds(cooldown_secs),
        };
        Self {
            per_account: policy(max_per_account),
            per_address: policy(max_per_address),
            records: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn keys(login: &str, ip: Option<&str>) -> (String, Option<String>) {
        (format!("account:{}", login.trim().to_lowercase()), ip.map(|ip| format!("ip:{ip}")))
    }

    /// Refuses with RATE_LIMITED while the account or the address is cooling down.
    pub fn check(&self, login: &str, ip: Option<&str>) -> DomainResult<()> {
        let (account, address) = Self::keys(login, ip);
        let now = self.clock.now();
        let records = self.records.lock().expect("throttle lock");
        let account_wait = self.per_account.check(records.get(&account), now).err();
        let address_wait = address.and_then(|a| self.per_address.check(records.get(&a), now).err());
        match account_wait.max(address_wait) {
            Some(retry_after_secs) => Err(DomainError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, login: &str, ip: Option<&str>) {
        let (account, address) = Self::keys(login, ip);
        let now = self.clock.now();
        let mut records = self.records.lock().expect("throttle lock");
        let r = self.per_account.record_failure(records.get(&account).copied(), now);
        records.insert(account, r);
        if let Some(a) = address {
            let r = self.per_address.record_failure(records.get(&a).copied(), now);
            records.insert(a, r);
        }
        // Keep the map bounded by what still matters.
        if records.len() > 10_000 {
            let policy = self.per_account;
            records.retain(|_, r| !policy.is_stale(r, now));
        }
    }

    /// A successful login clears the account's record (not the address's: one good password
    /// must not reset an attacker's count against other accounts).
    pub fn record_success(&self, login: &str) {
        let (account, _) = Self::keys(login, None);
        self.records.lock().expect("throttle lock").remove(&account);
    }
}
