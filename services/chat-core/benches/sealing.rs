//! What sealing costs one message on the CPU, with the keys already at hand (the
//! keyring's caches): the gateway seals once per send, and each of fanout, search and
//! notifications opens once (notifications seals its preview again).
//!
//! `cargo bench -p chat-core --bench sealing`

use chat_core::sealing::{content_key, open, seal, Content, DataKey, KeyRef, Sealed};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use uuid::Uuid;

fn content(bytes: usize) -> Content {
    Content {
        body: "x".repeat(bytes),
        attachments: Vec::new(),
    }
}

fn sealing(c: &mut Criterion) {
    let owner = DataKey::generate().expect("key");
    let scope = DataKey::generate().expect("key");
    let owner_ref = KeyRef {
        owner: Uuid::new_v4(),
        period: 680,
    };
    let scope_ref = KeyRef {
        owner: Uuid::new_v4(),
        period: 20_422,
    };
    let message = Uuid::new_v4();

    c.bench_function("content_key (HMAC-SHA256 of the two keys)", |b| {
        b.iter(|| content_key(black_box(&owner), black_box(&scope)).expect("derives"))
    });

    let mut group = c.benchmark_group("seal and open");
    for bytes in [200usize, 4_000] {
        let body = content(bytes);
        let key = content_key(&owner, &scope).expect("derives");
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("seal {bytes} B"), |b| {
            b.iter(|| {
                seal(&key, owner_ref, Some(scope_ref), message, black_box(&body)).expect("seals")
            })
        });
        let sealed = seal(&key, owner_ref, Some(scope_ref), message, &body).expect("seals");
        group.bench_function(format!("open {bytes} B"), |b| {
            b.iter(|| open(&key, black_box(&sealed), message).expect("opens"))
        });
        let bytes_form = sealed.to_bytes();
        group.bench_function(format!("from_bytes and open {bytes} B"), |b| {
            b.iter(|| {
                let s = Sealed::from_bytes(black_box(&bytes_form)).expect("parses");
                open(&key, &s, message).expect("opens")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sealing);
criterion_main!(benches);
