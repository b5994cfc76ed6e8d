//! Against the real Redis: reachable, and a value written with a TTL reads back.

use chat_core::config::Settings;
use chat_core::redis_client;
use redis::AsyncCommands;
use uuid::Uuid;

#[tokio::test]
async fn redis_round_trip_with_ttl() {
    let s = Settings::load().expect("settings");
    let mut conn = redis_client::connect(&s.redis)
        .await
        .expect("Redis reachable");
    let key = format!("test:{}", Uuid::new_v4());
    let _: () = conn.set_ex(&key, "v", 60).await.unwrap();
    let value: Option<String> = conn.get(&key).await.unwrap();
    assert_eq!(value.as_deref(), Some("v"));
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
    let _: () = conn.del(&key).await.unwrap();
}
