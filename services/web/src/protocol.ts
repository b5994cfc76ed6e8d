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
}

export interface LastMessage {
  message_id: string;
  sender_id: string;
  body: string | null;
  created_at: string | null;
}

export interface ConversationSummary {
  conversation_id: string;
  kind: "direct" | "group";
  name: string | null;
  /** At most 20 members of a large group; `member_count` says how many there are. */
  members: string[];
  member_count?: number;
  last_message: LastMessage | null;
  last_seq: number | null;
  read_seq: number | null;
  unread: number;
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
  // read / delivered / member_added / member_removed
  user_id?: string;
  up_to_seq?: number;
  // conversation_created
  conversation_kind?: string;
  name?: string | null;
  members?: string[];
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
  | { type: "send"; conversation_id: string; client_msg_id: string; body: string; reply_to?: string }
  | { type: "edit"; conversation_id: string; message_id: string; body: string; client_msg_id: string }
  | { type: "delete"; conversation_id: string; message_id: string; client_msg_id: string }
  | { type: "read" | "delivered"; conversation_id: string; up_to_seq: number }
  | { type: "typing"; conversation_id: string; state: "start" | "stop" }
  | { type: "sync"; positions: Record<string, number> }
  | { type: "auth"; token: string }
  | { type: "ping" };
