//! `gateway.auth.*`: how long tokens live and how the browser's refresh cookie is set.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct AuthSettings {
    /// Lifetime of an access token, and so of a socket that does not re-authenticate.
    pub access_ttl_secs: u64,
    /// A sign-in ends this long after its last refresh.
    pub refresh_ttl_secs: u64,
    /// How long the refresh token just replaced still yields an access token (two tabs
    /// refreshing at once present the same one).
    pub refresh_grace_secs: u64,
    /// Lifetime of a WebSocket upgrade ticket.
    pub ticket_ttl_secs: u64,
    /// Mark the refresh cookie `Secure` (sent over HTTPS only). Browsers treat
    /// `http://localhost` as secure too; turn it off only for plain HTTP on other hosts.
    pub cookie_secure: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            refresh_grace_secs: 10,
            ticket_ttl_secs: 30,
            cookie_secure: true,
        }
    }
}

impl AuthSettings {
    /// [`Default`] as `(key, value)` under `gateway.`, for the settings loader.
    pub fn defaults() -> Vec<(&'static str, config::Value)> {
        let d = Self::default();
        vec![
            ("auth.access_ttl_secs", d.access_ttl_secs.into()),
            ("auth.refresh_ttl_secs", d.refresh_ttl_secs.into()),
            ("auth.refresh_grace_secs", d.refresh_grace_secs.into()),
            ("auth.ticket_ttl_secs", d.ticket_ttl_secs.into()),
            ("auth.cookie_secure", d.cookie_secure.into()),
        ]
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.access_ttl_secs == 0 || self.ticket_ttl_secs == 0 {
            return Err(
                "gateway.auth.access_ttl_secs and ticket_ttl_secs must be at least 1".into(),
            );
        }
        if self.refresh_ttl_secs < self.access_ttl_secs {
            return Err("gateway.auth.refresh_ttl_secs must be at least access_ttl_secs".into());
        }
        Ok(())
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl_secs)
    }
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl_secs)
    }
    pub fn refresh_grace(&self) -> Duration {
        Duration::from_secs(self.refresh_grace_secs)
    }
    pub fn ticket_ttl(&self) -> Duration {
        Duration::from_secs(self.ticket_ttl_secs)
    }
}
