//! User accounts: validated credentials, the profile and how complete it is.

use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;

/// A username: 3 to 50 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn new(raw: &str) -> DomainResult<Self> {
        let raw = raw.trim();
        let len = raw.chars().count();
        if !(3..=50).contains(&len) {
            return Err(DomainError::invalid("username", "must be 3 to 50 characters long"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(DomainError::invalid("username", "may contain only letters A-Z, digits, '_', '.' and '-'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a client names another user: by id, username or email (a project manager adding a
/// collaborator knows one of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    Id(UserId),
    Username(Username),
    Email(Email),
}

/// An email address of plausible syntax, stored lower-cased so uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn new(raw: &str) -> DomainResult<Self> {
        let email = raw.trim().to_lowercase();
        let bad = || DomainError::invalid("email", "is not a valid email address");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(bad());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: at least 10 characters, at most 1 KiB (hashing cost is bounded).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_BYTES: usize = 1024;

    /// Validates a new password; `field` names the input field in the error.
    pub fn new(raw: &str, field: &str) -> DomainResult<Self> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(DomainError::invalid(field, "must be at least 10 characters long"));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(DomainError::invalid(field, "must be at most 1024 bytes long"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password offered at login: not checked against the rules (old accounts may predate
    /// them) except the size bound, which keeps hashing cost bounded.
    pub fn offered(raw: &str) -> DomainResult<Self> {
        if raw.len() > Self::MAX_BYTES {
            return Err(DomainError::InvalidCredentials);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A user as the rest of the system sees it (never with the password hash).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    pub research_interests: Vec<String>,
    pub preferences: serde_json::Value,
    pub institution: Option<String>,
    pub academic_title: Option<String>,
    pub research_focus: Option<String>,
    pub is_researcher: bool,
    pub is_admin: bool,
    pub is_active: bool,
    pub email_verified: bool,
    pub last_activity: Option<DateTime<Utc>>,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The one-to-one profile of a user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub user_id: UserId,
    pub avatar_url: Option<String>,
    pub website: Option<String>,
    pub orcid: Option<String>,
    pub location: Option<String>,
    pub languages: Vec<String>,
    pub profile_completion: i32,
}

/// A registration, validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub now: DateTime<Utc>,
}

/// Changes to the caller's own user and profile: `None` leaves a field as it is, and
/// `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub research_interests: Option<Vec<String>>,
    pub preferences: Option<serde_json::Value>,
    pub institution: Option<Option<String>>,
    pub academic_title: Option<Option<String>>,
    pub research_focus: Option<Option<String>>,
    pub is_researcher: Option<bool>,
    pub avatar_url: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub orcid: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub languages: Option<Vec<String>>,
}

impl UserPatch {
    /// Checks sizes and shapes of the patch; text fields are trimmed and blank means cleared.
    pub fn validated(mut self) -> DomainResult<Self> {
        fn text(v: &mut Option<Option<String>>, field: &str, max: usize) -> DomainResult<()> {
            if let Some(inner) = v {
                if let Some(s) = inner.as_mut() {
                    *s = s.trim().to_owned();
                    if s.chars().count() > max {
                        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
                    }
                }
                if inner.as_deref() == Some("") {
                    *inner = None;
                }
            }
            Ok(())
        }
        text(&mut self.first_name, "firstName", 100)?;
        text(&mut self.last_name, "lastName", 100)?;
        text(&mut self.bio, "bio", 5000)?;
        text(&mut self.institution, "institution", 200)?;
        text(&mut self.academic_title, "academicTitle", 100)?;
        text(&mut self.research_focus, "researchFocus", 2000)?;
        text(&mut self.avatar_url, "avatarUrl", 500)?;
        text(&mut self.website, "website", 500)?;
        text(&mut self.orcid, "orcid", 19)?;
        text(&mut self.location, "location", 200)?;
        if let Some(Some(orcid)) = &self.orcid
            && !is_orcid(orcid)
        {
            return Err(DomainError::invalid("orcid", "must look like 0000-0002-1825-0097"));
        }
        if let Some(p) = &self.preferences
            && !p.is_object()
        {
            return Err(DomainError::invalid("preferences", "must be a JSON object"));
        }
        for (field, list) in [("researchInterests", &self.research_interests), ("languages", &self.languages)] {
            if let Some(list) = list
                && (list.len() > 50 || list.iter().any(|s| s.trim().is_empty() || s.chars().count() > 100))
            {
                return Err(DomainError::invalid(
                    field,
                    "must hold at most 50 non-blank entries of at most 100 characters",
                ));
            }
        }
        Ok(self)
    }
}

fn is_orcid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 4
        && groups.iter().enumerate().all(|(i, g)| {
            g.len() == 4 && g.chars().enumerate().all(|(j, c)| c.is_ascii_digit() || (i == 3 && j == 3 && c == 'X'))
        })
}

/// How complete a profile is, in percent: the share of the research-profile fields filled in.
pub fn profile_completion(user: &User, profile: &UserProfile) -> i32 {
    let filled = [
        user.first_name.is_some(),
        user.last_name.is_some(),
        user.bio.is_some(),
        !user.research_interests.is_empty(),
        user.institution.is_some(),
        user.academic_title.is_some(),
        user.research_focus.is_some(),
        profile.location.is_some(),
        profile.website.is_some() || profile.orcid.is_some(),
        !profile.languages.is_empty(),
    ];
    let count = filled.iter().filter(|f| **f).count() as i32;
    count * 100 / filled.len() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::new("ab").is_err());
        assert!(Username::new("anis_1.mir-2").is_ok());
        assert!(Username::new(&"a".repeat(50)).is_ok());
        assert!(Username::new(&"a".repeat(51)).is_err());
        assert!(Username::new("مير انيس").is_err());
        assert!(Username::new("has space").is_err());
        let err = Username::new("x").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "username"));
    }

    #[test]
    fn emails() {
        assert_eq!(Email::new(" Anis@Example.ORG ").unwrap().as_str(), "anis@example.org");
        for bad in ["", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b..c", "a@-b.c", ".a@b.c", "a@@b.c"] {
            assert!(Email::new(bad).is_err(), "{bad} accepted");
        }
        assert!(Email::new("researcher@uni.edu.pk").is_ok());
    }

    #[test]
    fn passwords() {
        assert!(Password::new("123456789", "password").is_err());
        assert!(Password::new("1234567890", "password").is_ok());
        // Ten Urdu letters are ten characters, though twenty bytes.
        assert!(Password::new("حسینابنعلی", "password").is_ok());
        assert!(Password::new(&"a".repeat(1024), "password").is_ok());
        let err = Password::new(&"a".repeat(1025), "newPassword").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "newPassword"));
        assert_eq!(format!("{:?}", Password::new("secret-secret", "p").unwrap()), "Password(<redacted>)");
    }

    #[test]
    fn patch_validation() {
        let p = UserPatch { bio: Some(Some("  ".into())), ..Default::default() }.validated().unwrap();
        assert_eq!(p.bio, Some(None));
        assert!(
            UserPatch { orcid: Some(Some("0000-0002-1825-0097".into())), ..Default::default() }.validated().is_ok()
        );
        assert!(UserPatch { orcid: Some(Some("12-34".into())), ..Default::default() }.validated().is_err());
        assert!(UserPatch { preferences: Some(serde_json::json!([1])), ..Default::default() }.validated().is_err());
    }
}
