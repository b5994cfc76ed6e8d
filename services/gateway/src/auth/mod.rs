//! Who is calling: passwords (argon2), the access tokens we issue (HS256 JWT), sign-ins
//! with rotating refresh tokens and revocation (`sign_ins`), the browser's refresh cookie,
//! tokens from an enterprise OpenID Connect issuer (RS256, keys from a JWKS), and the
//! extractors that turn an `Authorization: Bearer` header into an authenticated user.

pub mod cookie;
pub mod extract;
pub mod jwks;
pub mod password;
pub mod refresh_token;
pub mod settings;
pub mod sign_ins;
pub mod tokens;

pub use extract::{AuthUser, Authenticated};
pub use settings::AuthSettings;
pub use sign_ins::SignIns;
pub use tokens::{TokenError, Tokens};
