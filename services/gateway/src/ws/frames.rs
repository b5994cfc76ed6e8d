//! Frames as PROTOCOL.md defines them. Client frames are parsed in two steps (JSON, then
//! the typed frame) so that a bad frame can still be answered with a useful `ref`: the
//! client_msg_id when the frame had one, else its type.

use std::collections::HashMap;

use chat_core::config::Secret;
use chat_core::events::MessageKind;
use chat_core::ids::{ClientMsgId, ConversationId, MessageId};
use chat_core::rules;
use serde::{Deserialize, Serialize};

use crate::actions::Ack;
use crate::error::ApiError;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Send {
        conversation_id: ConversationId,
        client_msg_id: ClientMsgId,
        body: String,
        #[serde(default)]
        kind: Option<MessageKind>,
        #[serde(default)]
        reply_to: Option<MessageId>,
        /// v1.1: reply in this message's thread.
        #[serde(default)]
        thread_root: Option<MessageId>,
        /// v1.1: upload ids, for kinds `file` and `image`.
        #[serde(default)]
        attachments: Vec<String>,
    },
    Edit {
        conversation_id: ConversationId,
        message_id: MessageId,
        body: String,
        client_msg_id: ClientMsgId,
    },
    Delete {
        conversation_id: ConversationId,
        message_id: MessageId,
        client_msg_id: ClientMsgId,
    },
    /// v1.1: add or take back a reaction.
    React {
        conversation_id: ConversationId,
        message_id: MessageId,
        emoji: String,
        op: ReactionOpFrame,
        client_msg_id: ClientMsgId,
    },
    Read {
        conversation_id: ConversationId,
        up_to_seq: i64,
    },
    Delivered {
        conversation_id: ConversationId,
        up_to_seq: i64,
    },
    Typing {
        conversation_id: ConversationId,
        state: TypingState,
    },
    Sync {
        positions: HashMap<ConversationId, i64>,
    },
    Ping,
    /// Re-authenticate an open socket with a fresh access token, before the one it was
    /// opened with expires (or it is closed with 4001).
    Auth {
        token: Secret,
    },
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReactionOpFrame {
    Add,
    Remove,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TypingState {
    Start,
    Stop,
}

impl ClientFrame {
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientFrame::Send { .. } => "send",
            ClientFrame::Edit { .. } => "edit",
            ClientFrame::Delete { .. } => "delete",
            ClientFrame::React { .. } => "react",
            ClientFrame::Read { .. } => "read",
            ClientFrame::Delivered { .. } => "delivered",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::Sync { .. } => "sync",
            ClientFrame::Ping => "ping",
            ClientFrame::Auth { .. } => "auth",
        }
    }

    /// What an error about this frame refers to.
    pub fn reference(&self) -> String {
        match self {
            ClientFrame::Send { client_msg_id, .. }
            | ClientFrame::Edit { client_msg_id, .. }
            | ClientFrame::Delete { client_msg_id, .. }
            | ClientFrame::React { client_msg_id, .. } => client_msg_id.to_string(),
            other => other.type_name().to_string(),
        }
    }
}

/// A frame that could not be parsed: the error to send back.
#[derive(Debug, PartialEq)]
pub struct BadFrame {
    pub reference: String,
    pub message: String,
}

/// Every client frame type (the fuzz target draws from it too).
pub const KNOWN_TYPES: [&str; 10] = [
    "auth",
    "send",
    "edit",
    "delete",
    "react",
    "read",
    "delivered",
    "typing",
    "sync",
    "ping",
];

pub fn parse(text: &str) -> Result<ClientFrame, BadFrame> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| BadFrame {
        reference: "unknown".into(),
        message: format!("not JSON: {e}"),
    })?;
    let frame_type = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    let reference = value
        .get("client_msg_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| frame_type.clone())
        .unwrap_or_else(|| "unknown".into());
    match frame_type.as_deref() {
        None => {
            return Err(BadFrame {
                reference,
                message: "missing \"type\"".into(),
            })
        }
        Some(t) if !KNOWN_TYPES.contains(&t) => {
            return Err(BadFrame {
                reference,
                message: format!("unknown frame type \"{t}\""),
            });
        }
        Some(_) => {}
    }
    let frame: ClientFrame = serde_json::from_value(value).map_err(|e| BadFrame {
        reference: reference.clone(),
        message: e.to_string(),
    })?;
    if let ClientFrame::Send {
        kind: Some(kind), ..
    } = &frame
    {
        rules::may_send_kind(*kind).map_err(|r| BadFrame {
            reference,
            message: r.to_string(),
        })?;
    }
    Ok(frame)
}

/// Frames the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ack(Ack),
    Error {
        code: &'static str,
        message: String,
        #[serde(rename = "ref")]
        reference: String,
    },
    Pong,
    /// The answer to `auth`: the socket now lives until the new token's expiry.
    Authenticated {
        expires_at: String,
    },
    /// The end of a `sync`: per conversation, the seq the client is now complete up to,
    /// and the conversations that stopped at the per-frame limit (sync them again).
    Synced {
        positions: HashMap<String, i64>,
        more: Vec<String>,
    },
}

impl ServerFrame {
    pub fn error(e: ApiError, reference: String) -> Self {
        ServerFrame::Error {
            code: e.code.as_str(),
            message: e.message,
            reference,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","code":"internal"}"#.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_client_frame() {
        let c = "8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10";
        let m = "3a9c1f9e-0d55-4a56-8b1c-1c6f3a1d2e4f";
        let frames = [
            format!(
                r#"{{"type":"send","conversation_id":"{c}","client_msg_id":"a1","body":"hi"}}"#
            ),
            format!(
                r#"{{"type":"send","conversation_id":"{c}","client_msg_id":"a1","body":"hi","kind":"image","reply_to":"{m}"}}"#
            ),
            format!(
                r#"{{"type":"edit","conversation_id":"{c}","message_id":"{m}","body":"x","client_msg_id":"a2"}}"#
            ),
            format!(
                r#"{{"type":"delete","conversation_id":"{c}","message_id":"{m}","client_msg_id":"a3"}}"#
            ),
            format!(r#"{{"type":"read","conversation_id":"{c}","up_to_seq":5}}"#),
            format!(r#"{{"type":"delivered","conversation_id":"{c}","up_to_seq":5}}"#),
            format!(r#"{{"type":"typing","conversation_id":"{c}","state":"start"}}"#),
            format!(r#"{{"type":"sync","positions":{{"{c}":3}}}}"#),
            r#"{"type":"ping"}"#.to_string(),
        ];
        for f in frames {
            assert!(parse(&f).is_ok(), "{f}: {:?}", parse(&f));
        }
    }

    #[test]
    fn bad_frames_say_what_and_which() {
        let e = parse("not json").unwrap_err();
        assert_eq!(e.reference, "unknown");
        let e = parse(r#"{"type":"explode"}"#).unwrap_err();
        assert_eq!(e.reference, "explode");
        assert!(e.message.contains("unknown frame type"));
        let e = parse(r#"{"type":"send","client_msg_id":"c-9","body":"x"}"#).unwrap_err();
        assert_eq!(e.reference, "c-9", "{e:?}");
        assert!(e.message.contains("conversation_id"), "{}", e.message);
        let e = parse(r#"{"type":"read","conversation_id":"nope","up_to_seq":1}"#).unwrap_err();
        assert_eq!(e.reference, "read");
        let e = parse(r#"{"type":"read","conversation_id":"8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10","up_to_seq":"1"}"#)
            .unwrap_err();
        assert_eq!(e.reference, "read");
        let e = parse(r#"{"type":"send","conversation_id":"8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10","client_msg_id":"z","body":"x","kind":"system"}"#)
            .unwrap_err();
        assert!(e.message.contains("reserved"));
        assert!(parse("[]").is_err());
        assert!(parse(r#"{"type":"send","conversation_id":"8b0b5a4e-6a43-4c1b-9a6e-3f0f8f5f2a10","client_msg_id":"","body":"x"}"#).is_err());
    }

    #[test]
    fn server_frames_render_as_the_protocol_says() {
        let ack = ServerFrame::Ack(Ack {
            client_msg_id: "c".into(),
            message_id: "m".into(),
            seq: 3,
            ts: "t".into(),
        });
        assert_eq!(
            ack.to_json(),
            r#"{"type":"ack","client_msg_id":"c","message_id":"m","seq":3,"ts":"t"}"#
        );
        let err = ServerFrame::error(ApiError::not_member(), "c".into());
        let v: serde_json::Value = serde_json::from_str(&err.to_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "not_member");
        assert_eq!(v["ref"], "c");
        assert_eq!(ServerFrame::Pong.to_json(), r#"{"type":"pong"}"#);
    }
}
