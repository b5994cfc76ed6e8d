// The signed-in screen: conversation list, message pane, composer and dialogs, and the
// controller that ties the store, the socket and the gap rule together.

import type { Api, Session } from "../api";
import { ApiError, describe, describeError } from "../errors";
import type { ClientFrame, EventFrame, ServerFrame } from "../protocol";
import { Socket, type ConnState } from "../socket";
import { type Conv, type Msg, type Status, Store } from "../store";
import { GapTracker } from "../sync";
import { h, replaceChildren, setText, toggle } from "./dom";
import { lastSeen, longTime, newClientId, shortTime, snippet } from "./format";

interface Outgoing {
  frame: Extract<ClientFrame, { client_msg_id: string }>;
  /** For an edit or delete: the message as it was, to put back if it is refused. */
  undo?: { body: string | null; edited_at: string | null; deleted_at: string | null };
  retries: number;
}

const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 4000;
/** A `start` the server never followed with a `stop` is dropped after this. */
const TYPING_FORGET_MS = 8000;
const STATUS_LABEL: Record<Status, string> = {
  pending: "Sending",
  failed: "Not sent",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
};
// Plain glyphs every system font has (no emoji font needed).
const STATUS_MARK: Record<Status, string> = { pending: "…", failed: "!", sent: "✓", delivered: "✓✓", read: "✓✓" };

export class ChatApp {
  readonly root: HTMLElement;
  private readonly store: Store;
  private readonly socket: Socket;
  private readonly gap: GapTracker;
  private readonly outbox = new Map<string, Outgoing>();
  private readonly deliveredSent = new Map<string, number>();
  private readonly deliveredWanted = new Map<string, number>();
  private deliveredTimer: number | null = null;
  private renderQueued = false;
  private listRefresh: number | null = null;
  private replyTo: Msg | null = null;
  private editing: Msg | null = null;
  private typingSentAt = 0;
  private typingIn: string | null = null;
  private typingStop: number | null = null;
  private deleting: Msg | null = null;
  private everReady = false;
  private newestMine: Msg | null = null;

  // Persistent elements.
  private readonly connStatus = h("p", { class: "conn", id: "conn-status", role: "status", "data-state": "connecting" });
  private readonly convList = h("ul", { class: "conv-list", id: "conv-list", "aria-label": "Conversations" });
  private readonly convEls = new Map<string, HTMLLIElement>();
  private readonly pane = h("main", { class: "pane", id: "pane", "aria-labelledby": "chat-title" });
  private readonly emptyPane = h(
    "div",
    { class: "empty", id: "empty-pane" },
    h("h2", {}, "No conversation open"),
    h("p", {}, "Pick a conversation from the list, or start a new one."),
  );
  private readonly title = h("h2", { id: "chat-title", class: "chat-title" });
  private readonly subtitle = h("p", { class: "subtitle", id: "chat-subtitle" });
  private readonly typingLine = h("p", { class: "typing", id: "typing", "aria-live": "polite" });
  private readonly log = h("ol", { class: "messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: 0 });
  private readonly msgEls = new Map<string, HTMLLIElement>();
  private readonly older = h("li", { class: "older", id: "older" });
  private readonly olderButton = h("button", { type: "button", class: "link", id: "load-older" }, "Load older messages");
  private readonly contextBar = h("div", { class: "context-bar", id: "context-bar", hidden: true });
  private readonly composer = h("textarea", {
    id: "composer",
    rows: 1,
    placeholder: "Write a message",
    "aria-describedby": "composer-help",
    maxlength: 16384,
  });
  private readonly sendButton = h("button", { type: "submit", class: "primary", id: "send" }, "Send");
  private readonly composerError = h("p", { class: "form-error", id: "composer-error", role: "alert" });
  private readonly chatEls: HTMLElement;
  private readonly newDialog: HTMLDialogElement;
  private readonly deleteDialog: HTMLDialogElement;
  private olderObserver: IntersectionObserver | null = null;

  constructor(
    private readonly api: Api,
    private readonly session: Session,
    private readonly signOut: (notice?: string) => void,
  ) {
    this.store = new Store(session.user_id, session.username, api);
    this.store.onChange(() => this.queueRender());
    this.gap = new GapTracker({
      apply: (e) => this.applyEvent(e),
      sendSync: (positions) => this.socket.send({ type: "sync", positions }),
    });
    this.socket = new Socket(() => this.session.token, {
      frame: (f) => this.onFrame(f),
      ready: () => this.onReady(),
      state: (s, retry) => this.showConn(s, retry),
    });

    this.olderButton.addEventListener("click", () => void this.loadOlder());
    this.older.append(this.olderButton);

    const form = h(
      "form",
      { class: "composer", id: "composer-form", "aria-label": "Send a message" },
      h("label", { for: "composer", class: "sr-only" }, "Message"),
      this.composer,
      this.sendButton,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submitComposer();
    });
    this.composer.addEventListener("keydown", (ev) => this.composerKey(ev));
    this.composer.addEventListener("input", () => this.composerInput());

    this.chatEls = h(
      "section",
      { class: "chat", id: "chat", hidden: true },
      h("header", { class: "chat-head" }, h("div", {}, this.title, this.subtitle), this.typingLine),
      this.log,
      h(
        "div",
        { class: "composer-wrap" },
        this.contextBar,
        form,
        h("p", { class: "help", id: "composer-help" }, "Enter sends, Shift+Enter adds a line, ↑ edits your last message, Esc cancels."),
        this.composerError,
      ),
    );
    this.pane.append(this.emptyPane, this.chatEls);

    this.newDialog = this.buildNewDialog();
    this.deleteDialog = this.buildDeleteDialog();

    const newButton = h("button", { type: "button", class: "primary wide", id: "new-conversation" }, "New conversation");
    newButton.addEventListener("click", () => this.openNewDialog());
    this.convList.addEventListener("keydown", (ev) => this.listKey(ev));
    const signOutButton = h("button", { type: "button", id: "sign-out" }, "Sign out");
    signOutButton.addEventListener("click", () => this.signOut());
    const retry = h("button", { type: "button", class: "link", id: "reconnect-now" }, "Reconnect now");
    retry.addEventListener("click", () => this.socket.retryNow());

    this.root = h(
      "div",
      { class: "app", id: "app-view" },
      h(
        "header",
        { class: "topbar" },
        h("h1", { class: "brand" }, "Chat"),
        h("div", { class: "conn-wrap" }, this.connStatus, retry),
        h("p", { class: "me" }, "Signed in as ", h("strong", { id: "me" }, session.username)),
        signOutButton,
      ),
      h("nav", { class: "sidebar", "aria-label": "Conversation list" }, newButton, this.convList),
      this.pane,
      this.newDialog,
      this.deleteDialog,
    );

    document.addEventListener("visibilitychange", this.visibility);
  }

  async start(): Promise<void> {
    this.showConn("connecting", null);
    await this.refreshList();
    this.socket.start();
    this.queueRender();
  }

  stop(): void {
    this.socket.stop();
    document.removeEventListener("visibilitychange", this.visibility);
  }

  // ---- server ---------------------------------------------------------------------------

  private async refreshList(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const list = await this.api.conversations();
        const added = this.store.mergeList(list);
        for (const c of added) {
          this.gap.track(c.id, c.lastSeq);
          const peer = this.store.peer(c);
          if (peer) void this.store.loadPresence(peer);
        }
        // Conversations first heard of through events: they are tracked from the event on.
        for (const id of [...this.store.unknownSeen]) if (this.store.convs.has(id)) this.store.unknownSeen.delete(id);
        // A conversation this client learned of while the socket was already open is
        // synced now, so nothing between the list and the socket is missed.
        if (added.length && this.socket.ready) {
          const positions: Record<string, number> = {};
          for (const c of added) positions[c.id] = this.gap.position(c.id) ?? c.lastSeq;
          this.socket.send({ type: "sync", positions });
        }
        this.queueRender();
        return;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return;
        if (attempt >= 2) {
          this.flash(`Could not load your conversations: ${describeError(e)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
  }

  private scheduleListRefresh(): void {
    if (this.listRefresh) return;
    this.listRefresh = window.setTimeout(() => {
      this.listRefresh = null;
      void this.refreshList();
    }, 300);
  }

  private onReady(): void {
    const reconnect = this.everReady;
    this.everReady = true;
    // Unacknowledged sends, edits and deletes go again with the same client_msg_id: the
    // gateway answers a retry with the first ack, so nothing is applied twice.
    for (const o of this.outbox.values()) this.socket.send(o.frame);
    this.gap.resyncAll();
    this.flushDelivered();
    if (reconnect) {
      // Conversations created while offline, and edits or deletes of older messages
      // (sync replays only what came after each position).
      void this.refreshList();
      // Presence was forgotten when the socket dropped.
      for (const conv of this.store.convs.values()) {
        const peer = this.store.peer(conv);
        if (peer) void this.store.loadPresence(peer);
      }
      const c = this.openConv();
      if (c) void this.loadNewest(c);
    }
    const c = this.openConv();
    if (c) this.markRead(c);
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "event":
        this.gap.offer(f);
        break;
      case "synced":
        this.gap.synced(f.positions);
        break;
      case "ack":
        this.onAck(f.client_msg_id, f.message_id, f.seq, f.ts);
        break;
      case "error":
        this.onError(f.code, f.message, f.ref);
        break;
      case "typing": {
        const c = this.store.convs.get(f.conversation_id);
        if (!c || f.user_id === this.store.me) break;
        const t = c.typing.get(f.user_id);
        if (t) clearTimeout(t);
        c.typing.delete(f.user_id);
        if (f.state === "start") {
          c.typing.set(
            f.user_id,
            window.setTimeout(() => {
              c.typing.delete(f.user_id);
              this.queueRender();
            }, TYPING_FORGET_MS),
          );
        }
        this.queueRender();
        break;
      }
      case "presence":
        this.store.presence.set(f.user_id, { online: f.status === "online", lastSeen: f.last_seen });
        this.queueRender();
        break;
      default:
        break;
    }
  }

  private applyEvent(e: EventFrame): void {
    const known = this.store.convs.has(e.conversation_id);
    const fromOther = this.store.apply(e);
    if (!known) {
      // A conversation this client did not know: take its details from the list.
      this.scheduleListRefresh();
      const c = this.store.convs.get(e.conversation_id);
      const peer = c && this.store.peer(c);
      if (peer) void this.store.loadPresence(peer);
    }
    const c = this.store.convs.get(e.conversation_id);
    if (c && fromOther !== null) {
      this.wantDelivered(c.id, fromOther);
      if (this.isReading(c)) this.markRead(c);
    }
    if (e.event.kind === "member_removed" && e.event.user_id === this.store.me) this.gap.forget(e.conversation_id);
    this.queueRender();
  }

  private onAck(clientMsgId: string, messageId: string, seq: number, ts: string): void {
    const o = this.outbox.get(clientMsgId);
    if (!o) return;
    this.outbox.delete(clientMsgId);
    const c = this.store.convs.get(o.frame.conversation_id);
    if (!c) return;
    if (o.frame.type === "send") {
      // The pending message becomes the confirmed one: keep its element (and place).
      const el = this.msgEls.get(`p:${clientMsgId}`);
      if (el && !this.msgEls.has(messageId)) {
        this.msgEls.delete(`p:${clientMsgId}`);
        this.msgEls.set(messageId, el);
      }
      this.store.acknowledged(c, clientMsgId, messageId, seq, ts);
    } else {
      const m = c.messages.get(o.frame.message_id);
      if (m) m.saving = false;
    }
    this.queueRender();
  }

  private onError(code: string, message: string, ref: string): void {
    const o = this.outbox.get(ref);
    if (!o) {
      // Errors about frames that carry no client_msg_id (read, typing, sync).
      if (code === "rate_limited") this.flash(describe(code, message));
      return;
    }
    if (code === "unavailable" && o.retries < 5) {
      // Safe to retry with the same client_msg_id (PROTOCOL.md).
      o.retries++;
      window.setTimeout(() => this.socket.send(o.frame), 1000 * o.retries);
      return;
    }
    this.outbox.delete(ref);
    const c = this.store.convs.get(o.frame.conversation_id);
    const text = describe(code, message);
    if (c && o.frame.type === "send") {
      const m = c.pending.get(ref);
      if (m) {
        m.local = "failed";
        m.error = text;
      }
    } else if (c && o.undo && o.frame.type !== "send") {
      const m = c.messages.get(o.frame.message_id);
      if (m) {
        m.saving = false;
        m.body = o.undo.body;
        m.edited_at = o.undo.edited_at;
        m.deleted_at = o.undo.deleted_at;
      }
      this.flash(`${o.frame.type === "edit" ? "Edit" : "Delete"} refused: ${text}`);
    }
    this.queueRender();
  }

  private dispatch(o: Outgoing): void {
    this.outbox.set(o.frame.client_msg_id, o);
    // Not ready: it stays in the outbox and goes when the socket is back.
    this.socket.send(o.frame);
  }

  private wantDelivered(c: string, seq: number): void {
    if (seq <= (this.deliveredWanted.get(c) ?? -1)) return;
    this.deliveredWanted.set(c, seq);
    if (this.deliveredTimer) return;
    // One receipt per conversation for a burst of messages.
    this.deliveredTimer = window.setTimeout(() => {
      this.deliveredTimer = null;
      this.flushDelivered();
    }, 100);
  }

  /** Send what is wanted and not sent yet (also when the socket is back). */
  private flushDelivered(): void {
    for (const [conv, s] of this.deliveredWanted) {
      if (s > (this.deliveredSent.get(conv) ?? -1) && this.socket.send({ type: "delivered", conversation_id: conv, up_to_seq: s })) {
        this.deliveredSent.set(conv, s);
      }
    }
  }

  private isReading(c: Conv): boolean {
    return this.store.openId === c.id && document.visibilityState === "visible";
  }

  private markRead(c: Conv): void {
    const seq = this.store.newestSeq(c);
    if (seq < 0) return;
    if (seq > c.readSeq || c.unread > 0) {
      if (this.socket.send({ type: "read", conversation_id: c.id, up_to_seq: seq })) {
        this.store.readUpTo(c, seq);
        c.unread = 0;
        this.queueRender();
      }
    }
  }

  private visibility = (): void => {
    const c = this.openConv();
    if (c && document.visibilityState === "visible") this.markRead(c);
  };

  // ---- actions ----------------------------------------------------------------------

  private openConv(): Conv | null {
    return this.store.openId ? (this.store.convs.get(this.store.openId) ?? null) : null;
  }

  async open(id: string): Promise<void> {
    if (this.store.openId === id) {
      this.composer.focus();
      return;
    }
    this.stopTyping();
    this.cancelContext();
    this.store.openId = id;
    replaceChildren(this.log);
    this.msgEls.clear();
    this.log.append(this.older);
    setText(this.composerError, "");
    this.composer.value = "";
    const c = this.store.convs.get(id);
    if (!c) return;
    this.render();
    this.composer.focus();
    await this.loadNewest(c);
    this.scrollToBottom();
    this.markRead(c);
  }

  private async loadNewest(c: Conv): Promise<void> {
    try {
      const page = await this.api.messages(c.id, null);
      this.store.mergePage(c, page);
      if (!c.loaded) c.hasOlder = page.next_before !== null;
      c.loaded = true;
      // A page reaches as far as the projection does: no live event at or below it is
      // needed any more.
      this.render();
      this.watchOlder();
    } catch (e) {
      this.flash(`Could not load messages: ${describeError(e)}`);
    }
  }

  private async loadOlder(): Promise<void> {
    const c = this.openConv();
    if (!c || !c.loaded || !c.hasOlder || c.loadingOlder) return;
    let oldest = Number.MAX_SAFE_INTEGER;
    for (const m of c.messages.values()) oldest = Math.min(oldest, m.seq);
    c.loadingOlder = true;
    this.render();
    try {
      const page = await this.api.messages(c.id, oldest === Number.MAX_SAFE_INTEGER ? null : oldest);
      const before = this.log.scrollHeight;
      const top = this.log.scrollTop;
      this.store.mergePage(c, page);
      c.hasOlder = page.next_before !== null;
      c.loadingOlder = false;
      this.render();
      // Keep what the reader was looking at in place while older messages go above it.
      this.log.scrollTop = top + (this.log.scrollHeight - before);
    } catch (e) {
      c.loadingOlder = false;
      this.flash(`Could not load older messages: ${describeError(e)}`);
      this.render();
    }
    // Still at the top (a short page): keep going.
    this.watchOlder();
  }

  private watchOlder(): void {
    this.olderObserver?.disconnect();
    this.olderObserver = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) void this.loadOlder();
      },
      { root: this.log, rootMargin: "200px 0px 0px 0px" },
    );
    this.olderObserver.observe(this.older);
  }

  private submitComposer(): void {
    const c = this.openConv();
    if (!c) return;
    const body = this.composer.value;
    if (!body.trim()) {
      setText(this.composerError, "Write something first.");
      return;
    }
    if (new TextEncoder().encode(body).length > 16384) {
      setText(this.composerError, describe("too_large", "limit of 16384 bytes"));
      return;
    }
    setText(this.composerError, "");
    if (this.editing) {
      const m = this.editing;
      this.cancelContext();
      if (m.body !== body) this.edit(c, m, body);
    } else {
      const id = newClientId();
      const reply = this.replyTo;
      this.store.addPending(c, id, body, reply?.message_id ?? null);
      this.dispatch({
        frame: reply
          ? { type: "send", conversation_id: c.id, client_msg_id: id, body, reply_to: reply.message_id }
          : { type: "send", conversation_id: c.id, client_msg_id: id, body },
        retries: 0,
      });
      this.cancelContext();
    }
    this.composer.value = "";
    this.autosize();
    this.stopTyping();
    this.render();
    this.scrollToBottom();
  }

  private edit(c: Conv, m: Msg, body: string): void {
    const undo = { body: m.body, edited_at: m.edited_at, deleted_at: m.deleted_at };
    m.body = body;
    m.edited_at = new Date().toISOString();
    m.saving = true;
    this.dispatch({ frame: { type: "edit", conversation_id: c.id, message_id: m.message_id, body, client_msg_id: newClientId() }, undo, retries: 0 });
    this.queueRender();
  }

  private remove(c: Conv, m: Msg): void {
    const undo = { body: m.body, edited_at: m.edited_at, deleted_at: m.deleted_at };
    m.body = null;
    m.deleted_at = new Date().toISOString();
    m.saving = true;
    this.dispatch({ frame: { type: "delete", conversation_id: c.id, message_id: m.message_id, client_msg_id: newClientId() }, undo, retries: 0 });
    this.queueRender();
  }

  private retrySend(c: Conv, m: Msg): void {
    if (!m.client_msg_id || m.body === null) return;
    m.local = "pending";
    m.error = undefined;
    const frame: Outgoing["frame"] = m.reply_to
      ? { type: "send", conversation_id: c.id, client_msg_id: m.client_msg_id, body: m.body, reply_to: m.reply_to }
      : { type: "send", conversation_id: c.id, client_msg_id: m.client_msg_id, body: m.body };
    this.dispatch({ frame, retries: 0 });
    this.queueRender();
  }

  private discard(c: Conv, m: Msg): void {
    if (m.client_msg_id) c.pending.delete(m.client_msg_id);
    this.queueRender();
    this.composer.focus();
  }

  private startReply(m: Msg): void {
    this.editing = null;
    this.replyTo = m;
    this.showContext();
    this.composer.focus();
  }

  private startEdit(m: Msg): void {
    this.replyTo = null;
    this.editing = m;
    this.composer.value = m.body ?? "";
    this.autosize();
    this.showContext();
    this.composer.focus();
    this.composer.setSelectionRange(this.composer.value.length, this.composer.value.length);
  }

  private cancelContext(): void {
    const wasEditing = this.editing !== null;
    this.replyTo = null;
    this.editing = null;
    this.contextBar.hidden = true;
    replaceChildren(this.contextBar);
    if (wasEditing) this.composer.value = "";
  }

  private showContext(): void {
    const m = this.replyTo ?? this.editing;
    if (!m) return;
    const cancel = h("button", { type: "button", class: "link", id: "cancel-context" }, "Cancel");
    cancel.addEventListener("click", () => {
      this.cancelContext();
      this.composer.focus();
    });
    const what = this.replyTo ? `Replying to ${this.store.shortName(m.sender_id)}: ` : "Editing your message: ";
    replaceChildren(this.contextBar, h("span", { class: "context-text" }, what, h("q", {}, snippet(m.body, 60))), cancel);
    this.contextBar.hidden = false;
  }

  private composerKey(ev: KeyboardEvent): void {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      this.submitComposer();
    } else if (ev.key === "Escape" && (this.replyTo || this.editing)) {
      ev.preventDefault();
      this.cancelContext();
    } else if (ev.key === "ArrowUp" && this.composer.value === "" && !this.editing) {
      const c = this.openConv();
      const mine = c ? this.store.timeline(c).filter((m) => m.sender_id === this.store.me && !m.local && !m.deleted_at) : [];
      const last = mine[mine.length - 1];
      if (last) {
        ev.preventDefault();
        this.startEdit(last);
      }
    }
  }

  private composerInput(): void {
    this.autosize();
    const c = this.openConv();
    if (!c || this.editing) return;
    if (this.composer.value.trim() === "") {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (this.typingIn !== c.id || now - this.typingSentAt > TYPING_REFRESH_MS) {
      if (this.socket.send({ type: "typing", conversation_id: c.id, state: "start" })) {
        this.typingSentAt = now;
        this.typingIn = c.id;
      }
    }
    if (this.typingStop) clearTimeout(this.typingStop);
    this.typingStop = window.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    if (this.typingStop) clearTimeout(this.typingStop);
    this.typingStop = null;
    if (this.typingIn) this.socket.send({ type: "typing", conversation_id: this.typingIn, state: "stop" });
    this.typingIn = null;
    this.typingSentAt = 0;
  }

  private autosize(): void {
    this.composer.style.height = "auto";
    this.composer.style.height = `${Math.min(this.composer.scrollHeight, 200)}px`;
  }

  private listKey(ev: KeyboardEvent): void {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp" && ev.key !== "Home" && ev.key !== "End") return;
    const buttons = [...this.convList.querySelectorAll<HTMLButtonElement>("button.conv")];
    if (buttons.length === 0) return;
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      ev.key === "Home" ? 0 : ev.key === "End" ? buttons.length - 1 : Math.max(0, Math.min(buttons.length - 1, at + (ev.key === "ArrowDown" ? 1 : -1)));
    ev.preventDefault();
    buttons[next]?.focus();
  }

  private flash(text: string): void {
    setText(this.composerError, text);
    if (!this.store.openId) {
      setText(this.connStatus, text);
    }
  }

  // ---- dialogs -----------------------------------------------------------------------

  private buildNewDialog(): HTMLDialogElement {
    const error = h("p", { class: "form-error", role: "alert", id: "new-conv-error" });
    const direct = h("input", { type: "radio", name: "kind", value: "direct", id: "kind-direct", checked: true });
    const group = h("input", { type: "radio", name: "kind", value: "group", id: "kind-group" });
    const users = h("input", { id: "new-conv-users", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true, "aria-describedby": "new-conv-users-hint" });
    const usersHint = h("span", { class: "hint", id: "new-conv-users-hint" }, "One username for a direct conversation; several, separated by commas, for a group.");
    const name = h("input", { id: "new-conv-name", maxlength: 100 });
    const nameField = h("div", { class: "field", hidden: true }, h("label", { for: "new-conv-name" }, "Group name"), name);
    const create = h("button", { type: "submit", class: "primary", id: "new-conv-create" }, "Start conversation");
    const cancel = h("button", { type: "button", id: "new-conv-cancel" }, "Cancel");
    const syncKind = () => {
      nameField.hidden = !group.checked;
    };
    direct.addEventListener("change", syncKind);
    group.addEventListener("change", syncKind);
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form" },
      h("h2", { id: "new-conv-title" }, "New conversation"),
      h(
        "fieldset",
        { class: "kind" },
        h("legend", {}, "Kind"),
        h("label", { for: "kind-direct" }, direct, " Direct"),
        h("label", { for: "kind-group" }, group, " Group"),
      ),
      h("div", { class: "field" }, h("label", { for: "new-conv-users" }, "Usernames"), users, usersHint),
      nameField,
      error,
      h("div", { class: "buttons" }, cancel, create),
    );
    const dialog = h("dialog", { id: "new-conv-dialog", "aria-labelledby": "new-conv-title" }, form);
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      setText(error, "");
      document.getElementById("new-conversation")?.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const names = users.value
        .split(/[\s,]+/)
        .map((n) => n.trim().toLowerCase().replace(/^@/, ""))
        .filter((n) => n.length > 0);
      const kind = group.checked ? "group" : "direct";
      if (names.length === 0) {
        setText(error, "Enter at least one username.");
        users.focus();
        return;
      }
      if (kind === "direct" && names.length !== 1) {
        setText(error, "A direct conversation is with exactly one person. Choose Group for more.");
        users.focus();
        return;
      }
      create.disabled = true;
      setText(error, "");
      try {
        const ids: string[] = [];
        for (const n of names) {
          if (n === this.store.myName) {
            if (kind === "direct") throw new Error("You cannot start a direct conversation with yourself.");
            continue;
          }
          const u = await this.api.findUser(n);
          if (!u) throw new Error(`No user is called “${n}”.`);
          this.store.learnUser(u.user_id, u.username, u.display_name);
          ids.push(u.user_id);
        }
        const r = await this.api.createConversation(kind, ids, kind === "group" ? name.value.trim() || undefined : undefined);
        if (!this.store.convs.has(r.conversation_id)) {
          const c = this.store.newConv(r.conversation_id, kind, kind === "group" ? name.value.trim() || null : null, [this.store.me, ...ids]);
          c.activity = new Date().toISOString();
          this.store.convs.set(c.id, c);
          // Everything of a new conversation is after -1.
          this.gap.track(c.id, -1);
          const peer = this.store.peer(c);
          if (peer) void this.store.loadPresence(peer);
        }
        users.value = "";
        name.value = "";
        dialog.close();
        await this.open(r.conversation_id);
      } catch (e) {
        setText(error, e instanceof ApiError || !(e instanceof Error) ? describeError(e) : e.message);
        users.focus();
      } finally {
        create.disabled = false;
      }
    });
    return dialog;
  }

  private openNewDialog(): void {
    this.newDialog.showModal();
    (this.newDialog.querySelector("#new-conv-users") as HTMLInputElement | null)?.focus();
  }

  private buildDeleteDialog(): HTMLDialogElement {
    const confirm = h("button", { type: "button", class: "danger", id: "delete-confirm" }, "Delete");
    const cancel = h("button", { type: "button", id: "delete-cancel" }, "Cancel");
    const dialog = h(
      "dialog",
      { id: "delete-dialog", "aria-labelledby": "delete-title", "aria-describedby": "delete-text" },
      h("h2", { id: "delete-title" }, "Delete message?"),
      h("p", { id: "delete-text" }, "It will be removed for everyone in the conversation."),
      h("div", { class: "buttons" }, cancel, confirm),
    );
    cancel.addEventListener("click", () => dialog.close());
    confirm.addEventListener("click", () => {
      const c = this.openConv();
      const m = this.deleting;
      dialog.close();
      if (c && m) this.remove(c, m);
    });
    dialog.addEventListener("close", () => {
      this.deleting = null;
      this.composer.focus();
    });
    return dialog;
  }

  // ---- rendering -------------------------------------------------------------------

  private showConn(s: ConnState, retryIn: number | null): void {
    this.connStatus.dataset.state = s;
    if (s === "offline" && this.store.presence.size > 0) {
      // Without the socket no presence change reaches us: what we knew may be wrong by
      // now, so show "unknown" rather than a stale "online" (reloaded on reconnect).
      this.store.presence.clear();
      this.queueRender();
    }
    const text =
      s === "online"
        ? "Connected"
        : s === "connecting"
          ? "Connecting…"
          : navigator.onLine
            ? `Offline. Reconnecting${retryIn ? ` in ${Math.ceil(retryIn / 1000)} s` : ""}… Messages you send are kept and go out when you are back.`
            : "You are offline. Messages you send are kept and go out when you are back.";
    setText(this.connStatus, text);
    const retry = this.root?.querySelector<HTMLButtonElement>("#reconnect-now");
    if (retry) retry.hidden = s !== "offline" || !navigator.onLine;
  }

  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private render(): void {
    this.renderList();
    this.renderPane();
  }

  private renderList(): void {
    const convs = this.store.sorted();
    const seen = new Set<string>();
    convs.forEach((c, i) => {
      seen.add(c.id);
      let li = this.convEls.get(c.id);
      if (!li) {
        li = this.convItem(c.id);
        this.convEls.set(c.id, li);
      }
      this.updateConvItem(li, c);
      if (this.convList.children[i] !== li) this.convList.insertBefore(li, this.convList.children[i] ?? null);
    });
    for (const [id, li] of this.convEls) {
      if (!seen.has(id)) {
        li.remove();
        this.convEls.delete(id);
      }
    }
    if (convs.length === 0 && !this.convList.querySelector(".none")) {
      this.convList.append(h("li", { class: "none" }, "No conversations yet."));
    } else if (convs.length > 0) {
      this.convList.querySelector(".none")?.remove();
    }
  }

  private convItem(id: string): HTMLLIElement {
    const button = h(
      "button",
      { type: "button", class: "conv", "data-id": id },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "conv-main" }, h("span", { class: "conv-title" }), h("span", { class: "conv-preview" })),
      h("span", { class: "conv-side" }, h("time", { class: "conv-time" }), h("span", { class: "badge" })),
    );
    button.addEventListener("click", () => void this.open(id));
    return h("li", { class: "conv-item", "data-id": id }, button);
  }

  private updateConvItem(li: HTMLLIElement, c: Conv): void {
    const button = li.firstElementChild as HTMLButtonElement;
    const title = this.store.title(c);
    const peer = this.store.peer(c);
    const pres = peer ? this.store.presence.get(peer) : undefined;
    const typing = [...c.typing.keys()];
    const preview = typing.length
      ? `${typing.map((u) => this.store.shortName(u)).join(", ")} typing…`
      : c.last
        ? `${c.last.sender_id === this.store.me ? "You: " : c.kind === "group" ? `${this.store.shortName(c.last.sender_id)}: ` : ""}${snippet(c.last.body, 60)}`
        : "No messages yet";
    setText(button.querySelector(".conv-title")!, title);
    setText(button.querySelector(".conv-preview")!, preview);
    const time = button.querySelector("time")!;
    setText(time, shortTime(c.last?.created_at));
    if (c.last?.created_at) time.setAttribute("datetime", c.last.created_at);
    const dot = button.querySelector(".dot")!;
    dot.className = `dot ${peer ? (pres ? (pres.online ? "online" : "offline") : "unknown") : "group"}`;
    const badge = button.querySelector(".badge") as HTMLElement;
    setText(badge, c.unread > 0 ? String(c.unread) : "");
    badge.hidden = c.unread <= 0;
    const parts = [title];
    if (peer) parts.push(pres ? (pres.online ? "online" : lastSeen(pres.lastSeen)) : "");
    if (c.unread > 0) parts.push(`${c.unread} unread`);
    parts.push(preview);
    button.setAttribute("aria-label", parts.filter(Boolean).join(", "));
    toggle(button, "data-unread", c.unread > 0);
    if (this.store.openId === c.id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }

  private renderPane(): void {
    const c = this.openConv();
    this.emptyPane.hidden = c !== null;
    this.chatEls.hidden = c === null;
    if (!c) return;
    setText(this.title, this.store.title(c));
    const peer = this.store.peer(c);
    if (peer) {
      const p = this.store.presence.get(peer);
      setText(this.subtitle, p ? (p.online ? "online" : lastSeen(p.lastSeen)) : "");
      this.subtitle.dataset.presence = p ? (p.online ? "online" : "offline") : "unknown";
    } else {
      setText(this.subtitle, c.members.map((u) => this.store.shortName(u)).join(", "));
      delete this.subtitle.dataset.presence;
    }
    const typing = [...c.typing.keys()].map((u) => this.store.shortName(u));
    setText(this.typingLine, typing.length === 0 ? "" : typing.length === 1 ? `${typing[0]} is typing…` : `${typing.join(", ")} are typing…`);

    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    // Older-messages row.
    if (c.loadingOlder) setText(this.olderButton, "Loading older messages…");
    else setText(this.olderButton, c.hasOlder ? "Load older messages" : "This is the beginning of the conversation.");
    this.olderButton.disabled = !c.hasOlder || c.loadingOlder;
    if (this.log.firstElementChild !== this.older) this.log.prepend(this.older);

    const items = this.store.timeline(c);
    // The newest own message spells its state out in words, so ticks never rely on
    // colour alone; older ones say it to screen readers only.
    let newestMine: Msg | null = null;
    for (const m of items) if (m.sender_id === this.store.me) newestMine = m;
    this.newestMine = newestMine;
    const seen = new Set<string>();
    let i = 1;
    for (const m of items) {
      const key = m.local ? `p:${m.client_msg_id}` : m.message_id;
      let li = this.msgEls.get(key);
      if (!li) {
        li = this.messageItem();
        this.msgEls.set(key, li);
      }
      seen.add(key);
      this.updateMessage(li, c, m);
      if (this.log.children[i] !== li) this.log.insertBefore(li, this.log.children[i] ?? null);
      i++;
    }
    for (const [k, el] of this.msgEls) {
      if (!seen.has(k)) {
        el.remove();
        this.msgEls.delete(k);
      }
    }
    if (atBottom) this.scrollToBottom();
  }

  private scrollToBottom(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  private messageItem(): HTMLLIElement {
    const reply = h("button", { type: "button", class: "act reply" }, "Reply");
    const edit = h("button", { type: "button", class: "act edit" }, "Edit");
    const del = h("button", { type: "button", class: "act delete" }, "Delete");
    const retry = h("button", { type: "button", class: "act retry" }, "Retry");
    const discard = h("button", { type: "button", class: "act discard" }, "Discard");
    const li = h(
      "li",
      { class: "msg" },
      h(
        "article",
        { class: "bubble" },
        h("p", { class: "meta" }, h("span", { class: "sender" }), " ", h("time", {}), h("span", { class: "edited", hidden: true }, " · edited")),
        h("button", { type: "button", class: "quote", hidden: true }, h("span", { class: "quote-sender" }), h("span", { class: "quote-body" })),
        h("p", { class: "body" }),
        h(
          "p",
          { class: "foot" },
          h("span", { class: "error", role: "alert" }),
          h("span", { class: "ticks" }, h("span", { class: "mark", "aria-hidden": "true" }), h("span", { class: "status-text" })),
        ),
        h("div", { class: "actions" }, reply, edit, del, retry, discard),
      ),
    );
    const current = (): [Conv, Msg] | null => {
      const c = this.openConv();
      if (!c) return null;
      const id = li.dataset.messageId ?? "";
      const cid = li.dataset.clientMsgId ?? "";
      const m = c.messages.get(id) ?? c.pending.get(cid);
      return m ? [c, m] : null;
    };
    reply.addEventListener("click", () => {
      const x = current();
      if (x) this.startReply(x[1]);
    });
    edit.addEventListener("click", () => {
      const x = current();
      if (x) this.startEdit(x[1]);
    });
    del.addEventListener("click", () => {
      const x = current();
      if (!x) return;
      this.deleting = x[1];
      this.deleteDialog.showModal();
      (this.deleteDialog.querySelector("#delete-cancel") as HTMLButtonElement).focus();
    });
    retry.addEventListener("click", () => {
      const x = current();
      if (x) this.retrySend(x[0], x[1]);
    });
    discard.addEventListener("click", () => {
      const x = current();
      if (x) this.discard(x[0], x[1]);
    });
    li.querySelector(".quote")!.addEventListener("click", () => {
      const target = li.dataset.replyTo && this.msgEls.get(li.dataset.replyTo);
      if (target) {
        target.scrollIntoView({ block: "center" });
        target.classList.add("flash");
        setTimeout(() => target.classList.remove("flash"), 1200);
      }
    });
    return li;
  }

  private updateMessage(li: HTMLLIElement, c: Conv, m: Msg): void {
    const mine = m.sender_id === this.store.me;
    const status = mine ? this.store.status(c, m) : null;
    li.dataset.messageId = m.message_id;
    if (m.client_msg_id) li.dataset.clientMsgId = m.client_msg_id;
    if (m.local) delete li.dataset.seq;
    else li.dataset.seq = String(m.seq);
    li.className = `msg${mine ? " mine" : ""}${m.deleted_at ? " deleted" : ""}${m.local === "failed" ? " failed" : ""}`;
    toggle(li, "data-mine", mine);
    toggle(li, "data-deleted", m.deleted_at !== null);
    if (status) li.dataset.status = status;
    else delete li.dataset.status;

    const sender = this.store.shortName(m.sender_id);
    setText(li.querySelector(".sender")!, sender);
    const t = li.querySelector("time")!;
    setText(t, shortTime(m.created_at));
    if (m.created_at) {
      t.setAttribute("datetime", m.created_at);
      t.setAttribute("title", longTime(m.created_at));
    }
    (li.querySelector(".edited") as HTMLElement).hidden = !m.edited_at || m.deleted_at !== null;
    // The body is text, always: textContent, never HTML.
    setText(li.querySelector(".body")!, m.deleted_at ? "This message was deleted." : (m.body ?? ""));

    const quote = li.querySelector(".quote") as HTMLButtonElement;
    if (m.reply_to && !m.deleted_at) {
      const target = c.messages.get(m.reply_to);
      li.dataset.replyTo = m.reply_to;
      quote.hidden = false;
      setText(quote.querySelector(".quote-sender")!, target ? `${this.store.shortName(target.sender_id)}: ` : "");
      setText(quote.querySelector(".quote-body")!, target ? snippet(target.body, 80) : "an earlier message");
      quote.setAttribute("aria-label", `In reply to ${target ? `${this.store.shortName(target.sender_id)}: ${snippet(target.body, 80)}` : "an earlier message"}. Show it.`);
    } else {
      quote.hidden = true;
      delete li.dataset.replyTo;
    }

    const ticks = li.querySelector(".ticks") as HTMLElement;
    ticks.hidden = !status;
    if (status) {
      setText(ticks.querySelector(".mark")!, STATUS_MARK[status]);
      const label = ticks.querySelector(".status-text")!;
      setText(label, STATUS_LABEL[status]);
      label.className = m === this.newestMine || m.local ? "status-text" : "status-text sr-only";
      ticks.title = STATUS_LABEL[status];
      ticks.dataset.status = status;
    }
    setText(li.querySelector(".error")!, m.local === "failed" ? (m.error ?? "Not sent.") : "");

    const article = li.querySelector("article")!;
    article.setAttribute("aria-label", `${mine ? "You" : sender}, ${shortTime(m.created_at)}${status ? `, ${STATUS_LABEL[status]}` : ""}`);
    const canAct = !m.local && !m.deleted_at;
    (li.querySelector(".reply") as HTMLElement).hidden = !canAct;
    (li.querySelector(".edit") as HTMLElement).hidden = !(canAct && mine);
    (li.querySelector(".delete") as HTMLElement).hidden = !(canAct && mine);
    (li.querySelector(".retry") as HTMLElement).hidden = m.local !== "failed";
    (li.querySelector(".discard") as HTMLElement).hidden = m.local !== "failed";
    for (const b of li.querySelectorAll<HTMLButtonElement>(".act")) {
      const what = b.textContent ?? "";
      b.setAttribute("aria-label", `${what} ${mine ? "your" : `${sender}'s`} message`);
    }
  }
}
