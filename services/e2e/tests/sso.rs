//! Enterprise single sign-on: RS256 tokens of the configured OpenID Connect issuer are
//! accepted (keys from a JWKS file), with issuer and audience checked; anything else is
//! refused, including HS256 tokens "signed" with the issuer's public key.

use chat_e2e::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

const ISSUER: &str = "https://idp.test.example";
const AUDIENCE: &str = "chat-enterprise";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn sso_token(key_file: &str, kid: Option<&str>, iss: &str, aud: &str, sub: &str) -> String {
    let pem = std::fs::read(fixture(key_file)).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({"sub": sub, "iss": iss, "aud": aud, "iat": now, "exp": now + 600, "preferred_username": "Jane.Doe", "name": "Jane Doe"});
    encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

#[tokio::test]
async fn oidc_tokens_from_the_configured_issuer_are_accepted() {
    let jwks = fixture("oidc-jwks.json");
    let gw = Gateway::start_with(
        "gw-sso",
        &[
            ("CHAT__GATEWAY__OIDC__ISSUER", ISSUER),
            ("CHAT__GATEWAY__OIDC__AUDIENCE", AUDIENCE),
            ("CHAT__GATEWAY__OIDC__JWKS", &jwks),
        ],
    )
    .await;
    let api = Api::new(&gw);
    let sub = unique("employee");

    let good = sso_token(
        "oidc-private.pem",
        Some("test-key-1"),
        ISSUER,
        AUDIENCE,
        &sub,
    );
    let r = api.call("GET", "/api/v1/sessions", Some(&good), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The SSO user has an account and can chat with a local one.
    let local = sign_up(&api, "local").await;
    let c = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&good),
            Some(json!({"kind": "group", "members": [local.id]})),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let group = c.body["conversation_id"].as_str().unwrap();
    let mut ws = Ws::connect(&gw, &good).await;
    assert_eq!(
        ws.request(send_frame(group, "sso-1", "hello from SSO"))
            .await["type"],
        "ack"
    );
    // The same identity is the same user the next time (another token).
    let again = sso_token(
        "oidc-private.pem",
        Some("test-key-1"),
        ISSUER,
        AUDIENCE,
        &sub,
    );
    let mut ws2 = Ws::connect(&gw, &again).await;
    assert_eq!(
        ws2.request(send_frame(group, "sso-2", "still me")).await["type"],
        "ack"
    );

    let public_pem = std::fs::read(fixture("oidc-public.pem")).unwrap();
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": jsonwebtoken::get_current_timestamp() + 600}),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    for (name, token) in [
        (
            "wrong audience",
            sso_token(
                "oidc-private.pem",
                Some("test-key-1"),
                ISSUER,
                "someone-else",
                &sub,
            ),
        ),
        (
            "wrong issuer",
            sso_token(
                "oidc-private.pem",
                Some("test-key-1"),
                "https://evil.example",
                AUDIENCE,
                &sub,
            ),
        ),
        (
            "other key, known kid",
            sso_token(
                "other-private.pem",
                Some("test-key-1"),
                ISSUER,
                AUDIENCE,
                &sub,
            ),
        ),
        (
            "other key, unknown kid",
            sso_token("other-private.pem", Some("nope"), ISSUER, AUDIENCE, &sub),
        ),
        ("HS256 with the public key", confused),
    ] {
        let r = api
            .call("GET", "/api/v1/sessions", Some(&token), None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthenticated"),
            "{name}: {}",
            r.body
        );
    }
}
