//! Client input, parsed once into types that are valid by construction. Handlers take
//! these types, so nothing past the edge re-checks a username or a body length.

mod printable;

use crate::error::{ApiError, ErrorCode};

/// 3..=32 characters of `a-z 0-9 . _ -`, starting with a letter or digit; stored
/// lowercase, so usernames are case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let s = raw.trim().to_lowercase();
        let ok_len = (3..=32).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Self(s))
        } else {
            Err(ApiError::new(ErrorCode::InvalidUsername, "username must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
            ))
        }
    }

    /// Make a valid username out of an identity provider's claim (for SSO accounts).
    pub fn from_claim(claim: &str) -> Self {
        let cleaned: String = claim
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .skip_while(|c| !c.is_ascii_alphanumeric())
            .take(24)
            .collect();
        let padded = if cleaned.len() < 3 {
            format!("user-{cleaned}")
        } else {
            cleaned
        };
        Self(padded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8..=256 bytes; anything else is the client's business.
pub struct Password(String);

impl Password {
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        if (8..=256).contains(&raw.len()) {
            Ok(Self(raw))
        } else {
            Err(ApiError::new(
                ErrorCode::InvalidPassword,
                "password must be 8 to 256 bytes",
            ))
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// 1..=64 characters as [`printable::printable_name`] allows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        printable::printable_name(raw, 64).map(Self).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidDisplayName,
                "display_name must be 1 to 64 printable characters, without control, \
                 bidirectional or invisible characters",
            )
        })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group's name: 1..=100 characters as [`printable::printable_name`] allows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationName(String);

impl ConversationName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        printable::printable_name(raw, 100)
            .map(Self)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidName,
                    "name must be 1 to 100 printable characters, without control, \
                 bidirectional or invisible characters",
                )
            })
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An attachment's file name: 1..=255 characters as [`printable::printable_name`]
/// allows them. It is shown (as text) and offered as a download name (percent-encoded),
/// never used as a path: the object's key is the upload id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        printable::printable_name(raw, 255)
            .map(Self)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "filename must be 1 to 255 printable characters, without control, \
                     bidirectional or invisible characters",
                )
            })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message's body and attachments, checked together: `file` and `image` messages
/// carry 1 to `MAX_ATTACHMENTS` upload ids and may have an empty body (a caption);
/// other kinds carry none.
pub fn message_content(
    kind: chat_core::events::MessageKind,
    body: String,
    attachments: Vec<String>,
    max_body_bytes: usize,
) -> Result<(MessageBody, Vec<String>), ApiError> {
    use chat_core::events::MessageKind;
    let most = crate::actions::attachments::MAX_ATTACHMENTS;
    match kind {
        MessageKind::File | MessageKind::Image => {
            if attachments.is_empty() || attachments.len() > most {
                return Err(ApiError::new(
                    ErrorCode::InvalidAttachment,
                    format!("a file or image message carries 1 to {most} attachments"),
                ));
            }
            Ok((MessageBody::caption(body, max_body_bytes)?, attachments))
        }
        _ if !attachments.is_empty() => Err(ApiError::new(
            ErrorCode::InvalidAttachment,
            "attachments need kind \"file\" or \"image\"",
        )),
        _ => Ok((MessageBody::parse(body, max_body_bytes)?, attachments)),
    }
}

/// A reaction's emoji (`chat_core::rules::Emoji`), refused with `invalid_emoji`.
pub fn parse_emoji(raw: &str) -> Result<chat_core::rules::Emoji, ApiError> {
    chat_core::rules::Emoji::parse(raw)
        .map_err(|e| ApiError::new(ErrorCode::InvalidEmoji, e.to_string()))
}

/// A message body: not blank, at most the configured number of bytes. Stored and
/// delivered as text, never interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// The caption of a message with attachments: like [`Self::parse`], but it may be
    /// empty.
    pub fn caption(raw: String, max_bytes: usize) -> Result<Self, ApiError> {
        if raw.trim().is_empty() && raw.len() <= max_bytes {
            return Ok(Self(raw));
        }
        Self::parse(raw, max_bytes)
    }

    pub fn parse(raw: String, max_bytes: usize) -> Result<Self, ApiError> {
        if raw.len() > max_bytes {
            return Err(ApiError::too_large(max_bytes));
        }
        if raw.trim().is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "body must not be empty",
            ));
        }
        Ok(Self(raw))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Alice.B ").unwrap().as_str(), "alice.b");
        for bad in ["ab", "-abc", "a b c", "ålice", &"x".repeat(33)] {
            assert_eq!(
                Username::parse(bad).unwrap_err().code,
                ErrorCode::InvalidUsername,
                "{bad}"
            );
        }
        assert_eq!(
            Username::from_claim("Jane Doe@Corp").as_str(),
            "jane-doe-corp"
        );
        assert_eq!(Username::from_claim("x").as_str(), "user-x");
        assert!(Username::parse(Username::from_claim("__Zoë__").as_str()).is_ok());
    }

    #[test]
    fn bodies() {
        assert_eq!(
            MessageBody::parse("x".repeat(17), 16).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert_eq!(
            MessageBody::parse("  \n".into(), 16).unwrap_err().code,
            ErrorCode::InvalidBody
        );
        assert!(MessageBody::parse("<img src=x onerror=alert(1)>".into(), 64).is_ok());
    }

    #[test]
    fn names_and_passwords() {
        assert!(DisplayName::parse("Zoë 🚀").is_ok());
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(Password::parse("short".into()).is_err());
        assert!(ConversationName::parse("").is_err());
    }
}
