//! The WebSocket endpoint: one [`connection`] per socket, speaking the [`frames`] of
//! the protocol; [`sync`] replays what a client missed.

pub mod connection;
pub mod frames;
pub mod sync;
