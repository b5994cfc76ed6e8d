//! The WebSocket endpoint: one [`connection`] per socket, speaking the [`frames`] of
//! PROTOCOL.md.

pub mod connection;
pub mod frames;
