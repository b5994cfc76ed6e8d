//! An erasure request's stored part, shared by `chatctl users erase` and the gateway's
//! admin API: refuse under a legal hold; deactivate the account and revoke its tokens
//! (nothing more is written under the user's name); destroy every data key of the user.
//! The caller then appends `ContentErased` to the log, which the search index acts on.
//! Every step is idempotent, so a failed erasure is simply run again.

use chat_core::ids::UserId;
use uuid::Uuid;

use crate::accounts::AccountStore;
use crate::error::StoreError;
use crate::history::HistoryStore;
use crate::keyring::Keyring;
use crate::legal_holds::{HoldStore, HoldSubject};
use crate::sign_ins::SignInStore;

/// The stores an erasure touches.
pub struct Erasure<'a> {
    pub accounts: &'a AccountStore,
    pub sign_ins: &'a SignInStore,
    pub holds: &'a HoldStore,
    pub history: &'a HistoryStore,
    pub keyring: &'a Keyring,
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("user {0} is under legal hold: release it first")]
    UserHeld(Uuid),
    #[error(
        "user {0} is a member of conversation {1}, which is under legal hold: release it first"
    )]
    ConversationHeld(Uuid, Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Erasure<'_> {
    /// Erase `user`'s content everywhere it is sealed; returns how many data keys were
    /// destroyed.
    pub async fn erase(&self, user: UserId) -> Result<usize, ErasureError> {
        if self.holds.is_held(HoldSubject::User, user.0).await? {
            return Err(ErasureError::UserHeld(user.0));
        }
        for c in self.history.conversation_ids_of(user.0).await? {
            if self.holds.is_held(HoldSubject::Conversation, c).await? {
                return Err(ErasureError::ConversationHeld(user.0, c));
            }
        }
        self.accounts.set_deactivated(user, true).await?;
        self.sign_ins.deactivate(user).await?;
        Ok(self.keyring.destroy_owner(user.0, "erasure").await?)
    }
}
