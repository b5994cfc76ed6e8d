//! The WebSocket endpoint: one [`connection`] per socket, speaking the [`frames`] of
//! the protocol; [`sync`] replays what a client missed; [`caps`] bounds the sockets per
//! user and per address.

pub mod caps;
pub mod connection;
pub mod frames;
pub mod sync;
