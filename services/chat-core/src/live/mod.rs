//! Live delivery: the frames that travel over Redis pub/sub from the projector roles
//! and the gateways to the gateways holding a user's sockets.
//!
//! Every user has one channel (named by `chat_store::keys::user_channel`). A gateway
//! subscribes to it while it holds at least one socket of that user and forwards
//! whatever arrives, verbatim, to each of them: the publishers (the fanout role for log
//! events, gateways for typing, the presence role for presence changes) render the
//! protocol frame once, with [`frames`], so the gateway's hot path is a lookup and a
//! copy. Pub/sub is at-most-once; a frame lost on the way is detected by the client
//! through `prev_seq` and filled with `sync`.

pub mod frames;
