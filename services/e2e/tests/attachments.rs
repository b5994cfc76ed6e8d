//! v1.1 attachments against the real stack and a real S3-compatible server (the
//! SeaweedFS that `infra/dev` runs; `S3_ENDPOINT` and the gateway's
//! `CHAT__GATEWAY__ATTACHMENTS__*` come from `infra/dev env`): the bytes go from the
//! client straight to the bucket through a presigned PUT, a message carries checked
//! uploads, members download through a presigned GET, and every error code of the
//! section is answered.

use chat_e2e::live::LiveStack;
use chat_e2e::*;
use serde_json::{json, Value};

/// The object store must be configured: this test never passes without one.
fn require_object_store() {
    for var in ["S3_ENDPOINT", "CHAT__GATEWAY__ATTACHMENTS__ENDPOINT"] {
        assert!(
            std::env::var(var).is_ok_and(|v| !v.is_empty()),
            "{var} is not set: run the tests through `infra/dev test` or after `eval \"$(infra/dev env)\"`"
        );
    }
}

async fn upload(api: &Api, user: &User, body: Value) -> Reply {
    api.call("POST", "/api/v1/uploads", Some(&user.token), Some(body))
        .await
}

/// PUT `bytes` as the ticket says (its headers, unless `headers` overrides them).
async fn put(ticket: &Value, bytes: Vec<u8>, headers: Option<Vec<(&str, &str)>>) -> u16 {
    let http = reqwest::Client::new();
    let mut req = http.put(ticket["url"].as_str().expect("url")).body(bytes);
    match headers {
        Some(h) => {
            for (k, v) in h {
                req = req.header(k, v);
            }
        }
        None => {
            for (k, v) in ticket["headers"].as_object().expect("headers") {
                req = req.header(k.as_str(), v.as_str().unwrap_or_default());
            }
        }
    }
    req.send()
        .await
        .expect("object store reachable")
        .status()
        .as_u16()
}

fn file_send(c: &str, id: &str, kind: &str, body: &str, uploads: &[&Value]) -> Value {
    json!({"type": "send", "conversation_id": c, "client_msg_id": id, "kind": kind,
           "body": body, "attachments": uploads.iter().map(|t| t["upload_id"].clone()).collect::<Vec<_>>()})
}

const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
];

#[tokio::test]
async fn files_go_straight_to_the_bucket_and_only_members_get_them_back() {
    require_object_store();
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let mut b = Ws::connect(g, &bob.token).await;

    let pdf = b"%PDF-1.4 a small report".to_vec();
    let r = upload(
        &api,
        &alice,
        json!({"conversation_id": c, "filename": "report <1>.pdf",
               "content_type": "application/pdf", "size": pdf.len()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ticket = r.body;
    assert_eq!(ticket["method"], "PUT");
    assert!(ticket["expires_at"].is_string());
    assert_eq!(ticket["headers"]["Content-Type"], "application/pdf");
    // The bytes never pass through the gateway: the URL is the object store's.
    let endpoint = std::env::var("S3_ENDPOINT").unwrap_or_default();
    assert!(
        ticket["url"].as_str().unwrap().starts_with(&endpoint),
        "{ticket}"
    );
    assert_eq!(put(&ticket, pdf.clone(), None).await, 200);

    let ack = a.request(file_send(&c, "f1", "file", "", &[&ticket])).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let live = loop {
        let f = b.next().await;
        if f["type"] == "event" && f["event"]["kind"] == "message_sent" {
            break f;
        }
    };
    let attachment = &live["event"]["attachments"][0];
    assert_eq!(attachment["filename"], "report <1>.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["size"], pdf.len());
    assert_eq!(attachment["attachment_id"], ticket["upload_id"]);
    assert_eq!(live["event"]["message_kind"], "file");
    let route = attachment["url"].as_str().unwrap().to_string();
    assert_eq!(
        route,
        format!(
            "/api/v1/conversations/{c}/attachments/{}",
            ticket["upload_id"].as_str().unwrap()
        )
    );

    // History has it too, once projected.
    eventually("the attachment is in history", || async {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/conversations/{c}/messages"),
                Some(&bob.token),
                None,
            )
            .await;
        r.body["messages"][0]["attachments"][0]["url"] == route.as_str()
    })
    .await;

    // A member gets a working link, as JSON or as a redirect.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let asked = no_redirects
        .get(format!("{}{route}", g.url()))
        .bearer_auth(&bob.token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    let link = asked.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let got = reqwest::get(&link).await.unwrap();
    assert_eq!(got.status(), 200);
    let disposition = got
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("report%20%3C1%3E.pdf"),
        "{disposition}"
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf);
    let redirect = no_redirects
        .get(format!("{}{route}", g.url()))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 303, "a redirect to the presigned GET");
    assert!(redirect.headers().get("location").is_some());

    // A non-member never gets a link, and the bucket refuses unsigned reads.
    let r = api.call("GET", &route, Some(&carol.token), None).await;
    assert_eq!((r.status, r.code()), (403, "not_member"));
    let object = link.split('?').next().unwrap();
    assert_eq!(reqwest::get(object).await.unwrap().status(), 403);
    let r = api
        .call(
            "GET",
            &format!("/api/v1/conversations/{c}/attachments/nope0000"),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));

    // An image shows inline, with a caption.
    let r = upload(
        &api,
        &bob,
        json!({"conversation_id": c, "filename": "pic.png", "content_type": "image/png",
               "size": PNG.len()}),
    )
    .await;
    let image = r.body;
    assert_eq!(put(&image, PNG.to_vec(), None).await, 200);
    let ack = b
        .request(file_send(&c, "i1", "image", "look", &[&image]))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
}

#[tokio::test]
async fn uploads_and_attachments_are_refused_with_their_codes() {
    require_object_store();
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    let new = |name: &str, ct: &str, size: i64| json!({"conversation_id": c, "filename": name, "content_type": ct, "size": size});

    let r = upload(
        &api,
        &alice,
        new("big.zip", "application/zip", 26 * 1024 * 1024),
    )
    .await;
    assert_eq!((r.status, r.code()), (413, "too_large"));
    for ct in ["text/html", "image/svg+xml", "application/javascript", ""] {
        let r = upload(&api, &alice, new("x", ct, 10)).await;
        assert_eq!((r.status, r.code()), (400, "invalid_content_type"), "{ct}");
    }
    for name in ["", "a\u{202e}b.txt", "a\u{0007}b.txt"] {
        let r = upload(&api, &alice, new(name, "text/plain", 10)).await;
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{name:?}");
    }
    let r = upload(&api, &alice, new("x.txt", "text/plain", 0)).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = upload(&api, &carol, new("x.txt", "text/plain", 10)).await;
    assert_eq!((r.status, r.code()), (403, "not_member"));

    // Announced but never uploaded; uploaded short; someone else's.
    let never = upload(&api, &alice, new("never.txt", "text/plain", 5))
        .await
        .body;
    let e = a.request(file_send(&c, "e1", "file", "", &[&never])).await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    let short = upload(&api, &alice, new("short.txt", "text/plain", 10))
        .await
        .body;
    assert_eq!(put(&short, b"12345".to_vec(), None).await, 200);
    let e = a.request(file_send(&c, "e2", "file", "", &[&short])).await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    let bobs = upload(&api, &bob, new("bob.txt", "text/plain", 3))
        .await
        .body;
    assert_eq!(put(&bobs, b"bob".to_vec(), None).await, 200);
    let e = a.request(file_send(&c, "e3", "file", "", &[&bobs])).await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    // The signature covers the type: a PUT with another type is refused by the store.
    let typed = upload(&api, &alice, new("t.txt", "text/plain", 3))
        .await
        .body;
    let filename = typed["headers"]["x-amz-meta-filename"]
        .as_str()
        .unwrap()
        .to_string();
    let status = put(
        &typed,
        b"abc".to_vec(),
        Some(vec![
            ("Content-Type", "text/html"),
            ("x-amz-meta-filename", &filename),
        ]),
    )
    .await;
    assert_eq!(status, 403, "a PUT that does not match its signature");
    assert_eq!(put(&typed, b"abc".to_vec(), None).await, 200);
    // Kinds and counts.
    let e = a.request(file_send(&c, "e4", "image", "", &[&typed])).await;
    assert_eq!(
        e["code"], "invalid_attachment",
        "an image message of text: {e}"
    );
    let e = a
        .request(file_send(&c, "e5", "text", "hi", &[&typed]))
        .await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    let e = a.request(file_send(&c, "e6", "file", "hi", &[])).await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    let eleven: Vec<&Value> = std::iter::repeat_n(&typed, 11).collect();
    let e = a.request(file_send(&c, "e7", "file", "", &eleven)).await;
    assert_eq!(e["code"], "invalid_attachment", "{e}");
    // And the good one, over REST.
    let r = api
        .call(
            "POST",
            &format!("/api/v1/conversations/{c}/messages"),
            Some(&alice.token),
            Some(
                json!({"client_msg_id": "ok", "kind": "file", "body": "notes",
                        "attachments": [typed["upload_id"]]}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}
