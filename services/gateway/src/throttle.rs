//! Who may do how much: the one throttling policy of the REST surface.
//!
//! - every request, by source address (`per_address`), before anything else is done;
//! - every authenticated request, by user (`per_user`), once the token is verified;
//! - sign-in, by account and by address, before the password is hashed: a guesser gets
//!   a few tries a minute per account whatever addresses they use, and one address a
//!   few more (an office behind one NAT signs in at nine). The per-account limit is
//!   also kept in Redis (`chat_store::rate_limits`), shared by every gateway, so
//!   adding gateways does not multiply a guesser's budget;
//! - sign-up, by address.
//!
//! Each limit is a token bucket (GCRA, the `governor` crate: a well-kept implementation
//! whose per-key state is one 8-byte timestamp): a sustained rate and a burst above it.
//! A refusal is `rate_limited` (HTTP 429) with `Retry-After`, the whole seconds until
//! one more request would pass.
//!
//! The source address is the TCP peer's, unless that peer is one of
//! `gateway.throttle.trusted_proxies` (the load balancer): then it is the last address
//! of `X-Forwarded-For` that is not a trusted proxy, so a client cannot choose its own
//! address by sending the header, and all clients of a load balancer are not one.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chat_core::ids::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;

use chat_store::rate_limits::RateLimitStore;

use crate::error::ApiError;
use crate::state::AppState;

/// `gateway.throttle.*`: sustained rates and bursts.
#[derive(Clone, Debug, Deserialize)]
pub struct ThrottleSettings {
    pub per_address_per_sec: u32,
    pub per_address_burst: u32,
    pub per_user_per_sec: u32,
    pub per_user_burst: u32,
    pub sign_ins_per_min_per_account: u32,
    pub sign_ins_burst_per_account: u32,
    pub sign_ins_per_min_per_address: u32,
    pub sign_ins_burst_per_address: u32,
    pub sign_ups_per_min_per_address: u32,
    pub sign_ups_burst_per_address: u32,
    /// Comma-separated addresses of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
}

/// The defaults: generous for people (a burst of 1,000 requests from one address, 200
/// from one user), tight for password guessing (5 sign-ins a minute per account).
impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_address_per_sec: 100,
            per_address_burst: 1000,
            per_user_per_sec: 20,
            per_user_burst: 200,
            sign_ins_per_min_per_account: 5,
            sign_ins_burst_per_account: 10,
            sign_ins_per_min_per_address: 20,
            sign_ins_burst_per_address: 100,
            sign_ups_per_min_per_address: 10,
            sign_ups_burst_per_address: 100,
            trusted_proxies: String::new(),
        }
    }
}

impl ThrottleSettings {
    /// [`Default`] as `(key, value)` under `gateway.`, for the settings loader.
    pub fn defaults() -> Vec<(&'static str, config::Value)> {
        let d = Self::default();
        vec![
            ("throttle.per_address_per_sec", d.per_address_per_sec.into()),
            ("throttle.per_address_burst", d.per_address_burst.into()),
            ("throttle.per_user_per_sec", d.per_user_per_sec.into()),
            ("throttle.per_user_burst", d.per_user_burst.into()),
            (
                "throttle.sign_ins_per_min_per_account",
                d.sign_ins_per_min_per_account.into(),
            ),
            (
                "throttle.sign_ins_burst_per_account",
                d.sign_ins_burst_per_account.into(),
            ),
            (
                "throttle.sign_ins_per_min_per_address",
                d.sign_ins_per_min_per_address.into(),
            ),
            (
                "throttle.sign_ins_burst_per_address",
                d.sign_ins_burst_per_address.into(),
            ),
            (
                "throttle.sign_ups_per_min_per_address",
                d.sign_ups_per_min_per_address.into(),
            ),
            (
                "throttle.sign_ups_burst_per_address",
                d.sign_ups_burst_per_address.into(),
            ),
            ("throttle.trusted_proxies", d.trusted_proxies.into()),
        ]
    }

    /// The trusted proxies, or which entry is not an address.
    pub fn trusted(&self) -> Result<Vec<IpAddr>, String> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>().map_err(|_| {
                    format!("gateway.throttle.trusted_proxies: '{s}' is not an IP address")
                })
            })
            .collect()
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// A request refused for now: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub Duration);

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        metrics::counter!("gateway_throttled_total").increment(1);
        ApiError::rate_limited("too many requests; retry later").retry_after(r.0)
    }
}

pub struct Throttles {
    per_address: Keyed<IpAddr>,
    per_user: Keyed<UserId>,
    sign_in_account: Keyed<String>,
    sign_in_address: Keyed<IpAddr>,
    sign_up_address: Keyed<IpAddr>,
    trusted_proxies: Vec<IpAddr>,
    clock: DefaultClock,
    /// The deployment-wide per-account sign-in bucket (none in unit tests).
    shared: Option<(RateLimitStore, u32, u32)>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn per_sec(rate: u32, burst: u32) -> Quota {
    Quota::per_second(nonzero(rate)).allow_burst(nonzero(burst))
}

fn per_min(rate: u32, burst: u32) -> Quota {
    Quota::per_minute(nonzero(rate)).allow_burst(nonzero(burst))
}

impl Throttles {
    /// Limits of 0 are taken as 1 (validation refuses them before this).
    pub fn new(s: &ThrottleSettings, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            per_address: RateLimiter::keyed(per_sec(s.per_address_per_sec, s.per_address_burst)),
            per_user: RateLimiter::keyed(per_sec(s.per_user_per_sec, s.per_user_burst)),
            sign_in_account: RateLimiter::keyed(per_min(
                s.sign_ins_per_min_per_account,
                s.sign_ins_burst_per_account,
            )),
            sign_in_address: RateLimiter::keyed(per_min(
                s.sign_ins_per_min_per_address,
                s.sign_ins_burst_per_address,
            )),
            sign_up_address: RateLimiter::keyed(per_min(
                s.sign_ups_per_min_per_address,
                s.sign_ups_burst_per_address,
            )),
            trusted_proxies,
            clock: DefaultClock::default(),
            shared: None,
        }
    }

    /// Also count sign-ins per account in `store`, shared by every gateway.
    pub fn shared_with(mut self, store: RateLimitStore, s: &ThrottleSettings) -> Self {
        self.shared = Some((
            store,
            s.sign_ins_per_min_per_account,
            s.sign_ins_burst_per_account,
        ));
        self
    }

    fn check<K: Hash + Eq + Clone>(&self, limiter: &Keyed<K>, key: &K) -> Result<(), Refused> {
        limiter
            .check_key(key)
            .map_err(|not_until| Refused(not_until.wait_time_from(self.clock.now())))
    }

    pub fn request(&self, from: IpAddr) -> Result<(), Refused> {
        self.check(&self.per_address, &from)
    }

    pub fn user(&self, user: UserId) -> Result<(), Refused> {
        self.check(&self.per_user, &user)
    }

    /// A sign-in attempt for `username` (as typed; compared case-insensitively), here
    /// and then across every gateway.
    pub async fn sign_in(&self, from: IpAddr, username: &str) -> Result<(), ApiError> {
        self.sign_in_here(from, username)?;
        let Some((store, per_min, burst)) = &self.shared else {
            return Ok(());
        };
        let account = username.trim().to_lowercase();
        match store
            .check_per_minute("signin", &account, *per_min, *burst)
            .await?
        {
            None => Ok(()),
            Some(wait) => Err(Refused(wait).into()),
        }
    }

    /// The in-memory part of [`Self::sign_in`].
    fn sign_in_here(&self, from: IpAddr, username: &str) -> Result<(), Refused> {
        self.check(&self.sign_in_address, &from)?;
        self.check(&self.sign_in_account, &username.trim().to_lowercase())
    }

    pub fn sign_up(&self, from: IpAddr) -> Result<(), Refused> {
        self.check(&self.sign_up_address, &from)
    }

    /// Forget keys whose buckets are full again, so the state is bounded by the keys
    /// active in the last burst's worth of time. Called every minute.
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.per_user.retain_recent();
        self.sign_in_account.retain_recent();
        self.sign_in_address.retain_recent();
        self.sign_up_address.retain_recent();
    }

    /// The client's address: the peer, or behind a trusted proxy what it forwarded.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        // From the right: the nearest hop first; the first one that is not ours is
        // the client as our own proxies saw it.
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusted_proxies.contains(&ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// The client's address (see the module docs), for handlers that throttle by it.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Routers built without connection info (unit tests) have no peer.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self(state.throttles.client_address(peer, &parts.headers)))
    }
}

/// Middleware: every request under `/api/` counts against its address.
pub async fn by_address(
    axum::extract::State(state): axum::extract::State<AppState>,
    ClientAddress(from): ClientAddress,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    state.throttles.request(from)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            per_address_per_sec: 1,
            per_address_burst: 3,
            per_user_per_sec: 1,
            per_user_burst: 2,
            sign_ins_per_min_per_account: 1,
            sign_ins_burst_per_account: 2,
            sign_ins_per_min_per_address: 1,
            sign_ins_burst_per_address: 5,
            sign_ups_per_min_per_address: 1,
            sign_ups_burst_per_address: 1,
            trusted_proxies: "10.0.0.1, 10.0.0.2".into(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_passes_then_refusals_say_when_to_retry() {
        let t = Throttles::new(&settings(), vec![]);
        for _ in 0..3 {
            assert_eq!(t.request(ip("192.0.2.1")), Ok(()));
        }
        let Err(Refused(wait)) = t.request(ip("192.0.2.1")) else {
            panic!("the fourth request is refused");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            t.request(ip("192.0.2.2")),
            Ok(()),
            "another address has its own bucket"
        );
    }

    #[test]
    fn sign_ins_are_limited_per_account_whatever_the_address_and_case() {
        let t = Throttles::new(&settings(), vec![]);
        assert_eq!(t.sign_in_here(ip("192.0.2.1"), "Alice"), Ok(()));
        assert_eq!(t.sign_in_here(ip("192.0.2.2"), "alice "), Ok(()));
        assert!(t.sign_in_here(ip("192.0.2.3"), "ALICE").is_err());
        assert_eq!(t.sign_in_here(ip("192.0.2.3"), "bob"), Ok(()));
    }

    #[test]
    fn sign_ups_and_users_have_their_own_buckets() {
        let t = Throttles::new(&settings(), vec![]);
        assert_eq!(t.sign_up(ip("192.0.2.1")), Ok(()));
        assert!(t.sign_up(ip("192.0.2.1")).is_err());
        let u = UserId(uuid::Uuid::new_v4());
        assert_eq!(t.user(u), Ok(()));
        assert_eq!(t.user(u), Ok(()));
        assert!(t.user(u).is_err());
        assert_eq!(t.user(UserId(uuid::Uuid::new_v4())), Ok(()));
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let s = settings();
        let t = Throttles::new(&s, s.trusted().unwrap());
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.2".parse().unwrap(),
        );
        // A client's own header is not believed.
        assert_eq!(t.client_address(ip("192.0.2.1"), &h), ip("192.0.2.1"));
        // Behind our proxies: the nearest hop that is not one of them. The leftmost
        // entry is whatever the client claimed, and is not used.
        assert_eq!(t.client_address(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // A proxy that forwarded nothing readable: the proxy itself.
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", "not-an-address".parse().unwrap());
        assert_eq!(t.client_address(ip("10.0.0.1"), &junk), ip("10.0.0.1"));
        assert_eq!(
            t.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn trusted_proxies_must_be_addresses() {
        let mut s = settings();
        assert_eq!(s.trusted().unwrap(), vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        s.trusted_proxies = "".into();
        assert!(s.trusted().unwrap().is_empty());
        s.trusted_proxies = "10.0.0.1, lb.internal".into();
        assert!(s.trusted().unwrap_err().contains("lb.internal"));
    }
}
