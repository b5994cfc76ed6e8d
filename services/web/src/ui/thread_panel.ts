// The thread panel beside the timeline: the root message, its replies oldest first
// (`GET .../threads/{root}/messages`, following `next_after` to the end) and a composer
// that sends into the thread. Live replies come through the store like any message; the
// panel shows whatever the store holds for its root. Esc closes it (unless the composer
// is cancelling a reply or an edit), and so does the close button; focus then goes back
// to the timeline.

import type { Api } from "../api";
import { describeErrorFor } from "../errors";
import type { Msg, Store } from "../store";
import { allReplies, repliesLabel } from "../threads";
import { h, replaceChildren, setText } from "./dom";
import { type MessageActions, messageItem, updateMessageItem } from "./message_item";

export interface ThreadPanelHooks {
  /** The panel closed (Esc or its button): where focus should go now. */
  closed: (rootId: string) => void;
  render: () => void;
}

export class ThreadPanel {
  readonly root: HTMLElement;
  private readonly title = h("h2", { id: "thread-title" }, "Thread");
  private readonly count = h("p", { class: "subtitle", id: "thread-count" });
  private readonly rootList = h("ul", { class: "messages thread-root", id: "thread-root", "aria-label": "Thread root message" });
  private readonly replies = h("ol", { class: "messages thread-replies", id: "thread-replies", role: "log", "aria-live": "polite", "aria-label": "Replies", tabindex: 0 });
  private readonly status = h("p", { class: "thread-status", id: "thread-status", role: "status" });
  private readonly items = new Map<string, HTMLLIElement>();
  private rootItem: HTMLLIElement | null = null;
  /** The open thread: conversation and root message ids. */
  private open: { conv: string; root: string } | null = null;
  private loadToken = 0;

  constructor(
    private readonly store: Store,
    private readonly api: Api,
    composer: HTMLElement,
    private readonly actions: MessageActions,
    private readonly hooks: ThreadPanelHooks,
  ) {
    const close = h("button", { type: "button", class: "close", id: "thread-close", "aria-label": "Close thread" }, "×");
    close.addEventListener("click", () => this.close());
    this.root = h(
      "aside",
      { class: "thread-panel", id: "thread-panel", "aria-labelledby": "thread-title", hidden: true },
      h("header", { class: "thread-head" }, h("div", {}, this.title, this.count), close),
      this.rootList,
      this.status,
      this.replies,
      composer,
    );
    // Esc anywhere in the panel closes it; the composer's own Esc (cancel a reply or an
    // edit) comes first and marks the event handled.
    this.root.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !ev.defaultPrevented && !ev.isComposing) {
        ev.preventDefault();
        this.close();
      }
    });
  }

  get rootId(): string | null {
    return this.open?.root ?? null;
  }

  get isOpen(): boolean {
    return this.open !== null;
  }

  /** Show the thread of `rootId` in conversation `convId`, and fetch its replies. */
  async show(convId: string, rootId: string): Promise<void> {
    if (this.open?.conv === convId && this.open.root === rootId) {
      this.root.hidden = false;
      return;
    }
    this.reset();
    this.open = { conv: convId, root: rootId };
    this.root.hidden = false;
    this.render();
    await this.load();
  }

  /** Fetch every reply (again, after a reconnect). */
  async load(): Promise<void> {
    const open = this.open;
    if (!open) return;
    const token = ++this.loadToken;
    setText(this.status, "Loading the thread…");
    try {
      const page = await allReplies((after) => this.api.threadMessages(open.conv, open.root, after));
      if (token !== this.loadToken || this.open !== open) return;
      const c = this.store.convs.get(open.conv);
      if (c) this.store.mergeThread(c, page);
      setText(this.status, "");
      this.root.dataset.loaded = "true";
    } catch (e) {
      if (token !== this.loadToken) return;
      setText(this.status, `Could not load the thread: ${describeErrorFor("thread", e)}`);
    }
    this.hooks.render();
  }

  close(): void {
    const open = this.open;
    if (!open) return;
    this.reset();
    this.root.hidden = true;
    this.hooks.closed(open.root);
  }

  private reset(): void {
    this.open = null;
    this.loadToken++;
    this.items.clear();
    replaceChildren(this.replies);
    replaceChildren(this.rootList);
    this.rootItem = null;
    setText(this.status, "");
    delete this.root.dataset.loaded;
  }

  scrollToBottom(): void {
    this.replies.scrollTop = this.replies.scrollHeight;
  }

  /** Bring a reply into view and mark it for a moment (a pin that is a reply). */
  highlight(messageId: string): boolean {
    const el = messageId === this.open?.root ? this.rootItem : this.items.get(messageId);
    if (!el) return false;
    el.scrollIntoView({ block: "center" });
    el.querySelector<HTMLElement>("article")?.focus({ preventScroll: true });
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1200);
    return true;
  }

  render(): void {
    const open = this.open;
    if (!open) return;
    const c = this.store.convs.get(open.conv);
    if (!c || this.store.openId !== open.conv) {
      this.close();
      return;
    }
    const root: Msg | undefined = c.messages.get(open.root);
    if (root) {
      if (!this.rootItem) {
        this.rootItem = messageItem(this.store, this.actions);
        this.rootList.append(this.rootItem);
      }
      updateMessageItem(this.rootItem, this.store, c, root, null, "thread");
      setText(this.title, `Thread: ${this.store.shortName(root.sender_id)}`);
    } else {
      setText(this.title, "Thread");
    }
    const replies = this.store.threadReplies(c, open.root);
    setText(this.count, replies.length === 0 ? "No replies yet" : repliesLabel(replies.length));
    let newestMine: Msg | null = null;
    for (const m of replies) if (m.sender_id === this.store.me) newestMine = m;
    const atBottom = this.replies.scrollHeight - this.replies.scrollTop - this.replies.clientHeight < 60;
    const seen = new Set<string>();
    replies.forEach((m, i) => {
      const key = m.local ? `p:${m.client_msg_id}` : m.message_id;
      let li = this.items.get(key);
      if (!li) {
        li = messageItem(this.store, this.actions);
        this.items.set(key, li);
      }
      seen.add(key);
      updateMessageItem(li, this.store, c, m, newestMine, "thread");
      if (this.replies.children[i] !== li) this.replies.insertBefore(li, this.replies.children[i] ?? null);
    });
    for (const [k, el] of this.items) {
      if (!seen.has(k)) {
        el.remove();
        this.items.delete(k);
      }
    }
    if (atBottom) this.scrollToBottom();
  }

  /** The element of a pending reply becomes the confirmed one's (it keeps its place). */
  confirmPending(clientMsgId: string, messageId: string): void {
    const el = this.items.get(`p:${clientMsgId}`);
    if (el && !this.items.has(messageId)) {
      this.items.delete(`p:${clientMsgId}`);
      this.items.set(messageId, el);
    }
  }
}
