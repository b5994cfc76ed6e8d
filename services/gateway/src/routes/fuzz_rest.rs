//! Fuzz target: REST bodies, query parameters and the domain parsers behind them. It is
//! inside the crate because the request structs belong to the private route modules.
//!
//! Properties: no body or query panics; every body is extracted or refused with
//! `bad_request`; an accepted page query has `1 <= limit <= MAX_PAGE`, `before >= 0`,
//! `after >= -1` and not both; an accepted display or group name is NFC, trimmed, within
//! its length, and holds no control, bidi, zero-width or invisible character (a ZWJ
//! only inside an emoji sequence); an accepted username is `[a-z0-9._-]{3,32}` starting
//! with a letter or digit, and every SSO claim makes one; an accepted body is within the
//! byte limit and not blank. The kept corpus (`fuzz/corpus/rest/`) is replayed first.
//!
//! Short run: `cargo test -p chat-gateway --lib fuzz_rest`. Long run:
//! `FUZZ_CASES=200000 cargo test --release -p chat-gateway --lib fuzz_rest`.

#[path = "../../../chat-core/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use axum::body::Body;
use axum::extract::{FromRequest, Query};
use axum::http::{Request, Uri};
use chat_core::ids::{ClientMsgId, ConversationId, UserId};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use unicode_normalization::is_nfc;

use super::accounts::{LookupQuery, Registration};
use super::auth::{PasswordChange, RefreshRequest, SignIn as Login, SignOut};
use super::conversations::{NewConversation, NewMember, NewMessage};
use super::history::{PageBounds, PageQuery};
use super::json::parse_id;
use super::ws::WsQuery;
use super::ApiJson;
use crate::domain::{ConversationName, DisplayName, MessageBody, Password, Username};
use crate::error::{ApiError, ErrorCode};
use chat_store::MAX_PAGE;

/// What PROTOCOL.md and `domain/printable.rs` refuse in a name, whatever else it holds.
fn refused_in_names(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200E}'
            | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn emoji_part(c: char) -> bool {
    matches!(c,
        '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{FE0F}' | '\u{1F000}'..='\u{1FAFF}')
}

/// The properties of an accepted name of at most `max_chars` characters.
fn check_accepted_name(raw: &str, name: &str, max_chars: usize) {
    let chars: Vec<char> = name.chars().collect();
    assert!(
        (1..=max_chars).contains(&chars.len()),
        "{raw:?} -> {name:?}: length"
    );
    assert!(is_nfc(name), "{raw:?} -> {name:?}: not NFC");
    assert_eq!(name, name.trim(), "{raw:?}: not trimmed");
    for (i, &c) in chars.iter().enumerate() {
        assert!(!refused_in_names(c), "{raw:?} -> {name:?}: holds {c:?}");
        if c == '\u{200D}' {
            let joins_emoji = i > 0
                && emoji_part(chars[i - 1])
                && chars.get(i + 1).is_some_and(|&n| emoji_part(n));
            assert!(joins_emoji, "{raw:?} -> {name:?}: a ZWJ outside an emoji");
        }
    }
}

fn check_display_name(raw: &str) -> Option<String> {
    let parsed = DisplayName::parse(raw);
    let group = ConversationName::parse(raw);
    match parsed {
        Ok(name) => {
            check_accepted_name(raw, name.as_str(), 64);
            // Parsing what was stored gives it back unchanged.
            assert_eq!(DisplayName::parse(name.as_str()).ok(), Some(name.clone()));
            assert!(
                group.is_ok(),
                "{raw:?}: a display name but not a group name"
            );
            Some(name.as_str().to_string())
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidDisplayName);
            if let Ok(g) = group {
                let g = g.into_inner();
                check_accepted_name(raw, &g, 100);
                assert!(g.chars().count() > 64, "{raw:?}: a group name only");
            }
            None
        }
    }
}

fn check_username(raw: &str) {
    if let Ok(u) = Username::parse(raw) {
        let s = u.as_str();
        assert!((3..=32).contains(&s.len()), "{raw:?} -> {s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
            "{raw:?} -> {s:?}"
        );
        assert!(s.as_bytes()[0].is_ascii_alphanumeric(), "{raw:?} -> {s:?}");
        assert_eq!(Username::parse(s).ok(), Some(u.clone()));
    }
    let from_claim = Username::from_claim(raw);
    assert!(
        Username::parse(from_claim.as_str()).is_ok(),
        "claim {raw:?} made {:?}",
        from_claim.as_str()
    );
}

fn check_body(raw: &str, max_bytes: usize) {
    match MessageBody::parse(raw.to_string(), max_bytes) {
        Ok(b) => {
            let b = b.into_inner();
            assert!(b.len() <= max_bytes);
            assert!(!b.trim().is_empty());
            assert_eq!(b, raw, "a body is kept as given");
        }
        Err(e) if raw.len() > max_bytes => assert_eq!(e.code, ErrorCode::TooLarge),
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidBody),
    }
}

/// Extract a JSON body as the route would, without the server around it.
fn extract<T: DeserializeOwned>(body: Vec<u8>) -> Result<T, ApiError> {
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/x")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(ApiJson::<T>::from_request(request, &()))
        .map(|ApiJson(v)| v)
}

/// Every route body type gets `body`: extracted, or refused with `bad_request`.
fn check_bodies(body: &[u8]) {
    fn one<T: DeserializeOwned>(body: &[u8]) {
        if let Err(e) = extract::<T>(body.to_vec()) {
            assert_eq!(e.code, ErrorCode::BadRequest, "{}", e.message);
        }
    }
    one::<Registration>(body);
    one::<Login>(body);
    one::<RefreshRequest>(body);
    one::<SignOut>(body);
    one::<PasswordChange>(body);
    one::<NewConversation>(body);
    one::<NewMember>(body);
    one::<NewMessage>(body);
}

fn page_bounds(query: &str) -> Option<Result<PageBounds, ApiError>> {
    let uri: Uri = format!("/api/v1/conversations/x/messages?{query}")
        .parse()
        .ok()?;
    let Query(q) = Query::<PageQuery>::try_from_uri(&uri).ok()?;
    Some(q.bounds())
}

fn check_query(query: &str) {
    if let Some(Ok(b)) = page_bounds(query) {
        assert!((1..=MAX_PAGE).contains(&b.limit), "{query}: {b:?}");
        assert!(b.before.is_none_or(|v| v >= 0), "{query}: {b:?}");
        assert!(b.after.is_none_or(|v| v >= -1), "{query}: {b:?}");
        assert!(b.before.is_none() || b.after.is_none(), "{query}: {b:?}");
    }
    if let Ok(uri) = format!("/api/v1/users?{query}").parse::<Uri>() {
        let _ = Query::<LookupQuery>::try_from_uri(&uri);
        let _ = Query::<WsQuery>::try_from_uri(&uri);
    }
}

// ---- generators --------------------------------------------------------------------

/// Characters that matter to names: letters, accents to compose, spaces of all kinds,
/// every refused character, emoji and their joiners, and anything else.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::sample::select(vec![
            ' ', '\t', '\n', '\u{A0}', '\u{2000}', '\u{3000}', '\u{2028}', '\u{85}',
            'e', 'E', '\u{301}', '\u{308}', '\u{327}', 'é', 'Å', '\u{212B}', 'ﬁ', 'İ',
            '\u{00AD}', '\u{061C}', '\u{180E}', '\u{200B}', '\u{200C}', '\u{200D}',
            '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}', '\u{FE0F}',
            '\u{1F469}', '\u{1F4BB}', '\u{1F3F3}', '\u{1F308}', '\u{2764}', '\u{1F3FD}',
            'ا', 'ب', '\u{0}', '\u{7F}', '\u{9F}',
        ]),
        1 => any::<char>(),
    ]
}

fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 0..120).prop_map(|cs| cs.into_iter().collect())
}

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0usize..400).prop_map(|n| n.to_string()),
        Just("-9223372036854775808".to_string()),
        Just("9223372036854775808".to_string()),
        Just("-1".to_string()),
        Just("-2".to_string()),
        Just("".to_string()),
        Just("1e3".to_string()),
        Just("%2D1".to_string()),
        Just("+5".to_string()),
        Just("0x10".to_string()),
        "[ -~]{0,12}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("before".to_string()),
        Just("after".to_string()),
        Just("limit".to_string()),
        Just("username".to_string()),
        Just("user_id".to_string()),
        Just("token".to_string()),
        "[ -~]{0,8}",
    ];
    proptest::collection::vec((key, query_value()), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// JSON objects with the route bodies' own field names and values of any type.
fn body_json() -> impl Strategy<Value = Value> {
    let field = proptest::sample::select(vec![
        "username",
        "password",
        "display_name",
        "kind",
        "name",
        "members",
        "user_id",
        "admin",
        "client_msg_id",
        "body",
        "reply_to",
        "extra",
    ]);
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        Just(json!("group")),
        Just(json!("direct")),
        Just(json!("text")),
        Just(json!("system")),
        Just(json!("8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10")),
        Just(json!(["8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10"])),
        proptest::collection::vec(any::<u128>(), 0..4).prop_map(|ids| json!(ids
            .into_iter()
            .map(|n| uuid::Uuid::from_u128(n).to_string())
            .collect::<Vec<_>>())),
    ];
    proptest::collection::vec((field, value), 0..7).prop_map(|fields| {
        Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

// ---- properties --------------------------------------------------------------------

proptest! {
    #![proptest_config(fuzz_support::config("proptest-regressions/fuzz_rest.txt"))]

    #[test]
    fn arbitrary_bodies_are_extracted_or_bad_request(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_bodies(&body);
    }

    #[test]
    fn structured_bodies_are_extracted_or_bad_request(value in body_json()) {
        check_bodies(value.to_string().as_bytes());
    }

    #[test]
    fn accepted_page_queries_are_within_bounds(q in query()) {
        check_query(&q);
    }

    #[test]
    fn accepted_names_are_nfc_and_hold_no_invisible_or_bidi_character(raw in name()) {
        check_display_name(&raw);
    }

    #[test]
    fn accepted_usernames_are_canonical_and_claims_always_make_one(
        raw in prop_oneof!["[ -~]{0,40}", any::<String>(), name()],
    ) {
        check_username(&raw);
    }

    #[test]
    fn accepted_passwords_are_8_to_256_bytes(raw in prop_oneof![".{0,300}", any::<String>()]) {
        let ok = Password::parse(raw.clone()).is_ok();
        prop_assert_eq!(ok, (8..=256).contains(&raw.len()));
    }

    #[test]
    fn accepted_bodies_are_within_the_byte_limit(
        raw in prop_oneof![any::<String>(), "[ \t\n\u{A0}\u{3000}x]{0,40}"],
        max in 0usize..64,
    ) {
        check_body(&raw, max);
    }

    #[test]
    fn ids_parse_or_are_invalid_id(raw in prop_oneof![any::<String>(), "[0-9a-fA-F-]{32,38}"]) {
        match parse_id::<ConversationId>(&raw, "conversation id") {
            Ok(id) => prop_assert_eq!(parse_id::<ConversationId>(&id.to_string(), "x").ok(), Some(id)),
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidId),
        }
        let _ = parse_id::<UserId>(&raw, "user id");
        if let Ok(id) = ClientMsgId::parse(raw.clone()) {
            prop_assert!((1..=128).contains(&id.as_str().len()));
            prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_graphic()));
        }
    }
}

/// Replay `fuzz/corpus/rest/`: `ok-*` must be accepted and `bad-*` refused by the parser
/// the directory names; every file obeys the properties above.
#[test]
fn corpus_replays() {
    let text = |name: &str, bytes: Vec<u8>| {
        let t = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        t.strip_suffix('\n').map(str::to_string).unwrap_or(t)
    };
    let expect = |name: &str, accepted: bool| {
        if name.starts_with("ok-") {
            assert!(accepted, "{name} refused");
        } else if name.starts_with("bad-") {
            assert!(!accepted, "{name} accepted");
        }
    };
    for (name, bytes) in fuzz_support::corpus("rest/bodies") {
        check_bodies(&bytes);
        // The prefix names the route whose body it is: `ok-<route>-...`.
        let route = name.split('-').nth(1).unwrap_or("");
        let accepted = match route {
            "registration" => extract::<Registration>(bytes).is_ok(),
            "login" => extract::<Login>(bytes).is_ok(),
            "refresh" => extract::<RefreshRequest>(bytes).is_ok(),
            "signout" => extract::<SignOut>(bytes).is_ok(),
            "password" => extract::<PasswordChange>(bytes).is_ok(),
            "conversation" => extract::<NewConversation>(bytes).is_ok(),
            "member" => extract::<NewMember>(bytes).is_ok(),
            "message" => extract::<NewMessage>(bytes).is_ok(),
            other => panic!("{name}: unknown route {other:?}"),
        };
        expect(&name, accepted);
    }
    for (name, bytes) in fuzz_support::corpus("rest/page_queries") {
        let q = text(&name, bytes);
        check_query(&q);
        expect(&name, matches!(page_bounds(&q), Some(Ok(_))));
    }
    for (name, bytes) in fuzz_support::corpus("rest/names") {
        let raw = text(&name, bytes);
        expect(&name, check_display_name(&raw).is_some());
    }
    for (name, bytes) in fuzz_support::corpus("rest/usernames") {
        let raw = text(&name, bytes);
        check_username(&raw);
        expect(&name, Username::parse(&raw).is_ok());
    }
    for (name, bytes) in fuzz_support::corpus("rest/message_bodies") {
        let raw = text(&name, bytes);
        check_body(&raw, 16 * 1024);
        expect(&name, MessageBody::parse(raw, 16 * 1024).is_ok());
    }
}
