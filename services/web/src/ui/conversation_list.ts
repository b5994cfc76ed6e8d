// The sidebar: "New conversation" and the list of conversations, most recently active
// first. Each entry shows the title, the last message (or who is typing), the time, an
// unread badge and, for a direct conversation, a presence dot. Entries are kept by
// conversation id and moved rather than rebuilt, so focus stays where it was.

import type { Conv, Store } from "../store";
import { h, setText, toggle } from "./dom";
import { lastSeen, shortTime, snippet } from "./format";

export interface ConversationListHooks {
  open: (conversationId: string) => void;
  newConversation: () => void;
}

export class ConversationList {
  readonly root: HTMLElement;
  private readonly list = h("ul", { class: "conv-list", id: "conv-list", "aria-label": "Conversations" });
  private readonly items = new Map<string, HTMLLIElement>();

  constructor(
    private readonly store: Store,
    private readonly hooks: ConversationListHooks,
  ) {
    const newButton = h("button", { type: "button", class: "primary wide", id: "new-conversation" }, "New conversation");
    newButton.addEventListener("click", () => hooks.newConversation());
    this.list.addEventListener("keydown", (ev) => this.moveFocus(ev));
    this.root = h("nav", { class: "sidebar", "aria-label": "Conversation list" }, newButton, this.list);
  }

  /** Something that goes between "New conversation" and the list (the search box). */
  addAbove(el: HTMLElement): void {
    this.root.insertBefore(el, this.list);
  }

  render(): void {
    const convs = this.store.sorted();
    const seen = new Set<string>();
    convs.forEach((c, i) => {
      seen.add(c.id);
      let li = this.items.get(c.id);
      if (!li) {
        li = this.item(c.id);
        this.items.set(c.id, li);
      }
      this.update(li, c);
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] ?? null);
    });
    for (const [id, li] of this.items) {
      if (!seen.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    if (convs.length === 0 && !this.list.querySelector(".none")) {
      this.list.append(h("li", { class: "none" }, "No conversations yet."));
    } else if (convs.length > 0) {
      this.list.querySelector(".none")?.remove();
    }
  }

  private item(id: string): HTMLLIElement {
    const button = h(
      "button",
      { type: "button", class: "conv", "data-id": id },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "conv-main" }, h("span", { class: "conv-title" }), h("span", { class: "conv-preview" })),
      h("span", { class: "conv-side" }, h("time", { class: "conv-time" }), h("span", { class: "badge" })),
    );
    button.addEventListener("click", () => this.hooks.open(id));
    return h("li", { class: "conv-item", "data-id": id }, button);
  }

  private update(li: HTMLLIElement, c: Conv): void {
    const button = li.firstElementChild as HTMLButtonElement;
    const title = this.store.title(c);
    const peer = this.store.peer(c);
    const pres = peer ? this.store.presence.get(peer) : undefined;
    const typing = [...c.typing.keys()];
    const preview = typing.length
      ? `${typing.map((u) => this.store.shortName(u)).join(", ")} typing…`
      : c.last
        ? `${c.last.sender_id === this.store.me ? "You: " : c.kind === "group" ? `${this.store.shortName(c.last.sender_id)}: ` : ""}${c.last.erased ? "Message erased" : snippet(c.last.body, 60)}`
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
    // The dot and the badge are visual; the label says the same in words.
    const parts = [title];
    if (peer) parts.push(pres ? (pres.online ? "online" : lastSeen(pres.lastSeen)) : "");
    if (c.unread > 0) parts.push(`${c.unread} unread`);
    parts.push(preview);
    button.setAttribute("aria-label", parts.filter(Boolean).join(", "));
    toggle(button, "data-unread", c.unread > 0);
    if (this.store.openId === c.id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }

  /** Arrow keys, Home and End move through the list. */
  private moveFocus(ev: KeyboardEvent): void {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp" && ev.key !== "Home" && ev.key !== "End") return;
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>("button.conv")];
    if (buttons.length === 0) return;
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      ev.key === "Home" ? 0 : ev.key === "End" ? buttons.length - 1 : Math.max(0, Math.min(buttons.length - 1, at + (ev.key === "ArrowDown" ? 1 : -1)));
    ev.preventDefault();
    buttons[next]?.focus();
  }
}
