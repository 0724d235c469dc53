//! Signed-in sessions. The token itself is never stored: only its SHA-256 (see
//! infrastructure's token module), so a leaked table grants nothing.

use chrono::{DateTime, Duration, Utc};

use crate::ids::{SessionId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    pub fn start(
        user_id: UserId,
        now: DateTime<Utc>,
        ttl: Duration,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            id: SessionId::new(),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + ttl,
            revoked_at: None,
            ip,
            user_agent,
        }
    }

    /// A session authenticates only while it is neither revoked nor expired.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        let now = Utc::now();
        let mut s = Session::start(UserId::new(), now, Duration::days(30), None, None);
        assert!(s.is_valid_at(now));
        assert!(!s.is_valid_at(now + Duration::days(30)));
        s.revoked_at = Some(now);
        assert!(!s.is_valid_at(now));
    }
}
