//! The keyring against the real CQL store: a key is made once whoever asks, opens what it
//! sealed, and once destroyed opens nothing; the KEK is asked to unwrap a key again only
//! when its wrapped bytes change, not each time the short cache expires. Content scoped to
//! a conversation needs both keys, and the conversation's retention and the platform's
//! destroy different ones.

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

/// Settings for a keyspace of the test's own with keys cached `cache_secs`, changed by
/// `adjust`, and that keyspace migrated.
async fn own_keyspace(
    cache_secs: u64,
    adjust: impl FnOnce(&mut Settings),
) -> (Settings, Arc<scylla::client::session::Session>) {
    let mut s = Settings::load().expect("settings");
    s.cql.keyspace = format!("test_{}", &Uuid::new_v4().simple().to_string()[..12]);
    s.compliance.key_cache_secs = cache_secs;
    adjust(&mut s);
    let session = Arc::new(cql::connect(&s.cql).await.expect("CQL store reachable"));
    chat_store::migrations::migrate(&session, &s.cql)
        .await
        .expect("migrate");
    (s, session)
}

#[tokio::test]
async fn keys_are_made_once_opened_cheaply_and_destroyed_for_good() {
    let (s, session) = own_keyspace(1, |_| {}).await;
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
        .seal_content(alice, None, now, message, &content)
        .await
        .unwrap();
    // Another process seals with the same key (made once, by whoever asked first).
    let again = reader
        .seal_content(alice, None, now, Uuid::new_v4(), &content)
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
        reader
            .seal_content(alice, None, now, message, &Content::default())
            .await,
        Err(SealError::Erased(u)) if u == alice
    ));
}

#[tokio::test]
async fn scoped_content_needs_both_keys_and_each_retention_destroys_its_own() {
    let (s, session) = own_keyspace(1, |s| {
        s.compliance.key_period_days = 30;
        s.compliance.conversation_key_period_days = 1;
    })
    .await;
    let ks = &s.cql.keyspace;
    let keyring = Keyring::with_kek(
        session.clone(),
        ks,
        &s.compliance,
        Arc::new(LocalKek::new("test", [6u8; 32])),
    )
    .await
    .unwrap();
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let (alice, team) = (Uuid::new_v4(), Uuid::new_v4());
    let now = UnixMillis::now();
    let ten_days_ago = UnixMillis(now.0 - 10 * DAY);
    let content = Content {
        body: "old news".into(),
        attachments: vec![],
    };
    let (old, recent) = (Uuid::new_v4(), Uuid::new_v4());
    let old_sealed = keyring
        .seal_content(alice, Some(team), ten_days_ago, old, &content)
        .await
        .unwrap();
    let recent_sealed = keyring
        .seal_content(alice, Some(team), now, recent, &content)
        .await
        .unwrap();
    let unscoped = keyring
        .seal_content(alice, None, ten_days_ago, old, &content)
        .await
        .unwrap();
    let scope = old_sealed.scope.expect("scoped to the conversation");
    assert_eq!(scope.owner, team);
    assert_ne!(
        Some(scope),
        recent_sealed.scope,
        "one key per conversation day"
    );
    // The conversation's key alone opens nothing: the content key needs the sender's too.
    let team_key = keyring.opening_key(scope).await.unwrap().expect("made");
    assert!(chat_core::sealing::open(&team_key, &old_sealed, old).is_err());

    // The platform's retention (5 days) destroys users' keys, never conversations'
    // (alice is kept, as a hold would, so only a conversation key could go).
    let kept = std::collections::HashSet::from([alice]);
    keyring
        .destroy_ended_before(UnixMillis(now.0 - 5 * DAY), &kept)
        .await
        .unwrap();
    assert!(keyring.opening_key(scope).await.unwrap().is_some());

    // The conversation's retention (2 days): the day ten days ago has ended, today has not.
    let cut = UnixMillis((now.0 - 2 * DAY).div_euclid(DAY) * DAY);
    let ended = keyring
        .conversation_keys_ended_before(team, cut)
        .await
        .unwrap();
    assert_eq!(ended, vec![scope.period]);
    keyring
        .destroy_periods(team, &ended, "conversation retention")
        .await
        .unwrap();
    assert_eq!(keyring.open_content(&old_sealed, old).await.unwrap(), None);
    assert_eq!(
        keyring.open_content(&recent_sealed, recent).await.unwrap(),
        Some(content.clone())
    );
    // The sender's own key is untouched: what was sealed under it alone still opens.
    assert_eq!(
        keyring.open_content(&unscoped, old).await.unwrap(),
        Some(content)
    );
    assert!(keyring
        .conversation_keys_ended_before(team, cut)
        .await
        .unwrap()
        .is_empty());
}

/// A key in use is read again before it expires, so using it never waits for the store;
/// and refreshing does not keep a destroyed key alive: it ends within the cache time, as
/// without refreshes.
#[tokio::test]
async fn keys_in_use_are_refreshed_ahead_and_a_destroyed_one_still_ends() {
    let (s, session) = own_keyspace(2, |_| {}).await;
    let kek: Arc<dyn KeyEncryptionKey> = Arc::new(LocalKek::new("test", [6u8; 32]));
    let ks = &s.cql.keyspace;
    let shared = Keyring::with_kek(session.clone(), ks, &s.compliance, kek.clone())
        .await
        .unwrap()
        .shared();
    let admin = Keyring::with_kek(session.clone(), ks, &s.compliance, kek)
        .await
        .unwrap();

    let alice = Uuid::new_v4();
    let (key, _) = shared.sealing_key(alice, UnixMillis::now()).await.unwrap();
    // Used for longer than its cache time: a use in the last quarter starts a refresh.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        assert!(shared.opening_key(key).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        shared.refreshed() >= 1,
        "the key in use was refreshed ahead"
    );

    admin.destroy_owner(alice, "test").await.unwrap();
    // Still used, and so refreshed, until a refresh reads the destroyed row.
    let destroyed = std::time::Instant::now();
    while shared.opening_key(key).await.unwrap().is_some() {
        assert!(
            destroyed.elapsed() < Duration::from_secs(2 * 2 + 2),
            "a destroyed key stayed usable well past its cache time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
