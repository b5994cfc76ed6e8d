//! What every fuzz target shares (chat-core's and, by `#[path]`, chat-gateway's): how many cases a run tries, where
//! proptest keeps the seeds of failures it found, and the kept corpus.

use std::path::{Path, PathBuf};

use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases per property in a normal `cargo test` (a few seconds in a debug build).
/// `FUZZ_CASES` sets a long run.
const DEFAULT_CASES: u32 = 512;

/// The proptest configuration of one target. Failures are saved (as seeds) in
/// `proptest-regressions/<target>.txt` beside this crate's `Cargo.toml` and are replayed
/// first on every later run; the file is committed.
pub fn config(regressions: &'static str) -> Config {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}

/// Every file of `fuzz/corpus/<target>/`, sorted by name: (file name, contents).
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("corpus file names are UTF-8")
                .to_string();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no case", dir.display());
    files
}
