//! Fuzz target: the Avro decoder, from bytes to `ConversationEvent`, `PresenceEvent` and
//! `NotificationRequested`.
//!
//! Two layers. Most properties run on what `EventCodec` does once it has the writer's
//! schema: the Avro datum reader (the same reader and allocation limit the codec uses)
//! and `AvroRecord::from_value`, with the schemas compiled into this crate, fast and
//! without a server. Two run the whole codec (Confluent wire format, schema id, registry
//! lookup, decode) against a fake registry in this file that serves our three schemas
//! as ids 1 to 3. The wire-format check is also fuzzed on input that never reaches the
//! registry.
//!
//! Properties: arbitrary bytes and mutated valid encodings give an error, never a panic,
//! and never ask for one allocation larger than `codec::MAX_DECODE_ALLOCATION_BYTES`
//! (a forged length prefix used to ask for up to 512 MiB); arbitrary records round-trip
//! encode -> decode. The kept corpus (`fuzz/corpus/avro/`) is replayed first.
//!
//! Short run: `cargo test -p chat-core --test fuzz_avro`. Long run:
//! `FUZZ_CASES=200000 cargo test --release -p chat-core --test fuzz_avro`.

mod fuzz_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::sync::LazyLock;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use chat_core::codec::{CodecError, EventCodec, MAX_DECODE_ALLOCATION_BYTES};
use chat_core::config::{RegistrySettings, Secret};
use chat_core::events::{
    Attachment, AvroRecord, ConversationCreated, ConversationEvent, ConversationKind, MessageKind,
    MessageSent, NotificationReason, NotificationRequested, Payload, PresenceEvent, PresenceKind,
    Reaction,
};
use chat_core::ids::{ConversationId, MessageId, SessionId, UserId};
use chat_core::time::UnixMillis;
use proptest::prelude::*;
use uuid::Uuid;

// ---- the largest single allocation, per thread -------------------------------------

/// The system allocator, noting the largest request made on this thread.
struct Measuring;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    // `try_with`: the slot may be gone while the thread exits.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: Measuring = Measuring;

/// Run `f` and return its result and the largest single allocation it asked for.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

// ---- decoding as the codec does once it has the writer's schema -------------------

/// The codec sets the process's Avro allocation limit when it is built; every property
/// builds it first, as a consumer does before it decodes anything. Built once: building
/// one loads the system's certificates for the registry client.
fn codec() -> &'static EventCodec {
    static CODEC: LazyLock<EventCodec> = LazyLock::new(|| {
        EventCodec::new(&RegistrySettings {
            url: "http://127.0.0.1:1".into(),
            username: None,
            password: Secret::default(),
        })
        .expect("codec")
    });
    &CODEC
}

fn decode<T: AvroRecord>(body: &[u8], writer: &Schema) -> Result<T, String> {
    let reader = GenericDatumReader::builder(writer)
        .build()
        .map_err(|e| e.to_string())?;
    let value = reader
        .read_value(&mut Cursor::new(body))
        .map_err(|e| e.to_string())?;
    T::from_value(value, writer).map_err(|e| e.to_string())
}

fn encode<T: AvroRecord>(record: &T) -> Vec<u8> {
    GenericDatumWriter::builder(T::schema())
        .build()
        .expect("writer")
        .write_value_to_vec(record.to_value())
        .expect("a record of our own types encodes")
}

/// Decode `body` as every record type, checking what must hold for any input.
fn decode_all_checked(body: &[u8]) {
    let _codec = codec();
    let schemas = [
        ConversationEvent::schema(),
        PresenceEvent::schema(),
        NotificationRequested::schema(),
    ];
    for writer in schemas {
        let (_, largest) = largest_allocation(|| {
            let _ = decode::<ConversationEvent>(body, writer);
            let _ = decode::<PresenceEvent>(body, writer);
            let _ = decode::<NotificationRequested>(body, writer);
        });
        assert!(
            largest <= MAX_DECODE_ALLOCATION_BYTES,
            "{} bytes asked {largest} bytes at once",
            body.len()
        );
    }
}

// ---- the whole codec, against a registry that serves our three schemas ------------

/// A minimal Confluent-compatible registry: `GET /schemas/ids/{1,2,3}` answers the
/// conversation, presence and notification schemas; any other id is 404. Enough for
/// `EventCodec::decode`, which fetches a writer schema once per id and caches it.
struct FakeRegistry {
    runtime: tokio::runtime::Runtime,
    codec: EventCodec,
}

fn fake_registry() -> &'static FakeRegistry {
    static REGISTRY: LazyLock<FakeRegistry> = LazyLock::new(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        runtime.spawn(serve_schemas(listener));
        let codec = EventCodec::new(&RegistrySettings {
            url,
            username: None,
            password: Secret::default(),
        })
        .expect("codec");
        FakeRegistry { runtime, codec }
    });
    &REGISTRY
}

async fn serve_schemas(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let schema = if line.starts_with("GET /schemas/ids/1?") {
                Some(ConversationEvent::schema_source())
            } else if line.starts_with("GET /schemas/ids/2?") {
                Some(PresenceEvent::schema_source())
            } else if line.starts_with("GET /schemas/ids/3?") {
                Some(NotificationRequested::schema_source())
            } else {
                None
            };
            let (status, body) = match schema {
                Some(s) => ("200 OK", serde_json::json!({ "schema": s }).to_string()),
                None => (
                    "404 Not Found",
                    r#"{"error_code":40403,"message":"Schema not found"}"#.to_string(),
                ),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

/// Confluent wire format: magic byte 0, the schema id big-endian, the Avro body.
fn framed(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(&schema_id.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Decode `bytes` through the whole codec as every record type; never a panic, and a
/// record's own schema id with an intact body decodes.
fn codec_decode_all(bytes: &[u8]) -> [bool; 3] {
    let registry = fake_registry();
    let (ok, largest) = largest_allocation(|| {
        registry.runtime.block_on(async {
            [
                registry
                    .codec
                    .decode::<ConversationEvent>(bytes)
                    .await
                    .is_ok(),
                registry.codec.decode::<PresenceEvent>(bytes).await.is_ok(),
                registry
                    .codec
                    .decode::<NotificationRequested>(bytes)
                    .await
                    .is_ok(),
            ]
        })
    });
    assert!(
        largest <= MAX_DECODE_ALLOCATION_BYTES,
        "{} bytes asked {largest} bytes at once",
        bytes.len()
    );
    ok
}

// ---- generators --------------------------------------------------------------------

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z0-9 -]{0,20}"]
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (text(), text(), text(), any::<i64>(), text(), text()).prop_map(
        |(url, name, content_type, size_bytes, attachment_id, object_key)| Attachment {
            url,
            name,
            content_type,
            size_bytes,
            attachment_id,
            object_key,
        },
    )
}

fn message_kind() -> impl Strategy<Value = MessageKind> {
    prop_oneof![
        Just(MessageKind::Text),
        Just(MessageKind::Image),
        Just(MessageKind::File),
        Just(MessageKind::System),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    let users = || proptest::collection::vec(uuid().prop_map(UserId), 0..6);
    prop_oneof![
        (
            uuid(),
            text(),
            message_kind(),
            text(),
            proptest::option::of(uuid()),
            proptest::collection::vec(attachment(), 0..3),
            proptest::option::of(uuid()),
        )
            .prop_map(
                |(m, client_msg_id, kind, body, reply_to, attachments, thread_root)| {
                    Payload::MessageSent(MessageSent {
                        message_id: MessageId(m),
                        client_msg_id,
                        kind,
                        body,
                        reply_to: reply_to.map(MessageId),
                        attachments,
                        thread_root: thread_root.map(MessageId),
                    })
                }
            ),
        (uuid(), text(), text()).prop_map(|(m, client_msg_id, body)| Payload::MessageEdited {
            message_id: MessageId(m),
            client_msg_id,
            body,
        }),
        (uuid(), text()).prop_map(|(m, client_msg_id)| Payload::MessageDeleted {
            message_id: MessageId(m),
            client_msg_id,
        }),
        any::<i64>().prop_map(|seq| Payload::ReadUpTo { seq }),
        any::<i64>().prop_map(|seq| Payload::DeliveredUpTo { seq }),
        (
            prop_oneof![
                Just(ConversationKind::Direct),
                Just(ConversationKind::Group)
            ],
            proptest::option::of(text()),
            users(),
            users()
        )
            .prop_map(|(kind, name, members, admins)| {
                Payload::ConversationCreated(ConversationCreated {
                    kind,
                    name,
                    members,
                    admins,
                })
            }),
        (uuid(), any::<bool>()).prop_map(|(u, as_admin)| Payload::MemberAdded {
            user_id: UserId(u),
            as_admin,
        }),
        uuid().prop_map(|u| Payload::MemberRemoved { user_id: UserId(u) }),
        (uuid(), text(), text(), any::<bool>()).prop_map(|(m, emoji, client_msg_id, add)| {
            let r = Reaction {
                message_id: MessageId(m),
                emoji,
                client_msg_id,
            };
            if add {
                Payload::ReactionAdded(r)
            } else {
                Payload::ReactionRemoved(r)
            }
        }),
        (text(), text()).prop_map(|(name, client_msg_id)| Payload::ConversationRenamed {
            name,
            client_msg_id
        }),
        (uuid(), text(), any::<bool>()).prop_map(|(m, client_msg_id, pin)| if pin {
            Payload::MessagePinned {
                message_id: MessageId(m),
                client_msg_id,
            }
        } else {
            Payload::MessageUnpinned {
                message_id: MessageId(m),
                client_msg_id,
            }
        }),
    ]
}

fn conversation_event() -> impl Strategy<Value = ConversationEvent> {
    (uuid(), uuid(), uuid(), any::<i64>(), text(), payload()).prop_map(
        |(event_id, c, actor, at, gateway_id, payload)| ConversationEvent {
            event_id,
            conversation_id: ConversationId(c),
            actor_id: UserId(actor),
            occurred_at: UnixMillis(at),
            gateway_id,
            payload,
            sealed: None,
        },
    )
}

fn presence_event() -> impl Strategy<Value = PresenceEvent> {
    (
        uuid(),
        uuid(),
        text(),
        prop_oneof![
            Just(PresenceKind::Connected),
            Just(PresenceKind::Heartbeat),
            Just(PresenceKind::Disconnected),
        ],
        any::<i64>(),
    )
        .prop_map(|(u, s, gateway_id, kind, at)| PresenceEvent {
            user_id: UserId(u),
            session_id: SessionId(s),
            gateway_id,
            kind,
            occurred_at: UnixMillis(at),
        })
}

fn notification() -> impl Strategy<Value = NotificationRequested> {
    (
        (uuid(), uuid(), uuid(), uuid(), uuid()),
        any::<i64>(),
        text(),
        prop_oneof![
            Just(NotificationReason::Dm),
            Just(NotificationReason::Mention),
            Just(NotificationReason::Group),
        ],
        any::<i32>(),
        any::<i64>(),
    )
        .prop_map(
            |((n, u, c, m, s), seq, preview, reason, coalesced_count, at)| NotificationRequested {
                notification_id: n,
                user_id: UserId(u),
                conversation_id: ConversationId(c),
                message_id: MessageId(m),
                seq,
                sender_id: UserId(s),
                preview,
                reason,
                coalesced_count,
                occurred_at: UnixMillis(at),
                sealed_preview: None,
            },
        )
}

/// The encoding of any of our records.
fn valid_encoding() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => conversation_event().prop_map(|e| encode(&e)),
        1 => presence_event().prop_map(|e| encode(&e)),
        1 => notification().prop_map(|e| encode(&e)),
    ]
}

/// Avro longs (zig-zag varints) at the edges: lengths and counts a forger would pick.
fn hostile_varint() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]),
        Just(vec![
            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]),
        Just(vec![
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01
        ]),
        Just(vec![0x01]),
        any::<i64>().prop_map(zigzag),
        (0u32..31).prop_map(|bits| zigzag(1i64 << bits)),
    ]
}

fn zigzag(n: i64) -> Vec<u8> {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Overwrite(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), hostile_varint()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), hostile_varint()).prop_map(|(i, v)| Mutation::Overwrite(i, v)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len() + 1)),
        Mutation::Flip(i, b) => {
            if !bytes.is_empty() {
                let i = at(*i, bytes.len());
                bytes[i] ^= b;
            }
        }
        Mutation::Insert(i, v) => {
            let i = at(*i, bytes.len() + 1);
            bytes.splice(i..i, v.iter().copied());
        }
        Mutation::Overwrite(i, v) => {
            let i = at(*i, bytes.len() + 1);
            let end = (i + v.len()).min(bytes.len());
            bytes.splice(i..end, v.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let i = at(*i, bytes.len() + 1);
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
    }
}

// ---- properties --------------------------------------------------------------------

proptest! {
    #![proptest_config(fuzz_support::config("proptest-regressions/fuzz_avro.txt"))]

    #[test]
    fn arbitrary_bytes_give_an_error_or_a_record(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all_checked(&bytes);
    }

    #[test]
    fn mutated_encodings_give_an_error_or_a_record(
        mut bytes in valid_encoding(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        for m in &mutations {
            apply(&mut bytes, m);
        }
        decode_all_checked(&bytes);
    }

    #[test]
    fn conversation_events_round_trip(event in conversation_event()) {
        let _codec = codec();
        let decoded = decode::<ConversationEvent>(&encode(&event), ConversationEvent::schema());
        prop_assert_eq!(decoded, Ok(event));
    }

    #[test]
    fn presence_events_round_trip(event in presence_event()) {
        let _codec = codec();
        let decoded = decode::<PresenceEvent>(&encode(&event), PresenceEvent::schema());
        prop_assert_eq!(decoded, Ok(event));
    }

    #[test]
    fn notifications_round_trip(n in notification()) {
        let _codec = codec();
        let decoded = decode::<NotificationRequested>(&encode(&n), NotificationRequested::schema());
        prop_assert_eq!(decoded, Ok(n));
    }

    #[test]
    fn the_codec_decodes_its_own_records_and_refuses_mutated_ones(
        event in conversation_event(),
        mutations in proptest::collection::vec(mutation(), 0..3),
        schema_id in prop_oneof![4 => Just(1u32), 1 => 0u32..5, 1 => any::<u32>()],
    ) {
        let mut body = encode(&event);
        for m in &mutations {
            apply(&mut body, m);
        }
        let [as_conversation, as_presence, as_notification] =
            codec_decode_all(&framed(schema_id, &body));
        if mutations.is_empty() && schema_id == 1 {
            let registry = fake_registry();
            let decoded = registry
                .runtime
                .block_on(registry.codec.decode::<ConversationEvent>(&framed(1, &body)))
                .map_err(|e| e.to_string());
            prop_assert_eq!(decoded, Ok(event));
        }
        // No schema but 1 holds a conversation event's fields.
        if schema_id != 1 {
            prop_assert!(!as_conversation);
        }
        let _ = (as_presence, as_notification);
    }

    #[test]
    fn the_codec_answers_arbitrary_framed_bytes(
        schema_id in 0u32..5,
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        codec_decode_all(&framed(schema_id, &body));
    }

    /// Input that is not Confluent wire format is refused by the codec itself, before the
    /// registry is asked, and is never worth retrying.
    #[test]
    fn bytes_without_the_wire_header_are_a_permanent_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(bytes.len() < 5 || bytes[0] != 0);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let codec = codec();
        let err = runtime
            .block_on(codec.decode::<ConversationEvent>(&bytes))
            .expect_err("not wire format");
        prop_assert!(matches!(err, CodecError::WireFormat(_)), "{err}");
        prop_assert!(!err.is_transient());
    }
}

/// The kept corpus: hex files (whitespace ignored) of Avro bodies. `ok-<record>-*` must
/// decode as that record (`conversation`, `presence`, `notification`); `bad-*` must
/// decode as none; every file obeys the allocation bound. Runs on every `cargo test`.
#[test]
fn corpus_replays() {
    let _codec = codec();
    for (name, text) in fuzz_support::corpus("avro") {
        let hex: String = String::from_utf8(text)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .split_whitespace()
            .collect();
        let body: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: not hex: {e}"));
        decode_all_checked(&body);
        let as_conversation = decode::<ConversationEvent>(&body, ConversationEvent::schema());
        let as_presence = decode::<PresenceEvent>(&body, PresenceEvent::schema());
        let as_notification =
            decode::<NotificationRequested>(&body, NotificationRequested::schema());
        if name.starts_with("ok-conversation") {
            assert!(as_conversation.is_ok(), "{name}: {as_conversation:?}");
        } else if name.starts_with("ok-presence") {
            assert!(as_presence.is_ok(), "{name}: {as_presence:?}");
        } else if name.starts_with("ok-notification") {
            assert!(as_notification.is_ok(), "{name}: {as_notification:?}");
        } else if name.starts_with("bad-") {
            assert!(as_conversation.is_err(), "{name}: {as_conversation:?}");
            assert!(as_presence.is_err(), "{name}: {as_presence:?}");
            assert!(as_notification.is_err(), "{name}: {as_notification:?}");
        }
    }
}
