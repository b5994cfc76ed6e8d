//! How the process gives memory back.
//!
//! glibc's allocator serves a large allocation with its own mapping, returned on free,
//! but it then raises that threshold to the size freed (up to 32 MiB). After the first
//! password hash (argon2id's 19 MiB working memory) every later hash came from the heap
//! arenas and stayed there: 400 sign-ups left a gateway at 361 MB RSS with nobody
//! connected. A fixed threshold keeps hashes (and any allocation of 4 MiB or more) in
//! mappings of their own, returned as soon as they are freed: the same 400 sign-ups
//! leave it at 30 MB. Smaller allocations, the many small frames and buffers of normal
//! traffic, still come from the arenas.

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
