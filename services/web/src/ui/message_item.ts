// One message in the pane: sender, time, "edited", a reply's quote, the body (always as
// text), the ticks of an own message, a refused send's reason, and the actions (Reply,
// Edit, Delete; Retry and Discard for a refused send). The element is built once per
// message and updated in place on every render.

import type { Conv, Msg, Status, Store } from "../store";
import { h, setText, toggle } from "./dom";
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
}

/** A new, empty message element; `updateMessageItem` fills it. */
export function messageItem(store: Store, actions: MessageActions): HTMLLIElement {
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
export function updateMessageItem(li: HTMLLIElement, store: Store, c: Conv, m: Msg, newestMine: Msg | null): void {
  const mine = m.sender_id === store.me;
  const status = mine ? store.status(c, m) : null;
  li.dataset.messageId = m.message_id;
  if (m.client_msg_id) li.dataset.clientMsgId = m.client_msg_id;
  if (m.local) delete li.dataset.seq;
  else li.dataset.seq = String(m.seq);
  li.className = `msg${mine ? " mine" : ""}${m.deleted_at ? " deleted" : ""}${m.local === "failed" ? " failed" : ""}`;
  toggle(li, "data-mine", mine);
  toggle(li, "data-deleted", m.deleted_at !== null);
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
  (li.querySelector(".edited") as HTMLElement).hidden = !m.edited_at || m.deleted_at !== null;
  // The body is text, always: textContent, never HTML.
  setText(li.querySelector(".body")!, m.deleted_at ? "This message was deleted." : (m.body ?? ""));

  const quote = li.querySelector(".quote") as HTMLButtonElement;
  if (m.reply_to && !m.deleted_at) {
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
