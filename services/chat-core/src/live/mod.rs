//! Live delivery: the frames that travel over Redis pub/sub from the projector roles
//! and the gateways to the gateways holding a user's sockets.
//!
//! Every gateway has one channel, and a route set per user names the gateways holding
//! that user's sockets (`chat_store::live`). A frame reaches each such gateway once, with
//! the list of its users there, and the gateway copies it, verbatim, to their sockets:
//! the publishers (the fanout role for log
//! events, gateways for typing, the presence role for presence changes) render the
//! protocol frame once, with [`frames`], so the gateway's hot path is a lookup and a
//! copy. Pub/sub is at-most-once; a frame lost on the way is detected by the client
//! through `prev_seq` and filled with `sync`.

pub mod frames;
