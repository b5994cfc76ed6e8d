//! The signing keys of an OpenID Connect issuer, from a JWKS file or URL.
//!
//! Keys are cached by `kid`. A token signed with a key we do not know triggers one
//! reload (issuers rotate keys), at most once a minute, so forged `kid`s cannot make us
//! hammer the issuer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use tokio::sync::RwLock;

const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read the JWKS: {0}")]
    Fetch(String),
    #[error("the JWKS does not parse: {0}")]
    Parse(String),
}

struct Cache {
    keys: HashMap<String, DecodingKey>,
    /// The key to use for tokens without `kid`, when the set holds exactly one.
    only_key: Option<DecodingKey>,
    loaded_at: Option<Instant>,
}

pub struct Jwks {
    source: String,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

impl Jwks {
    pub fn new(source: String) -> Self {
        Self {
            source,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cache: RwLock::new(Cache {
                keys: HashMap::new(),
                only_key: None,
                loaded_at: None,
            }),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let text = if self.source.starts_with("http://") || self.source.starts_with("https://") {
            let resp = self
                .http
                .get(&self.source)
                .send()
                .await
                .map_err(|e| JwksError::Fetch(e.to_string()))?;
            resp.error_for_status()
                .map_err(|e| JwksError::Fetch(e.to_string()))?
                .text()
                .await
                .map_err(|e| JwksError::Fetch(e.to_string()))?
        } else {
            tokio::fs::read_to_string(&self.source)
                .await
                .map_err(|e| JwksError::Fetch(e.to_string()))?
        };
        serde_json::from_str(&text).map_err(|e| JwksError::Parse(e.to_string()))
    }

    async fn reload(&self) -> Result<(), JwksError> {
        let mut cache = self.cache.write().await;
        if cache
            .loaded_at
            .is_some_and(|t| t.elapsed() < MIN_RELOAD_INTERVAL)
        {
            return Ok(());
        }
        cache.loaded_at = Some(Instant::now());
        let set = self.fetch().await?;
        let mut keys = HashMap::new();
        let mut all = Vec::new();
        for jwk in &set.keys {
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    if let Some(kid) = &jwk.common.key_id {
                        keys.insert(kid.clone(), key.clone());
                    }
                    all.push(key);
                }
                Err(e) => tracing::warn!(error = %e, "skipping a JWKS key we cannot use"),
            }
        }
        cache.only_key = if all.len() == 1 { all.pop() } else { None };
        cache.keys = keys;
        tracing::info!(keys = cache.keys.len(), "loaded OIDC signing keys");
        Ok(())
    }

    /// The key for `kid` (or the single key when the token names none).
    pub async fn key(&self, kid: Option<&str>) -> Result<Option<DecodingKey>, JwksError> {
        let lookup = |cache: &Cache| match kid {
            Some(k) => cache.keys.get(k).cloned(),
            None => cache.only_key.clone(),
        };
        if let Some(k) = lookup(&*self.cache.read().await) {
            return Ok(Some(k));
        }
        self.reload().await?;
        Ok(lookup(&*self.cache.read().await))
    }
}
