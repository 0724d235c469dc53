//! Session tokens: 256 random bits from the OS CSPRNG, hex-encoded for the client; only their
//! SHA-256 is stored. Lookups go by digest, so no stored secret is ever compared.

use nishan_domain::ports::TokenIssuer;
use rand::TryRng as _;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, Default)]
pub struct RandomTokens;

impl TokenIssuer for RandomTokens {
    fn issue(&self) -> (String, String) {
        let mut secret = [0u8; 32];
        rand::rngs::SysRng.try_fill_bytes(&mut secret).expect("the OS random number generator is available");
        let token = format!("nsn_{}", hex::encode(secret));
        let digest = self.digest(&token);
        (token, digest)
    }

    fn digest(&self, token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_digested() {
        let (a, da) = RandomTokens.issue();
        let (b, _) = RandomTokens.issue();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(da.len(), 64);
        assert_eq!(RandomTokens.digest(&a), da);
        assert_ne!(da, a);
    }
}
