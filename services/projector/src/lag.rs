//! Projection lag: for each assigned partition, the log end offset minus the group's
//! committed offset, published as `projector_lag{role,partition}` every few seconds.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Offset;

use crate::role::Role;

pub async fn publish(consumer: Arc<StreamConsumer>, topic: String, role: Role) {
    loop {
        let c = consumer.clone();
        let t = topic.clone();
        let lags = tokio::task::spawn_blocking(move || -> Vec<(i32, i64)> {
            let Ok(assignment) = c.assignment() else {
                return vec![];
            };
            let Ok(committed) = c.committed_offsets(assignment, Duration::from_secs(5)) else {
                return vec![];
            };
            committed
                .elements_for_topic(&t)
                .iter()
                .filter_map(|e| {
                    let (low, high) = c
                        .fetch_watermarks(&t, e.partition(), Duration::from_secs(5))
                        .ok()?;
                    let at = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => low,
                    };
                    Some((e.partition(), (high - at).max(0)))
                })
                .collect()
        })
        .await
        .unwrap_or_default();
        for (partition, lag) in lags {
            metrics::gauge!("projector_lag", "role" => role.as_str(), "partition" => partition.to_string())
                .set(lag as f64);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
