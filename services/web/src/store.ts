// The client's state: conversations, their messages, receipts, typing, presence and
// names, and how each server frame changes them. No DOM here; the UI reads this state
// and re-renders when `changed` fires (test/store.test.mjs).
//
// Thread replies live among the conversation's messages like any other, so edits,
// deletes and reactions find them by id; the main timeline leaves them out and the
// thread panel shows them under their root.

import type { Api } from "./api";
import { type Pin, addPin, editPinned, erasePinned, fromWire as pinsFromWire, removePin } from "./pins";
import type { Attachment, ConversationSummary, EventFrame, LastMessage, Message, Page, ThreadPage, WirePin } from "./protocol";
import { type Reaction, applyReaction, fromWire as reactionsFromWire } from "./reactions";
import { createdBefore, retentionFromWire } from "./retention";
import { type ThreadState, mergeSummary, noteReply, threadState } from "./threads";
import type { TimerId } from "./typing";

export type Status = "pending" | "failed" | "sent" | "delivered" | "read";

export interface Msg extends Omit<Message, "thread_root" | "thread" | "reactions" | "attachments"> {
  thread_root: string | null;
  attachments: Attachment[];
  reactions: Reaction[];
  /** Replies to this message, if it is a thread's root. */
  thread: ThreadState;
  /**
   * Loaded outside the timeline's paging (the root of a thread opened from a pin): not
   * shown in the timeline until a history page brings it, so no hole appears above it.
   */
  outside?: boolean;
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
  /** The members known here: the list names at most 20 of a large group. */
  members: string[];
  /** How many members there are (at least `members.length`). */
  memberCount: number;
  /** The admins, when this client learned them (creation and member events); else null. */
  admins: Set<string> | null;
  /** A `conversation_renamed` was applied: the (lagging) list no longer sets the name. */
  renamed: boolean;
  /** v1.3: days the group keeps its messages; null: only the platform's retention applies. */
  retentionDays: number | null;
  /** A `retention_set` was applied: the (lagging) list no longer sets `retentionDays`. */
  retentionLive: boolean;
  /** Pins newest first; null until fetched. */
  pins: Pin[] | null;
  /** A pin event named a message not known here: fetch the list again. */
  pinsStale: boolean;
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

/** An own reaction sent and not yet acknowledged. */
export interface ReactOp {
  conversation_id: string;
  message_id: string;
  emoji: string;
  op: "add" | "remove";
}

/** A message from the server (page, thread page, replay) as the store keeps it. */
export function toMsg(m: Message, outside = false): Msg {
  const { thread, reactions, ...rest } = m;
  const out: Msg = {
    ...rest,
    thread_root: m.thread_root ?? null,
    attachments: Array.isArray(m.attachments) ? m.attachments : [],
    reactions: reactionsFromWire(reactions),
    thread: threadState(thread),
  };
  if (outside) out.outside = true;
  return out;
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
  /** Conversations the user left (the list may still show them for a moment). */
  readonly left = new Set<string>();
  /** Own reactions not yet acknowledged, by client_msg_id. */
  readonly reactOps = new Map<string, ReactOp>();

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
      memberCount: members.length,
      admins: null,
      renamed: false,
      retentionDays: null,
      retentionLive: false,
      pins: null,
      pinsStale: false,
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
      // The projection trails the log: a conversation just left may still be listed.
      if (this.left.has(s.conversation_id)) continue;
      let c = this.convs.get(s.conversation_id);
      if (!c) {
        c = this.newConv(s.conversation_id, s.kind, s.name, s.members);
        c.memberCount = Math.max(s.member_count ?? 0, s.members.length);
        if (s.admins) c.admins = new Set(s.admins);
        c.retentionDays = retentionFromWire(s.retention_days) ?? null;
        c.unread = s.unread;
        c.readSeq = s.read_seq ?? -1;
        c.last = s.last_message;
        c.lastSeq = s.last_seq ?? -1;
        c.activity = s.last_message?.created_at ?? "";
        this.convs.set(c.id, c);
        added.push(c);
      } else {
        // What live events already told is newer than the projection's view.
        if (!c.renamed) c.name = s.name;
        if (!c.retentionLive) c.retentionDays = retentionFromWire(s.retention_days) ?? null;
        c.members = s.members;
        c.memberCount = Math.max(s.member_count ?? 0, s.members.length);
        if (s.admins) c.admins = new Set(s.admins);
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

  /** Apply a history page of the timeline (newest first or oldest first, either way). */
  mergePage(c: Conv, page: Page): void {
    for (const m of page.messages) this.upsert(c, toMsg(m));
    for (const r of page.receipts ?? []) this.receipt(c, r.user_id, r.read_seq, r.delivered_seq);
    this.bumpLast(c);
  }

  /** Apply a thread's pages: its root (kept out of the timeline if new) and replies. */
  mergeThread(c: Conv, page: Pick<ThreadPage, "root" | "messages">): void {
    this.upsert(c, toMsg(page.root, true));
    for (const m of page.messages) {
      this.upsert(c, toMsg(m));
      const root = c.messages.get(page.root.message_id);
      if (root && m.thread_root === root.message_id) noteReply(root.thread, m.message_id, m.seq, m.created_at);
    }
    this.bumpLast(c);
  }

  /** The messages to show in the timeline, oldest first: confirmed by seq, then own pending ones. */
  timeline(c: Conv): Msg[] {
    const confirmed = [...c.messages.values()].filter((m) => m.thread_root === null && !m.outside).sort((a, b) => a.seq - b.seq);
    const pending = [...c.pending.values()].filter((m) => m.thread_root === null && !this.echoed(c, m));
    return [...confirmed, ...pending];
  }

  /** A thread's replies, oldest first: confirmed by seq, then own pending ones. */
  threadReplies(c: Conv, root: string): Msg[] {
    const confirmed = [...c.messages.values()].filter((m) => m.thread_root === root).sort((a, b) => a.seq - b.seq);
    const pending = [...c.pending.values()].filter((m) => m.thread_root === root && !this.echoed(c, m));
    return [...confirmed, ...pending];
  }

  /** The oldest seq the timeline's pages reached (what `before` continues from), or null. */
  oldestTimelineSeq(c: Conv): number | null {
    let oldest: number | null = null;
    for (const m of c.messages.values()) if (m.thread_root === null && !m.outside && (oldest === null || m.seq < oldest)) oldest = m.seq;
    return oldest;
  }

  /**
   * An own message whose live echo came before its ack is marked `unclaimed` until the
   * ack says which send it was; meanwhile the echo is shown and as many pending copies
   * with the same body are hidden (oldest first), so a message is never seen twice.
   */
  private echoed(c: Conv, p: Msg): boolean {
    if (p.local !== "pending") return false;
    let echoes = 0;
    for (const m of c.messages.values()) if (m.unclaimed && m.body === p.body && m.thread_root === p.thread_root) echoes++;
    for (const q of c.pending.values()) {
      if (echoes === 0) return false;
      if (q.local === "pending" && q.body === p.body && q.thread_root === p.thread_root) {
        if (q === p) return true;
        echoes--;
      }
    }
    return false;
  }

  upsert(c: Conv, m: Msg): void {
    const had = c.messages.get(m.message_id);
    if (had) {
      // A history page brings it into the timeline.
      if (!m.outside) delete had.outside;
      mergeSummary(had.thread, m.thread.base);
      // The newest knowledge wins: a page or a replay carries the message as it is now.
      if (had.reactions !== m.reactions) {
        had.reactions = m.reactions;
        this.reapplyOwnReactions(c, had);
      }
      if (m.attachments.length) had.attachments = m.attachments;
      if (had.saving) return;
      had.body = m.body;
      had.edited_at = m.edited_at ?? had.edited_at;
      had.deleted_at = m.deleted_at ?? had.deleted_at;
      if (m.erased) had.erased = true;
      if (had.deleted_at || had.erased) {
        had.body = null;
        had.attachments = [];
      }
      return;
    }
    this.reapplyOwnReactions(c, m);
    c.messages.set(m.message_id, m);
  }

  /** Own reactions still in flight stay shown over what a page says. */
  private reapplyOwnReactions(c: Conv, m: Msg): void {
    for (const op of this.reactOps.values()) {
      if (op.conversation_id === c.id && op.message_id === m.message_id) applyReaction(m.reactions, op.op, op.emoji, this.me);
    }
  }

  /** The root `rootId` got a reply: count it once in the root's summary. */
  private noteReply(c: Conv, rootId: string, replyId: string, seq: number, at: string | null): void {
    const root = c.messages.get(rootId);
    if (root) noteReply(root.thread, replyId, seq, at);
  }

  // ---- reactions, pins, names, members --------------------------------------------

  /** An own reaction, shown at once (`client_msg_id` settles it). */
  react(c: Conv, m: Msg, emoji: string, op: "add" | "remove", clientMsgId: string): void {
    this.reactOps.set(clientMsgId, { conversation_id: c.id, message_id: m.message_id, emoji, op });
    applyReaction(m.reactions, op, emoji, this.me);
  }

  /** The server took an own reaction (its event confirms it), or refused it: put it back. */
  reactSettled(clientMsgId: string, refused: boolean): ReactOp | null {
    const op = this.reactOps.get(clientMsgId);
    if (!op) return null;
    this.reactOps.delete(clientMsgId);
    if (refused) {
      const m = this.convs.get(op.conversation_id)?.messages.get(op.message_id);
      if (m) applyReaction(m.reactions, op.op === "add" ? "remove" : "add", op.emoji, this.me);
    }
    return op;
  }

  setPins(c: Conv, pins: WirePin[]): void {
    c.pins = pinsFromWire(pins);
    c.pinsStale = false;
  }

  pinned(c: Conv, messageId: string, by: string, at: string): void {
    if (c.pins === null) return;
    const m = c.messages.get(messageId);
    if (!m) c.pinsStale = true;
    c.pins = addPin(c.pins, { message_id: messageId, message: m ? this.wire(m) : null, pinned_by: by, pinned_at: at });
  }

  unpinned(c: Conv, messageId: string): void {
    if (c.pins) c.pins = removePin(c.pins, messageId);
  }

  /** A message as the protocol shapes it (for a pin's copy). */
  private wire(m: Msg): Message {
    return {
      message_id: m.message_id,
      conversation_id: m.conversation_id,
      seq: m.seq,
      sender_id: m.sender_id,
      kind: m.kind,
      body: m.body,
      reply_to: m.reply_to,
      created_at: m.created_at,
      edited_at: m.edited_at,
      deleted_at: m.deleted_at,
      thread_root: m.thread_root,
      attachments: m.attachments,
    };
  }

  /** A member joined (or, with `admin`, was promoted). */
  memberAdded(c: Conv, user: string, admin = false): void {
    if (!c.members.includes(user)) {
      // A promotion of someone the list did not name is not a new member.
      const promotionOfUnlisted = admin && c.memberCount > c.members.length;
      c.members = [...c.members, user];
      if (!promotionOfUnlisted) c.memberCount++;
      c.memberCount = Math.max(c.memberCount, c.members.length);
    }
    if (admin) c.admins?.add(user);
  }

  memberRemoved(c: Conv, user: string): void {
    if (c.members.includes(user)) {
      c.members = c.members.filter((u) => u !== user);
      c.memberCount = Math.max(c.members.length, c.memberCount - 1);
    } else if (c.memberCount > c.members.length) {
      c.memberCount--;
    }
    c.admins?.delete(user);
  }

  /**
   * The group's retention changed (its event, or this client's own call that the server
   * took): from now on the list, which trails the log, does not set it back.
   */
  retentionSet(c: Conv, days: number | null): void {
    c.retentionDays = days;
    c.retentionLive = true;
  }

  /**
   * Everything of `c` sent before `before` was erased by retention: the loaded messages
   * (timeline, threads), the list's preview and pinned copies lose their content, as an
   * erased message from the server has none.
   */
  contentExpired(c: Conv, before: string): void {
    for (const m of c.messages.values()) {
      if (!createdBefore(m.created_at, before)) continue;
      m.erased = true;
      m.body = null;
      m.attachments = [];
      // An own edit or delete still in flight is refused now; nothing is left to put back.
      m.saving = false;
    }
    if (c.last && createdBefore(c.last.created_at, before)) c.last = { ...c.last, body: null, erased: true };
    if (c.pins) c.pins = erasePinned(c.pins, (m) => createdBefore(m.created_at, before));
  }

  /** The user left `c` (or was removed): it goes from the list and is not listed again. */
  leave(c: Conv): void {
    this.left.add(c.id);
    this.convs.delete(c.id);
    if (this.openId === c.id) this.openId = null;
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
      if (newest.erased) c.last.erased = true;
      c.activity = newest.created_at ?? c.activity;
    }
  }

  // ---- own sends ----------------------------------------------------------------------

  addPending(c: Conv, clientMsgId: string, body: string, replyTo: string | null, threadRoot: string | null = null, attachments: Attachment[] = [], kind = "text"): Msg {
    const now = new Date().toISOString();
    const m: Msg = {
      message_id: `pending:${clientMsgId}`,
      conversation_id: c.id,
      seq: Number.MAX_SAFE_INTEGER,
      sender_id: this.me,
      kind,
      body,
      reply_to: replyTo,
      created_at: now,
      edited_at: null,
      deleted_at: null,
      thread_root: threadRoot,
      attachments,
      reactions: [],
      thread: threadState(),
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
    if (p.thread_root) this.noteReply(c, p.thread_root, messageId, seq, ts);
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
      if (ev.kind === "member_added" && ev.user_id === this.me) {
        // Added (back): the list brings its details.
        this.left.delete(e.conversation_id);
        this.unknownSeen.add(e.conversation_id);
      } else if (this.left.has(e.conversation_id)) {
        // The tail of a conversation just left (its member_removed, at most).
      } else if (ev.kind === "conversation_created" && ev.members) {
        const conv = this.newConv(e.conversation_id, ev.conversation_kind === "group" ? "group" : "direct", ev.name ?? null, ev.members);
        conv.activity = ev.occurred_at;
        conv.lastSeq = e.seq;
        if (ev.admins) conv.admins = new Set(ev.admins);
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
          thread_root: ev.thread_root ?? null,
          attachments: Array.isArray(ev.attachments) ? ev.attachments : [],
          // A live message has neither; a replay may carry the message as it is now.
          reactions: reactionsFromWire(ev.reactions),
          thread: threadState(ev.thread),
        };
        if (ev.erased) {
          m.erased = true;
          m.body = null;
          m.attachments = [];
        }
        const fresh = !c.messages.has(m.message_id);
        if (fresh && ev.sender_id === this.me) {
          m.unclaimed = [...c.pending.values()].some((p) => p.local === "pending" && p.body === m.body && p.thread_root === m.thread_root);
        }
        // A live event says nothing about reactions: keep what is known.
        const had = c.messages.get(m.message_id);
        if (had && !ev.reactions) m.reactions = had.reactions;
        this.upsert(c, m);
        if (m.thread_root) this.noteReply(c, m.thread_root, m.message_id, e.seq, m.created_at);
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
        if (c.pins && ev.message_id) c.pins = editPinned(c.pins, ev.message_id, ev.body ?? null, ev.edited_at ?? ev.occurred_at);
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
        // A deleted message is unpinned.
        if (ev.message_id) this.unpinned(c, ev.message_id);
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
        if (ev.user_id) this.memberAdded(c, ev.user_id, ev.admin === true);
        return null;
      }
      case "member_removed": {
        if (ev.user_id === this.me) this.leave(c);
        else if (ev.user_id) this.memberRemoved(c, ev.user_id);
        return null;
      }
      case "conversation_created": {
        // Created here (the dialog) before its event came: the event says who the admins are.
        if (ev.admins) c.admins = new Set(ev.admins);
        return null;
      }
      case "reaction_added":
      case "reaction_removed": {
        const m = ev.message_id ? c.messages.get(ev.message_id) : undefined;
        if (m && ev.emoji && ev.user_id) applyReaction(m.reactions, ev.kind === "reaction_added" ? "add" : "remove", ev.emoji, ev.user_id);
        return null;
      }
      case "conversation_renamed": {
        if (typeof ev.name === "string") {
          c.name = ev.name;
          c.renamed = true;
        }
        return null;
      }
      case "retention_set": {
        // `days` null turns it off; a malformed one is ignored rather than read as "off".
        const days = retentionFromWire(ev.days);
        if (days !== undefined) this.retentionSet(c, days);
        return null;
      }
      case "conversation_content_expired": {
        if (typeof ev.before === "string") this.contentExpired(c, ev.before);
        return null;
      }
      case "message_pinned": {
        if (ev.message_id) this.pinned(c, ev.message_id, ev.actor_id, ev.occurred_at);
        return null;
      }
      case "message_unpinned": {
        if (ev.message_id) this.unpinned(c, ev.message_id);
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
