//! What every client of a run records into: each message sent (by client_msg_id), its
//! ack, how many members got it, latency histograms overall and per second, and errors
//! by code. One lock, held for microseconds per frame.
//!
//! All clients live in this process, so one clock times both ends of a delivery.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, up to a minute.
const MAX_US: u64 = 60_000_000;

pub fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, sigfig.min(5)).expect("constant bounds are valid")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).clamp(1, MAX_US));
}

pub struct Msg {
    pub sent_at: Instant,
    pub conversation: usize,
    pub ack: Option<Acked>,
    /// Distinct members (not the sender) that applied it, live or replayed.
    pub deliveries: u32,
}

pub struct Acked {
    pub seq: i64,
    pub message_id: String,
}

/// One second of the run (by send time): latency histograms at 2 significant figures
/// (1 % precision is plenty for a chart) and counts.
pub struct Second {
    pub ack: Histogram<u64>,
    pub deliver: Histogram<u64>,
}

pub struct Inner {
    pub msgs: HashMap<String, Msg>,
    pub sent: u64,
    pub errors: BTreeMap<String, u64>,
    pub ack: Histogram<u64>,
    pub deliver: Histogram<u64>,
    pub seconds: Vec<Second>,
    /// Deliveries dropped by the client rule (seq at or below the position).
    pub duplicates: u64,
    /// Events whose prev_seq showed something was missed before them.
    pub gaps: u64,
    /// Deliveries that came through `sync` rather than live.
    pub replayed: u64,
    /// Acks and deliveries seen, to tell when the run has gone quiet.
    pub activity: u64,
    /// `--react-percent`: reactions sent and acknowledged (not messages: no delivery
    /// is expected of them).
    pub reactions_sent: u64,
    pub reactions_acked: u64,
}

pub struct Tracker {
    pub start: Instant,
    inner: Mutex<Inner>,
    /// Sockets open now; the resource sampler reads it.
    pub open: AtomicUsize,
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                msgs: HashMap::new(),
                sent: 0,
                errors: BTreeMap::new(),
                ack: histogram(3),
                deliver: histogram(3),
                seconds: Vec::new(),
                duplicates: 0,
                gaps: 0,
                replayed: 0,
                activity: 0,
                reactions_sent: 0,
                reactions_acked: 0,
            }),
            open: AtomicUsize::new(0),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not hide the numbers gathered so far.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sent(&self, id: String, conversation: usize) {
        let mut t = self.lock();
        t.sent += 1;
        t.msgs.insert(
            id,
            Msg {
                sent_at: Instant::now(),
                conversation,
                ack: None,
                deliveries: 0,
            },
        );
    }

    pub fn ack(&self, id: &str, seq: Option<i64>, message_id: Option<&str>) {
        let now = Instant::now();
        let start = self.start;
        let mut guard = self.lock();
        let t = &mut *guard;
        let Some(m) = t.msgs.get_mut(id) else { return };
        if m.ack.is_some() {
            return;
        }
        m.ack = Some(Acked {
            seq: seq.unwrap_or(-1),
            message_id: message_id.unwrap_or_default().to_string(),
        });
        let d = now.duration_since(m.sent_at);
        let sec = m.sent_at.duration_since(start).as_secs() as usize;
        record(&mut t.ack, d);
        record(&mut second(&mut t.seconds, sec).ack, d);
        t.activity += 1;
    }

    /// A member (not the sender) applied message `id`; live ones are timed.
    pub fn deliver(&self, id: &str, replayed: bool) {
        let now = Instant::now();
        let start = self.start;
        let mut guard = self.lock();
        let t = &mut *guard;
        t.activity += 1;
        let Some(m) = t.msgs.get_mut(id) else { return };
        m.deliveries += 1;
        if replayed {
            t.replayed += 1;
            return;
        }
        let d = now.duration_since(m.sent_at);
        let sec = m.sent_at.duration_since(start).as_secs() as usize;
        record(&mut t.deliver, d);
        record(&mut second(&mut t.seconds, sec).deliver, d);
    }

    pub fn error(&self, code: &str) {
        *self.lock().errors.entry(code.to_string()).or_default() += 1;
    }

    pub fn reaction_sent(&self) {
        self.lock().reactions_sent += 1;
    }

    pub fn reaction_acked(&self) {
        let mut t = self.lock();
        t.reactions_acked += 1;
        t.activity += 1;
    }

    /// The message_id of acknowledged message `id` (a thread root for `--thread-percent`).
    pub fn acked_message_id(&self, id: &str) -> Option<String> {
        let t = self.lock();
        let m = t.msgs.get(id)?;
        m.ack.as_ref().map(|a| a.message_id.clone())
    }

    pub fn duplicate(&self) {
        self.lock().duplicates += 1;
    }

    pub fn gap(&self) {
        self.lock().gaps += 1;
    }

    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Keep reading while the last acks and deliveries arrive: until nothing new came
    /// for `quiet` (at most `max`), so late is told apart from lost.
    pub async fn drain(&self, quiet: Duration, max: Duration) -> Duration {
        let started = Instant::now();
        let mut quiet_since = Instant::now();
        let mut seen = self.lock().activity;
        while quiet_since.elapsed() < quiet && started.elapsed() < max {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now_seen = self.lock().activity;
            if now_seen != seen {
                seen = now_seen;
                quiet_since = Instant::now();
            }
        }
        started.elapsed()
    }
}

fn second(seconds: &mut Vec<Second>, sec: usize) -> &mut Second {
    while seconds.len() <= sec {
        seconds.push(Second {
            ack: histogram(2),
            deliver: histogram(2),
        });
    }
    &mut seconds[sec]
}

/// Per conversation: the (seq, message_id) of every acked message, for the history check.
pub fn acked_by_conversation(t: &Inner, conversations: usize) -> Vec<Vec<(i64, String)>> {
    let mut out = vec![Vec::new(); conversations];
    for m in t.msgs.values() {
        if let (Some(a), Some(v)) = (&m.ack, out.get_mut(m.conversation)) {
            v.push((a.seq, a.message_id.clone()));
        }
    }
    out
}
