//! The keyring against the real CQL store: a key is made once whoever asks, opens what it
//! sealed, and once destroyed opens nothing; the KEK is asked to unwrap a key again only
//! when its wrapped bytes change, not each time the short cache expires.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chat_core::config::Settings;
use chat_core::cql;
use chat_core::sealing::{Content, KeyEncryptionKey, LocalKek, SealingError};
use chat_core::time::UnixMillis;
use chat_store::keyring::{Keyring, SealError};
use futures::future::BoxFuture;
use uuid::Uuid;

/// The local KEK, counting its unwraps.
struct Counting {
    inner: LocalKek,
    unwraps: AtomicUsize,
}

impl KeyEncryptionKey for Counting {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn wrap<'a>(&'a self, k: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        self.inner.wrap(k)
    }
    fn unwrap<'a>(&'a self, w: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, SealingError>> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        self.inner.unwrap(w)
    }
}

#[tokio::test]
async fn keys_are_made_once_opened_cheaply_and_destroyed_for_good() {
    let mut s = Settings::load().expect("settings");
    s.cql.keyspace = format!("test_{}", &Uuid::new_v4().simple().to_string()[..12]);
    s.compliance.key_cache_secs = 1;
    let session = Arc::new(cql::connect(&s.cql).await.expect("CQL store reachable"));
    chat_store::migrations::migrate(&session, &s.cql)
        .await
        .expect("migrate");
    let kek = Arc::new(Counting {
        inner: LocalKek::new("test", [5u8; 32]),
        unwraps: AtomicUsize::new(0),
    });
    let ks = &s.cql.keyspace;
    let writer = Keyring::with_kek(session.clone(), ks, &s.compliance, kek.clone())
        .await
        .unwrap();
    let reader = Keyring::with_kek(session.clone(), ks, &s.compliance, kek.clone())
        .await
        .unwrap();

    let (alice, now) = (Uuid::new_v4(), UnixMillis::now());
    let message = Uuid::new_v4();
    let content = Content {
        body: "hello".into(),
        attachments: vec![],
    };
    let sealed = writer
        .seal_content(alice, now, message, &content)
        .await
        .unwrap();
    // Another process seals with the same key (made once, by whoever asked first).
    let again = reader
        .seal_content(alice, now, Uuid::new_v4(), &content)
        .await
        .unwrap();
    assert_eq!(sealed.key, again.key);
    assert_eq!(
        reader.open_content(&sealed, message).await.unwrap(),
        Some(content.clone())
    );
    let unwraps = kek.unwraps.load(Ordering::SeqCst);
    assert_eq!(unwraps, 1, "the reader unwrapped the key once");

    // The short cache expires: the store is read again, the KEK is not asked again.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        reader.open_content(&sealed, message).await.unwrap(),
        Some(content)
    );
    assert_eq!(kek.unwraps.load(Ordering::SeqCst), unwraps);

    // Destroyed: opens nothing once the cache has expired, and nothing new is sealed.
    assert_eq!(writer.destroy_owner(alice, "erasure").await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(reader.open_content(&sealed, message).await.unwrap(), None);
    assert!(reader.is_erased(alice).await.unwrap());
    assert!(matches!(
        reader.seal_content(alice, now, message, &Content::default()).await,
        Err(SealError::Erased(u)) if u == alice
    ));
}
