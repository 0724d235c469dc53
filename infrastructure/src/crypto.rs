//! Secrets at rest (model API keys): ChaCha20-Poly1305 AEAD under a key derived from
//! `NISHAN_SECRET_KEY`, or, when that is unset, from a random key kept in a file of the data
//! directory (created with mode 0600 on first start). A stored secret is
//! `v1:` + base64(nonce ‖ ciphertext); tampering or a wrong key fails to decrypt.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use nishan_domain::{DomainError, DomainResult};
use rand::TryRng as _;
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secret.key";

/// Where a [`SecretBox`]'s key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `NISHAN_SECRET_KEY`.
    Passphrase,
    /// The key file of the data directory; `generated` when this start wrote it.
    File { path: std::path::PathBuf, generated: bool },
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// A box keyed by a passphrase (any length): the key is its SHA-256.
    pub fn from_passphrase(passphrase: &str) -> Self {
        let key: [u8; 32] = Sha256::digest(passphrase.as_bytes()).into();
        Self { cipher: ChaCha20Poly1305::new(&Key::from(key)) }
    }

    /// The configured key, or the data directory's key file (generated when missing).
    pub fn load(passphrase: Option<&str>, data_dir: &Path) -> std::io::Result<Self> {
        Self::open(passphrase, data_dir).map(|(cipher, _)| cipher)
    }

    /// As [`load`](Self::load), saying where the key came from (the server tells its operator
    /// when it generated a key file, which must be backed up with the database).
    pub fn open(passphrase: Option<&str>, data_dir: &Path) -> std::io::Result<(Self, KeySource)> {
        if let Some(p) = passphrase.filter(|p| !p.is_empty()) {
            return Ok((Self::from_passphrase(p), KeySource::Passphrase));
        }
        let path = data_dir.join(KEY_FILE);
        let (key, generated) = match std::fs::read_to_string(&path) {
            Ok(k) => (k.trim().to_owned(), false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)?;
                let fresh = hex::encode(random::<32>());
                write_private(&path, &fresh)?;
                (fresh, true)
            }
            Err(e) => return Err(e),
        };
        Ok((Self::from_passphrase(&key), KeySource::File { path, generated }))
    }

    pub fn encrypt(&self, plaintext: &str) -> DomainResult<String> {
        let nonce = Nonce::from(random::<NONCE_LEN>());
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| DomainError::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn decrypt(&self, stored: &str) -> DomainResult<String> {
        let bad = || DomainError::internal("a stored secret cannot be decrypted (was NISHAN_SECRET_KEY changed?)");
        let bytes = STANDARD.decode(stored.strip_prefix(PREFIX).ok_or_else(bad)?).map_err(|_| bad())?;
        if bytes.len() <= NONCE_LEN {
            return Err(bad());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| bad())?;
        let plain = self.cipher.decrypt(&Nonce::from(nonce), sealed).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

/// Bytes from the operating system's CSPRNG.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).expect("the OS random number generator is available");
    bytes
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}

impl nishan_domain::ports::SecretCipher for SecretBox {
    fn encrypt(&self, plaintext: &str) -> DomainResult<String> {
        SecretBox::encrypt(self, plaintext)
    }

    fn decrypt(&self, stored: &str) -> DomainResult<String> {
        SecretBox::decrypt(self, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let b = SecretBox::from_passphrase("correct horse");
        let sealed = b.encrypt("sk-live-1234").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk-live"));
        assert_ne!(sealed, b.encrypt("sk-live-1234").unwrap(), "a fresh nonce every time");
        assert_eq!(b.decrypt(&sealed).unwrap(), "sk-live-1234");
        assert!(SecretBox::from_passphrase("wrong").decrypt(&sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        assert!(b.decrypt(&format!("v1:{}", STANDARD.encode(bytes))).is_err());
    }

    #[test]
    fn key_file_is_generated_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("nishan-key-{}", uuid::Uuid::new_v4().simple()));
        let (first, source) = SecretBox::open(None, &dir).unwrap();
        assert_eq!(source, KeySource::File { path: dir.join(KEY_FILE), generated: true });
        let sealed = first.encrypt("secret").unwrap();
        let (again, source) = SecretBox::open(None, &dir).unwrap();
        assert_eq!(source, KeySource::File { path: dir.join(KEY_FILE), generated: false });
        assert_eq!(again.decrypt(&sealed).unwrap(), "secret");
        assert_eq!(SecretBox::open(Some("a passphrase"), &dir).unwrap().1, KeySource::Passphrase);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
