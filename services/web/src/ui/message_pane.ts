// The main pane: "No conversation open", or the open conversation with its header
// (title, presence or members, how long messages are kept if the group set it (v1.3),
// who is typing), its messages and, below them, the
// composer. Messages are kept by key (message_id, or the client_msg_id of a send not
// acknowledged yet) and updated in place, in timeline order.
//
// It also pages history: the newest page when a conversation is opened, older pages when
// the reader scrolls up (or presses "Load older messages"), holding the scroll position
// while they go in above. Pages leave thread replies out (`threads=exclude`): they show
// in the thread panel, which sits beside the timeline. The header has "Pinned" and, for
// a group, "Group settings".

import type { Api } from "../api";
import { describeError } from "../errors";
import { retentionNote } from "../retention";
import type { Conv, Msg, Store } from "../store";
import { h, replaceChildren, setText } from "./dom";
import { lastSeen } from "./format";
import { type MessageActions, messageItem, updateMessageItem } from "./message_item";

export interface MessagePaneHooks extends Omit<MessageActions, "showMessage"> {
  /** Render the whole screen now (a history page can change the list too). */
  render: () => void;
  /** Tell the person something went wrong. */
  flash: (text: string) => void;
  showPins: () => void;
  showSettings: () => void;
}

export class MessagePane {
  readonly root = h("main", { class: "pane", id: "pane", "aria-labelledby": "chat-title" });
  private readonly emptyPane = h(
    "div",
    { class: "empty", id: "empty-pane" },
    h("h2", {}, "No conversation open"),
    h("p", {}, "Pick a conversation from the list, or start a new one."),
  );
  private readonly title = h("h2", { id: "chat-title", class: "chat-title" });
  private readonly subtitle = h("p", { class: "subtitle", id: "chat-subtitle" });
  private readonly retention = h("p", { class: "subtitle retention-note", id: "chat-retention", hidden: true });
  private readonly typingLine = h("p", { class: "typing", id: "typing", "aria-live": "polite" });
  private readonly pinsButton = h("button", { type: "button", id: "pins-button", "aria-haspopup": "dialog" }, "Pinned");
  private readonly settingsButton = h("button", { type: "button", id: "conv-settings", "aria-haspopup": "dialog", hidden: true }, "Group settings");
  private readonly log = h("ol", { class: "messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages", tabindex: 0 });
  /** Message elements by key: message_id, or `p:<client_msg_id>` for a pending send. */
  private readonly items = new Map<string, HTMLLIElement>();
  /** The first row of the log: loads older messages, or says there are none. */
  private readonly older = h("li", { class: "older", id: "older" });
  private readonly olderButton = h("button", { type: "button", class: "link", id: "load-older" }, "Load older messages");
  private readonly chat: HTMLElement;
  private readonly actions: MessageActions;
  private olderObserver: IntersectionObserver | null = null;

  constructor(
    private readonly store: Store,
    private readonly api: Api,
    composer: HTMLElement,
    private readonly hooks: MessagePaneHooks,
  ) {
    this.actions = { ...hooks, showMessage: (id) => this.showMessage(id) };
    this.olderButton.addEventListener("click", () => void this.loadOlder());
    this.older.append(this.olderButton);
    this.pinsButton.addEventListener("click", () => hooks.showPins());
    this.settingsButton.addEventListener("click", () => hooks.showSettings());
    this.chat = h(
      "section",
      { class: "chat", id: "chat", hidden: true },
      h(
        "header",
        { class: "chat-head" },
        h("div", { class: "chat-head-text" }, this.title, this.subtitle, this.retention),
        this.typingLine,
        h("div", { class: "chat-head-actions" }, this.pinsButton, this.settingsButton),
      ),
      this.log,
      composer,
    );
    this.root.append(this.emptyPane, this.chat);
  }

  /** The thread panel goes beside the timeline. */
  setSide(panel: HTMLElement): void {
    this.root.append(panel);
  }

  /** The actions a message offers (the thread panel's messages use them too). */
  get messageActions(): MessageActions {
    return this.actions;
  }

  /** Another conversation is opened: its messages start from nothing. */
  clear(): void {
    replaceChildren(this.log);
    this.items.clear();
    this.log.append(this.older);
  }

  /** The element of a pending send becomes the confirmed message's (it keeps its place). */
  confirmPending(clientMsgId: string, messageId: string): void {
    const el = this.items.get(`p:${clientMsgId}`);
    if (el && !this.items.has(messageId)) {
      this.items.delete(`p:${clientMsgId}`);
      this.items.set(messageId, el);
    }
  }

  render(): void {
    const c = this.store.openConv();
    this.emptyPane.hidden = c !== null;
    this.chat.hidden = c === null;
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
    const note = retentionNote(c.retentionDays);
    setText(this.retention, note);
    this.retention.hidden = note === "";
    const pins = c.pins?.length ?? 0;
    setText(this.pinsButton, pins > 0 ? `Pinned (${pins})` : "Pinned");
    this.pinsButton.setAttribute("aria-label", pins === 1 ? "Pinned: 1 message" : `Pinned: ${pins} messages`);
    this.settingsButton.hidden = c.kind !== "group";
    const typing = [...c.typing.keys()].map((u) => this.store.shortName(u));
    setText(this.typingLine, typing.length === 0 ? "" : typing.length === 1 ? `${typing[0]} is typing…` : `${typing.join(", ")} are typing…`);

    // A reader at the bottom follows new messages; one reading older ones is left there.
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    if (c.loadingOlder) setText(this.olderButton, "Loading older messages…");
    else setText(this.olderButton, c.hasOlder ? "Load older messages" : "This is the beginning of the conversation.");
    this.olderButton.disabled = !c.hasOlder || c.loadingOlder;
    if (this.log.firstElementChild !== this.older) this.log.prepend(this.older);

    const items = this.store.timeline(c);
    let newestMine: Msg | null = null;
    for (const m of items) if (m.sender_id === this.store.me) newestMine = m;
    const seen = new Set<string>();
    let i = 1;
    for (const m of items) {
      const key = m.local ? `p:${m.client_msg_id}` : m.message_id;
      let li = this.items.get(key);
      if (!li) {
        li = messageItem(this.store, this.actions);
        this.items.set(key, li);
      }
      seen.add(key);
      updateMessageItem(li, this.store, c, m, newestMine);
      if (this.log.children[i] !== li) this.log.insertBefore(li, this.log.children[i] ?? null);
      i++;
    }
    for (const [k, el] of this.items) {
      if (!seen.has(k)) {
        el.remove();
        this.items.delete(k);
      }
    }
    if (atBottom) this.scrollToBottom();
  }

  scrollToBottom(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Fetch the newest page of `c` (on open, and after a reconnect). */
  async loadNewest(c: Conv): Promise<void> {
    try {
      const page = await this.api.messages(c.id, null);
      this.store.mergePage(c, page);
      if (!c.loaded) c.hasOlder = page.next_before !== null;
      c.loaded = true;
      // A page reaches as far as the projection does: no live event at or below it is
      // needed any more.
      this.hooks.render();
      this.watchOlder();
    } catch (e) {
      this.hooks.flash(`Could not load messages: ${describeError(e)}`);
    }
  }

  private async loadOlder(): Promise<void> {
    const c = this.store.openConv();
    if (!c || !c.loaded || !c.hasOlder || c.loadingOlder) return;
    // Thread replies and roots loaded for the thread panel are not where the timeline's
    // pages reached.
    const oldest = this.store.oldestTimelineSeq(c);
    c.loadingOlder = true;
    this.hooks.render();
    try {
      const page = await this.api.messages(c.id, oldest);
      const before = this.log.scrollHeight;
      const top = this.log.scrollTop;
      this.store.mergePage(c, page);
      c.hasOlder = page.next_before !== null;
      c.loadingOlder = false;
      this.hooks.render();
      // Keep what the reader was looking at in place while older messages go above it.
      this.log.scrollTop = top + (this.log.scrollHeight - before);
    } catch (e) {
      c.loadingOlder = false;
      this.hooks.flash(`Could not load older messages: ${describeError(e)}`);
      this.hooks.render();
    }
    // Still at the top (a short page): keep going.
    this.watchOlder();
  }

  /** Load older messages when the first row comes near the top of the log. */
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

  /** Bring a message of the timeline into view and mark it for a moment; false if not shown. */
  showMessage(messageId: string): boolean {
    const target = this.items.get(messageId);
    if (!target) return false;
    target.scrollIntoView({ block: "center" });
    target.querySelector<HTMLElement>("article")?.focus({ preventScroll: true });
    target.classList.add("flash");
    setTimeout(() => target.classList.remove("flash"), 1200);
    return true;
  }

  /**
   * Show a message that may be older than what is loaded (a pin, a search result): load
   * older pages until its seq is reached (at most `maxPages`), then show it.
   */
  async reveal(c: Conv, messageId: string, seq: number, maxPages = 40): Promise<boolean> {
    for (let i = 0; i < maxPages && !this.items.has(messageId); i++) {
      if (this.store.openId !== c.id) return false;
      const oldest = this.store.oldestTimelineSeq(c);
      if (!c.hasOlder || (oldest !== null && oldest <= seq)) break;
      if (c.loadingOlder) {
        // Scrolling is loading a page already: wait for it.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      await this.loadOlder();
      // No progress (refused, or the server has nothing older): stop.
      if (this.store.oldestTimelineSeq(c) === oldest) break;
    }
    this.hooks.render();
    return this.showMessage(messageId);
  }
}
