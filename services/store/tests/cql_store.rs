//! Against the real CQL store (Cassandra locally, ScyllaDB in production): the
//! migrations apply to a fresh keyspace, re-applying is a no-op, and rows written to
//! the migrated tables read back.

use chat_core::config::Settings;
use chat_core::cql;
use chat_store::migrations;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

#[tokio::test]
async fn migrations_apply_once_and_tables_work() {
    let mut s = Settings::load().expect("settings");
    s.cql.keyspace = format!("test_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let session = cql::connect(&s.cql).await.expect("CQL store reachable");
    chat_store::ping(&session).await.unwrap();

    let first = migrations::migrate(&session, &s.cql)
        .await
        .expect("migrate");
    assert_eq!(first.applied.len(), migrations::MIGRATIONS.len());
    let second = migrations::migrate(&session, &s.cql)
        .await
        .expect("migrate again");
    assert!(second.applied.is_empty(), "nothing applies twice");
    assert_eq!(second.already_applied.len(), migrations::MIGRATIONS.len());

    let user_id = Uuid::new_v4();
    session
        .query_unpaged(
            "INSERT INTO users (user_id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (user_id, "alice", "Alice", "$argon2id$...", CqlTimestamp(1_700_000_000_000)),
        )
        .await
        .unwrap();
    let row = session
        .query_unpaged(
            "SELECT username, display_name, created_at FROM users WHERE user_id = ?",
            (user_id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .single_row::<(String, String, CqlTimestamp)>()
        .unwrap();
    assert_eq!(
        row,
        (
            "alice".to_string(),
            "Alice".to_string(),
            CqlTimestamp(1_700_000_000_000)
        )
    );

    // Messages cluster by seq descending inside a (conversation, bucket) partition.
    let conv = Uuid::new_v4();
    for seq in [5_i64, 7, 6] {
        session
            .query_unpaged(
                "INSERT INTO messages (conversation_id, bucket, seq, message_id, body) VALUES (?, 0, ?, ?, ?)",
                (conv, seq, Uuid::new_v4(), format!("m{seq}")),
            )
            .await
            .unwrap();
    }
    let seqs: Vec<i64> = session
        .query_unpaged(
            "SELECT seq FROM messages WHERE conversation_id = ? AND bucket = 0",
            (conv,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows::<(i64,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(seqs, vec![7, 6, 5]);

    // Dropping a keyspace waits for every node to agree on the schema, which a busy
    // machine can take longer than the session's 10 s default for; it is cleanup, so
    // give it the time it needs rather than fail the test on it.
    let mut drop =
        scylla::statement::unprepared::Statement::new(format!("DROP KEYSPACE {}", s.cql.keyspace));
    drop.set_request_timeout(Some(std::time::Duration::from_secs(120)));
    session.query_unpaged(drop, ()).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_store_is_an_error() {
    let mut s = Settings::load().expect("settings");
    s.cql.nodes = vec!["127.0.0.1:1".into()];
    assert!(cql::connect(&s.cql).await.is_err());
}
