//! The machine-readable result of a run (`summary.json`).

use std::collections::HashMap;

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub count: u64,
}

impl Latency {
    /// From a histogram of microseconds, in milliseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            count: h.len(),
        }
    }
}

/// `summary.json` of the `chat` scenario.
#[derive(Serialize)]
pub struct Summary {
    pub scenario: String,
    pub connections: usize,
    pub sent: u64,
    pub acked: u64,
    /// Deliveries of acked messages to members other than the sender.
    pub delivered: u64,
    /// Acked messages that some other member never received live.
    pub lost: u64,
    pub duplicates: u64,
    pub errors: HashMap<String, u64>,
    pub ack_ms: Latency,
    pub deliver_ms: Latency,
    pub msgs_per_s: f64,
    pub deliveries_per_s: f64,
    pub elapsed_s: f64,
}
