//! `chatctl holds place|release|list`: legal holds on users and conversations.

use std::sync::Arc;

use anyhow::{bail, Result};
use chat_core::config::Settings;
use chat_store::legal_holds::{HoldStore, HoldSubject};
use clap::{Args, Subcommand};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum Action {
    /// Suspend erasure and retention for a user or a conversation.
    Place {
        #[command(flatten)]
        subject: Subject,
        /// Why (the matter or case reference), recorded with the hold.
        #[arg(long)]
        reason: String,
    },
    /// Lift a hold.
    Release {
        #[command(flatten)]
        subject: Subject,
    },
    /// Every hold, one JSON object per line.
    List,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Subject {
    #[arg(long)]
    user: Option<Uuid>,
    #[arg(long)]
    conversation: Option<Uuid>,
}

impl Subject {
    pub fn parts(&self) -> (HoldSubject, Uuid) {
        match (self.user, self.conversation) {
            (Some(u), _) => (HoldSubject::User, u),
            (None, Some(c)) => (HoldSubject::Conversation, c),
            // clap's group requires exactly one.
            (None, None) => (HoldSubject::User, Uuid::nil()),
        }
    }
}

/// Who ran the command, as recorded with holds and in the audit log.
pub fn operator() -> String {
    format!(
        "operator:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// Returns (what was done, the subject) for the audit record.
pub async fn run(
    settings: &Settings,
    action: &Action,
) -> Result<Option<(&'static str, HoldSubject, Uuid, String)>> {
    let session = Arc::new(chat_core::cql::connect(&settings.cql).await?);
    let holds = HoldStore::new(session, &settings.cql.keyspace).await?;
    match action {
        Action::Place { subject, reason } => {
            let (kind, id) = subject.parts();
            if reason.trim().is_empty() {
                bail!("--reason must say why");
            }
            holds.place(kind, id, reason.trim(), &operator()).await?;
            println!("legal hold placed on {} {id}", kind.as_str());
            Ok(Some((
                "legal_hold_placed",
                kind,
                id,
                reason.trim().to_string(),
            )))
        }
        Action::Release { subject } => {
            let (kind, id) = subject.parts();
            if !holds.release(kind, id).await? {
                bail!("no legal hold on {} {id}", kind.as_str());
            }
            println!("legal hold on {} {id} released", kind.as_str());
            Ok(Some(("legal_hold_released", kind, id, String::new())))
        }
        Action::List => {
            for kind in [HoldSubject::User, HoldSubject::Conversation] {
                for hold in holds.list(kind).await? {
                    println!("{}", serde_json::to_string(&hold)?);
                }
            }
            Ok(None)
        }
    }
}
