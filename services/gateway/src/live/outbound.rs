//! One socket's outbound queue, bounded in bytes.
//!
//! Frames that answer the client (acks, errors, `sync` replays) wait for room: a client
//! that asks for a big replay slows its own replay down, nothing else. Live frames never
//! wait (one slow reader must not hold up the dispatch of everyone's frames): when there
//! is no room for one, the reader has fallen [`MAX_QUEUED_BYTES`] behind and is stuck.
//! A stuck socket is disconnected at once (its TCP connection is dropped, without a
//! close frame: one may not fit behind a half-written frame); the client reconnects and
//! syncs, as after any disconnection. So a client that stops reading costs the gateway
//! at most [`MAX_QUEUED_BYTES`] of queued frames, whatever is published to it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Bytes of frames one socket may have queued. A full `sync` page of large messages
/// fits several times over; a reader this far behind has stopped reading.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// Frames written with one flush, at most: bounds how long one socket's writer holds
/// frames before their room is released.
const MAX_FRAMES_PER_WRITE: usize = 64;

/// A frame and the room it holds in the queue (released once written).
type Queued = (Message, OwnedSemaphorePermit);

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    tx: mpsc::UnboundedSender<Queued>,
    room: Arc<Semaphore>,
    max_bytes: usize,
    /// Cancelled when the reader is stuck (or the socket is gone).
    stuck: CancellationToken,
}

/// The socket is gone (closed, or disconnected as stuck).
#[derive(Debug)]
pub struct Closed;

fn size_of(msg: &Message) -> usize {
    match msg {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 16,
    }
}

impl Outbound {
    fn cost(&self, msg: &Message) -> u32 {
        // A frame larger than the whole queue takes all of it (and goes alone).
        size_of(msg).clamp(1, self.max_bytes) as u32
    }

    /// Queue a frame, waiting for room.
    pub async fn send(&self, msg: Message) -> Result<(), Closed> {
        let cost = self.cost(&msg);
        let permit = tokio::select! {
            p = self.room.clone().acquire_many_owned(cost) => p.map_err(|_| Closed)?,
            _ = self.stuck.cancelled() => return Err(Closed),
        };
        self.tx.send((msg, permit)).map_err(|_| Closed)
    }

    /// Queue a live frame without waiting. No room means the reader is stuck: the
    /// socket is disconnected and false returned.
    pub fn offer(&self, msg: Message) -> bool {
        if self.stuck.is_cancelled() {
            return false;
        }
        let cost = self.cost(&msg);
        match self.room.clone().try_acquire_many_owned(cost) {
            Ok(permit) => self.tx.send((msg, permit)).is_ok(),
            Err(_) => {
                metrics::counter!("gateway_stuck_readers_total").increment(1);
                tracing::info!("a reader fell behind its queue limit; disconnecting it");
                self.stuck.cancel();
                false
            }
        }
    }

    /// Fires when the socket is disconnected as stuck.
    pub fn stuck(&self) -> &CancellationToken {
        &self.stuck
    }
}

/// A queue of at most `max_bytes`, and the task that writes it to `sink` until the
/// queue closes, a close frame was written, or the reader is stuck.
pub fn start(
    mut sink: SplitSink<WebSocket, Message>,
    max_bytes: usize,
) -> (Outbound, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Queued>();
    let stuck = CancellationToken::new();
    let out = Outbound {
        tx,
        room: Arc::new(Semaphore::new(max_bytes)),
        max_bytes,
        stuck: stuck.clone(),
    };
    let writer = tokio::spawn(async move {
        // Grows only when frames are queued: an idle socket's writer allocates nothing.
        let mut batch: Vec<OwnedSemaphorePermit> = Vec::new();
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = stuck.cancelled() => None,
            };
            let Some(first) = next else { break };
            // Every frame already queued goes out in one write: under a stream of live
            // frames most wakeups find several, and one flush (one syscall) for all of
            // them is what the gateway's profile asked for.
            let mut closing = false;
            let mut pending = Some(first);
            let written = tokio::select! {
                r = async {
                    while let Some((msg, permit)) = pending.take() {
                        closing = matches!(msg, Message::Close(_));
                        batch.push(permit);
                        sink.feed(msg).await?;
                        if closing || batch.len() == MAX_FRAMES_PER_WRITE {
                            break;
                        }
                        pending = rx.try_recv().ok();
                    }
                    sink.flush().await
                } => r.is_ok(),
                _ = stuck.cancelled() => false,
            };
            batch.clear();
            if !written || closing {
                break;
            }
        }
        if stuck.is_cancelled() {
            // Drop the connection: a frame may be half written.
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    });
    (out, writer)
}
