//! The gateway's own settings, on top of the shared [`chat_core::config::Settings`].
//!
//! Same layering as the shared settings: defaults < the `CHAT_CONFIG` file's `[gateway]`
//! table < `CHAT__GATEWAY__*` variables < command-line flags (port and gateway id, so
//! several gateways can run side by side from one configuration).

use std::collections::BTreeMap;
use std::time::Duration;

use chat_core::config::{ConfigError, Secret};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct GatewaySettings {
    pub host: String,
    pub port: u16,
    /// Unique per running gateway: it names the gateway in events, sessions and logs.
    pub gateway_id: String,
    /// HS256 secret for the tokens this platform issues (shared by all gateways).
    pub jwt_secret: Secret,
    pub token_ttl_secs: u64,
    /// Largest REST body and largest message body (bytes).
    pub max_body_bytes: usize,
    /// Largest WebSocket frame (bytes); larger frames close the socket (1009).
    pub max_frame_bytes: usize,
    /// How long a (sender, client_msg_id) is remembered for deduplication.
    pub dedup_ttl_secs: u64,
    /// Frames per second a connection may sustain, and the burst above it.
    pub frames_per_sec: u32,
    pub frames_burst: u32,
    /// Directory of the built browser client (`npm run build` in services/web), served
    /// at `/`. Relative paths are resolved from the working directory; `infra/dev` passes
    /// an absolute one. When it holds no `index.html`, `/` answers a 404 saying so.
    pub web_dir: String,
    /// Enterprise single sign-on: accept RS256 tokens from this OpenID Connect issuer.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OidcSettings {
    /// The `iss` claim tokens must carry.
    pub issuer: String,
    /// The `aud` claim tokens must carry.
    pub audience: String,
    /// Where the issuer's signing keys are: a path to a JWKS file, or an http(s) URL.
    pub jwks: String,
}

impl GatewaySettings {
    pub fn load_from(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("host", "127.0.0.1")?
            .set_default("port", 8080)?
            .set_default("gateway_id", "gw-1")?
            .set_default("jwt_secret", "")?
            .set_default("token_ttl_secs", 12 * 3600)?
            .set_default("max_body_bytes", 16 * 1024)?
            .set_default("max_frame_bytes", 64 * 1024)?
            .set_default("dedup_ttl_secs", 48 * 3600)?
            .set_default("frames_per_sec", 50)?
            .set_default("frames_burst", 200)?
            .set_default("web_dir", "services/web/dist")?;
        if let Some(path) = env.get("CHAT_CONFIG").filter(|p| !p.is_empty()) {
            // Only the [gateway] table of the shared file concerns us.
            let whole = config::Config::builder()
                .add_source(config::File::with_name(path).format(config::FileFormat::Toml))
                .build()?;
            if let Ok(table) = whole.get_table("gateway") {
                for (k, v) in table {
                    builder = builder.set_override(k, v)?;
                }
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("CHAT__GATEWAY")
                .prefix_separator("__")
                .separator("__")
                .source(Some(env.clone().into_iter().collect())),
        );
        let s: GatewaySettings = builder.build()?.try_deserialize()?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.expose().len() < 32 {
            return Err(ConfigError::Invalid(
                "gateway.jwt_secret must be set to at least 32 characters (CHAT__GATEWAY__JWT_SECRET); \
                 every gateway of a deployment shares it"
                    .into(),
            ));
        }
        if self.gateway_id.is_empty() || self.gateway_id.len() > 64 {
            return Err(ConfigError::Invalid(
                "gateway.gateway_id must be 1..64 characters".into(),
            ));
        }
        if self.max_body_bytes == 0 || self.max_frame_bytes < self.max_body_bytes {
            return Err(ConfigError::Invalid(
                "gateway.max_frame_bytes must be at least gateway.max_body_bytes".into(),
            ));
        }
        Ok(())
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn refuses_to_start_without_a_real_secret() {
        let err = GatewaySettings::load_from(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("jwt_secret"), "{err}");
    }

    #[test]
    fn reads_prefixed_variables() {
        let s = GatewaySettings::load_from(&env(&[
            (
                "CHAT__GATEWAY__JWT_SECRET",
                "0123456789abcdef0123456789abcdef",
            ),
            ("CHAT__GATEWAY__PORT", "9000"),
            ("CHAT__GATEWAY__OIDC__ISSUER", "https://idp.example"),
            ("CHAT__GATEWAY__OIDC__AUDIENCE", "chat"),
            ("CHAT__GATEWAY__OIDC__JWKS", "/etc/jwks.json"),
        ]))
        .unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.max_body_bytes, 16 * 1024);
        assert_eq!(s.oidc.unwrap().issuer, "https://idp.example");
        assert_eq!(s.web_dir, "services/web/dist");
        assert!(!format!("{:?}", s.jwt_secret).contains("0123"));
    }
}
