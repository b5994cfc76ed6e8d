//! `chatctl`: what an operator runs against a deployment. Every command is idempotent,
//! so `chatctl init` is safe to run on every deploy and every `infra/dev up`.

mod commands;

use anyhow::Result;
use chat_core::config::Settings;
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
    /// Rebuild a projection by replaying the log into a fresh keyspace.
    Rebuild {
        #[command(subcommand)]
        projection: RebuildWhat,
    },
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
    chat_core::telemetry::init_tracing(&settings.telemetry);
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
        Command::Rebuild {
            projection: RebuildWhat::History(args),
        } => commands::rebuild::history(&settings, args).await,
    }
}
