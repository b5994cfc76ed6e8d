//! Crypto-shredding: personal content travels and rests sealed under per-user data keys.
//!
//! A message's body and its attachments' names (and v1 URLs) are encrypted by the
//! gateway before the event is appended (AES-256-GCM under the sender's data key for the
//! period the message falls in). The log, the history store, Redis and the dead-letter
//! topic only ever hold the [`Sealed`] form. Destroying a user's data keys (erasure), or
//! a period's keys once the retention period has passed, makes every copy unreadable at
//! once, while the log itself stays immutable.
//!
//! Since v1.3 content is also scoped to its conversation: it is sealed under a content
//! key derived from the sender's key and the conversation's key for a (shorter) period
//! ([`content_key`]), so destroying the conversation's keys of old periods makes the
//! conversation's old content unreadable without touching its members' keys. That is how
//! a group's own retention works.
//!
//! This module is the pure part: the sealed format, sealing and opening with a given
//! data key, and the KEK trait ([`kek`]). Where data keys are stored, cached and
//! destroyed is `chat_store::keyring`.

pub mod kek;
pub mod kms;

use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use kek::{KeyEncryptionKey, LocalKek};

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("sealed content is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed content does not open under its key (tampered, or the wrong key)")]
    Open,
    #[error("a data key could not be unwrapped by {0}")]
    Unwrap(String),
    #[error("key-encryption key service: {0}")]
    Kms(String),
    #[error("sealed content: {0}")]
    Json(#[from] serde_json::Error),
}

/// Which data key sealed a piece of content: its owner's user id and the key period
/// (days since the Unix epoch divided by the period length, see `chat_store::keyring`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    pub owner: Uuid,
    pub period: i32,
}

/// Content in its sealed form. `ciphertext` ends with the 16-byte GCM tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key: KeyRef,
    /// The conversation's key combined with `key` ([`content_key`]); None for content
    /// sealed before v1.3 (under `key` alone).
    pub scope: Option<KeyRef>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The personal parts of a message, as they are sealed (JSON inside the ciphertext).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentSecrets>,
}

/// The parts of an attachment that could identify a person: what it was called and
/// where its bytes are. Its type and size stay in the clear for analytics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSecrets {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_key: String,
}

/// A data key in the clear: 32 bytes for AES-256-GCM. Only ever in process memory.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Result<Self, SealingError> {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key)?;
        Ok(Self(key))
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealingError> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SealingError::Malformed("a data key is 32 bytes"))?;
        Ok(Self(key))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

/// The key that seals content scoped to a conversation: HMAC-SHA256 of the scope key
/// under the owner's key. Either key alone learns nothing about it, so destroying either
/// one shreds the content.
pub fn content_key(owner_key: &DataKey, scope_key: &DataKey) -> Result<DataKey, SealingError> {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let mac_key = PKey::hmac(owner_key.as_bytes())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &mac_key)?;
    signer.update(b"chat scope key v1")?;
    signer.update(scope_key.as_bytes())?;
    DataKey::from_bytes(&signer.sign_to_vec()?)
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Standard base64 (the local KEK in the settings), through the OpenSSL already linked.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, SealingError> {
    openssl::base64::decode_block(s.trim()).map_err(SealingError::Crypto)
}

/// What the ciphertext is bound to: a sealed body moved onto another message does not
/// open.
fn aad(bound_to: Uuid) -> Vec<u8> {
    let mut a = b"chat content v1:".to_vec();
    a.extend_from_slice(bound_to.as_bytes());
    a
}

/// Seals `content` under `key`, bound to `bound_to` (the message id). `key` is the
/// owner's key for `key_ref`, or with a `scope`, the [`content_key`] of both.
pub fn seal(
    key: &DataKey,
    key_ref: KeyRef,
    scope: Option<KeyRef>,
    bound_to: Uuid,
    content: &Content,
) -> Result<Sealed, SealingError> {
    let plaintext = serde_json::to_vec(content)?;
    let mut nonce = vec![0u8; NONCE_LEN];
    openssl::rand::rand_bytes(&mut nonce)?;
    let mut tag = [0u8; TAG_LEN];
    let mut ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        key.as_bytes(),
        Some(&nonce),
        &aad(bound_to),
        &plaintext,
        &mut tag,
    )?;
    ciphertext.extend_from_slice(&tag);
    Ok(Sealed {
        key: key_ref,
        scope,
        nonce,
        ciphertext,
    })
}

/// Opens what [`seal`] sealed. Fails on any change to the ciphertext, the nonce or the
/// message it is bound to.
pub fn open(key: &DataKey, sealed: &Sealed, bound_to: Uuid) -> Result<Content, SealingError> {
    if sealed.nonce.len() != NONCE_LEN || sealed.ciphertext.len() < TAG_LEN {
        return Err(SealingError::Malformed("nonce or tag of the wrong length"));
    }
    let (ciphertext, tag) = sealed
        .ciphertext
        .split_at(sealed.ciphertext.len() - TAG_LEN);
    let plaintext = decrypt_aead(
        Cipher::aes_256_gcm(),
        key.as_bytes(),
        Some(&sealed.nonce),
        &aad(bound_to),
        ciphertext,
        tag,
    )
    .map_err(|_| SealingError::Open)?;
    Ok(serde_json::from_slice(&plaintext)?)
}

/// Owner key only.
const FORMAT_V1: u8 = 1;
/// Owner key and scope key (v1.3).
const FORMAT_V2: u8 = 2;
const KEY_REF_LEN: usize = 16 + 4;

fn put_key_ref(out: &mut Vec<u8>, k: KeyRef) {
    out.extend_from_slice(k.owner.as_bytes());
    out.extend_from_slice(&k.period.to_be_bytes());
}

fn key_ref_at(bytes: &[u8]) -> Result<KeyRef, SealingError> {
    let owner = Uuid::from_slice(&bytes[..16])
        .map_err(|_| SealingError::Malformed("owner is not a uuid"))?;
    let period = i32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    Ok(KeyRef { owner, period })
}

impl Sealed {
    /// The compact binary form stored in the CQL store and Redis: version byte, owner
    /// (16 bytes) and period (4, big-endian), then with version 2 the scope's owner and
    /// period, then the nonce (12) and the ciphertext with its tag.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(1 + 2 * KEY_REF_LEN + self.nonce.len() + self.ciphertext.len());
        out.push(if self.scope.is_some() {
            FORMAT_V2
        } else {
            FORMAT_V1
        });
        put_key_ref(&mut out, self.key);
        if let Some(scope) = self.scope {
            put_key_ref(&mut out, scope);
        }
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealingError> {
        let refs = match bytes.first() {
            Some(&FORMAT_V1) => 1,
            Some(&FORMAT_V2) => 2,
            Some(_) => return Err(SealingError::Malformed("unknown format version")),
            None => return Err(SealingError::Malformed("too short")),
        };
        let head = 1 + refs * KEY_REF_LEN + NONCE_LEN;
        if bytes.len() < head + TAG_LEN {
            return Err(SealingError::Malformed("too short"));
        }
        let key = key_ref_at(&bytes[1..])?;
        let scope = if refs == 2 {
            Some(key_ref_at(&bytes[1 + KEY_REF_LEN..])?)
        } else {
            None
        };
        Ok(Self {
            key,
            scope,
            nonce: bytes[head - NONCE_LEN..head].to_vec(),
            ciphertext: bytes[head..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            body: "meet at noon".into(),
            attachments: vec![AttachmentSecrets {
                name: "plan.pdf".into(),
                url: String::new(),
                object_key: "c/u/plan.pdf".into(),
            }],
        }
    }

    #[test]
    fn sealed_content_opens_under_its_key_and_message_only() {
        let key = DataKey::generate().unwrap();
        let key_ref = KeyRef {
            owner: Uuid::new_v4(),
            period: 678,
        };
        let message = Uuid::new_v4();
        let sealed = seal(&key, key_ref, None, message, &content()).unwrap();
        assert!(!sealed.ciphertext.windows(4).any(|w| w == b"noon"));
        assert_eq!(open(&key, &sealed, message).unwrap(), content());
        assert!(matches!(
            open(&key, &sealed, Uuid::new_v4()),
            Err(SealingError::Open)
        ));
        let other = DataKey::generate().unwrap();
        assert!(matches!(
            open(&other, &sealed, message),
            Err(SealingError::Open)
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(matches!(
            open(&key, &tampered, message),
            Err(SealingError::Open)
        ));
    }

    #[test]
    fn the_binary_form_round_trips_and_refuses_garbage() {
        let key = DataKey::generate().unwrap();
        let key_ref = KeyRef {
            owner: Uuid::new_v4(),
            period: -3,
        };
        let sealed = seal(&key, key_ref, None, Uuid::nil(), &content()).unwrap();
        assert_eq!(Sealed::from_bytes(&sealed.to_bytes()).unwrap(), sealed);
        let scope = KeyRef {
            owner: Uuid::new_v4(),
            period: 20_000,
        };
        let scoped = seal(&key, key_ref, Some(scope), Uuid::nil(), &content()).unwrap();
        assert_eq!(Sealed::from_bytes(&scoped.to_bytes()).unwrap(), scoped);
        let mut cut = scoped.to_bytes();
        cut.truncate(1 + 2 * KEY_REF_LEN + NONCE_LEN + TAG_LEN - 1);
        assert!(Sealed::from_bytes(&cut).is_err());
        assert!(Sealed::from_bytes(&[1, 2, 3]).is_err());
        let mut wrong_version = sealed.to_bytes();
        wrong_version[0] = 9;
        assert!(Sealed::from_bytes(&wrong_version).is_err());
    }

    #[test]
    fn a_scoped_content_key_needs_both_keys() {
        let owner = DataKey::generate().unwrap();
        let scope = DataKey::generate().unwrap();
        let combined = content_key(&owner, &scope).unwrap();
        assert_eq!(
            combined.as_bytes(),
            content_key(&owner, &scope).unwrap().as_bytes()
        );
        let other_scope = DataKey::generate().unwrap();
        assert_ne!(
            combined.as_bytes(),
            content_key(&owner, &other_scope).unwrap().as_bytes()
        );
        assert_ne!(
            combined.as_bytes(),
            content_key(&scope, &owner).unwrap().as_bytes()
        );
        assert_ne!(combined.as_bytes(), owner.as_bytes());
        assert_ne!(combined.as_bytes(), scope.as_bytes());
    }
}
