// The shapes of the protocol (services/gateway/PROTOCOL.md) this client uses.

export interface Message {
  message_id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  kind: string;
  body: string | null;
  reply_to: string | null;
  created_at: string | null;
  edited_at: string | null;
  deleted_at: string | null;
  /** v1.1: the root of the thread this message replies in (null outside threads). */
  thread_root?: string | null;
  /** v1.1: on a root with replies. */
  thread?: ThreadSummary | null;
  /** v1.1: ordered by first use. */
  reactions?: WireReaction[];
  /** v1.1 */
  attachments?: Attachment[];
  /** v1.2: the sender was erased, or retention passed: no body, no attachments. */
  erased?: boolean;
}

export interface ThreadSummary {
  reply_count: number;
  last_reply_seq: number;
  last_reply_at: string | null;
}

export interface WireReaction {
  emoji: string;
  count: number;
  /** At most the first 100. */
  user_ids: string[];
}

export interface Attachment {
  attachment_id: string;
  filename: string;
  content_type: string;
  size: number;
  /** A short-lived link (presigned, or a gateway route that checks membership). */
  url: string;
}

/** `GET .../threads/{root}/messages`: the replies oldest first. */
export interface ThreadPage {
  root: Message;
  messages: Message[];
  next_after: number | null;
}

export interface WirePin {
  message: Message;
  pinned_by: string;
  pinned_at: string;
}

export interface UploadTicket {
  upload_id: string;
  url: string;
  method: "PUT";
  headers: Record<string, string>;
  expires_at: string;
}

export interface SearchResult {
  message: Message;
  /** Plain strings (never markup): shown as text. */
  highlights: string[];
}

export interface LastMessage {
  message_id: string;
  sender_id: string;
  body: string | null;
  created_at: string | null;
  /** v1.2 */
  erased?: boolean;
}

export interface ConversationSummary {
  conversation_id: string;
  kind: "direct" | "group";
  name: string | null;
  /** Not in the v1 list; used when a server sends it. */
  admins?: string[];
  /** At most 20 members of a large group; `member_count` says how many there are. */
  members: string[];
  member_count?: number;
  last_message: LastMessage | null;
  last_seq: number | null;
  read_seq: number | null;
  unread: number;
  /**
   * v1.3: days the group keeps its messages (null: only the platform's retention
   * applies). Trails the log like the rest of the list.
   */
  retention_days?: number | null;
}

/** An addition: each member's pointers, on every history page. */
export interface Receipt {
  user_id: string;
  read_seq: number;
  delivered_seq: number;
}

export interface Page {
  messages: Message[];
  next_before: number | null;
  receipts?: Receipt[];
}

export interface UserInfo {
  user_id: string;
  username: string;
  display_name?: string;
}

export interface Presence {
  user_id: string;
  status: "online" | "offline";
  last_seen: string | null;
}

/** The `event` object inside an `event` frame. */
export interface EventBody {
  kind: string;
  actor_id: string;
  occurred_at: string;
  // message_sent
  message_id?: string;
  sender_id?: string;
  body?: string | null;
  message_kind?: string;
  reply_to?: string | null;
  created_at?: string | null;
  edited_at?: string | null;
  deleted_at?: string | null;
  thread_root?: string | null;
  attachments?: Attachment[];
  /** v1.2: a replayed message whose content can no longer be opened. */
  erased?: boolean;
  // A replayed message_sent may carry the message's current state.
  thread?: ThreadSummary | null;
  reactions?: WireReaction[];
  // read / delivered / member_added / member_removed / reaction_added / reaction_removed
  user_id?: string;
  up_to_seq?: number;
  admin?: boolean;
  emoji?: string;
  // conversation_created / conversation_renamed
  conversation_kind?: string;
  name?: string | null;
  members?: string[];
  admins?: string[];
  // v1.3 retention_set (null: turned off) / conversation_content_expired (RFC 3339)
  days?: number | null;
  before?: string;
}

export interface EventFrame {
  type: "event";
  conversation_id: string;
  seq: number;
  prev_seq: number | null;
  replayed?: boolean;
  event: EventBody;
}

export type ServerFrame =
  | { type: "ack"; client_msg_id: string; message_id: string; seq: number; ts: string }
  | EventFrame
  | { type: "synced"; positions: Record<string, number>; more?: string[] }
  | { type: "typing"; conversation_id: string; user_id: string; state: "start" | "stop"; expired?: boolean }
  | { type: "presence"; user_id: string; status: "online" | "offline"; last_seen: string | null }
  | { type: "error"; code: string; message: string; ref: string }
  | { type: "authenticated"; expires_at: string }
  | { type: "pong" };

export type ClientFrame =
  | {
      type: "send";
      conversation_id: string;
      client_msg_id: string;
      body: string;
      reply_to?: string;
      thread_root?: string;
      kind?: "text" | "file" | "image";
      attachments?: string[];
    }
  | { type: "react"; conversation_id: string; message_id: string; emoji: string; op: "add" | "remove"; client_msg_id: string }
  | { type: "edit"; conversation_id: string; message_id: string; body: string; client_msg_id: string }
  | { type: "delete"; conversation_id: string; message_id: string; client_msg_id: string }
  | { type: "read" | "delivered"; conversation_id: string; up_to_seq: number }
  | { type: "typing"; conversation_id: string; state: "start" | "stop" }
  | { type: "sync"; positions: Record<string, number> }
  | { type: "auth"; token: string }
  | { type: "ping" };
