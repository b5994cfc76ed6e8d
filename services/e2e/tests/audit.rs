//! The audit trail (`chat.audit`) against the real stack: a gateway and `chatctl` audit
//! sign-ins good and bad, token refresh and sign-out, a group's creation, membership
//! and admin changes (a refused one included), mutes, and an operator's deactivation
//! and reactivation of an account. The records are read back from Kafka through the
//! registry: exactly one per action, keyed by the actor, with the right actor, action,
//! subject and outcome, and the details and addresses documented in schemas/README.md.
//! And the two failure policies (services/README.md, "Audit trail"): a gateway that
//! cannot write audit records keeps serving and counts the gap; `chatctl` acts, then
//! fails when it cannot write the record, and a rerun records it.

use std::collections::BTreeMap;
use std::time::Duration;

use chat_core::audit::{Actor, AuditAction};
use chat_e2e::*;
use serde_json::json;

/// What a test compares a record by: (action, actor, subject kind, subject id, outcome),
/// with any operator's name reduced to `operator` (it is the login name of whoever runs
/// the tests).
type Summary = (String, String, String, String, String);

fn summary(r: &AuditRecord) -> Summary {
    let e = &r.event;
    let actor = match &e.actor {
        Actor::Operator(_) => "operator".to_string(),
        other => other.to_string(),
    };
    (
        e.action.as_str().to_string(),
        actor,
        e.subject.kind.as_str().to_string(),
        e.subject.id.clone(),
        e.outcome.as_str().to_string(),
    )
}

fn expect(action: &str, actor: &str, kind: &str, id: &str, outcome: &str) -> Summary {
    (
        action.to_string(),
        actor.to_string(),
        kind.to_string(),
        id.to_string(),
        outcome.to_string(),
    )
}

/// The one record that matches `action`, `actor` and `outcome` (panics if there is not
/// exactly one).
fn the<'a>(
    records: &'a [AuditRecord],
    action: &str,
    actor: &str,
    outcome: &str,
) -> &'a AuditRecord {
    let found: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| {
            let (a, who, _, _, o) = summary(r);
            a == action && who == actor && o == outcome
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{action} by {actor} ({outcome}): {found:#?}"
    );
    found[0]
}

fn detail<'a>(r: &'a AuditRecord, key: &str) -> &'a str {
    r.event
        .details
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no detail {key} in {r:#?}"))
}

#[tokio::test]
async fn every_audited_action_is_one_record_keyed_by_its_actor() {
    // Made before anything happens: it reads from the topic's end.
    let mut tap = AuditTap::new();
    let gw = Gateway::start("gw-audit").await;
    let api = Api::new(&gw);

    // Sign-ups sign in once each (the harness's `sign_up`).
    let alice = sign_up(&api, "audit-alice").await;
    let bob = sign_up(&api, "audit-bob").await;

    // A wrong password for an account, and a username nobody has.
    let wrong = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": alice.username, "password": "wrong password!"})),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "bad_credentials"));
    let ghost = unique("audit-ghost");
    let nobody = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": ghost, "password": PASSWORD})),
        )
        .await;
    assert_eq!((nobody.status, nobody.code()), (401, "bad_credentials"));

    // A group; bob added; bob (not an admin) refused removing alice; bob promoted;
    // alice mutes and unmutes.
    let group = create_group(&api, &alice, &[]).await;
    let members = format!("/api/v1/conversations/{group}/members");
    let added = api
        .call(
            "POST",
            &members,
            Some(&alice.token),
            Some(json!({"user_id": bob.id})),
        )
        .await;
    assert_eq!(added.status, 204, "{}", added.body);
    let refused = api
        .call(
            "DELETE",
            &format!("{members}/{}", alice.id),
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let promoted = api
        .call(
            "POST",
            &members,
            Some(&alice.token),
            Some(json!({"user_id": bob.id, "admin": true})),
        )
        .await;
    assert_eq!(promoted.status, 204, "{}", promoted.body);
    let mute = format!("/api/v1/conversations/{group}/mute");
    assert_eq!(
        api.call("PUT", &mute, Some(&alice.token), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("DELETE", &mute, Some(&alice.token), None)
            .await
            .status,
        200
    );

    // A second sign-in of alice's, refreshed, then signed out.
    let signed_in = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": alice.username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let refresh_token = signed_in.body["refresh_token"]
        .as_str()
        .expect("refresh_token");
    let refreshed = api
        .call(
            "POST",
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed_token = refreshed.body["token"].as_str().expect("token");
    let signed_out = api
        .call(
            "POST",
            "/api/v1/auth/sign-out",
            Some(refreshed_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(signed_out.status, 204, "{}", signed_out.body);

    // Alice removes bob.
    let removed = api
        .call(
            "DELETE",
            &format!("{members}/{}", bob.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);

    // An operator deactivates bob (who is then refused with the right password), and
    // reactivates him.
    chatctl(&["users", "deactivate", "--username", &bob.username]);
    let deactivated = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": bob.username, "password": PASSWORD})),
        )
        .await;
    assert_eq!((deactivated.status, deactivated.code()), (403, "forbidden"));
    chatctl(&["users", "reactivate", "--username", &bob.username]);

    let (a, b, g) = (alice.id.as_str(), bob.id.as_str(), group.as_str());
    let mut expected = vec![
        expect("user_created", a, "user", a, "ok"),
        expect("sign_in", a, "user", a, "ok"),
        expect("user_created", b, "user", b, "ok"),
        expect("sign_in", b, "user", b, "ok"),
        expect("sign_in_failed", a, "user", a, "denied"),
        expect("sign_in_failed", "anonymous", "user", "", "denied"),
        expect("conversation_created", a, "conversation", g, "ok"),
        expect("member_added", a, "conversation", g, "ok"),
        expect("member_removed", b, "conversation", g, "denied"),
        expect("admin_granted", a, "conversation", g, "ok"),
        expect("conversation_muted", a, "conversation", g, "ok"),
        expect("conversation_unmuted", a, "conversation", g, "ok"),
        expect("sign_in", a, "user", a, "ok"),
        expect("token_issued", a, "user", a, "ok"),
        expect("token_revoked", a, "user", a, "ok"),
        expect("member_removed", a, "conversation", g, "ok"),
        expect("user_deactivated", "operator", "user", b, "ok"),
        expect("sign_in_failed", b, "user", b, "denied"),
        expect("user_reactivated", "operator", "user", b, "ok"),
    ];
    expected.sort();

    // Other tests audit on the same topic meanwhile: this test's records are those of
    // its users, its group and its unknown username.
    let ours = |r: &AuditRecord| {
        let e = &r.event;
        let actor = e.actor.to_string();
        actor == a
            || actor == b
            || [a, b, g].contains(&e.subject.id.as_str())
            || e.details.get("username").map(String::as_str) == Some(ghost.as_str())
    };
    let wanted = expected.len();
    tap.until(
        "every action's audit record",
        Duration::from_secs(60),
        |seen| seen.iter().filter(|r| ours(r)).count() >= wanted,
    )
    .await;
    // Then a little longer, so a record written twice would be seen.
    tap.drain(Duration::from_secs(2)).await;

    for r in &tap.seen {
        assert_eq!(r.key, r.event.actor.to_string(), "keyed by actor: {r:#?}");
    }
    let records: Vec<AuditRecord> = tap.seen.iter().filter(|r| ours(r)).cloned().collect();
    let mut actual: Vec<Summary> = records.iter().map(summary).collect();
    actual.sort();
    assert_eq!(actual, expected, "one record per action: {records:#?}");

    // Where each came from: the gateway's records carry its id and the client's address;
    // chatctl's name chatctl and an operator, and have no address.
    for r in &records {
        match &r.event.actor {
            Actor::Operator(name) => {
                assert_eq!(r.event.origin, "chatctl", "{r:#?}");
                assert!(!name.is_empty(), "{r:#?}");
                assert_eq!(r.event.source_ip, None, "{r:#?}");
            }
            _ => {
                assert_eq!(r.event.origin, gw.id, "{r:#?}");
                assert_eq!(
                    r.event.source_ip.map(|ip| ip.to_string()).as_deref(),
                    Some("127.0.0.1"),
                    "{r:#?}"
                );
            }
        }
    }

    // The details the documentation promises.
    let failed = the(&records, "sign_in_failed", a, "denied");
    assert_eq!(detail(failed, "username"), alice.username);
    assert_eq!(detail(failed, "reason"), "bad_credentials");
    let anonymous = the(&records, "sign_in_failed", "anonymous", "denied");
    assert_eq!(detail(anonymous, "username"), ghost);
    assert_eq!(anonymous.key, "anonymous");
    let refused_deactivated = the(&records, "sign_in_failed", b, "denied");
    assert_eq!(detail(refused_deactivated, "reason"), "deactivated");

    let added = the(&records, "member_added", a, "ok");
    assert_eq!(detail(added, "user_id"), b);
    assert_eq!(detail(added, "as_admin"), "false");
    let granted = the(&records, "admin_granted", a, "ok");
    assert_eq!(detail(granted, "user_id"), b);
    assert_eq!(detail(granted, "new_member"), "false");
    let denied = the(&records, "member_removed", b, "denied");
    assert_eq!(detail(denied, "user_id"), a);
    let removed = the(&records, "member_removed", a, "ok");
    assert_eq!(detail(removed, "user_id"), b);

    let issued = the(&records, "token_issued", a, "ok");
    assert_eq!(detail(issued, "via"), "refresh");
    let revoked = the(&records, "token_revoked", a, "ok");
    assert_eq!(detail(revoked, "reason"), "sign_out");
    assert_eq!(detail(revoked, "scope"), "sign_in");
    assert_eq!(
        detail(revoked, "sign_in_id"),
        detail(issued, "sign_in_id"),
        "the refreshed sign-in is the one signed out"
    );

    let deactivation = the(&records, "user_deactivated", "operator", "ok");
    assert_eq!(detail(deactivation, "username"), bob.username);
    assert!(deactivation.key.starts_with("operator:"));

    // Every action is one this build knows by name (none fell through to `Other`).
    let unknown: BTreeMap<String, usize> = records
        .iter()
        .filter(|r| matches!(r.event.action, AuditAction::Other(_)))
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.event.action.as_str().to_string()).or_default() += 1;
            m
        });
    assert!(
        unknown.is_empty(),
        "actions unknown to this build: {unknown:?}"
    );
}

/// A registry nobody answers at: records cannot be encoded, so none can be written.
const NO_REGISTRY: (&str, &str) = ("SCHEMA_REGISTRY_URL", "http://127.0.0.1:1");

#[tokio::test]
async fn a_gateway_that_cannot_audit_still_signs_people_in_and_counts_the_gap() {
    let gw = Gateway::start_with("gw-audit-down", &[NO_REGISTRY]).await;
    let api = Api::new(&gw);
    // Sign-up and sign-in need the CQL store and Redis only; both succeed although
    // neither audit record can be written (fail open).
    let carol = sign_up(&api, "audit-carol").await;
    assert!(!carol.token.is_empty());
    eventually("the failed audit records are counted", || async {
        let text = gw.metrics().await;
        ["user_created", "sign_in"].iter().all(|action| {
            let label = format!("action=\"{action}\"");
            text.lines()
                .any(|l| l.starts_with("audit_failures_total{") && l.contains(&label))
        })
    })
    .await;
    assert!(
        gw.log_text()
            .contains("an audit record could not be written"),
        "each gap is logged: {}",
        gw.log_text()
    );
}

#[tokio::test]
async fn chatctl_fails_when_it_cannot_audit_after_acting_and_a_rerun_records() {
    let mut tap = AuditTap::new();
    let gw = Gateway::start("gw-audit-closed").await;
    let api = Api::new(&gw);
    let dave = sign_up(&api, "audit-dave").await;

    let out = std::process::Command::new(workspace_binary("chatctl"))
        .args(["users", "deactivate", "--username", &dave.username])
        .env(NO_REGISTRY.0, NO_REGISTRY.1)
        .output()
        .expect("run chatctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fails closed: {stderr}");
    assert!(
        stderr.contains("audit record could not be written")
            && stderr.contains(&format!("deactivated {}", dave.username)),
        "says what was done and what was not: {stderr}"
    );
    // The action came first: the account is deactivated all the same.
    let refused = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": dave.username, "password": PASSWORD})),
        )
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));

    // Run again with the registry back: idempotent, and this time recorded.
    chatctl(&["users", "deactivate", "--username", &dave.username]);
    let d = dave.id.clone();
    tap.until(
        "the deactivation's audit record",
        Duration::from_secs(60),
        |seen| {
            seen.iter()
                .any(|r| r.event.action == AuditAction::UserDeactivated && r.event.subject.id == d)
        },
    )
    .await;
    tap.drain(Duration::from_secs(2)).await;
    let deactivations = tap
        .seen
        .iter()
        .filter(|r| r.event.action == AuditAction::UserDeactivated && r.event.subject.id == d)
        .count();
    assert_eq!(
        deactivations, 1,
        "only the run that could write it wrote it"
    );
}
