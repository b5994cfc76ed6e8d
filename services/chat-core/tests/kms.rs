//! Against a real KMS API: the local-kms that `infra/dev` runs (infra/lib/kms.sh), with
//! its seeded symmetric key, found through KMS_ENDPOINT, KMS_KEY_ID and KMS_REGION.
//! The same calls, signed the same way, go to AWS KMS in production.

use std::sync::Once;

use chat_core::sealing::kms::AwsKmsKek;
use chat_core::sealing::{DataKey, KeyEncryptionKey, SealingError};

fn var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: these tests need the KMS that infra/dev runs; use \
             `infra/dev test`, or `infra/dev deps` then `eval \"$(infra/dev env)\"`"
            )
        })
}

/// Placeholder credentials: local-kms checks no signature, but every request is signed
/// all the same, as against AWS. Set once, before any test reads the environment.
fn dummy_credentials() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDLOCALKMSTEST");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "local-kms-checks-no-signature");
        std::env::remove_var("AWS_SESSION_TOKEN");
    });
}

fn kek_with(key_id: String) -> AwsKmsKek {
    dummy_credentials();
    AwsKmsKek::new(key_id, var("KMS_REGION"), Some(var("KMS_ENDPOINT"))).expect("a KMS KEK")
}

fn kek() -> AwsKmsKek {
    kek_with(var("KMS_KEY_ID"))
}

#[tokio::test]
async fn a_wrapped_data_key_unwraps_to_itself() {
    let kek = kek();
    assert_eq!(kek.id(), format!("aws-kms:{}", var("KMS_KEY_ID")));
    let key = DataKey::generate().expect("a data key");
    let plain = key.as_bytes();
    assert_eq!(plain.len(), 32);

    let wrapped = kek.wrap(plain).await.expect("KMS Encrypt");
    assert_ne!(wrapped.as_slice(), plain);
    assert!(
        !wrapped.windows(plain.len()).any(|w| w == plain),
        "the wrapped blob carries the data key in the clear"
    );
    let unwrapped = kek.unwrap(&wrapped).await.expect("KMS Decrypt");
    assert_eq!(unwrapped.as_slice(), plain);

    // Each wrap is fresh (KMS draws a new IV): two blobs, one key.
    let again = kek.wrap(plain).await.expect("KMS Encrypt");
    assert_ne!(again, wrapped);
    assert_eq!(
        kek.unwrap(&again).await.expect("KMS Decrypt").as_slice(),
        plain
    );
}

#[tokio::test]
async fn garbage_and_tampered_blobs_do_not_unwrap() {
    let kek = kek();
    match kek.unwrap(b"this is not a KMS ciphertext blob").await {
        Err(SealingError::Kms(m)) => assert!(m.starts_with("Decrypt: "), "{m}"),
        other => panic!("garbage unwrapped: {other:?}"),
    }
    let mut wrapped = kek
        .wrap(DataKey::generate().expect("a data key").as_bytes())
        .await
        .expect("KMS Encrypt");
    let last = wrapped.len() - 1;
    wrapped[last] ^= 1;
    assert!(matches!(
        kek.unwrap(&wrapped).await,
        Err(SealingError::Kms(_))
    ));
}

#[tokio::test]
async fn another_key_id_neither_wraps_nor_unwraps() {
    let wrapped = kek()
        .wrap(DataKey::generate().expect("a data key").as_bytes())
        .await
        .expect("KMS Encrypt");
    // A key that does not exist in this KMS.
    let wrong = kek_with("00000000-0000-4000-8000-000000000000".into());
    match wrong.unwrap(&wrapped).await {
        Err(SealingError::Kms(m)) => {
            assert!(m.starts_with("Decrypt: ") && m.contains("Exception"), "{m}")
        }
        other => panic!("unwrapped under another key id: {other:?}"),
    }
    assert!(matches!(
        wrong.wrap(&[7u8; 32]).await,
        Err(SealingError::Kms(_))
    ));
}

#[tokio::test]
async fn an_unreachable_kms_is_a_kms_error() {
    dummy_credentials();
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let kek = AwsKmsKek::new(
        var("KMS_KEY_ID"),
        var("KMS_REGION"),
        Some("http://127.0.0.1:1".into()),
    )
    .expect("a KMS KEK");
    match kek.wrap(&[7u8; 32]).await {
        Err(SealingError::Kms(m)) => assert!(m.starts_with("Encrypt: "), "{m}"),
        other => panic!("wrapped without a KMS: {other:?}"),
    }
}
