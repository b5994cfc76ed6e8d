//! Key-encryption keys: what wraps the per-user data keys before they are stored.
//!
//! Data keys live in the CQL store only in wrapped form. Unwrapping needs the KEK,
//! which in production is an AWS KMS key (the key material never leaves KMS) and in
//! development a local AES key from the settings. Both sit behind [`KeyEncryptionKey`],
//! so the keyring never knows which one it has.

use futures::future::BoxFuture;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use super::SealingError;

/// Wraps and unwraps data keys. Object-safe (boxed futures) so the keyring holds an
/// `Arc<dyn KeyEncryptionKey>` chosen from the settings at start-up.
pub trait KeyEncryptionKey: Send + Sync {
    /// A short name recorded beside each wrapped key (`local:<id>`, `aws-kms:<key id>`),
    /// so a key rotation can tell which KEK wrapped which data key.
    fn id(&self) -> &str;
    fn wrap<'a>(&'a self, data_key: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>>;
    fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>>;
}

/// A KEK held in process memory: AES-256-GCM, nonce prepended to the wrapped key.
pub struct LocalKek {
    id: String,
    key: [u8; 32],
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const AAD: &[u8] = b"chat data key v1";

impl LocalKek {
    pub fn new(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self {
            id: format!("local:{}", id.into()),
            key,
        }
    }

    fn wrap_now(&self, data_key: &[u8]) -> Result<Vec<u8>, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce)?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            AAD,
            data_key,
            &mut tag,
        )?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn unwrap_now(&self, wrapped: &[u8]) -> Result<Vec<u8>, SealingError> {
        if wrapped.len() < NONCE_LEN + TAG_LEN {
            return Err(SealingError::Malformed("wrapped key too short"));
        }
        let (nonce, rest) = wrapped.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            AAD,
            ciphertext,
            tag,
        )
        .map_err(|_| SealingError::Unwrap(self.id.clone()))
    }
}

impl KeyEncryptionKey for LocalKek {
    fn id(&self) -> &str {
        &self.id
    }
    fn wrap<'a>(&'a self, data_key: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        Box::pin(async move { self.wrap_now(data_key) })
    }
    fn unwrap<'a>(&'a self, wrapped: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        Box::pin(async move { self.unwrap_now(wrapped) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wrapped_key_unwraps_only_under_its_kek() {
        let kek = LocalKek::new("a", [7u8; 32]);
        let wrapped = kek.wrap(&[1u8; 32]).await.unwrap();
        assert_eq!(kek.unwrap(&wrapped).await.unwrap(), vec![1u8; 32]);
        let other = LocalKek::new("b", [8u8; 32]);
        assert!(matches!(
            other.unwrap(&wrapped).await,
            Err(SealingError::Unwrap(_))
        ));
        assert!(kek.unwrap(&wrapped[..10]).await.is_err());
    }
}
