//! Against the real Kafka and Schema Registry (started by `infra/dev test`): an event
//! encoded through the registry, produced with acks=all and consumed back, is equal to
//! what was sent, in Confluent wire format, for every payload kind.

use std::time::Duration;

use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{
    AvroRecord, ConversationCreated, ConversationEvent, ConversationKind, MessageKind, MessageSent,
    Payload,
};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::kafka;
use chat_core::registry::{RegistryAdmin, RegistryError};
use chat_core::time::UnixMillis;
use chat_core::topics::{TopicSpec, Topics};
use futures::StreamExt;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::TopicPartitionList;
use uuid::Uuid;

mod released;

fn settings() -> Settings {
    Settings::load().expect("settings")
}

fn sample_events(conversation: ConversationId) -> Vec<ConversationEvent> {
    let alice = UserId::new_random();
    let bob = UserId::new_random();
    let cmid = ClientMsgId::parse("m-1").unwrap();
    let message_id = MessageId::derive(conversation, alice, &cmid);
    let payloads = vec![
        Payload::ConversationCreated(ConversationCreated {
            kind: ConversationKind::Group,
            name: Some("round trip".into()),
            members: vec![alice, bob],
            admins: vec![alice],
        }),
        Payload::MessageSent(MessageSent {
            message_id,
            client_msg_id: cmid.to_string(),
            kind: MessageKind::Text,
            body: "héllo <script>alert(1)</script>".into(),
            reply_to: None,
            attachments: vec![],
            thread_root: None,
        }),
        Payload::MessageEdited {
            message_id,
            client_msg_id: "m-2".into(),
            body: "edited".into(),
        },
        Payload::MessageDeleted {
            message_id,
            client_msg_id: "m-3".into(),
        },
        Payload::ReadUpTo { seq: 1 },
        Payload::DeliveredUpTo { seq: 1 },
        Payload::MemberAdded {
            user_id: UserId::new_random(),
            as_admin: false,
        },
        Payload::MemberRemoved { user_id: bob },
    ];
    payloads
        .into_iter()
        .map(|payload| ConversationEvent {
            event_id: Uuid::new_v4(),
            conversation_id: conversation,
            actor_id: alice,
            occurred_at: UnixMillis::now(),
            gateway_id: "test-gw".into(),
            payload,
            sealed: None,
        })
        .collect()
}

#[tokio::test]
async fn events_round_trip_through_registry_and_kafka() {
    let s = settings();
    let topic = format!("test.roundtrip-{}", Uuid::new_v4().simple());
    let admin = kafka::admin(&s.kafka, "test").unwrap();
    kafka::create_topics(
        &admin,
        &[TopicSpec {
            name: topic.clone(),
            partitions: 3,
            replication_factor: 1,
            configs: vec![],
        }],
    )
    .await
    .expect("create topic");

    let codec = EventCodec::new(&s.registry).unwrap();
    let producer = kafka::producer(&s.kafka, "test-producer").unwrap();
    let conversation = ConversationId::new_random();
    let events = sample_events(conversation);
    let key = conversation.to_string();
    let mut partition = None;
    for (i, event) in events.iter().enumerate() {
        let bytes = codec
            .encode(&topic, event)
            .await
            .expect("encode through the registry");
        assert_eq!(bytes[0], 0, "Confluent magic byte");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&bytes),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("Kafka acknowledges");
        let (p, offset) = (delivery.partition, delivery.offset);
        assert_eq!(
            offset, i as i64,
            "one conversation, one partition, consecutive offsets"
        );
        assert!(
            partition.is_none_or(|q| q == p),
            "the key keeps every event in one partition"
        );
        partition = Some(p);
    }

    // The id in the records is the one the registry holds for <topic>-value.
    let registry = RegistryAdmin::new(&s.registry).unwrap();
    let id = registry
        .register(
            &Topics::value_subject(&topic),
            ConversationEvent::schema_source(),
        )
        .await
        .unwrap();

    let consumer = kafka::consumer(
        &s.kafka,
        "test-consumer",
        &format!("test-{}", Uuid::new_v4()),
    )
    .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, partition.unwrap(), rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut stream = consumer.stream();
    let mut decoded = Vec::new();
    while decoded.len() < events.len() {
        let msg = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("records arrive")
            .expect("stream open")
            .expect("no consumer error");
        let payload = msg.payload().expect("a value");
        assert_eq!(
            u32::from_be_bytes(payload[1..5].try_into().unwrap()),
            id,
            "schema id in the header"
        );
        assert_eq!(msg.key(), Some(key.as_bytes()));
        decoded.push(
            codec
                .decode::<ConversationEvent>(payload)
                .await
                .expect("decode"),
        );
    }
    assert_eq!(decoded, events);
}

#[tokio::test]
async fn the_registry_refuses_an_incompatible_schema() {
    let s = settings();
    let registry = RegistryAdmin::new(&s.registry).unwrap();
    let subject = format!("test.compat-{}-value", Uuid::new_v4().simple());
    registry
        .set_compatibility(&subject, "BACKWARD_TRANSITIVE")
        .await
        .unwrap();
    let v1 = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"}]}"#;
    // A new required field without a default cannot read v1 data.
    let v2 = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"},{"name":"b","type":"long"}]}"#;
    let v2_ok = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"},{"name":"b","type":"long","default":0}]}"#;
    let id1 = registry
        .register(&subject, v1)
        .await
        .unwrap_or_else(|e| panic!("registering v1 under {subject}: {e}"));
    assert_eq!(
        registry.register(&subject, v1).await.unwrap(),
        id1,
        "re-registering is a no-op"
    );
    let why = registry
        .why_incompatible(&subject, v2)
        .await
        .unwrap_or_else(|e| panic!("checking v2 against {subject}: {e}"))
        .expect(
            "the registry calls a new field without a default compatible under \
             BACKWARD_TRANSITIVE: the gate would let breaking changes through",
        );
    // The reason is the registry's own words, which `chatctl schemas check` prints.
    assert!(why.len() > 10, "a reason, not a bare refusal: {why:?}");
    match registry.register(&subject, v2).await {
        Err(RegistryError::Refused { status: 409, .. }) => {}
        other => panic!(
            "registering a new field without a default: expected the registry to refuse it \
             with 409, got {other:?}"
        ),
    }
    assert!(
        registry
            .is_compatible(&subject, v2_ok)
            .await
            .unwrap_or_else(|e| panic!("checking v2_ok against {subject}: {e}")),
        "the registry refuses a new field that has a default"
    );
    registry
        .register(&subject, v2_ok)
        .await
        .unwrap_or_else(|e| panic!("registering a new field with a default: {e}"));
}

/// Every released conversation-event schema (`schemas/avro/history/`, oldest first) and
/// then the current one register in order under BACKWARD_TRANSITIVE on the real
/// registry: the evolution the running platform performs at its next start.
#[tokio::test]
async fn the_released_schemas_evolve_under_backward_transitive() {
    let s = settings();
    let registry = RegistryAdmin::new(&s.registry).unwrap();
    let subject = format!("test.evolution-{}-value", Uuid::new_v4().simple());
    registry
        .set_compatibility(&subject, "BACKWARD_TRANSITIVE")
        .await
        .unwrap();
    let history = released::HISTORY;
    let released = released::released_schemas("conversation_event.v");
    assert!(!released.is_empty(), "no released schema in {history}");
    let mut ids = Vec::new();
    let mut before: Vec<String> = Vec::new();
    for path in &released {
        let file = format!(
            "schemas/avro/history/{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
        );
        let schema =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        // The registry's refusal (RegistryError::Refused) carries its reason.
        let id = registry
            .register(&subject, &schema)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{file} does not register after {before:?} under BACKWARD_TRANSITIVE: {e}\n\
                 (a released schema never changes: restore it from git)"
                )
            });
        ids.push(id);
        before.push(file);
    }
    let current = ConversationEvent::schema_source();
    let file = "schemas/avro/conversation_event.avsc";
    let compatible = registry
        .is_compatible(&subject, current)
        .await
        .unwrap_or_else(|e| panic!("checking {file} against the released versions: {e}"));
    if !compatible {
        // The check only answers yes or no; registering is refused with the reason.
        let reason = match registry.register(&subject, current).await {
            Err(e) => e.to_string(),
            Ok(id) => format!("the check said no, yet it registered as id {id}"),
        };
        panic!(
            "{file} breaks consumers of the released versions {before:?}: the registry \
             refuses it under BACKWARD_TRANSITIVE.\nThe registry's reason: {reason}\n\
             (a new field needs a default, nothing is removed or renamed, and the payload \
             union only grows at its end: schemas/README.md, \"Evolution rules\")"
        );
    }
    let id = registry
        .register(&subject, current)
        .await
        .unwrap_or_else(|e| panic!("{file}: the registry refused it: {e}"));
    assert!(
        !ids.contains(&id),
        "{file} is registered as a new version (it is identical to a released one: was the \
         current schema copied to history/ without a change?)"
    );
}

#[tokio::test]
async fn platform_topics_exist_with_their_settings() {
    let s = settings();
    let consumer = kafka::consumer(&s.kafka, "test-md", "test-md").unwrap();
    let topics = Topics::from_settings(&s.kafka);
    let md = consumer
        .fetch_metadata(Some(&topics.conversation_events), Duration::from_secs(10))
        .unwrap();
    let t = &md.topics()[0];
    assert!(t.error().is_none(), "{:?}: run `chatctl init`", t.error());
    assert_eq!(t.partitions().len() as i32, s.kafka.partitions);
    // And every platform subject is registered with the enforced compatibility.
    let registry = RegistryAdmin::new(&s.registry).unwrap();
    let subjects = registry.list_subjects().await.unwrap();
    for (subject, _) in chat_core::registry::subjects(&topics) {
        assert!(subjects.contains(&subject), "{subject} not registered");
        assert_eq!(
            registry.compatibility(&subject).await.unwrap().as_deref(),
            Some("BACKWARD_TRANSITIVE")
        );
    }
}
