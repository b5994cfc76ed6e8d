//! `chat-gateway`: holds clients' WebSocket and REST connections and appends what they
//! do to the log. The binary (`main.rs`) only reads its settings and calls [`startup`].
//!
//! The layout, from the edge inwards (dependencies point down the list):
//!
//! | module | what it does |
//! |---|---|
//! | [`startup`] | builds the shared state from the settings, serves, shuts down in order (stop accepting, close sockets with 1001, flush the producer) |
//! | [`listener`] | accepts connections: a header-read timeout and a connection cap, then the router |
//! | [`tls`] | HTTPS/WSS: the rustls acceptor from the certificate files |
//! | [`configuration`] | the gateway's own settings (`[gateway]`, `CHAT__GATEWAY__*`) |
//! | [`routes`] | the REST routes, one file per group, and the WebSocket upgrade |
//! | [`ws`] | one socket's loop ([`ws::connection`]: moves frames, nothing else), the frames parsed once ([`ws::frames`]), `sync` replays ([`ws::sync`]) |
//! | [`auth`] | passwords, access tokens, sign-ins (refresh, revocation, tickets), OIDC tokens, the bearer extractors |
//! | [`throttle`] | how much each address and user may do: the one throttling policy |
//! | [`domain`] | client input parsed once into types that are valid by construction |
//! | [`actions`] | every state change, shared by REST and WebSocket: authorize, deduplicate, append, write through |
//! | [`accounts`] | accounts over `chat_store::accounts` (sign-up, credentials, SSO provisioning) |
//! | [`live`] | the sockets held here and the subscriptions that feed them, typing, presence records |
//! | [`attachments`] | v1.1 attachments: presigned object-storage URLs and the upload checks |
//! | [`search`] | v1.1 search: the search nodes every search is asked of |
//! | [`append`] | the Kafka producer: the only way the gateway changes conversation state |
//! | [`history_progress`] | how far the history role has read the log (retries of sends whose outcome is unknown) |
//! | [`error`] | protocol error codes, and the one place typed errors become them |
//! | [`state`] | what every handler shares |
//! | [`memory`] | how the process returns large allocations to the system |
//!
//! Every piece of stored state is reached through `chat-store`; the rules of who may do
//! what are `chat_core::rules`. The protocol it speaks is described in `PROTOCOL.md`
//! beside this crate.

pub mod accounts;
pub mod actions;
pub mod admin;
pub mod append;
pub mod attachments;
pub mod auth;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod history_progress;
pub mod listener;
pub mod live;
pub mod memory;
pub mod routes;
pub mod search;
pub mod startup;
pub mod state;
pub mod throttle;
pub mod tls;
pub mod ws;
