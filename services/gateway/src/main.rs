//! `chat-gateway`: holds clients' WebSocket and REST connections and appends what they
//! do to the log. Everything is in the library (`lib.rs`); this reads the settings and
//! the command line, then builds and serves.

use anyhow::Result;
use chat_core::config::Settings;
use chat_gateway::configuration::GatewaySettings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chat-gateway",
    version,
    about = "REST and WebSocket gateway of the chat platform"
)]
struct Cli {
    /// Port to listen on (overrides CHAT__GATEWAY__PORT).
    #[arg(long)]
    port: Option<u16>,
    /// Address to bind (overrides CHAT__GATEWAY__HOST).
    #[arg(long)]
    host: Option<String>,
    /// Port of /readyz and /metrics (overrides CHAT__GATEWAY__OPS_PORT; 0 picks a free one).
    #[arg(long)]
    ops_port: Option<u16>,
    /// This gateway's id, unique among running gateways (overrides CHAT__GATEWAY__GATEWAY_ID).
    #[arg(long)]
    gateway_id: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Ask the gateway running here whether it is alive (GET /healthz on its ops port,
    /// from the same settings) and exit 0 or 1: a container's health check.
    Healthcheck,
}

#[tokio::main]
async fn main() -> Result<()> {
    chat_gateway::memory::return_large_allocations();
    let cli = Cli::parse();
    let (settings, mut gateway) = Settings::load_with::<GatewaySettings>()?;
    if let Some(p) = cli.ops_port {
        gateway.ops_port = p;
    }
    if let Some(Command::Healthcheck) = cli.command {
        chat_core::healthcheck::probe(gateway.ops_port)?;
        return Ok(());
    }
    chat_core::telemetry::init_tracing(&settings.telemetry);
    if let Some(p) = cli.port {
        gateway.port = p;
    }
    if let Some(h) = cli.host {
        gateway.host = h;
    }
    if let Some(id) = cli.gateway_id {
        gateway.gateway_id = id;
    }
    gateway.resolve_gateway_id();
    let (state, listeners) = chat_gateway::startup::build(settings, gateway).await?;
    chat_gateway::startup::serve(state, listeners).await
}
