//! Who is calling: passwords (argon2), the tokens we issue (HS256 JWT), tokens from an
//! enterprise OpenID Connect issuer (RS256, keys from a JWKS), and the extractor that
//! turns an `Authorization: Bearer` header into an authenticated user.

pub mod extract;
pub mod jwks;
pub mod password;
pub mod tokens;

pub use extract::AuthUser;
pub use tokens::{TokenError, Tokens};
