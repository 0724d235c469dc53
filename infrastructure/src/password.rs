//! Password hashing with argon2id at OWASP's recommended cost (m = 19 MiB, t = 2, p = 1, the
//! `argon2` crate's defaults). Hashing runs on the blocking pool: it takes tens of
//! milliseconds of CPU and must not stall the async workers.

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use nishan_domain::{DomainError, DomainResult, ports::PasswordHasher};

#[derive(Clone)]
pub struct Argon2Hasher {
    /// A real hash of a random password, verified against when an account does not exist,
    /// so that the answer takes as long as for a real account.
    dummy_hash: std::sync::Arc<String>,
}

impl Argon2Hasher {
    pub fn new() -> DomainResult<Self> {
        let dummy = hash_blocking("nishan-dummy-password-for-timing")?;
        Ok(Self { dummy_hash: std::sync::Arc::new(dummy) })
    }
}

fn hash_blocking(password: &str) -> DomainResult<String> {
    let hash: PasswordHash = Argon2::default().hash_password(password.as_bytes()).map_err(DomainError::internal)?;
    Ok(hash.to_string())
}

/// Verifies against a PHC string; a malformed stored hash simply does not match.
fn verify_blocking(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> DomainResult<String> {
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await.map_err(DomainError::internal)?
    }

    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool> {
        let password = password.to_owned();
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.as_str().to_owned(), false),
        };
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .map_err(DomainError::internal)?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_at_owasp_cost_and_verify() {
        let h = Argon2Hasher::new().unwrap();
        let hash = h.hash("a long passphrase").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(h.verify("a long passphrase", Some(&hash)).await.unwrap());
        assert!(!h.verify("a long passphrasf", Some(&hash)).await.unwrap());
        assert!(!h.verify("anything", Some("not a hash")).await.unwrap());
        assert!(!h.verify("nishan-dummy-password-for-timing", None).await.unwrap());
    }
}
