//! How many WebSockets one user, and one source address, may hold on this gateway. A
//! slot is taken before the upgrade and given back when the socket ends (the slot is
//! dropped with the connection task).
//!
//! Per gateway, like the throttles: with N gateways a user may hold N times the cap.
//! What it bounds is one process's sockets, Redis session records and presence events
//! per user and per address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chat_core::ids::UserId;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapReached {
    #[error("too many open sockets for this user ({0}); close one first")]
    User(usize),
    #[error("too many open sockets from this address ({0})")]
    Address(usize),
}

impl From<CapReached> for ApiError {
    fn from(e: CapReached) -> Self {
        metrics::counter!("gateway_socket_cap_refusals_total").increment(1);
        // Sockets close when clients go away; a few seconds is a fair first wait.
        ApiError::rate_limited(e.to_string()).retry_after(std::time::Duration::from_secs(5))
    }
}

#[derive(Default)]
struct Counts {
    users: HashMap<UserId, usize>,
    addresses: HashMap<IpAddr, usize>,
}

pub struct SocketCaps {
    per_user: usize,
    per_address: usize,
    counts: Arc<Mutex<Counts>>,
}

/// One socket's place; given back when dropped.
pub struct SocketSlot {
    user: UserId,
    address: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl SocketCaps {
    pub fn new(per_user: usize, per_address: usize) -> Self {
        Self {
            per_user,
            per_address,
            counts: Arc::default(),
        }
    }

    pub fn acquire(&self, user: UserId, address: IpAddr) -> Result<SocketSlot, CapReached> {
        // Every change is a whole insert or remove: a poisoned lock is still consistent.
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.users.get(&user).copied().unwrap_or(0) >= self.per_user {
            return Err(CapReached::User(self.per_user));
        }
        if c.addresses.get(&address).copied().unwrap_or(0) >= self.per_address {
            return Err(CapReached::Address(self.per_address));
        }
        *c.users.entry(user).or_default() += 1;
        *c.addresses.entry(address).or_default() += 1;
        Ok(SocketSlot {
            user,
            address,
            counts: self.counts.clone(),
        })
    }
}

impl SocketCaps {
    /// Sockets open on this gateway now (every slot is one socket).
    pub fn open_sockets(&self) -> usize {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.users.values().sum()
    }
}

fn give_back<K: Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        give_back(&mut c.users, &self.user);
        give_back(&mut c.addresses, &self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_per_address_and_slots_come_back() {
        let caps = SocketCaps::new(2, 3);
        let (a, b) = (UserId::new_random(), UserId::new_random());
        let here: IpAddr = "10.0.0.1".parse().unwrap();
        let there: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = caps.acquire(a, here).unwrap();
        let _s2 = caps.acquire(a, there).unwrap();
        assert_eq!(caps.acquire(a, here).err(), Some(CapReached::User(2)));
        let _s3 = caps.acquire(b, here).unwrap();
        let _s4 = caps.acquire(b, here).unwrap();
        assert_eq!(
            caps.acquire(UserId::new_random(), here).err(),
            Some(CapReached::Address(3))
        );
        drop(s1);
        assert!(caps.acquire(a, there).is_ok(), "the slot was given back");
        assert!(caps.counts.lock().unwrap().users.contains_key(&a));
    }
}
