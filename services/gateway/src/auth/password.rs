//! Password hashing with argon2id (the crate's defaults follow the OWASP baseline).
//!
//! Hashing is deliberately slow (tens of milliseconds) and holds 19 MiB while it runs,
//! so it runs on a [`PasswordPool`] of its own: a few threads, and a bounded number of
//! requests waiting for them. On the runtime's blocking pool (up to 512 threads) a burst
//! of sign-ins held gigabytes at once, and the allocator kept each thread's memory
//! afterwards: an idle gateway stayed at 1.5 GB after load runs that signed up
//! accounts. A flood beyond the queue is refused at once instead of queueing without
//! limit.

use std::sync::Arc;

use tokio::sync::{oneshot, Semaphore};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// False for a wrong password and for a hash that does not parse.
pub fn verify(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A valid hash of a password nobody knows, verified against when the username does
/// not exist, so a login takes as long whether or not the account exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no account has this password").unwrap_or_default())
}

/// The pool is full: more hashes are running and waiting than it admits.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("too many sign-ins at once; try again shortly")]
    Busy,
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// A few threads that do nothing but hash and verify passwords.
pub struct PasswordPool {
    // rayon: a fixed pool of plain threads with a work queue, rather than threads and
    // channels written here.
    threads: rayon::ThreadPool,
    /// Hashes running or waiting: beyond this, a request is refused.
    admitted: Arc<Semaphore>,
}

impl PasswordPool {
    /// `threads` hashing at once, and up to `waiting` more queued behind them.
    pub fn new(threads: usize, waiting: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("password-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            threads: pool,
            admitted: Arc::new(Semaphore::new(threads + waiting)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let permit = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PoolError::Busy)?;
        let (tx, rx) = oneshot::channel();
        self.threads.spawn(move || {
            let out = job();
            // Room first, answer second: whoever gets the answer finds the room free.
            drop(permit);
            let _ = tx.send(out);
        });
        rx.await
            .map_err(|_| PoolError::Hash(HashError("the hashing thread went away".into())))
    }

    pub async fn hash(&self, password: String) -> Result<String, PoolError> {
        Ok(self.run(move || hash(&password)).await??)
    }

    /// Verify against `stored`, or against [`dummy_hash`] when there is no account, so
    /// a sign-in takes as long either way.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PoolError> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => verify(&password, dummy_hash()),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("correct horse", "not a hash"));
        assert!(!verify("x", dummy_hash()));
    }

    #[tokio::test]
    async fn the_pool_hashes_and_refuses_what_it_cannot_queue() {
        let pool = PasswordPool::new(1, 1).unwrap();
        let h = pool.hash("secret password".into()).await.unwrap();
        assert!(pool
            .verify("secret password".into(), Some(h))
            .await
            .unwrap());
        assert!(!pool.verify("secret password".into(), None).await.unwrap());
        // One running and one waiting are admitted; a third at once is refused.
        let (a, b, c) = tokio::join!(
            pool.hash("one".into()),
            pool.hash("two".into()),
            pool.hash("three".into())
        );
        let refused = [a.is_err(), b.is_err(), c.is_err()]
            .iter()
            .filter(|e| **e)
            .count();
        assert_eq!(refused, 1);
        assert!(matches!(c, Err(PoolError::Busy)));
    }
}
