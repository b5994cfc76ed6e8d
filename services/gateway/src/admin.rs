//! The admin API (v1.2), on the ops listener only and off unless `gateway.admin_token` is
//! set: what an operator's tooling calls instead of running `chatctl`. Today one action,
//! an erasure (`routes/admin.rs`), with the same steps as `chatctl users erase`
//! (`chat_store::erasure`) and the same audit record, written before the answer (fail
//! closed, as chatctl's).

use std::sync::Arc;

use chat_core::config::Secret;
use chat_store::accounts::AccountStore;
use chat_store::keyring::Keyring;
use chat_store::legal_holds::HoldStore;
use chat_store::sign_ins::SignInStore;
use chat_store::HistoryStore;

pub struct Admin {
    pub token: Secret,
    pub accounts: AccountStore,
    pub sign_ins: SignInStore,
    pub holds: HoldStore,
    pub history: HistoryStore,
    pub keyring: Arc<Keyring>,
}

impl Admin {
    /// Whether `authorization` carries the admin token (compared in constant time, so the
    /// answer's timing says nothing about how much of a guess was right).
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        token_matches(self.token.expose().as_bytes(), authorization)
    }
}

/// Whether an `Authorization` header is `Bearer <expected>`.
fn token_matches(expected: &[u8], authorization: Option<&str>) -> bool {
    let Some(given) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let given = given.trim().as_bytes();
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_exact_bearer_token_is_allowed() {
        let token = "a".repeat(32);
        let allows = |h: Option<&str>| {
            // The stores are not needed to check a header.
            crate::admin::token_matches(token.as_bytes(), h)
        };
        assert!(allows(Some(&format!("Bearer {token}"))));
        assert!(!allows(None));
        assert!(!allows(Some(&token)));
        assert!(!allows(Some(&format!("Bearer {}", "a".repeat(31)))));
        assert!(!allows(Some(&format!("Bearer {}b", "a".repeat(31)))));
        assert!(!allows(Some("Basic xyz")));
    }
}
