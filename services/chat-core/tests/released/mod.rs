//! The released Avro schemas kept in `schemas/avro/history`, shared by the tests that
//! check today's code against them.

use std::path::PathBuf;

pub const HISTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/avro/history");

/// The released versions of one record (`conversation_event.v`,
/// `notification_requested.v`, ...), oldest first.
pub fn released_schemas(prefix: &str) -> Vec<PathBuf> {
    let mut released: Vec<PathBuf> = std::fs::read_dir(HISTORY)
        .expect("the history folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    released.sort();
    released
}
