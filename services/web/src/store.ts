// The client's state: conversations, their messages, receipts, typing, presence and
// names, and how each server frame changes them. No DOM here; the UI reads this state
// and re-renders when `changed` fires.

import type { Api } from "./api";
import type { ConversationSummary, EventFrame, LastMessage, Message, Page } from "./protocol";
import type { TimerId } from "./typing";

export type Status = "pending" | "failed" | "sent" | "delivered" | "read";

export interface Msg extends Message {
  /** Own messages not yet acknowledged (or refused): keyed by client_msg_id. */
  client_msg_id?: string;
  local?: "pending" | "failed";
  error?: string;
  /** Own edit or delete sent and not yet acknowledged. */
  saving?: boolean;
  /** An own message seen live before the ack of the send it came from. */
  unclaimed?: boolean;
}

export interface Conv {
  id: string;
  kind: "direct" | "group";
  name: string | null;
  members: string[];
  last: LastMessage | null;
  lastSeq: number;
  /** The signed-in user's read pointer. */
  readSeq: number;
  unread: number;
  /** Confirmed messages by message_id. */
  messages: Map<string, Msg>;
  /** Own sends not yet acknowledged (or refused), by client_msg_id, in send order. */
  pending: Map<string, Msg>;
  /** History loaded: the newest page was fetched since the last open. */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  receipts: Map<string, { read: number; delivered: number }>;
  /** Others typing now, each with the timer that forgets a `start` never stopped. */
  typing: Map<string, TimerId>;
  activity: string;
}

export interface UserName {
  username: string;
  display: string;
}

export class Store {
  readonly convs = new Map<string, Conv>();
  readonly users = new Map<string, UserName>();
  readonly presence = new Map<string, { online: boolean; lastSeen: string | null }>();
  openId: string | null = null;
  private lookups = new Map<string, Promise<void>>();
  private listeners: (() => void)[] = [];
  /** Conversation ids seen in events before the list knew them. */
  unknownSeen = new Set<string>();

  constructor(
    readonly me: string,
    readonly myName: string,
    private readonly api: Api,
  ) {
    this.users.set(me, { username: myName, display: myName });
  }

  onChange(f: () => void): void {
    this.listeners.push(f);
  }

  changed(): void {
    for (const f of this.listeners) f();
  }

  // ---- names and presence --------------------------------------------------------

  name(id: string): string {
    const u = this.users.get(id);
    if (u) return u.display && u.display !== u.username ? `${u.display} (@${u.username})` : u.username;
    this.lookup(id);
    return "…";
  }

  shortName(id: string): string {
    if (id === this.me) return "You";
    const u = this.users.get(id);
    if (u) return u.display || u.username;
    this.lookup(id);
    return "…";
  }

  learnUser(id: string, username: string, display?: string): void {
    this.users.set(id, { username, display: display ?? username });
  }

  private lookup(id: string): void {
    if (this.lookups.has(id)) return;
    const p = this.api
      .userById(id)
      .then((u) => {
        this.users.set(id, u ? { username: u.username, display: u.display_name ?? u.username } : { username: "unknown user", display: "unknown user" });
        this.changed();
      })
      .catch(() => {
        // Try again at the next render.
        setTimeout(() => this.lookups.delete(id), 5000);
      });
    this.lookups.set(id, p);
  }

  /** The other member of a direct conversation. */
  peer(c: Conv): string | null {
    if (c.kind !== "direct") return null;
    return c.members.find((m) => m !== this.me) ?? null;
  }

  title(c: Conv): string {
    if (c.kind === "group") return c.name || "Group";
    const p = this.peer(c);
    return p ? this.shortName(p) : "Just you";
  }

  async loadPresence(user: string): Promise<void> {
    if (this.presence.has(user) || user === this.me) return;
    try {
      const p = await this.api.presence(user);
      if (!this.presence.has(user)) this.presence.set(user, { online: p.status === "online", lastSeen: p.last_seen });
      this.changed();
    } catch {
      /* shown as unknown */
    }
  }

  // ---- conversations ----------------------------------------------------------------

  newConv(id: string, kind: "direct" | "group", name: string | null, members: string[]): Conv {
    return {
      id,
      kind,
      name,
      members,
      last: null,
      lastSeq: -1,
      readSeq: -1,
      unread: 0,
      messages: new Map(),
      pending: new Map(),
      loaded: false,
      hasOlder: true,
      loadingOlder: false,
      receipts: new Map(),
      typing: new Map(),
      activity: "",
    };
  }

  /** Merge the conversation list; returns the conversations that are new here. */
  mergeList(list: ConversationSummary[]): Conv[] {
    const added: Conv[] = [];
    for (const s of list) {
      let c = this.convs.get(s.conversation_id);
      if (!c) {
        c = this.newConv(s.conversation_id, s.kind, s.name, s.members);
        c.unread = s.unread;
        c.readSeq = s.read_seq ?? -1;
        c.last = s.last_message;
        c.lastSeq = s.last_seq ?? -1;
        c.activity = s.last_message?.created_at ?? "";
        this.convs.set(c.id, c);
        added.push(c);
      } else {
        // What live events already told is newer than the projection's view.
        c.name = s.name;
        c.members = s.members;
        if ((s.last_seq ?? -1) > c.lastSeq) {
          c.last = s.last_message;
          c.lastSeq = s.last_seq ?? -1;
          c.unread = Math.max(c.unread, s.unread);
          c.activity = s.last_message?.created_at ?? c.activity;
        }
        c.readSeq = Math.max(c.readSeq, s.read_seq ?? -1);
      }
    }
    return added;
  }

  /** The conversation on screen, or null. */
  openConv(): Conv | null {
    return this.openId ? (this.convs.get(this.openId) ?? null) : null;
  }

  sorted(): Conv[] {
    return [...this.convs.values()].sort((a, b) => (b.activity || "").localeCompare(a.activity || "") || a.id.localeCompare(b.id));
  }

  /** Apply a history page (newest first or oldest first, either way). */
  mergePage(c: Conv, page: Page): void {
    for (const m of page.messages) this.upsert(c, { ...m });
    for (const r of page.receipts ?? []) this.receipt(c, r.user_id, r.read_seq, r.delivered_seq);
    this.bumpLast(c);
  }

  /** The messages to show, oldest first: confirmed by seq, then own pending ones. */
  timeline(c: Conv): Msg[] {
    const confirmed = [...c.messages.values()].sort((a, b) => a.seq - b.seq);
    const pending = [...c.pending.values()].filter((m) => !this.echoed(c, m));
    return [...confirmed, ...pending];
  }

  /**
   * An own message whose live echo came before its ack is marked `unclaimed` until the
   * ack says which send it was; meanwhile the echo is shown and as many pending copies
   * with the same body are hidden (oldest first), so a message is never seen twice.
   */
  private echoed(c: Conv, p: Msg): boolean {
    if (p.local !== "pending") return false;
    let echoes = 0;
    for (const m of c.messages.values()) if (m.unclaimed && m.body === p.body) echoes++;
    for (const q of c.pending.values()) {
      if (echoes === 0) return false;
      if (q.local === "pending" && q.body === p.body) {
        if (q === p) return true;
        echoes--;
      }
    }
    return false;
  }

  upsert(c: Conv, m: Msg): void {
    const had = c.messages.get(m.message_id);
    if (had) {
      // The newest knowledge wins: a replay carries the message as it is now.
      if (had.saving) return;
      had.body = m.body;
      had.edited_at = m.edited_at ?? had.edited_at;
      had.deleted_at = m.deleted_at ?? had.deleted_at;
      if (had.deleted_at) had.body = null;
      return;
    }
    c.messages.set(m.message_id, m);
  }

  receipt(c: Conv, user: string, read: number, delivered: number): void {
    const r = c.receipts.get(user) ?? { read: -1, delivered: -1 };
    r.read = Math.max(r.read, read);
    r.delivered = Math.max(r.delivered, delivered, r.read);
    c.receipts.set(user, r);
  }

  /** Ticks of an own message: delivered or read once every other member got that far. */
  status(c: Conv, m: Msg): Status {
    if (m.local) return m.local;
    const others = c.members.filter((u) => u !== this.me);
    if (others.length === 0) return "sent";
    let read = true;
    let delivered = true;
    for (const u of others) {
      const r = c.receipts.get(u);
      if (!r || r.read < m.seq) read = false;
      if (!r || Math.max(r.delivered, r.read) < m.seq) delivered = false;
    }
    return read ? "read" : delivered ? "delivered" : "sent";
  }

  private bumpLast(c: Conv): void {
    let newest: Msg | null = null;
    for (const m of c.messages.values()) if (!newest || m.seq > newest.seq) newest = m;
    if (newest && newest.seq >= c.lastSeq) {
      c.lastSeq = newest.seq;
      c.last = { message_id: newest.message_id, sender_id: newest.sender_id, body: newest.body, created_at: newest.created_at };
      c.activity = newest.created_at ?? c.activity;
    }
  }

  // ---- own sends ----------------------------------------------------------------------

  addPending(c: Conv, clientMsgId: string, body: string, replyTo: string | null): Msg {
    const now = new Date().toISOString();
    const m: Msg = {
      message_id: `pending:${clientMsgId}`,
      conversation_id: c.id,
      seq: Number.MAX_SAFE_INTEGER,
      sender_id: this.me,
      kind: "text",
      body,
      reply_to: replyTo,
      created_at: now,
      edited_at: null,
      deleted_at: null,
      client_msg_id: clientMsgId,
      local: "pending",
    };
    c.pending.set(clientMsgId, m);
    c.activity = now;
    return m;
  }

  /** The ack of a send: the pending message becomes the confirmed one. */
  acknowledged(c: Conv, clientMsgId: string, messageId: string, seq: number, ts: string): void {
    const p = c.pending.get(clientMsgId);
    c.pending.delete(clientMsgId);
    const echo = c.messages.get(messageId);
    if (echo) echo.unclaimed = false;
    if (!p) return;
    if (!echo) {
      c.messages.set(messageId, { ...p, message_id: messageId, seq, created_at: ts, local: undefined, client_msg_id: undefined, error: undefined });
    }
    this.bumpLast(c);
  }

  // ---- live and replayed events ----------------------------------------------------

  /**
   * Apply one event that the gap rule let through. Returns the seq and sender of the
   * message it brought (for receipts: src/receipts.ts), or null for other events.
   */
  apply(e: EventFrame): { seq: number; sender_id: string } | null {
    const c = this.convs.get(e.conversation_id);
    const ev = e.event;
    if (!c) {
      if (ev.kind === "conversation_created" && ev.members) {
        const conv = this.newConv(e.conversation_id, ev.conversation_kind === "group" ? "group" : "direct", ev.name ?? null, ev.members);
        conv.activity = ev.occurred_at;
        conv.lastSeq = e.seq;
        this.convs.set(conv.id, conv);
      } else {
        this.unknownSeen.add(e.conversation_id);
      }
      return null;
    }
    switch (ev.kind) {
      case "message_sent": {
        if (!ev.message_id || !ev.sender_id) return null;
        const m: Msg = {
          message_id: ev.message_id,
          conversation_id: c.id,
          seq: e.seq,
          sender_id: ev.sender_id,
          kind: ev.message_kind ?? "text",
          body: ev.body ?? null,
          reply_to: ev.reply_to ?? null,
          created_at: ev.created_at ?? ev.occurred_at,
          edited_at: ev.edited_at ?? null,
          deleted_at: ev.deleted_at ?? null,
        };
        const fresh = !c.messages.has(m.message_id);
        if (fresh && ev.sender_id === this.me) {
          m.unclaimed = [...c.pending.values()].some((p) => p.local === "pending" && p.body === m.body);
        }
        this.upsert(c, m);
        this.bumpLast(c);
        if (ev.sender_id !== this.me) {
          c.typing.delete(ev.sender_id);
          if (fresh && e.seq > c.readSeq) c.unread++;
        } else {
          // Sending moves the sender's own read pointer.
          c.readSeq = Math.max(c.readSeq, e.seq);
        }
        return { seq: e.seq, sender_id: ev.sender_id };
      }
      case "message_edited": {
        const m = ev.message_id ? c.messages.get(ev.message_id) : undefined;
        if (m && !m.saving) {
          m.body = ev.body ?? m.body;
          m.edited_at = ev.edited_at ?? ev.occurred_at;
        }
        if (c.last && c.last.message_id === ev.message_id) c.last = { ...c.last, body: ev.body ?? c.last.body };
        return null;
      }
      case "message_deleted": {
        const m = ev.message_id ? c.messages.get(ev.message_id) : undefined;
        if (m) {
          m.body = null;
          m.deleted_at = ev.deleted_at ?? ev.occurred_at;
          m.saving = false;
        }
        if (c.last && c.last.message_id === ev.message_id) c.last = { ...c.last, body: null };
        return null;
      }
      case "read":
      case "delivered": {
        if (!ev.user_id || ev.up_to_seq === undefined) return null;
        if (ev.kind === "read") this.receipt(c, ev.user_id, ev.up_to_seq, -1);
        else this.receipt(c, ev.user_id, -1, ev.up_to_seq);
        if (ev.user_id === this.me && ev.kind === "read") this.readUpTo(c, ev.up_to_seq);
        return null;
      }
      case "member_added": {
        if (ev.user_id && !c.members.includes(ev.user_id)) c.members = [...c.members, ev.user_id];
        return null;
      }
      case "member_removed": {
        if (ev.user_id === this.me) {
          this.convs.delete(c.id);
          if (this.openId === c.id) this.openId = null;
        } else if (ev.user_id) {
          c.members = c.members.filter((u) => u !== ev.user_id);
        }
        return null;
      }
      default:
        return null;
    }
  }

  /** The signed-in user read up to `seq` (here or on another device). */
  readUpTo(c: Conv, seq: number): void {
    if (seq <= c.readSeq) return;
    c.readSeq = seq;
    let unread = 0;
    for (const m of c.messages.values()) if (m.seq > seq && m.sender_id !== this.me) unread++;
    c.unread = Math.min(c.unread, unread);
  }

  newestSeq(c: Conv): number {
    let s = -1;
    for (const m of c.messages.values()) s = Math.max(s, m.seq);
    return s;
  }
}
