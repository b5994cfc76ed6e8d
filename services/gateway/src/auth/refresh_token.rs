//! Refresh tokens: `{sign-in id}.{secret}`, opaque to clients. Only a hash of the secret
//! is stored, so a copy of Redis cannot be used to refresh.

use chat_core::ids::SignInId;
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub sign_in: SignInId,
    secret: String,
}

impl RefreshToken {
    /// A new token for `sign_in`: 244 random bits from two v4 UUIDs (the OS's random
    /// source, through the uuid crate already used for ids).
    pub fn generate(sign_in: SignInId) -> Self {
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        Self { sign_in, secret }
    }

    /// Parse what a client presents; `None` for anything not shaped like ours.
    pub fn parse(presented: &str) -> Option<Self> {
        let (id, secret) = presented.trim().split_once('.')?;
        let sign_in = id.parse::<SignInId>().ok()?;
        let well_formed = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| Self {
            sign_in,
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// What is stored and compared.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.secret.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn expose(&self) -> String {
        format!("{}.{}", self.sign_in.as_uuid().simple(), self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hash_stably() {
        let t = RefreshToken::generate(SignInId::new_random());
        let back = RefreshToken::parse(&t.expose()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.hash(), t.hash());
        assert_eq!(t.hash().len(), 64);
        assert_ne!(
            RefreshToken::generate(t.sign_in).hash(),
            t.hash(),
            "each token has its own secret"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let t = RefreshToken::generate(SignInId::new_random()).expose();
        for bad in [
            "",
            ".",
            "nope",
            &t[..t.len() - 1],
            &format!("{t}0"),
            &t.replace('.', ""),
            &format!("not-a-uuid.{}", "a".repeat(64)),
            &format!("{}.{}", SignInId::new_random(), "g".repeat(64)),
        ] {
            assert_eq!(RefreshToken::parse(bad), None, "{bad}");
        }
    }
}
