// One message in the pane: sender, time, "edited", "pinned", a reply's quote, the body
// (always as text), attachments, reaction chips, the thread summary of a root ("3
// replies"), the ticks of an own message, a refused send's reason, and the actions
// (Reply, Reply in thread, React, Pin, Edit, Delete; Retry and Discard for a refused
// send). The element is built once per message and updated in place on every render.
// The same element shows a message in the thread panel, where the thread's own actions
// are left out.

import { isPinned } from "../pins";
import { reactionName } from "../emoji";
import { chips } from "../reactions";
import type { Conv, Msg, Status, Store } from "../store";
import { repliesLabel, summary } from "../threads";
import { attachmentView } from "./attachments";
import { h, replaceChildren, setText, toggle } from "./dom";
import { longTime, shortTime, snippet } from "./format";

const STATUS_LABEL: Record<Status, string> = {
  pending: "Sending",
  failed: "Not sent",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
};
// Plain glyphs every system font has (no emoji font needed).
const STATUS_MARK: Record<Status, string> = { pending: "…", failed: "!", sent: "✓", delivered: "✓✓", read: "✓✓" };

export interface MessageActions {
  reply: (m: Msg) => void;
  edit: (m: Msg) => void;
  delete: (m: Msg) => void;
  retry: (c: Conv, m: Msg) => void;
  discard: (c: Conv, m: Msg) => void;
  /** A reply's quote was clicked: bring the message it quotes into view. */
  showMessage: (messageId: string) => void;
  /** Open the thread of this message (its root), to read or reply in it. */
  openThread: (rootId: string) => void;
  /** Open the reaction picker for this message. */
  pickReaction: (m: Msg, opener: HTMLElement) => void;
  /** A chip was pressed: take the reaction back if it is mine, else add it. */
  toggleReaction: (m: Msg, emoji: string) => void;
  /** Pin (true) or unpin (false). */
  pin: (m: Msg, pinned: boolean) => void;
}

/** Where the element is shown: the timeline, or the thread panel. */
export type ItemPlace = "timeline" | "thread";

/** A new, empty message element; `updateMessageItem` fills it. */
export function messageItem(store: Store, actions: MessageActions): HTMLLIElement {
  const reply = h("button", { type: "button", class: "act reply" }, "Reply");
  const thread = h("button", { type: "button", class: "act thread" }, "Reply in thread");
  const react = h("button", { type: "button", class: "act react", "aria-haspopup": "dialog" }, "React");
  const pin = h("button", { type: "button", class: "act pin" }, "Pin");
  const edit = h("button", { type: "button", class: "act edit" }, "Edit");
  const del = h("button", { type: "button", class: "act delete" }, "Delete");
  const retry = h("button", { type: "button", class: "act retry" }, "Retry");
  const discard = h("button", { type: "button", class: "act discard" }, "Discard");
  const reactions = h("div", { class: "reactions", role: "group", hidden: true });
  const threadSummary = h("button", { type: "button", class: "thread-summary", hidden: true }, h("span", { class: "thread-count" }), h("span", { class: "thread-last" }));
  const li = h(
    "li",
    { class: "msg" },
    h(
      "article",
      // Focusable from script: a pin or a quote that brings a message into view moves
      // focus there too, so keyboard and screen-reader users land on it.
      { class: "bubble", tabindex: -1 },
      h(
        "p",
        { class: "meta" },
        h("span", { class: "sender" }),
        " ",
        h("time", {}),
        h("span", { class: "edited", hidden: true }, " · edited"),
        h("span", { class: "pinned-mark", hidden: true }, " · pinned"),
      ),
      h("button", { type: "button", class: "quote", hidden: true }, h("span", { class: "quote-sender" }), h("span", { class: "quote-body" })),
      h("p", { class: "body" }),
      h("ul", { class: "attachments", hidden: true, "aria-label": "Attachments" }),
      reactions,
      threadSummary,
      h(
        "p",
        { class: "foot" },
        h("span", { class: "error", role: "alert" }),
        h("span", { class: "ticks" }, h("span", { class: "mark", "aria-hidden": "true" }), h("span", { class: "status-text" })),
      ),
      h("div", { class: "actions" }, reply, thread, react, pin, edit, del, retry, discard),
    ),
  );
  // The element outlives the message object it was built for (a pending send becomes
  // the confirmed message): look the message up when a button is pressed.
  const current = (): [Conv, Msg] | null => {
    const c = store.openConv();
    if (!c) return null;
    const id = li.dataset.messageId ?? "";
    const cid = li.dataset.clientMsgId ?? "";
    const m = c.messages.get(id) ?? c.pending.get(cid);
    return m ? [c, m] : null;
  };
  reply.addEventListener("click", () => {
    const x = current();
    if (x) actions.reply(x[1]);
  });
  thread.addEventListener("click", () => {
    const x = current();
    if (x) actions.openThread(x[1].message_id);
  });
  threadSummary.addEventListener("click", () => {
    const x = current();
    if (x) actions.openThread(x[1].message_id);
  });
  react.addEventListener("click", () => {
    const x = current();
    if (x) actions.pickReaction(x[1], react);
  });
  pin.addEventListener("click", () => {
    const x = current();
    if (x) actions.pin(x[1], !isPinned(x[0].pins, x[1].message_id));
  });
  reactions.addEventListener("click", (ev) => {
    const chip = (ev.target as Element).closest<HTMLButtonElement>("button.chip");
    const x = current();
    if (chip?.dataset.emoji && x) actions.toggleReaction(x[1], chip.dataset.emoji);
  });
  edit.addEventListener("click", () => {
    const x = current();
    if (x) actions.edit(x[1]);
  });
  del.addEventListener("click", () => {
    const x = current();
    if (x) actions.delete(x[1]);
  });
  retry.addEventListener("click", () => {
    const x = current();
    if (x) actions.retry(x[0], x[1]);
  });
  discard.addEventListener("click", () => {
    const x = current();
    if (x) actions.discard(x[0], x[1]);
  });
  li.querySelector(".quote")!.addEventListener("click", () => {
    if (li.dataset.replyTo) actions.showMessage(li.dataset.replyTo);
  });
  return li;
}

/**
 * Show `m` of conversation `c` in `li`. `newestMine` is the newest own message: it
 * spells its state out in words, so ticks never rely on colour alone; older ones say
 * it to screen readers only.
 */
export function updateMessageItem(li: HTMLLIElement, store: Store, c: Conv, m: Msg, newestMine: Msg | null, place: ItemPlace = "timeline"): void {
  const mine = m.sender_id === store.me;
  const status = mine ? store.status(c, m) : null;
  li.dataset.messageId = m.message_id;
  if (m.client_msg_id) li.dataset.clientMsgId = m.client_msg_id;
  if (m.local) delete li.dataset.seq;
  else li.dataset.seq = String(m.seq);
  // Erased (v1.2) reads like deleted: nothing of it is left to show or act on.
  const gone = m.deleted_at !== null || m.erased === true;
  li.className = `msg${mine ? " mine" : ""}${gone ? " deleted" : ""}${m.local === "failed" ? " failed" : ""}`;
  toggle(li, "data-mine", mine);
  toggle(li, "data-deleted", m.deleted_at !== null);
  toggle(li, "data-erased", m.erased === true);
  if (status) li.dataset.status = status;
  else delete li.dataset.status;

  const sender = store.shortName(m.sender_id);
  setText(li.querySelector(".sender")!, sender);
  const t = li.querySelector("time")!;
  setText(t, shortTime(m.created_at));
  if (m.created_at) {
    t.setAttribute("datetime", m.created_at);
    t.setAttribute("title", longTime(m.created_at));
  }
  (li.querySelector(".edited") as HTMLElement).hidden = !m.edited_at || gone;
  // The body is text, always: textContent, never HTML.
  setText(
    li.querySelector(".body")!,
    m.deleted_at ? "This message was deleted." : m.erased ? "This message was erased." : (m.body ?? ""),
  );

  const quote = li.querySelector(".quote") as HTMLButtonElement;
  if (m.reply_to && !gone) {
    const target = c.messages.get(m.reply_to);
    li.dataset.replyTo = m.reply_to;
    quote.hidden = false;
    setText(quote.querySelector(".quote-sender")!, target ? `${store.shortName(target.sender_id)}: ` : "");
    setText(quote.querySelector(".quote-body")!, target ? snippet(target.body, 80) : "an earlier message");
    quote.setAttribute("aria-label", `In reply to ${target ? `${store.shortName(target.sender_id)}: ${snippet(target.body, 80)}` : "an earlier message"}. Show it.`);
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
    label.className = m === newestMine || m.local ? "status-text" : "status-text sr-only";
    ticks.title = STATUS_LABEL[status];
    ticks.dataset.status = status;
  }
  setText(li.querySelector(".error")!, m.local === "failed" ? (m.error ?? "Not sent.") : "");

  const pinned = !m.local && isPinned(c.pins, m.message_id);
  (li.querySelector(".pinned-mark") as HTMLElement).hidden = !pinned;
  toggle(li, "data-pinned", pinned);
  updateAttachments(li.querySelector(".attachments") as HTMLUListElement, m);
  updateReactions(li.querySelector(".reactions") as HTMLElement, store, m);
  updateThreadSummary(li.querySelector(".thread-summary") as HTMLButtonElement, m, place);

  const article = li.querySelector("article")!;
  article.setAttribute("aria-label", `${mine ? "You" : sender}, ${shortTime(m.created_at)}${pinned ? ", pinned" : ""}${status ? `, ${STATUS_LABEL[status]}` : ""}`);
  const canAct = !m.local && !gone;
  (li.querySelector(".reply") as HTMLElement).hidden = !canAct || place === "thread";
  // A reply in a thread cannot start a thread of its own (`invalid_thread`).
  (li.querySelector(".thread") as HTMLElement).hidden = !canAct || place === "thread" || m.thread_root !== null;
  (li.querySelector(".react") as HTMLElement).hidden = !canAct;
  const pin = li.querySelector(".pin") as HTMLElement;
  pin.hidden = !canAct || c.pins === null;
  setText(pin, pinned ? "Unpin" : "Pin");
  (li.querySelector(".edit") as HTMLElement).hidden = !(canAct && mine);
  (li.querySelector(".delete") as HTMLElement).hidden = !(canAct && mine);
  (li.querySelector(".retry") as HTMLElement).hidden = m.local !== "failed";
  (li.querySelector(".discard") as HTMLElement).hidden = m.local !== "failed";
  const whose = mine ? "your message" : `${sender}'s message`;
  for (const b of li.querySelectorAll<HTMLButtonElement>(".act")) {
    const what = b.textContent ?? "";
    const label = what === "Reply in thread" ? `Reply in thread to ${whose}` : what === "React" ? `React to ${whose}` : `${what} ${whose}`;
    b.setAttribute("aria-label", label);
  }
}

/**
 * The chips under a message: emoji and count, pressed when the signed-in user reacted.
 * Chips are kept by emoji and moved rather than rebuilt, so a pressed chip keeps focus.
 */
function updateReactions(box: HTMLElement, store: Store, m: Msg): void {
  const list = m.deleted_at || m.erased ? [] : chips(m.reactions, store.me);
  box.hidden = list.length === 0;
  box.setAttribute("aria-label", "Reactions");
  const byEmoji = new Map<string, HTMLButtonElement>();
  for (const el of box.querySelectorAll<HTMLButtonElement>("button.chip")) byEmoji.set(el.dataset.emoji ?? "", el);
  list.forEach((chip, i) => {
    let b = byEmoji.get(chip.emoji);
    if (!b) {
      b = h("button", { type: "button", class: "chip", "data-emoji": chip.emoji }, h("span", { class: "chip-emoji" }), h("span", { class: "chip-count" }));
    }
    byEmoji.delete(chip.emoji);
    setText(b.querySelector(".chip-emoji")!, chip.emoji);
    setText(b.querySelector(".chip-count")!, String(chip.count));
    b.setAttribute("aria-pressed", chip.mine ? "true" : "false");
    const people = chip.count === 1 ? "1 person" : `${chip.count} people`;
    const name = reactionName(chip.emoji);
    b.setAttribute("aria-label", `${name}: ${people}${chip.mine ? ", including you. Press to take yours back" : ". Press to add yours"}`);
    const names = chip.users.map((u) => store.shortName(u));
    const more = chip.count - names.length;
    b.title = `${names.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
    if (box.children[i] !== b) box.insertBefore(b, box.children[i] ?? null);
  });
  for (const b of byEmoji.values()) {
    const hadFocus = b === document.activeElement;
    b.remove();
    // The chip just taken back was the last of its emoji: keep focus in this message.
    if (hadFocus) (box.closest("li")?.querySelector<HTMLElement>(".act.react") ?? box.closest("article"))?.focus();
  }
}

/** "3 replies · last 14:02" under a thread's root in the timeline; opens the thread. */
function updateThreadSummary(b: HTMLButtonElement, m: Msg, place: ItemPlace): void {
  const s = place === "timeline" ? summary(m.thread) : null;
  b.hidden = s === null;
  if (!s) return;
  const count = repliesLabel(s.reply_count);
  setText(b.querySelector(".thread-count")!, count);
  setText(b.querySelector(".thread-last")!, s.last_reply_at ? ` · last ${shortTime(s.last_reply_at)}` : "");
  b.setAttribute("aria-label", `${count}${s.last_reply_at ? `, last at ${shortTime(s.last_reply_at)}` : ""}. Open the thread`);
}

function updateAttachments(list: HTMLUListElement, m: Msg): void {
  const items = m.deleted_at || m.erased ? [] : m.attachments;
  list.hidden = items.length === 0;
  const key = items.map((a) => `${a.attachment_id} ${a.url}`).join("|");
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  replaceChildren(list, items.map((a) => h("li", {}, attachmentView(a))));
}
