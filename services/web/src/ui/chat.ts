// The signed-in screen. ChatApp is the coordinator: it owns the state (src/store.ts),
// the socket, and the protocol rules that live in their own DOM-free modules (the gap
// rule, the outbox, receipts, typing), routes server frames to them, and turns what
// people do in the views into frames. The screen's parts render themselves from the
// store:
//
//   top_bar.ts                 connection state, who is signed in, Sign out
//   conversation_list.ts       the sidebar
//   message_pane.ts            the open conversation (message_item.ts: one message)
//   thread_panel.ts            a thread beside it, with its own composer
//   composer.ts                writing, replying, editing
//   reaction_picker.ts, pins_dialog.ts, group_dialog.ts,
//   new_conversation_dialog.ts, delete_dialog.ts, password_dialog.ts
//
// Reactions go through the outbox like sends (`react` frames, acknowledged, resent on
// reconnect) and show at once; pins, renames and member changes are REST calls whose
// events then reach every member, this client included.
//
// The session (src/session.ts) is main.ts's: this screen uses its token for socket
// tickets, hands it the socket's 4001/4003 closes, and passes renewed tokens to the
// open socket.

import type { Api } from "../api";
import { ApiError, describe, describeError, describeErrorFor, describeFor } from "../errors";
import type { Pin } from "../pins";
import { hasReacted, toggleOp, wouldExceed } from "../reactions";
import type { Attachment, ClientFrame, EventFrame, Message, ServerFrame } from "../protocol";
import { UploadError, type XhrLike, attachmentKind, contentTypeOf, putFile } from "../uploads";
import { type Ack, Outbox, type PendingAction } from "../outbox";
import { Receipts } from "../receipts";
import { type AfterClose, CLOSE_SESSION_REVOKED, type Session } from "../session";
import { Socket, type ConnState } from "../socket";
import { type Conv, type Msg, Store } from "../store";
import { GapTracker } from "../sync";
import { TypingSender, noteTyping } from "../typing";
import { Composer } from "./composer";
import { ConversationList } from "./conversation_list";
import { DeleteDialog } from "./delete_dialog";
import { h } from "./dom";
import { newClientId } from "./format";
import { GroupDialog } from "./group_dialog";
import { MessagePane } from "./message_pane";
import { NewConversationDialog } from "./new_conversation_dialog";
import { PasswordDialog } from "./password_dialog";
import { PinsDialog } from "./pins_dialog";
import { ReactionPicker } from "./reaction_picker";
import { SearchBox } from "./search_box";

import { ThreadPanel } from "./thread_panel";
import { TopBar } from "./top_bar";

export interface ChatHooks {
  /** Sign out on the server, then leave; rejects when the server could not be told. */
  signOut: () => Promise<void>;
  /** The password changed: every session, this one too, has ended. */
  passwordChanged: () => void;
}

export class ChatApp {
  readonly root: HTMLElement;
  private readonly store: Store;
  private readonly socket: Socket;
  private readonly gap: GapTracker;
  private readonly outbox: Outbox;
  private readonly receipts: Receipts;
  private readonly typing: TypingSender;
  private readonly topBar: TopBar;
  private readonly list: ConversationList;
  private readonly pane: MessagePane;
  private readonly composer: Composer;
  private readonly threadComposer: Composer;
  private readonly thread: ThreadPanel;
  private readonly picker: ReactionPicker;
  private readonly pinsDialog: PinsDialog;
  private readonly groupDialog: GroupDialog;
  private readonly search: SearchBox;
  private readonly newDialog: NewConversationDialog;
  private readonly deleteDialog: DeleteDialog;
  private readonly passwordDialog: PasswordDialog;
  private renderQueued = false;
  private listRefresh: number | null = null;
  /** Pins fetches in flight, by conversation. */
  private pinsLoading = new Set<string>();
  /** What had focus when the thread panel opened: it gets it back when the panel closes. */
  private threadOpener: HTMLElement | null = null;
  private everReady = false;
  /**
   * Signing out and changing the password revoke this session, so its socket is closed
   * with 4003 about when the server answers. While either is pending, that close waits
   * for the answer, so the sign-in form does not say "you were signed out" to someone
   * who just did it.
   */
  private ownRevocation: "none" | "pending" | "revoked_meanwhile" = "none";

  constructor(
    private readonly api: Api,
    private readonly session: Session,
    username: string,
    private readonly hooks: ChatHooks,
  ) {
    this.store = new Store(session.userId, username, api);
    this.store.onChange(() => this.queueRender());
    this.gap = new GapTracker({
      apply: (e) => this.applyEvent(e),
      sendSync: (positions) => this.socket.send({ type: "sync", positions }),
    });
    this.socket = new Socket(() => this.api.wsTicket(), {
      frame: (f) => this.onFrame(f),
      ready: () => this.onReady(),
      state: (s, retry) => this.showConn(s, retry),
      authClosed: (code) => this.authClosed(code),
    });
    this.outbox = new Outbox({
      send: (frame) => this.socket.send(frame),
      acked: (action, ack) => this.acked(action, ack),
      failed: (action, code, message) => this.failed(action, code, message),
    });
    this.receipts = new Receipts({
      me: this.store.me,
      send: (frame) => this.socket.send(frame),
      openId: () => this.store.openId,
      visible: () => document.visibilityState === "visible",
      readState: (id) => {
        const c = this.store.convs.get(id);
        return c ? { newestSeq: this.store.newestSeq(c), readSeq: c.readSeq, unread: c.unread } : null;
      },
      markedRead: (id, seq) => {
        const c = this.store.convs.get(id);
        if (!c) return;
        this.store.readUpTo(c, seq);
        c.unread = 0;
        this.queueRender();
      },
    });
    this.typing = new TypingSender({
      send: (conversation_id, state) => this.socket.send({ type: "typing", conversation_id, state }),
    });

    this.topBar = new TopBar(username, {
      reconnectNow: () => this.socket.retryNow(),
      signOut: () => void this.signOut(),
      changePassword: () => this.passwordDialog.show(),
    });
    this.list = new ConversationList(this.store, {
      open: (id) => void this.open(id),
      newConversation: () => this.newDialog.show(),
    });
    this.composer = new Composer(this.store, this.typing, {
      send: (c, body, replyTo) => this.send(c, body, replyTo),
      edit: (c, m, body) => this.edit(c, m, body),
      submitted: () => {
        this.render();
        this.pane.scrollToBottom();
      },
      attach: (c, file) => void this.attach(c, file),
    });
    this.threadComposer = new Composer(
      this.store,
      this.typing,
      {
        send: (c, body, replyTo) => this.send(c, body, replyTo, this.thread.rootId),
        edit: (c, m, body) => this.edit(c, m, body),
        submitted: () => {
          this.render();
          this.thread.scrollToBottom();
        },
      },
      {
        idPrefix: "thread-",
        label: "Reply in the thread",
        placeholder: "Reply in the thread",
        editable: (c) => (this.thread.rootId ? this.store.threadReplies(c, this.thread.rootId) : []),
      },
    );
    this.pane = new MessagePane(this.store, api, this.composer.root, {
      render: () => this.render(),
      flash: (text) => this.flash(text),
      reply: (m) => this.composer.startReply(m),
      edit: (m) => this.composer.startEdit(m),
      delete: (m) => this.deleteDialog.ask(m),
      retry: (c, m) => this.retrySend(c, m),
      discard: (c, m) => this.discard(c, m),
      openThread: (root) => void this.openThread(root),
      pickReaction: (m, opener) => this.pickReaction(m, opener),
      toggleReaction: (m, emoji) => this.toggleReaction(m, emoji),
      pin: (m, pinned) => void this.pin(m.message_id, pinned),
      showPins: () => this.showPins(),
      showSettings: () => {
        const c = this.store.openConv();
        if (c && c.kind === "group") this.groupDialog.show(c);
      },
    });
    this.thread = new ThreadPanel(
      this.store,
      api,
      this.threadComposer.root,
      // In the thread, Edit uses the thread's composer.
      { ...this.pane.messageActions, edit: (m) => this.threadComposer.startEdit(m) },
      {
        render: () => this.render(),
        closed: () => this.threadClosed(),
      },
    );
    this.pane.setSide(this.thread.root);
    this.picker = new ReactionPicker();
    this.pinsDialog = new PinsDialog(this.store, {
      show: (p) => void this.showPinned(p),
      unpin: (p) => void this.pin(p.message_id, false),
      closed: () => document.getElementById("pins-button")?.focus(),
    });
    this.search = new SearchBox(api, this.store, { openAt: (m) => void this.openAt(m) });
    this.list.addAbove(this.search.root);
    this.groupDialog = new GroupDialog(api, this.store, {
      rename: (c, name) => this.rename(c, name),
      setRetention: (c, days) => this.setRetention(c, days),
      // Member changes show when their events arrive (at once, over the socket): applying
      // them here too would count a change twice in a group larger than the list shows.
      addMember: (c, user) => this.api.addMember(c.id, user),
      removeMember: (c, user) => this.api.removeMember(c.id, user),
      leave: (c) => this.leave(c),
      closed: () => document.getElementById("conv-settings")?.focus(),
    });
    this.newDialog = new NewConversationDialog(api, this.store, {
      created: (id, kind, name, members) => this.created(id, kind, name, members),
      open: (id) => this.open(id),
    });
    this.deleteDialog = new DeleteDialog({
      confirmed: (m) => {
        const c = this.store.openConv();
        if (c) this.remove(c, m);
      },
      closed: () => this.composer.focus(),
    });
    this.passwordDialog = new PasswordDialog(api, {
      changing: () => this.revocationPending(),
      changed: () => this.hooks.passwordChanged(),
      notChanged: () => this.revocationRefused(),
    });

    this.root = h(
      "div",
      { class: "app", id: "app-view" },
      this.topBar.root,
      this.list.root,
      this.pane.root,
      this.newDialog.root,
      this.deleteDialog.root,
      this.passwordDialog.root,
      this.picker.root,
      this.pinsDialog.root,
      this.groupDialog.root,
    );
    // Esc closes the thread panel from anywhere on the screen, unless something nearer
    // used it (a dialog, the composer cancelling a reply or an edit).
    this.root.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || ev.defaultPrevented || ev.isComposing || !this.thread.isOpen) return;
      if (document.querySelector("dialog[open]")) return;
      ev.preventDefault();
      this.thread.close();
    });

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

  /** The session renewed its access token: extend the open socket with it. */
  tokenRenewed(token: string): void {
    this.socket.reauthenticate(token);
  }

  private authClosed(code: number): Promise<AfterClose> {
    if (code === CLOSE_SESSION_REVOKED && this.ownRevocation !== "none") {
      this.ownRevocation = "revoked_meanwhile";
      return Promise.resolve("signed_out");
    }
    return this.session.socketClosed(code);
  }

  private revocationPending(): void {
    this.ownRevocation = "pending";
  }

  /** The sign-out or password change failed; a 4003 that came meanwhile counts now. */
  private revocationRefused(): void {
    const revoked = this.ownRevocation === "revoked_meanwhile";
    this.ownRevocation = "none";
    if (revoked) this.session.end("revoked");
  }

  private async signOut(): Promise<void> {
    this.revocationPending();
    try {
      await this.hooks.signOut();
    } catch (e) {
      this.revocationRefused();
      // Still signed in on the server (and the cookie is still there): say so rather
      // than show a sign-in form a reload would undo.
      if (e instanceof ApiError && e.status === 401) return;
      this.flash(`Could not sign out: ${describeError(e)}`);
    }
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
          this.gap.syncMany(positions);
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
    this.outbox.resendAll();
    this.gap.resyncAll();
    this.receipts.socketReady();
    if (reconnect) {
      // Conversations created while offline, and edits or deletes of older messages
      // (sync replays only what came after each position).
      void this.refreshList();
      // Presence was forgotten when the socket dropped.
      for (const conv of this.store.convs.values()) {
        const peer = this.store.peer(conv);
        if (peer) void this.store.loadPresence(peer);
      }
      const c = this.store.openConv();
      if (c) {
        void this.pane.loadNewest(c);
        void this.loadPins(c);
      }
      if (this.thread.isOpen) void this.thread.load();
    }
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "event":
        this.gap.offer(f);
        break;
      case "synced":
        this.gap.synced(f.positions, f.more ?? []);
        break;
      case "ack":
        this.outbox.ack(f);
        break;
      case "error":
        // Errors about frames that carry no client_msg_id (read, typing, sync) are not
        // the outbox's; of those only "too fast" is worth telling.
        if (!this.outbox.error(f.code, f.message, f.ref) && f.code === "rate_limited") this.flash(describe(f.code, f.message));
        break;
      case "typing": {
        const c = this.store.convs.get(f.conversation_id);
        if (!c || f.user_id === this.store.me) break;
        noteTyping(c.typing, f.user_id, f.state, () => this.queueRender());
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
    const message = this.store.apply(e);
    if (!known && !this.store.left.has(e.conversation_id)) {
      // A conversation this client did not know: take its details from the list.
      this.scheduleListRefresh();
      const c = this.store.convs.get(e.conversation_id);
      const peer = c && this.store.peer(c);
      if (peer) void this.store.loadPresence(peer);
    }
    const c = this.store.convs.get(e.conversation_id);
    if (c && message) this.receipts.messageArrived(c.id, message.seq, message.sender_id);
    if (e.event.kind === "member_removed" && e.event.user_id === this.store.me) this.gap.forget(e.conversation_id);
    // A pin of a message this client does not hold: the list says what it is.
    if (c && c.pinsStale && c.id === this.store.openId) void this.loadPins(c);
    this.queueRender();
  }

  // ---- the outbox's outcomes ------------------------------------------------------------

  private acked(action: PendingAction, ack: Ack): void {
    const c = this.store.convs.get(action.frame.conversation_id);
    if (!c) return;
    if (action.frame.type === "send") {
      // The pending message becomes the confirmed one: keep its element (and place).
      this.pane.confirmPending(ack.client_msg_id, ack.message_id);
      this.thread.confirmPending(ack.client_msg_id, ack.message_id);
      this.store.acknowledged(c, ack.client_msg_id, ack.message_id, ack.seq, ack.ts);
    } else if (action.frame.type === "react") {
      // Shown since it was made; its event (idempotent) changes nothing more.
      this.store.reactSettled(ack.client_msg_id, false);
    } else {
      const m = c.messages.get(action.frame.message_id);
      if (m) m.saving = false;
    }
    this.queueRender();
  }

  private failed(action: PendingAction, code: string, message: string): void {
    const frame = action.frame;
    const c = this.store.convs.get(frame.conversation_id);
    const text = describe(code, message);
    if (frame.type === "react") {
      // Shown at once; put back, and say why.
      this.store.reactSettled(frame.client_msg_id, true);
      this.flash(`Reaction ${frame.emoji} ${frame.op === "add" ? "not added" : "not removed"}: ${describeFor("reaction", code, message)}`);
    } else if (c && frame.type === "send") {
      // Shown as refused, with the reason, Retry and Discard.
      const m = c.pending.get(frame.client_msg_id);
      if (m) {
        m.local = "failed";
        m.error = frame.thread_root ? describeFor("thread", code, message) : text;
      }
    } else if (c && action.undo && frame.type !== "send") {
      // The edit or delete was shown at once: put the message back as it was.
      const m = c.messages.get(frame.message_id);
      if (m) {
        m.saving = false;
        // Erased meanwhile (retention): there is no content to put back.
        m.body = m.erased ? null : action.undo.body;
        m.edited_at = action.undo.edited_at;
        m.deleted_at = action.undo.deleted_at;
      }
      this.flash(`${frame.type === "edit" ? "Edit" : "Delete"} refused: ${text}`);
    }
    this.queueRender();
  }

  // ---- actions ----------------------------------------------------------------------

  async open(id: string): Promise<void> {
    if (this.store.openId === id) {
      this.composer.focus();
      return;
    }
    this.composer.reset();
    this.threadComposer.reset();
    this.thread.close();
    this.store.openId = id;
    this.pane.clear();
    const c = this.store.convs.get(id);
    if (!c) return;
    this.render();
    this.composer.focus();
    await Promise.all([this.pane.loadNewest(c), this.loadPins(c)]);
    this.pane.scrollToBottom();
    // Opening it is looking at it.
    this.receipts.read(c.id);
  }

  /** A conversation this client just created: everything of it is after -1. */
  private created(id: string, kind: "direct" | "group", name: string | null, members: string[]): void {
    const c = this.store.newConv(id, kind, name, members);
    c.activity = new Date().toISOString();
    this.store.convs.set(c.id, c);
    this.gap.track(c.id, -1);
    const peer = this.store.peer(c);
    if (peer) void this.store.loadPresence(peer);
  }

  private send(c: Conv, body: string, replyTo: Msg | null, threadRoot: string | null = null): void {
    const id = newClientId();
    const m = this.store.addPending(c, id, body, replyTo?.message_id ?? null, threadRoot);
    this.outbox.add(this.sendFrame(c, m));
  }

  /** The `send` frame of a pending message (the first time, and on Retry). */
  private sendFrame(c: Conv, m: Msg): Extract<ClientFrame, { type: "send" }> {
    const frame: Extract<ClientFrame, { type: "send" }> = { type: "send", conversation_id: c.id, client_msg_id: m.client_msg_id ?? "", body: m.body ?? "" };
    if (m.reply_to) frame.reply_to = m.reply_to;
    if (m.thread_root) frame.thread_root = m.thread_root;
    if (m.attachments.length > 0) {
      frame.kind = m.kind === "image" ? "image" : "file";
      frame.attachments = m.attachments.map((a) => a.attachment_id);
    }
    return frame;
  }

  // ---- threads ----------------------------------------------------------------------

  private async openThread(rootId: string): Promise<void> {
    const c = this.store.openConv();
    if (!c) return;
    if (this.thread.rootId !== rootId) {
      const active = document.activeElement;
      this.threadOpener = active instanceof HTMLElement && !this.thread.root.contains(active) ? active : null;
      this.threadComposer.reset();
    }
    const shown = this.thread.show(c.id, rootId);
    this.render();
    this.threadComposer.focus();
    await shown;
  }

  private threadClosed(): void {
    this.threadComposer.reset();
    const back = this.threadOpener;
    this.threadOpener = null;
    if (back?.isConnected && this.pane.root.contains(back)) back.focus();
    else this.composer.focus();
    this.queueRender();
  }

  // ---- reactions ----------------------------------------------------------------------

  private pickReaction(m: Msg, opener: HTMLElement): void {
    this.picker.ask(opener, (emoji) => {
      // Picking one you already gave changes nothing (the chip takes it back).
      if (!hasReacted(m.reactions, emoji, this.store.me)) this.toggleReaction(m, emoji);
    });
  }

  /** Add the reaction, or take it back if it is mine: shown at once, sent through the outbox. */
  private toggleReaction(m: Msg, emoji: string): void {
    const c = this.store.convs.get(m.conversation_id);
    if (!c || m.local || m.deleted_at) return;
    const op = toggleOp(m.reactions, emoji, this.store.me);
    if (op === "add" && wouldExceed(m.reactions, emoji)) {
      this.flash(describeFor("reaction", "too_many_reactions"));
      return;
    }
    const id = newClientId();
    this.store.react(c, m, emoji, op, id);
    this.outbox.add({ type: "react", conversation_id: c.id, message_id: m.message_id, emoji, op, client_msg_id: id });
    this.queueRender();
  }

  // ---- pins -------------------------------------------------------------------------

  private async loadPins(c: Conv): Promise<void> {
    if (this.pinsLoading.has(c.id)) return;
    this.pinsLoading.add(c.id);
    try {
      const pins = await this.api.pins(c.id);
      this.store.setPins(c, pins);
    } catch (e) {
      if (this.pinsDialog.root.open) this.pinsDialog.showError(`Could not load the pins: ${describeError(e)}`);
    } finally {
      this.pinsLoading.delete(c.id);
    }
    this.queueRender();
  }

  private showPins(): void {
    const c = this.store.openConv();
    if (!c) return;
    this.pinsDialog.show();
    if (c.pins === null || c.pinsStale) void this.loadPins(c);
  }

  private async pin(messageId: string, pinned: boolean): Promise<void> {
    const c = this.store.openConv();
    if (!c) return;
    try {
      await this.api.pin(c.id, messageId, pinned);
      // Its event says the same; applying both is harmless.
      if (pinned) this.store.pinned(c, messageId, this.store.me, new Date().toISOString());
      else this.store.unpinned(c, messageId);
    } catch (e) {
      const text = `Could not ${pinned ? "pin" : "unpin"} that message: ${describeErrorFor("pin", e)}`;
      if (this.pinsDialog.root.open) this.pinsDialog.showError(text);
      else this.flash(text);
    }
    this.queueRender();
  }

  /** A pin was chosen: bring its message into view, in the timeline or in its thread. */
  private async showPinned(p: Pin): Promise<void> {
    const c = this.store.openConv();
    if (!c) return;
    const m = c.messages.get(p.message_id) ?? p.message;
    if (!m) return;
    if (m.thread_root) {
      await this.openThread(m.thread_root);
      this.render();
      if (!this.thread.highlight(m.message_id)) this.flash("That reply is no longer in its thread.");
      return;
    }
    if (!(await this.pane.reveal(c, m.message_id, m.seq))) this.flash("That message could not be found in this conversation's history.");
  }

  // ---- attachments and search --------------------------------------------------------

  /**
   * Upload a file (a presigned PUT straight to storage, with progress), then send it as
   * an image or file message; the text in the composer, if any, is its caption.
   */
  private async attach(c: Conv, file: File): Promise<void> {
    const contentType = contentTypeOf(file);
    let ticket;
    try {
      ticket = await this.api.upload(c.id, file.name, contentType, file.size);
    } catch (e) {
      this.flash(`Could not send ${file.name}: ${describeErrorFor("upload", e)}`);
      return;
    }
    // XMLHttpRequest's handlers take full events; putFile reads only what XhrLike names.
    const up = putFile(() => new XMLHttpRequest() as unknown as XhrLike, ticket, file, (f) => this.composer.showUpload(file.name, f, () => up.cancel()));
    try {
      await up.done;
    } catch (e) {
      this.composer.showUpload(file.name, null);
      if (!(e instanceof UploadError && e.code === "upload_cancelled")) this.flash(`Could not upload ${file.name}: ${describe("upload_failed")}`);
      return;
    }
    this.composer.showUpload(file.name, null);
    if (!this.store.convs.has(c.id)) return;
    const caption = this.composer.text().trim();
    if (caption) this.composer.clearText();
    const attachment: Attachment = { attachment_id: ticket.upload_id, filename: file.name, content_type: contentType, size: file.size, url: "" };
    const id = newClientId();
    const m = this.store.addPending(c, id, caption || file.name, null, null, [attachment], attachmentKind(contentType));
    this.outbox.add(this.sendFrame(c, m));
    this.render();
    this.pane.scrollToBottom();
  }

  /** A search result: open its conversation and bring the message into view. */
  private async openAt(m: Message): Promise<void> {
    if (!this.store.convs.has(m.conversation_id)) await this.refreshList();
    const c = this.store.convs.get(m.conversation_id);
    if (!c) {
      this.flash("That conversation is no longer yours.");
      return;
    }
    await this.open(c.id);
    if (m.thread_root) {
      await this.openThread(m.thread_root);
      this.render();
      this.thread.highlight(m.message_id);
      return;
    }
    if (!(await this.pane.reveal(c, m.message_id, m.seq))) this.flash("That message could not be found in this conversation's history.");
  }

  // ---- group management -------------------------------------------------------------

  private async rename(c: Conv, name: string): Promise<void> {
    await this.api.rename(c.id, name);
    // Its event says the same; the list (which trails) must not put the old one back.
    c.name = name;
    c.renamed = true;
    this.queueRender();
  }

  /** v1.3: how long the group keeps its messages (null: off); admins only. */
  private async setRetention(c: Conv, days: number | null): Promise<void> {
    await this.api.setRetention(c.id, days);
    // Its event says the same; the list (which trails) must not put the old value back.
    this.store.retentionSet(c, days);
    this.queueRender();
  }

  /** Leave: the server removes the user, and the conversation goes from the list at once. */
  private async leave(c: Conv): Promise<void> {
    await this.api.removeMember(c.id, this.store.me);
    this.composer.reset();
    this.thread.close();
    this.store.leave(c);
    this.gap.forget(c.id);
    this.render();
    document.getElementById("new-conversation")?.focus();
  }

  // Edits and deletes show at once; the outbox puts them back if they are refused.
  private edit(c: Conv, m: Msg, body: string): void {
    const undo = { body: m.body, edited_at: m.edited_at, deleted_at: m.deleted_at };
    m.body = body;
    m.edited_at = new Date().toISOString();
    m.saving = true;
    this.outbox.add({ type: "edit", conversation_id: c.id, message_id: m.message_id, body, client_msg_id: newClientId() }, undo);
    this.queueRender();
  }

  private remove(c: Conv, m: Msg): void {
    const undo = { body: m.body, edited_at: m.edited_at, deleted_at: m.deleted_at };
    m.body = null;
    m.deleted_at = new Date().toISOString();
    m.saving = true;
    this.outbox.add({ type: "delete", conversation_id: c.id, message_id: m.message_id, client_msg_id: newClientId() }, undo);
    this.queueRender();
  }

  /** A refused send again, with the same client_msg_id. */
  private retrySend(c: Conv, m: Msg): void {
    if (!m.client_msg_id || m.body === null) return;
    m.local = "pending";
    m.error = undefined;
    this.outbox.add(this.sendFrame(c, m));
    this.queueRender();
  }

  /** A refused send dropped (the outbox let go of it when it was refused). */
  private discard(c: Conv, m: Msg): void {
    if (m.client_msg_id) c.pending.delete(m.client_msg_id);
    this.queueRender();
    this.composer.focus();
  }

  private flash(text: string): void {
    this.composer.showError(text);
    // The composer is hidden while no conversation is open.
    if (!this.store.openId) this.topBar.notice(text);
  }

  private visibility = (): void => this.receipts.visibilityChanged();

  // ---- rendering -------------------------------------------------------------------

  private showConn(s: ConnState, retryIn: number | null): void {
    if (s === "offline" && this.store.presence.size > 0) {
      // Without the socket no presence change reaches us: what we knew may be wrong by
      // now, so show "unknown" rather than a stale "online" (reloaded on reconnect).
      this.store.presence.clear();
      this.queueRender();
    }
    this.topBar.showConnection(s, retryIn);
  }

  /** Render once per animation frame, however many changes came in. */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private render(): void {
    this.list.render();
    this.search.render();
    this.pane.render();
    this.thread.render();
    this.pinsDialog.render();
    this.groupDialog.render();
  }
}
