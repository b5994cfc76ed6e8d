//! `chatctl`: what an operator runs against a deployment. Every command is idempotent,
//! so `chatctl init` is safe to run on every deploy and every `infra/dev up`.

mod commands;

use anyhow::Result;
use chat_core::audit::AuditLog;
use chat_core::config::Settings;
use chat_core::events::{Actor, AuditAction, Outcome, Subject};
use chat_core::ids::{ConversationId, UserId};
use chat_store::legal_holds::HoldSubject;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chatctl",
    version,
    about = "Operate the chat platform: topics, schemas, CQL migrations, health, accounts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the topics, apply the CQL migrations and register the schemas.
    Init,
    /// Kafka topics.
    Topics {
        #[command(subcommand)]
        action: commands::topics::Action,
    },
    /// Apply the CQL migrations not applied yet.
    Migrate,
    /// Avro schemas in the registry.
    Schemas {
        #[command(subcommand)]
        action: commands::schemas::Action,
    },
    /// Check that Kafka, the CQL store, Redis and the registry answer; non-zero if not.
    Health,
    /// Print a topic's records decoded through the registry, one JSON object per line.
    Tail(commands::tail::TailArgs),
    /// Consumer lag per group and partition (log end minus committed offset).
    Lag(commands::lag::LagArgs),
    /// Accounts: deactivate (revoking every token) or reactivate.
    Users {
        #[command(subcommand)]
        action: commands::users::Action,
    },
    /// Legal holds: suspend erasure and retention for a user or a conversation.
    Holds {
        #[command(subcommand)]
        action: commands::holds::Action,
    },
    /// Retention: make content older than the retention period unreadable.
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// E-discovery: messages, edits and deletions as JSON Lines, read from the log.
    Export(commands::export::ExportArgs),
    /// Rebuild a projection by replaying the log into a fresh keyspace.
    Rebuild {
        #[command(subcommand)]
        projection: RebuildWhat,
    },
}

#[derive(Subcommand)]
enum RetentionAction {
    /// Destroy the data keys of every period older than the platform's retention and each
    /// conversation's own (run daily).
    Apply(commands::retention::ApplyArgs),
}

#[derive(Subcommand)]
enum RebuildWhat {
    /// The history tables (messages, conversations, members, pointers).
    History(commands::rebuild::RebuildArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    // Logs to stderr: stdout is the data of `tail` and `export`.
    chat_core::telemetry::init_tracing_to(
        &settings.telemetry,
        chat_core::telemetry::Output::Stderr,
    );
    match cli.command {
        Command::Init => {
            commands::topics::create(&settings).await?;
            commands::migrate::run(&settings).await?;
            commands::schemas::register(&settings).await?;
            Ok(())
        }
        Command::Topics { action } => commands::topics::run(&settings, action).await,
        Command::Migrate => commands::migrate::run(&settings).await,
        Command::Schemas { action } => commands::schemas::run(&settings, action).await,
        Command::Health => commands::health::run(&settings).await,
        Command::Tail(args) => commands::tail::run(&settings, args).await,
        Command::Lag(args) => commands::lag::run(&settings, args).await,
        Command::Users { action } => commands::users::run(&settings, action).await,
        Command::Holds { action } => {
            let audit = AuditLog::from_settings(&settings, "chatctl")?;
            let Some((what, kind, id, reason)) = commands::holds::run(&settings, &action).await?
            else {
                return Ok(());
            };
            let (action, subject) = (
                if what == "legal_hold_placed" {
                    AuditAction::LegalHoldPlaced
                } else {
                    AuditAction::LegalHoldReleased
                },
                match kind {
                    HoldSubject::User => Subject::user(UserId(id)),
                    HoldSubject::Conversation => Subject::conversation(ConversationId(id)),
                },
            );
            let mut record = audit.event(Actor::operator_from_env(), action, subject, Outcome::Ok);
            if !reason.is_empty() {
                record = record.detail("reason", reason);
            }
            commands::audited::record(&audit, record, what).await
        }
        Command::Retention {
            action: RetentionAction::Apply(args),
        } => {
            let audit = AuditLog::from_settings(&settings, "chatctl")?;
            let done = commands::retention::apply(&settings, &args).await?;
            let platform = match &done.platform {
                Some(p) => format!(
                    "retention applied before {}: {} data keys destroyed, {} users kept under legal hold",
                    p.before.to_rfc3339(),
                    p.keys_destroyed,
                    p.kept_users
                ),
                None => "platform retention is off (compliance.retention_days = 0)".into(),
            };
            let summary = format!(
                "{platform}; conversation retention applied: {} conversations expired content ({} keys destroyed), {} kept whole by a legal hold",
                done.conversations_expired,
                done.conversation_keys_destroyed,
                done.conversations_held
            );
            let mut record = audit
                .event(
                    Actor::operator_from_env(),
                    AuditAction::RetentionApplied,
                    Subject::config("retention"),
                    Outcome::Ok,
                )
                .detail("conversations_expired", done.conversations_expired)
                .detail(
                    "conversation_keys_destroyed",
                    done.conversation_keys_destroyed,
                )
                .detail("conversations_held", done.conversations_held);
            if let Some(p) = &done.platform {
                record = record
                    .detail("before", p.before.to_rfc3339())
                    .detail("keys_destroyed", p.keys_destroyed)
                    .detail("kept_users", p.kept_users);
            }
            commands::audited::record(&audit, record, &summary).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Export(args) => {
            let audit = AuditLog::from_settings(&settings, "chatctl")?;
            let done = commands::export::run(&settings, &args).await?;
            let summary = format!("exported {} records ({} erased)", done.records, done.erased);
            let scope = match (args.conversation, args.user) {
                (Some(c), _) => format!("conversation:{c}"),
                (None, Some(u)) => format!("user:{u}"),
                (None, None) => "none".into(),
            };
            let record = audit
                .event(
                    Actor::operator_from_env(),
                    AuditAction::ExportWritten,
                    Subject::export(scope),
                    Outcome::Ok,
                )
                .detail("records", done.records)
                .detail("erased", done.erased)
                .detail("from", args.from.clone().unwrap_or_default())
                .detail("to", args.to.clone().unwrap_or_default());
            commands::audited::record(&audit, record, &summary).await?;
            eprintln!("{summary}");
            Ok(())
        }
        Command::Rebuild {
            projection: RebuildWhat::History(args),
        } => commands::rebuild::history(&settings, args).await,
    }
}
