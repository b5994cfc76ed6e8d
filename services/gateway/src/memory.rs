//! How the process gives memory back.
//!
//! glibc's allocator serves a large allocation with its own mapping, returned on free,
//! but it then raises that threshold to the size freed (up to 32 MiB). After the first
//! password hash (argon2id's 19 MiB working memory) every later hash came from the heap
//! arenas and stayed there: 400 sign-ups left a gateway at 361 MB RSS with nobody
//! connected. A fixed threshold keeps hashes (and any allocation of 4 MiB or more) in
//! mappings of their own, returned as soon as they are freed: the same 400 sign-ups
//! leave it at 30 MB. Smaller allocations, the many small frames and buffers of normal
//! traffic, still come from the arenas; [`trim_after_closes`] gives their free pages back
//! once many sockets have closed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Allocations of at least this size get a mapping of their own.
const MMAP_THRESHOLD: i32 = 4 * 1024 * 1024;

/// Call once, first thing in `main`.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter, under the allocator's own
        // lock; it touches no memory of ours.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if ok != 1 {
            eprintln!("could not set the allocator's mmap threshold; memory may be retained");
        }
    }
}

/// Sockets open now.
static OPEN_SOCKETS: AtomicUsize = AtomicUsize::new(0);
/// The most sockets open at once since the arenas were last trimmed.
static PEAK_SOCKETS: AtomicUsize = AtomicUsize::new(0);
/// Closed sockets, counted from the peak, that make a trim worth it.
const CLOSED_BEFORE_TRIM: usize = 1000;
const TRIM_CHECK: Duration = Duration::from_secs(30);

pub fn socket_opened() {
    let open = OPEN_SOCKETS.fetch_add(1, Ordering::Relaxed) + 1;
    PEAK_SOCKETS.fetch_max(open, Ordering::Relaxed);
}

pub fn socket_closed() {
    OPEN_SOCKETS.fetch_sub(1, Ordering::Relaxed);
}

/// Each socket's buffers and tasks are small allocations, served from the heap arenas,
/// and glibc keeps freed arena memory: a gateway that had held 19,000 sockets stayed at
/// 400 MB RSS once they had all closed (31 MB at start). `malloc_trim` gives the free
/// pages inside the arenas back (to 38 MB in that case), so it runs when at least
/// [`CLOSED_BEFORE_TRIM`] sockets closed since the peak, checked every [`TRIM_CHECK`].
/// It walks the arenas under their locks, which costs milliseconds on a large heap: too
/// much for every close, nothing every 30 s.
pub async fn trim_after_closes(shutdown: CancellationToken) {
    let mut check = tokio::time::interval(TRIM_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = check.tick() => {}
        }
        let open = OPEN_SOCKETS.load(Ordering::Relaxed);
        if PEAK_SOCKETS.load(Ordering::Relaxed) < open + CLOSED_BEFORE_TRIM {
            continue;
        }
        PEAK_SOCKETS.store(open, Ordering::Relaxed);
        let started = std::time::Instant::now();
        trim();
        tracing::debug!(
            open,
            took_ms = started.elapsed().as_millis() as u64,
            "heap arenas trimmed"
        );
        metrics::counter!("gateway_heap_trims_total").increment(1);
    }
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free pages the allocator owns, under its own
        // locks; it touches no live allocation.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
