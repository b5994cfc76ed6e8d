//! Accounts as the gateway uses them: creating one with a claimed username, the
//! credentials to sign in with, profiles, and provisioning accounts for single sign-on
//! users. The rows themselves live in `chat_store::accounts`.

use std::collections::HashSet;
use std::sync::Mutex;

use chat_core::ids::UserId;
use chat_store::accounts::AccountStore;
use chat_store::StoreError;

use crate::auth::tokens::ExternalIdentity;
use crate::domain::{DisplayName, Username};
use crate::error::{ApiError, ErrorCode};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("that username is taken")]
    UsernameTaken,
    #[error("could not provision an account for this identity")]
    NoUsernameForIdentity,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::UsernameTaken | AccountError::NoUsernameForIdentity => {
                ApiError::new(ErrorCode::UsernameTaken, e.to_string())
            }
            AccountError::Store(e) => e.into(),
        }
    }
}

pub struct Accounts {
    store: AccountStore,
    /// SSO users already provisioned by this process (saves a write per request).
    provisioned: Mutex<HashSet<UserId>>,
    /// Accounts seen to exist (accounts are never deleted), so checking a token's
    /// account costs a read once per user and process, not once per request.
    known: Mutex<HashSet<UserId>>,
}

/// Entries of the `known` cache before it is cleared (refilling costs a read per user).
const KNOWN_ACCOUNTS_MAX: usize = 200_000;

pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
    /// An operator deactivated the account: the password may be right, but no sign-in.
    pub deactivated: bool,
}

impl Accounts {
    pub fn new(store: AccountStore) -> Self {
        Self {
            store,
            provisioned: Mutex::new(HashSet::new()),
            known: Mutex::new(HashSet::new()),
        }
    }

    /// Create an account; `UsernameTaken` when the name is held.
    pub async fn create(
        &self,
        username: &Username,
        display_name: &DisplayName,
        password_hash: &str,
    ) -> Result<UserId, AccountError> {
        let user_id = UserId::new_random();
        if !self
            .store
            .claim_username(username.as_str(), user_id)
            .await?
        {
            return Err(AccountError::UsernameTaken);
        }
        self.store
            .insert(
                user_id,
                username.as_str(),
                display_name.as_str(),
                password_hash,
            )
            .await?;
        Ok(user_id)
    }

    pub async fn credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError> {
        let Some(user_id) = self.store.user_id_of(username.as_str()).await? else {
            return Ok(None);
        };
        let row = self.store.account(user_id).await?;
        // A username claimed by a create that died before writing the user row has no
        // password: nobody can log in as it.
        Ok(row.and_then(|r| {
            let deactivated = r.deactivated;
            r.password_hash
                .filter(|h| !h.is_empty())
                .map(|password_hash| Credentials {
                    user_id,
                    password_hash,
                    deactivated,
                })
        }))
    }

    pub async fn user_id_of(&self, username: &Username) -> Result<Option<UserId>, StoreError> {
        self.store.user_id_of(username.as_str()).await
    }

    /// The username and display name of an account, to show a user id to people.
    pub async fn profile(&self, user_id: UserId) -> Result<Option<(String, String)>, StoreError> {
        let row = self.store.account(user_id).await?;
        Ok(row.and_then(|r| {
            let username = r.username?;
            let display = r.display_name.unwrap_or_else(|| username.clone());
            Some((username, display))
        }))
    }

    /// The stored password hash of an account that signs in with a password (SSO
    /// accounts have none).
    pub async fn password_hash(&self, user_id: UserId) -> Result<Option<String>, StoreError> {
        let row = self.store.account(user_id).await?;
        Ok(row.and_then(|r| r.password_hash).filter(|h| !h.is_empty()))
    }

    pub async fn set_password_hash(&self, user_id: UserId, hash: &str) -> Result<(), StoreError> {
        self.store.set_password(user_id, hash).await
    }

    /// Whether an operator deactivated the account (read from the store each time: it
    /// is asked once per refresh, not per request).
    pub async fn is_deactivated(&self, user_id: UserId) -> Result<bool, StoreError> {
        Ok(self
            .store
            .account(user_id)
            .await?
            .is_some_and(|r| r.deactivated))
    }

    /// Whether an account with this id exists.
    pub async fn exists(&self, user_id: UserId) -> Result<bool, StoreError> {
        Ok(self.store.account(user_id).await?.is_some())
    }

    /// [`Accounts::exists`], remembered once true: what every request's token is checked
    /// with (a token signed for an id that has no account is refused).
    pub async fn exists_cached(&self, user_id: UserId) -> Result<bool, StoreError> {
        let known = self
            .known
            .lock()
            .map(|k| k.contains(&user_id))
            .unwrap_or(false);
        if known {
            return Ok(true);
        }
        let exists = self.exists(user_id).await?;
        if exists {
            if let Ok(mut k) = self.known.lock() {
                if k.len() >= KNOWN_ACCOUNTS_MAX {
                    k.clear();
                }
                k.insert(user_id);
            }
        }
        Ok(exists)
    }

    /// Make sure an SSO user has an account, with a username derived from their claims
    /// (suffixed when a local account already holds it). The username of the account
    /// when this call created it (to audit), `None` when it existed.
    pub async fn ensure_external(
        &self,
        user_id: UserId,
        identity: &ExternalIdentity,
    ) -> Result<Option<String>, AccountError> {
        if self
            .provisioned
            .lock()
            .map(|p| p.contains(&user_id))
            .unwrap_or(false)
        {
            return Ok(None);
        }
        let mut created = None;
        if !self.exists(user_id).await? {
            let base = Username::from_claim(&identity.preferred_username);
            let mut username = base.clone();
            if !self
                .store
                .claim_username(username.as_str(), user_id)
                .await?
            {
                let suffixed =
                    format!("{}-{}", base.as_str(), &user_id.0.simple().to_string()[..6]);
                username = Username::from_claim(&suffixed);
                if !self
                    .store
                    .claim_username(username.as_str(), user_id)
                    .await?
                {
                    return Err(AccountError::NoUsernameForIdentity);
                }
            }
            let display =
                DisplayName::parse(&identity.display_name).map(|d| d.as_str().to_string());
            // SSO accounts have no password: they can only sign in through the issuer.
            self.store
                .insert(
                    user_id,
                    username.as_str(),
                    &display.unwrap_or_else(|_| username.as_str().to_string()),
                    "",
                )
                .await?;
            tracing::info!(%user_id, username = username.as_str(), "provisioned SSO account");
            created = Some(username.as_str().to_string());
        }
        if let Ok(mut p) = self.provisioned.lock() {
            p.insert(user_id);
        }
        Ok(created)
    }
}
